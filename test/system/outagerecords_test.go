package system

import (
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestReceiptlessOutcomesWaitOutARedisOutage: two gateways on one Redis
// with DLR_MODE=requested. While Redis is paused (SIGSTOP), messages
// accepted on A are still answered ESME_ROK; those that asked for no
// receipt are found by query_sm on A during the outage (their outcome
// records wait in A's outage buffer) and on B once Redis answers again and
// A has written its buffer back; the receipts accepted meanwhile all
// arrive, each once.
func TestReceiptlessOutcomesWaitOutARedisOutage(t *testing.T) {
	rs := startRedis(t)
	env := map[string]string{
		"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"DLR_MODE": "requested", "DLR_DELAY_SECONDS": "1", "REDIS_TIMEOUT_SECONDS": "0.5",
	}
	a := startGW(t, "gw-a", env)
	b := startGW(t, "gw-b", env)
	rc := newReceipts()
	onA := dial(t, a.smppAddr, pdu.CmdBindTransceiver, rc)
	onB := dial(t, b.smppAddr, pdu.CmdBindTransceiver, rc)

	if err := rs.pause(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.resume() })
	const n = 50
	var recorded []string
	withReceipt := map[string]bool{}
	for i := range n {
		recorded = append(recorded, submitOne(t, onA, invalidNumbers(7000+i, 1)[0], 0))
		withReceipt[submitOne(t, onA, invalidNumbers(8000+i, 1)[0], 1)] = true
	}
	for _, id := range recorded {
		wantState(t, "query_sm on A with Redis paused", querySM(t, onA, id), pdu.StateDelivered)
	}

	if err := rs.resume(); err != nil {
		t.Fatal(err)
	}
	var records, receipts float64
	if !waitFor(30*time.Second, func() bool {
		var ok1, ok2 bool
		records, ok1 = a.metric("dlr_buffer_records")
		receipts, ok2 = a.metric("dlr_buffer_size")
		return ok1 && ok2 && records == 0 && receipts == 0
	}) {
		t.Fatalf("A's outage buffer not written back within 30 s of Redis answering: %v records, %v receipts", records, receipts)
	}
	for _, id := range recorded {
		wantState(t, "query_sm on B after the outage", querySM(t, onB, id), pdu.StateDelivered)
	}
	if missing := rc.waitAll(withReceipt, 30*time.Second); missing > 0 {
		t.Fatalf("%d of %d receipts accepted during the outage never arrived", missing, n)
	}
	if _, total, dups := rc.counts(); total != n || dups != 0 || len(rc.unexpected(withReceipt)) > 0 {
		t.Fatalf("receipts: %d in all, %d duplicates, unexpected %v; want exactly the %d asked for", total, dups, rc.unexpected(withReceipt), n)
	}
}
