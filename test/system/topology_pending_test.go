//go:build topology_pending

package system

// Topology tests that need receipt-core behaviour not yet in the code
// (REDIS_WAIT_REPLICAS issuing WAIT; leases carrying the instance id).
// Run them with -tags topology_pending.

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestSentinelFailoverWaitReplicas: two gateways on a Sentinel set (a
// master, two replicas, three Sentinels) with REDIS_WAIT_REPLICAS=1, four
// accounts submitting 50/s each (receipts due 2 s later). Half a second
// before the master is killed with SIGKILL its replicas are cut off from
// it (their link is closed and they reconnect with a wrong password), so
// the replica that is promoted lacks the last half second of writes.
// No receipt acknowledged at any time is lost.
func TestSentinelFailoverWaitReplicas(t *testing.T) {
	const (
		n      = 500 // per account: 10 s at 50/s
		pace   = 20 * time.Millisecond
		killAt = 3 * time.Second
	)
	ss := startSentinelSet(t, 2)
	accts := []account{{"acct001", "pw001"}, {"acct002", "pw002"}, {"acct003", "pw003"}, {"acct004", "pw004"}}
	env := mergeEnv(topoEnv(ss.URL(), writeAccounts(t, accts)), map[string]string{
		"REDIS_WAIT_REPLICAS": "1", "REDIS_WAIT_TIMEOUT_MS": "200", "DLR_DELAY_SECONDS": "2",
	})
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
	old := ss.master()

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 50_000_000)
	time.Sleep(time.Until(start.Add(killAt - 500*time.Millisecond)))
	if err := ss.cutReplication(old, "wrong-password"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	lag := ss.replicationLag(old)
	if err := old.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := ss.cutReplication(old, ss.pass); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	nm, promoted, ok := ss.waitFailover(old, 30*time.Second)
	if !ok {
		t.Fatalf("no failover 30 s after the kill: %s", ss.describe())
	}
	<-loadDone
	lost, accepted := lostSince(runs, time.Time{}, 30*time.Second)
	var counts []string
	for _, l := range runs {
		counts = append(counts, fmt.Sprintf("%s: %s", l.acct.sys, fmtTally(l.tally(time.Time{}, time.Time{}))))
	}
	t.Logf("sentinel failover: master %s killed %v into the load (replicas cut off 500 ms before, lagging %s), %s promoted %v later; %d acknowledged (%s); lost per account: {%s}",
		old.addr(), killed.Sub(start).Round(time.Millisecond), lag, nm.addr(), promoted.Sub(killed).Round(time.Millisecond),
		accepted, strings.Join(counts, "; "), fmtCounts(lost))
	if len(lost) > 0 {
		t.Errorf("acknowledged receipts never delivered: {%s}", fmtCounts(lost))
	}
}

// TestGatewayKillRestartTakesBackLeases: the only receiver of an account
// is bound to gateway A and stops answering deliver_sm; A holds leases on
// receipts when it is killed with SIGKILL. Restarted with the same
// INSTANCE_ID (DLR_VISIBILITY_TIMEOUT_SECONDS=60), A delivers every
// undelivered receipt within 5 s of being ready again.
func TestGatewayKillRestartTakesBackLeases(t *testing.T) {
	const n = 200
	rs := startRedis(t, "--appendfsync", "always")
	acct := account{"acct001", "pw001"}
	env := mergeEnv(topoEnv(rs.URL(), writeAccounts(t, []account{acct})), map[string]string{
		"DLR_VISIBILITY_TIMEOUT_SECONDS": "60", "SMPP_RESPONSE_TIMEOUT_SECONDS": "10",
	})
	a, b := startGW(t, "gw-a", env), startGW(t, "gw-b", env)

	// A receiver on A that answers the first 20 receipts and then holds
	// every deliver_sm unanswered until the test ends.
	rc := newReceipts()
	gate := make(chan struct{})
	t.Cleanup(func() { close(gate) })
	var answered int
	stuck := &receipts{byID: map[string]int{}, first: map[string]time.Time{}}
	cfgRC := func(d *pdu.DeliverSM) pdu.Status {
		if answered < 20 {
			answered++
			return rc.onDeliver(d)
		}
		stuck.onDeliver(d)
		<-gate
		return pdu.StatusOK
	}
	rxA := dialWith(t, a.smppAddr, acct, pdu.CmdBindReceiver, cfgRC)
	tx := dialAs(t, b.smppAddr, acct, pdu.CmdBindTransmitter, nil)
	ids := acceptedIDs(t, submitAll(t, tx, invalidNumbers(70_000_000, n), 64, 0, 30*time.Second))
	if !waitFor(10*time.Second, func() bool { d, _, _ := stuck.counts(); return d > 0 }) {
		t.Fatal("A never sent a deliver_sm past the answered ones")
	}
	a.p.kill(t)
	_ = rxA.Close()
	_, got, _ := rc.counts()
	a.start()
	dialAs(t, a.smppAddr, acct, pdu.CmdBindReceiver, rc)
	missing := rc.waitAll(ids, 5*time.Second)
	stuckN, _, _ := stuck.counts()
	t.Logf("gateway restart: %d accepted, %d answered before the kill, %d sent and held unanswered at the kill; %d still missing 5 s after A was ready again (lease 60 s)",
		len(ids), got, stuckN, missing)
	if missing > 0 {
		t.Errorf("%d receipts not delivered within 5 s of the restart", missing)
	}
}
