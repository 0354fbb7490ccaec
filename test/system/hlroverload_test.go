package system

import (
	"strconv"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestSlowHLRBillsOnlyAnswersUsed: an HLR slower than the load (1.5 s an
// answer, 8 calls at a time: ~5 lookups/s) is offered three times its
// capacity in new numbers. Submits it cannot serve in time are answered by
// the timeout policy, and every call the gateway sends it is one whose
// answer decides a submit: billed requests never exceed the submits
// accepted on an answer. A call started for a submit that had already
// waited too long would outlive it, billed for nothing, holding a slot a
// fresher submit needed.
func TestSlowHLRBillsOnlyAnswersUsed(t *testing.T) {
	const (
		slots   = 8
		latency = 1500 * time.Millisecond
		offered = 16 // per second, about three times the capacity
		seconds = 5
	)
	tmt := newCountingTMTWith(t, simulator.Options{Latency: latency})
	g := startGW(t, "gw", map[string]string{
		"HLR_PROVIDER": "tmt", "HLR_BASE_URL": tmt.srv.URL, "HLR_API_KEY": "k", "HLR_API_SECRET": "s",
		"HLR_MAX_CONCURRENCY": strconv.Itoa(slots), "HLR_TIMEOUT_SECONDS": "2", "HLR_SLOT_WAIT_SECONDS": "1",
		"HLR_TIMEOUT_POLICY": "reject",
	})
	tx := dial(t, g.smppAddr, pdu.CmdBindTransmitter, nil)
	n := offered * seconds
	res := submitAll(t, tx, invalidNumbers(0, n), n, time.Second/offered, 60*time.Second)
	billed := tmt.requests.Load()

	counts := tally(res)
	accepted := counts[pdu.StatusOK.String()]
	for status := range counts {
		switch status {
		case pdu.StatusOK.String(), pdu.StatusSysErr.String(), pdu.StatusThrottled.String():
		default:
			t.Fatalf("unexpected answers: %s", fmtTally(counts))
		}
	}
	if accepted == 0 {
		t.Fatalf("no submit accepted on an answer: %s", fmtTally(counts))
	}
	if billed > int64(accepted) {
		t.Fatalf("the HLR was sent %d calls but only %d submits were accepted on an answer (%s): calls whose answer nobody used",
			billed, accepted, fmtTally(counts))
	}
	if v, ok := g.metric("hlr_slot_wait_timeouts_total"); !ok || int(v) == 0 {
		t.Errorf("hlr_slot_wait_timeouts_total = %v (present %v), want the submits that found no slot in time counted", v, ok)
	}
	t.Logf("offered %d over %v: %s; HLR calls %d", n, seconds*time.Second, fmtTally(counts), billed)
}
