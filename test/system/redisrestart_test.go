package system

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestRedisRestartUnderLoad: a transceiver submits 3,000 messages at a
// steady 500/s while Redis (AOF, appendfsync always) is killed with
// SIGKILL and started again on the same port 1.5 s later. Every submit_sm
// is answered, and every accepted message's receipt arrives once Redis is
// back (duplicates counted: receipts whose ack was lost come again after
// the visibility timeout).
func TestRedisRestartUnderLoad(t *testing.T) {
	const (
		n      = 3000
		pace   = 2 * time.Millisecond // 500/s, 6 s of load
		killAt = 2 * time.Second
		outage = 1500 * time.Millisecond
	)
	rs := startRedis(t, "--appendfsync", "always")
	g := startGW(t, "gw-redis", map[string]string{
		"REDIS_URL": rs.URL(), "REDIS_KEY_PREFIX": uniquePrefix(),
		"DLR_DELAY_SECONDS":             "1",
		"SMPP_RESPONSE_TIMEOUT_SECONDS": "2", "DLR_VISIBILITY_TIMEOUT_SECONDS": "3",
	})
	rc := newReceipts()
	trx := dial(t, g.smppAddr, pdu.CmdBindTransceiver, rc)

	// The outage runs beside the load; it reports on a channel because only
	// the test goroutine may stop the test.
	type outageReport struct {
		killed, back time.Time
		readyz       string
		err          error
	}
	report := make(chan outageReport, 1)
	start := time.Now()
	go func() {
		var o outageReport
		defer func() { report <- o }()
		time.Sleep(killAt)
		o.killed = time.Now()
		if o.err = rs.stop(syscall.SIGKILL); o.err != nil {
			return
		}
		// /readyz while Redis is down (wait for the first not-ready answer,
		// bounded by the outage).
		waitFor(outage, func() bool {
			code, body := g.readyz()
			o.readyz = fmt.Sprintf("%d %s", code, strings.Join(strings.Fields(body), " "))
			return code != 200
		})
		if w := time.Until(o.killed.Add(outage)); w > 0 {
			time.Sleep(w)
		}
		o.err = rs.start()
		o.back = time.Now()
	}()

	res := submitAll(t, trx, invalidNumbers(20_000_000, n), 64, pace, 60*time.Second)
	loadDone := time.Since(start)
	o := <-report
	if o.err != nil {
		t.Fatal(o.err)
	}
	counts := tally(res)
	ids := map[string]bool{}
	for _, r := range res {
		if r.err == nil && r.status == pdu.StatusOK {
			ids[r.id] = true
		}
	}
	// outageIDs: accepted while Redis was down; overdue: their receipts
	// (DLR_DELAY_SECONDS=1) were due before it was back.
	outageIDs, overdue := map[string]bool{}, map[string]bool{}
	var lastResp time.Time
	for _, r := range res {
		if r.err == nil && r.status == pdu.StatusOK && r.at.After(o.killed) && r.at.Before(o.back) {
			outageIDs[r.id] = true
			if r.at.Add(time.Second).Before(o.back) {
				overdue[r.id] = true
			}
		}
		if r.at.After(lastResp) {
			lastResp = r.at
		}
	}
	duringOutage := len(outageIDs)
	t.Logf("redis restart: %d submits in %v: %s; %d accepted while Redis was down (%v); /readyz during the outage: %q",
		n, loadDone.Round(time.Millisecond), fmtTally(counts), duringOutage, o.back.Sub(o.killed).Round(time.Millisecond), o.readyz)
	for k := range counts {
		if strings.HasPrefix(k, "error") {
			t.Fatalf("submit_sm without a response: %s", fmtTally(counts))
		}
	}
	if len(ids) == 0 {
		t.Fatal("nothing accepted")
	}

	missing := rc.waitAll(ids, 45*time.Second)
	drainOutage := rc.lastFirst(outageIDs).Sub(o.back)
	drainOverdue := rc.lastFirst(overdue).Sub(o.back)
	drainAll := rc.lastFirst(ids).Sub(lastResp)
	// Let the queue empty (leases of receipts whose ack was lost run out and
	// they come again) before counting duplicates.
	if !waitFor(20*time.Second, func() bool {
		p, ok := g.metric("dlr_pending")
		b, ok2 := g.metric("dlr_buffer_size")
		return ok && ok2 && p == 0 && b == 0
	}) {
		p, _ := g.metric("dlr_pending")
		b, _ := g.metric("dlr_buffer_size")
		t.Errorf("dlr_pending=%v dlr_buffer_size=%v once the receipts arrived, want 0", p, b)
	}
	distinct, total, dups := rc.counts()
	overflow, _ := g.metric("dlr_buffer_overflow_total")
	dropped, _ := g.metric("dlr_dropped_total")
	retried, _ := g.metric("dlr_retried_total")
	t.Logf("redis restart: %d accepted; %d receipts (%d distinct, %d duplicates); the %d receipts that fell due during the outage all arrived %v after Redis was back, those of all %d accepted during the outage %v after; the last receipt %v after the last submit_sm_resp (DLR_DELAY_SECONDS=1); dlr_retried_total=%v dlr_dropped_total=%v dlr_buffer_overflow_total=%v",
		len(ids), total, distinct, dups, len(overdue), drainOverdue.Round(time.Millisecond), len(outageIDs), drainOutage.Round(time.Millisecond), drainAll.Round(time.Millisecond), retried, dropped, overflow)
	if missing > 0 {
		t.Fatalf("%d of %d accepted messages got no receipt", missing, len(ids))
	}
	if u := rc.unexpected(ids); len(u) > 0 {
		t.Fatalf("%d receipts for ids never given, e.g. %s", len(u), u[0])
	}
}
