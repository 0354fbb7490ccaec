package system

import (
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestCrashKeepsReceipts: 5,000 accepted messages with receipts due in 5 s
// and no receiver; the gateway is killed with SIGKILL right after the last
// submit_sm_resp and started again on the same Redis; a receiver binds and
// gets all 5,000 (at-least-once: duplicates are counted, not failed).
func TestCrashKeepsReceipts(t *testing.T) {
	const n = 5000
	rs := startRedis(t)
	g := startGW(t, "gw-crash", map[string]string{
		"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"DLR_DELAY_SECONDS": "5",
		// A lease shorter than the default, in case anything was claimed
		// when the process died; nothing should have been (no receiver).
		"SMPP_RESPONSE_TIMEOUT_SECONDS": "2", "DLR_VISIBILITY_TIMEOUT_SECONDS": "3",
	})

	tx := dial(t, g.smppAddr, pdu.CmdBindTransmitter, nil)
	start := time.Now()
	res := submitAll(t, tx, invalidNumbers(10_000_000, n), 200, 0, 60*time.Second)
	submitted := time.Since(start)
	ids := acceptedIDs(t, res)
	if len(ids) != n {
		t.Fatalf("%d of %d accepted (%s)", len(ids), n, fmtTally(tally(res)))
	}

	killed := time.Now()
	g.p.kill(t)
	if code, _ := g.exitCode(); code != -1 {
		t.Fatalf("gateway exit code %d after SIGKILL, want -1 (killed by the signal)", code)
	}
	g.start()
	restart := time.Since(killed)

	rc := newReceipts()
	bound := time.Now()
	dial(t, g.smppAddr, pdu.CmdBindReceiver, rc)
	if missing := rc.waitAll(ids, 60*time.Second); missing > 0 {
		_, total, dups := rc.counts()
		t.Fatalf("after the restart %d of %d receipts are missing (%d received, %d duplicates)", missing, n, total, dups)
	}
	drain := time.Since(bound)
	var lastResp time.Time
	for _, r := range res {
		if r.at.After(lastResp) {
			lastResp = r.at
		}
	}
	// Let the queue empty before counting duplicates: any redelivery of a
	// leased receipt would come from the queue.
	if !waitFor(20*time.Second, func() bool {
		p, ok := g.metric("dlr_pending")
		return ok && p == 0
	}) {
		p, _ := g.metric("dlr_pending")
		t.Errorf("dlr_pending = %v after every receipt arrived, want 0", p)
	}
	distinct, total, dups := rc.counts()
	t.Logf("crash: %d messages accepted in %v; SIGKILL; restart to /readyz in %v; receiver bound %v after the first submit; %d receipts (%d distinct, %d duplicates) drained in %v after the bind, the last one %v after the last submit_sm_resp (DLR_DELAY_SECONDS=5)",
		n, submitted.Round(time.Millisecond), restart.Round(time.Millisecond), bound.Sub(start).Round(time.Millisecond),
		total, distinct, dups, drain.Round(time.Millisecond), rc.lastAt().Sub(lastResp).Round(time.Millisecond))
	if u := rc.unexpected(ids); len(u) > 0 {
		t.Fatalf("%d receipts for ids never given, e.g. %s", len(u), u[0])
	}
}
