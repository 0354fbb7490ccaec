package app_test

import (
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestRejectPoliciesHoldThroughAnyOutage: with HLR_TIMEOUT_POLICY and
// HLR_ERROR_POLICY both reject, no kind of HLR outage accepts a number —
// not the failing lookups, not the submits the open breaker refuses, not
// the half-open probe, not network congestion.
func TestRejectPoliciesHoldThroughAnyOutage(t *testing.T) {
	tests := []struct {
		name   string
		answer fakeAnswer
		opens  bool // the failures open the breaker
	}{
		{"timeout", fakeAnswer{delay: 5 * time.Second}, true},
		{"HTTP 500", fakeAnswer{code: 500, body: "oops"}, true},
		{"transport error", fakeAnswer{hangup: true}, true},
		{"status 3 congestion", fakeAnswer{body: `{"1":{"status":3,"status_message":"Congestion","error":0}}`}, true},
		{"network congestion 33", fakeAnswer{err: 33, present: "na", typ: "mobile"}, false},
		{"system failure 34", fakeAnswer{err: 34, present: "na", typ: "mobile"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmt := newFakeTMT(t, nil)
			tmt.fallback = &tt.answer
			gw := startGateway(t, tmt, map[string]string{
				"HLR_TIMEOUT_POLICY": "reject", "HLR_ERROR_POLICY": "reject",
				"HLR_BREAKER_FAILURES": "2", "HLR_BREAKER_OPEN_SECONDS": "0.2",
				"HLR_TIMEOUT_SECONDS": "0.2",
			})
			c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
			accepted, n := 0, 0
			submit := func() {
				n++
				status, _ := c.submit(t, sm("4915100"+itoa3(uint16(n))+"123", 1))
				if status == pdu.StatusOK {
					accepted++
				}
			}
			// Open the breaker (when this kind of failure counts).
			for range 3 {
				submit()
			}
			if tt.opens {
				if got := tmt.requests.Load(); got != 2 {
					t.Fatalf("HLR requests = %d after 3 submits, want 2 (the third refused by the open breaker)", got)
				}
				// Keep submitting, paced, until the breaker lets a
				// half-open probe through: the refused submits and the
				// probe itself must all be rejected too.
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for tmt.requests.Load() < 3 {
					select {
					case <-tick.C:
					case <-ctxT(t).Done():
						t.Fatal("the breaker never let a probe through")
					}
					submit()
				}
			}
			if accepted != 0 {
				t.Fatalf("%d of %d submits accepted (ESME_ROK) during an outage with reject policies", accepted, n)
			}
		})
	}
}

// TestOpenBreakerKeepsThePolicyOfWhatOpenedIt: timeouts open the breaker;
// with HLR_TIMEOUT_POLICY=reject and HLR_ERROR_POLICY=accept the refused
// submits are still rejected, and the reason names the open breaker. And
// the other way round.
func TestOpenBreakerKeepsThePolicyOfWhatOpenedIt(t *testing.T) {
	tests := []struct {
		name       string
		answer     fakeAnswer
		env        map[string]string
		want       pdu.Status
		wantReason string
	}{
		{"timeouts, timeout policy reject", fakeAnswer{delay: 5 * time.Second},
			map[string]string{"HLR_TIMEOUT_POLICY": "reject", "HLR_ERROR_POLICY": "accept"}, pdu.StatusSysErr, "timeout_circuit_open"},
		{"timeouts, timeout policy accept", fakeAnswer{delay: 5 * time.Second},
			map[string]string{"HLR_TIMEOUT_POLICY": "accept", "HLR_ERROR_POLICY": "reject"}, pdu.StatusOK, "timeout_circuit_open"},
		{"errors, error policy reject", fakeAnswer{code: 500},
			map[string]string{"HLR_TIMEOUT_POLICY": "accept", "HLR_ERROR_POLICY": "reject"}, pdu.StatusSysErr, "hlr_error_circuit_open"},
		{"errors, error policy accept", fakeAnswer{code: 500},
			map[string]string{"HLR_TIMEOUT_POLICY": "reject", "HLR_ERROR_POLICY": "accept"}, pdu.StatusOK, "hlr_error_circuit_open"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmt := newFakeTMT(t, nil)
			tmt.fallback = &tt.answer
			env := map[string]string{"HLR_BREAKER_FAILURES": "2", "HLR_BREAKER_OPEN_SECONDS": "60", "HLR_TIMEOUT_SECONDS": "0.2"}
			for k, v := range tt.env {
				env[k] = v
			}
			gw := startGateway(t, tmt, env)
			c := bind(t, gw.addr, pdu.CmdBindTransceiver, nil)
			for i := range 2 {
				c.submit(t, sm("491510000000"+string(rune('1'+i)), 1))
			}
			status, _ := c.submit(t, sm("4915100000009", 1))
			if status != tt.want {
				t.Fatalf("submit while open: %s, want %s", status, tt.want)
			}
			if got := tmt.requests.Load(); got != 2 {
				t.Fatalf("HLR requests = %d, want 2", got)
			}
			gw.logs.waitFor(t, `"reason":"`+tt.wantReason+`"`)
		})
	}
}
