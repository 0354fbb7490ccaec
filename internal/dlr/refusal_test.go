package dlr

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// answered is an error of a request the receiver answered with another
// command's response (as smpp.ErrWrongResponse).
type answered struct{}

func (answered) Error() string          { return "answered with a response to another command" }
func (answered) ReceiverAnswered() bool { return true }

func TestRefusal(t *testing.T) {
	tests := []struct {
		name string
		x    result
		want bool
	}{
		{"ESME_ROK", result{status: pdu.StatusOK}, false},
		{"error status", result{status: pdu.StatusSysErr}, true},
		{"generic_nack ESME_RINVCMDID", result{status: pdu.StatusInvCmdID}, true},
		{"ESME_RX_T_APPN", result{status: pdu.StatusXTAppn}, true},
		{"ESME_RX_P_APPN drops the receipt", result{status: pdu.StatusXPAppn}, false},
		{"ESME_RX_R_APPN drops the receipt", result{status: pdu.StatusXRAppn}, false},
		{"another command's response", result{err: fmt.Errorf("deliver: %w", answered{})}, true},
		{"timeout", result{err: errors.New("smpp: response timeout")}, false},
		{"expired, not sent", result{expired: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := refusal(&tt.x); got != tt.want {
				t.Errorf("refusal = %v, want %v", got, tt.want)
			}
		})
	}
}

// refusingHarness runs a dispatcher whose account "acme" holds 100 due
// receipts and may have 14 deliver_sm in flight (two batches of 8 and 6:
// seven eighths of 16), so that each round of sends leaves receipts due.
func refusingHarness(t *testing.T, q Queue) *harness {
	h := newHarness(t, q, func(o *Options) { o.BatchSize = 8; o.MaxInFlight = 16 })
	h.d.ReceiversChanged("acme", 1)
	for i := range 100 {
		h.schedule(receipt(fmt.Sprintf("%016X", 0xF000+i), "acme", 0))
	}
	return h
}

// sentRound returns every deliver_sm sent since the last round, once the
// dispatcher is idle.
func (h *harness) sentRound() []delivery {
	h.t.Helper()
	h.settle()
	var ds []delivery
	for {
		select {
		case d := <-h.s.sent:
			ds = append(ds, d)
		default:
			return ds
		}
	}
}

func answerAll(ds []delivery, st pdu.Status) {
	for _, d := range ds {
		d.done(st, nil)
	}
}

// refuseRound answers ds with a generic_nack's ESME_RINVCMDID, then the
// deliver_sm sent meanwhile: the answer goroutine may take the answers in
// several batches, and until it has counted the refusal that starts a
// pause, each refusal it settled gave its place to the next due receipt.
// Those were in flight when the pause started and their refusals do not
// count towards the next one.
func (h *harness) refuseRound(ds []delivery) {
	answerAll(ds, pdu.StatusInvCmdID)
	answerAll(h.sentRound(), pdu.StatusInvCmdID)
}

// A receiver that refuses every receipt (here a generic_nack's
// ESME_RINVCMDID) gets a round of them, then nothing for RetryMin, then
// a round, then nothing for twice as long; an ESME_ROK ends the pauses.
// Without them every answer made room for the next due receipt at once.
func TestRefusingReceiversPause(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := refusingHarness(t, q)
		round := h.sentRound()
		if len(round) == 0 {
			t.Fatal("nothing sent")
		}
		h.refuseRound(round)
		for pause, wait := range []time.Duration{time.Second, 2 * time.Second} {
			if got := h.sentRound(); len(got) != 0 {
				t.Fatalf("pause %d: %d deliver_sm sent at its start", pause+1, len(got))
			}
			h.clk.Advance(wait - time.Millisecond)
			if got := h.sentRound(); len(got) != 0 {
				t.Fatalf("pause %d: %d deliver_sm sent before its end", pause+1, len(got))
			}
			if got := metric(t, h.reg, "dlr_refusal_pauses_total"); got != float64(pause+1) {
				t.Fatalf("dlr_refusal_pauses_total = %v, want %d", got, pause+1)
			}
			h.clk.Advance(time.Millisecond)
			round = h.sentRound()
			if len(round) == 0 {
				t.Fatalf("pause %d: nothing sent after it", pause+1)
			}
			if pause == 0 {
				h.refuseRound(round)
			}
		}
		// ESME_ROK: the next round follows at once, and refusals start
		// counting anew (fewer than 8 do not pause).
		answerAll(round, pdu.StatusOK)
		round = h.sentRound()
		if len(round) == 0 {
			t.Fatal("nothing sent after ESME_ROK")
		}
		answerAll(round[:refusalsBeforePause-1], pdu.StatusSysErr)
		answerAll(round[refusalsBeforePause-1:], pdu.StatusOK)
		if got := h.sentRound(); len(got) == 0 {
			t.Fatalf("paused after %d refusals", refusalsBeforePause-1)
		}
		if got := metric(t, h.reg, "dlr_refusal_pauses_total"); got != 2 {
			t.Errorf("dlr_refusal_pauses_total = %v, want 2", got)
		}
	})
}

// A new receiver bind ends the pause: it may take the receipts.
func TestRefusalPauseEndsWithNewBind(t *testing.T) {
	h := refusingHarness(t, NewMemoryQueue(MemoryOptions{}))
	h.refuseRound(h.sentRound())
	if got := h.sentRound(); len(got) != 0 {
		t.Fatalf("%d deliver_sm sent during the pause", len(got))
	}
	h.d.ReceiversChanged("acme", 1) // one fewer, or as many: still paused
	if got := h.sentRound(); len(got) != 0 {
		t.Fatalf("%d deliver_sm sent during the pause", len(got))
	}
	h.d.ReceiversChanged("acme", 2)
	if got := h.sentRound(); len(got) == 0 {
		t.Fatal("nothing sent after a new bind")
	}
}
