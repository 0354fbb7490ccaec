package smpp_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// TestIdlePDUsPauseReading: a bound client sending more enquire_link in a
// second than IdlePDUsPerSecond gets the first ones answered at once, and
// the rest only once the second is over (the session stops reading
// meanwhile, counted in smpp_idle_pdu_pauses_total); every one is
// answered, the session stays open.
func TestIdlePDUsPauseReading(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, Registerer: reg})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	const n = smpp.IdlePDUsPerSecond + 100
	var flood bytes.Buffer
	for i := range n {
		flood.Write(header(16, pdu.CmdEnquireLink, uint32(1000+i)))
	}
	go func() { _, _ = conn.Write(flood.Bytes()) }()
	for i := range smpp.IdlePDUsPerSecond {
		if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
			t.Fatalf("answer %d: %+v (%v), want enquire_link_resp", i, p.Header, ok)
		}
	}
	if !waitCond(func() bool { return counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", "") == 1 }) {
		t.Fatal("the session did not pause")
	}
	clk.Advance(time.Second)
	for i := smpp.IdlePDUsPerSecond; i < n; i++ {
		if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
			t.Fatalf("answer %d after the second: %+v (%v), want enquire_link_resp", i, p.Header, ok)
		}
	}
}

// waitCond polls cond for up to 10 s (a guard against a hanging test, not
// a performance threshold).
func waitCond(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(time.Millisecond)
	}
	return cond()
}
