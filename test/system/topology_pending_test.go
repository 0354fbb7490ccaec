//go:build topology_pending

package system

// Topology tests that need receipt-core behaviour not yet in the code
// (per-account degraded state, WAIT replicas, loss detection, leases with
// instance ids). Run them with -tags topology_pending.

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestClusterMasterKillUnderLoad: two gateways on a 3+3 Redis Cluster, six
// accounts (two per master) each submitting 60/s; one master is killed
// with SIGKILL. Every receipt acknowledged from the kill on arrives;
// receipts of the dead shard's accounts flow again within 5 s of the
// replica's promotion; the accounts on the healthy shards keep getting
// every submit accepted and their receipts delivered during the outage.
func TestClusterMasterKillUnderLoad(t *testing.T) {
	const (
		n      = 600 // per account: 10 s at 60/s
		pace   = time.Second / 60
		killAt = 3 * time.Second
	)
	cl := startCluster(t, 3)
	accts, masterOf := clusterAccounts(t, cl, 2)
	env := topoEnv(cl.URL(), writeAccounts(t, accts))
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
	victim := cl.masters()[0]
	slot := cl.keySlot("{" + accts[0].sys + "}")
	for _, a := range accts {
		if masterOf[a.sys] == victim {
			slot = cl.keySlot("{" + a.sys + "}")
		}
	}

	start := time.Now()
	runs, loadDone := startLoad(t, gws, accts, n, pace, 30_000_000)
	time.Sleep(time.Until(start.Add(killAt)))
	if err := victim.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	_, promoted, ok := cl.waitPromoted(slot, victim, 30*time.Second)
	if !ok {
		t.Fatalf("no replica promoted 30 s after the kill:\n%s", cl.describe())
	}
	<-loadDone

	lost, accepted := lostSince(runs, killed, 30*time.Second)
	t.Logf("cluster kill: master %s killed %v into the load, replica promoted %v later; %d receipts acknowledged from the kill on; lost per account: {%s}",
		victim.addr(), killed.Sub(start).Round(time.Millisecond), promoted.Sub(killed).Round(time.Millisecond), accepted, fmtCounts(lost))
	for _, l := range runs {
		onVictim := masterOf[l.acct.sys] == victim
		during := l.tally(killed, promoted)
		back := l.rc.firstAfter(promoted)
		t.Logf("  %s (%s): submits during the outage: %s; receipts arriving during the outage: %d; first receipt after the promotion: %v",
			l.acct.sys, map[bool]string{true: "dead shard", false: "healthy shard"}[onVictim], fmtTally(during),
			l.rc.between(killed, promoted), back.Sub(promoted).Round(time.Millisecond))
		if onVictim {
			if back.IsZero() || back.Sub(promoted) > 5*time.Second {
				t.Errorf("%s: receipts did not flow again within 5 s of the promotion (first after it: %v)", l.acct.sys, back.Sub(promoted))
			}
			continue
		}
		if during[pdu.StatusOK.String()] != sumCounts(during) {
			t.Errorf("%s on a healthy shard: submits during the outage answered %s, want all ESME_ROK", l.acct.sys, fmtTally(during))
		}
		// Receipts of messages accepted after the kill reach the receiver
		// before the promotion: the healthy shard never stopped.
		if l.rc.between(killed.Add(time.Second), promoted) == 0 {
			t.Errorf("%s on a healthy shard: no receipt arrived between 1 s after the kill and the promotion", l.acct.sys)
		}
	}
	if len(lost) > 0 {
		t.Errorf("receipts acknowledged from the kill on and never delivered: {%s}", fmtCounts(lost))
	}
}

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

// TestRedisRestartedEmptyCountsLost: two gateways on one Redis hold 300
// pending receipts (no receiver bound); Redis is killed with SIGKILL and
// started again with its data deleted. dlr_lost_total, summed over both
// gateways, equals what Redis held.
func TestRedisRestartedEmptyCountsLost(t *testing.T) {
	const n = 300
	rs := startRedis(t, "--appendfsync", "always")
	accts := []account{{"acct001", "pw001"}, {"acct002", "pw002"}, {"acct003", "pw003"}}
	env := topoEnv(rs.URL(), writeAccounts(t, accts))
	gws := [2]*gw{startGW(t, "gw-a", env), startGW(t, "gw-b", env)}
	held := 0
	for i, a := range accts {
		tx := dialAs(t, gws[i%2].smppAddr, a, pdu.CmdBindTransmitter, nil)
		res := submitAll(t, tx, invalidNumbers(60_000_000+i*1_000_000, n/len(accts)), 64, 0, 30*time.Second)
		held += len(acceptedIDs(t, res))
	}
	pendingBoth := func() float64 {
		pa, _ := gws[0].metric("dlr_pending")
		pb, _ := gws[1].metric("dlr_pending")
		return max(pa, pb)
	}
	if !waitFor(10*time.Second, func() bool { return pendingBoth() == float64(held) }) {
		t.Fatalf("dlr_pending = %v, want the %d accepted", pendingBoth(), held)
	}
	if err := rs.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(rs.dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(rs.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := rs.start(); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	lostBoth := func() float64 {
		la, _ := gws[0].metric("dlr_lost_total")
		lb, _ := gws[1].metric("dlr_lost_total")
		return la + lb
	}
	waitFor(15*time.Second, func() bool { return lostBoth() >= float64(held) })
	// A little longer, so a count above what was held shows.
	time.Sleep(2 * time.Second)
	got := lostBoth()
	t.Logf("redis restarted empty: it held %d receipts; dlr_lost_total summed over both gateways = %v, %v after the restart",
		held, got, time.Since(restarted).Round(time.Millisecond))
	if got != float64(held) {
		t.Errorf("dlr_lost_total = %v after Redis lost %d receipts", got, held)
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
