package dlr

import (
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// windowSender is a fakeSender whose receivers take one request at a
// time: Capacity says so, and Deliver beyond it answers ErrBusy.
type windowSender struct {
	*fakeSender
	mu          sync.Mutex
	outstanding int
	window      int
}

func (w *windowSender) Capacity(string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.window - w.outstanding
}

func (w *windowSender) Deliver(sys string, sm *pdu.DeliverSM, done func(pdu.Status, error)) error {
	w.mu.Lock()
	if w.outstanding >= w.window {
		w.mu.Unlock()
		return ErrBusy
	}
	w.outstanding++
	w.mu.Unlock()
	return w.fakeSender.Deliver(sys, sm, func(st pdu.Status, err error) {
		w.mu.Lock()
		w.outstanding--
		w.mu.Unlock()
		done(st, err)
	})
}

func TestDispatcherWaitsForRoomInsteadOfFailing(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		ws := &windowSender{fakeSender: newFakeSender(), window: 1}
		h := newHarness(t, q, func(o *Options) { o.Sender = ws })
		h.d.ReceiversChanged("acme", 1)
		ids := []string{"00000000000000B1", "00000000000000B2", "00000000000000B3"}
		for _, id := range ids {
			h.schedule(receipt(id, "acme", 0))
		}
		got := map[string]bool{}
		for range ids {
			d := ws.next(t)
			h.settle()
			ws.none(t) // the window holds one: nothing more until it is answered
			got[d.id()] = true
			d.done(pdu.StatusOK, nil)
		}
		for _, id := range ids {
			if !got[id] {
				t.Fatalf("receipt %s not delivered; got %v", id, got)
			}
		}
		if n := metric(t, h.reg, "dlr_retried_total"); n != 0 {
			t.Fatalf("dlr_retried_total = %v: a full window was counted as a failure", n)
		}
		h.clk.Advance(time.Minute)
		h.settle()
		ws.none(t)
	})
}
