//go:build topology_pending

package system

// Topology tests that need receipt-core behaviour not yet in the code
// (leases carrying the instance id, taken back at start-up). Run them with
// -tags topology_pending.

import (
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

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
