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
// second than MaxIdlePDUsPerSecond gets the first ones answered at once, and
// the rest only once the second is over (the session stops reading
// meanwhile, counted in smpp_idle_pdu_pauses_total); every one is
// answered, the session stays open.
func TestIdlePDUsPauseReading(t *testing.T) {
	reg := prometheus.NewRegistry()
	ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, Registerer: reg})
	conn := rawBoundFrom(t, attackerIP, ts.addr)
	const n = smpp.DefaultIdlePDUsPerSecond + 100
	var flood bytes.Buffer
	for i := range n {
		flood.Write(header(16, pdu.CmdEnquireLink, uint32(1000+i)))
	}
	go func() { _, _ = conn.Write(flood.Bytes()) }()
	for i := range smpp.DefaultIdlePDUsPerSecond {
		if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
			t.Fatalf("answer %d: %+v (%v), want enquire_link_resp", i, p.Header, ok)
		}
	}
	if !waitCond(func() bool { return counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", "") == 1 }) {
		t.Fatal("the session did not pause")
	}
	clk.Advance(time.Second)
	for i := smpp.DefaultIdlePDUsPerSecond; i < n; i++ {
		if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
			t.Fatalf("answer %d after the second: %+v (%v), want enquire_link_resp", i, p.Header, ok)
		}
	}
}

// TestIdleBudgetConfigured: MaxIdlePDUsPerSecond (SMPP_MAX_IDLE_PDUS_PER_SECOND)
// sets where the pause starts; a negative value never pauses.
func TestIdleBudgetConfigured(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limit  int
		pauses float64
	}{
		{"ten a second", 10, 1},
		{"no cap", -1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1,
				MaxIdlePDUsPerSecond: tt.limit, Registerer: reg})
			conn := rawBoundFrom(t, attackerIP, ts.addr)
			const n = 20
			var flood bytes.Buffer
			for i := range n {
				flood.Write(header(16, pdu.CmdEnquireLink, uint32(1000+i)))
			}
			go func() { _, _ = conn.Write(flood.Bytes()) }()
			answered := 0
			if tt.limit > 0 {
				for range tt.limit {
					if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
						t.Fatalf("answer %d: %+v (%v)", answered, p.Header, ok)
					}
					answered++
				}
				if !waitCond(func() bool { return counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", "") == tt.pauses }) {
					t.Fatal("the session did not pause")
				}
				clk.Advance(time.Second)
			}
			for ; answered < n; answered++ {
				if p, ok := readPDU(t, conn); !ok || p.Command != pdu.CmdEnquireLinkResp {
					t.Fatalf("answer %d: %+v (%v)", answered, p.Header, ok)
				}
			}
			if got := counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", ""); got != tt.pauses {
				t.Fatalf("smpp_idle_pdu_pauses_total = %v, want %v", got, tt.pauses)
			}
		})
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

// TestIdleBudgetCounts: what counts against MaxIdlePDUsPerSecond. Unknown
// command ids with the response bit set do; submits refused by a full
// window do not (the gateway's own back-pressure: a client whose window is
// larger than the gateway's gets one refusal per excess request).
func TestIdleBudgetCounts(t *testing.T) {
	tests := []struct {
		name   string
		pdu    func(seq uint32) []byte
		answer pdu.CommandID
		pauses float64
	}{
		{"unknown response command", func(seq uint32) []byte { return header(16, pdu.CommandID(0x80000099), seq) }, pdu.CmdGenericNack, 1},
		{"submits past the window", func(seq uint32) []byte {
			return frame(pdu.CmdSubmitSM, seq, submitBody("4915123456789", 5, "hello"))
		}, pdu.CmdSubmitSMResp, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			holding := make(chan *smpp.Request, 1)
			held := smpp.HandlerFunc(func(r *smpp.Request) { holding <- r }) // the window stays full
			ts, clk := fakeClockServer(t, smpp.Options{EnquireLinkInterval: -1, InactivityTimeout: -1, Registerer: reg, Window: 1, Handler: held})
			t.Cleanup(func() { // answered before the server shuts down
				select {
				case r := <-holding:
					r.RespondSubmitSM(pdu.StatusOK, "1")
				default:
				}
			})
			conn := rawBoundFrom(t, attackerIP, ts.addr)
			const n = smpp.DefaultIdlePDUsPerSecond + 100
			var flood bytes.Buffer
			for i := range n {
				flood.Write(tt.pdu(uint32(1000 + i)))
			}
			go func() { _, _ = conn.Write(flood.Bytes()) }()
			answered := 0
			for answered < n-1 { // with a window of 1 the first submit is held
				if answered == smpp.DefaultIdlePDUsPerSecond && tt.pauses > 0 {
					if !waitCond(func() bool { return counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", "") == tt.pauses }) {
						t.Fatal("the session did not pause")
					}
					clk.Advance(time.Second)
				}
				p, ok := readPDU(t, conn)
				if !ok || p.Command != tt.answer {
					t.Fatalf("answer %d: %+v (%v), want %v", answered, p.Header, ok, tt.answer)
				}
				answered++
			}
			if got := counterValue(t, reg, "smpp_idle_pdu_pauses_total", "", ""); got != tt.pauses {
				t.Fatalf("smpp_idle_pdu_pauses_total = %v, want %v", got, tt.pauses)
			}
		})
	}
}
