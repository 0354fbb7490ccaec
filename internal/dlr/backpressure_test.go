package dlr

import (
	"context"
	"fmt"
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

func (w *windowSender) Deliver(sys string, sm *pdu.DeliverSM, done func(pdu.PDU, error)) error {
	w.mu.Lock()
	if w.outstanding >= w.window {
		w.mu.Unlock()
		return ErrBusy
	}
	w.outstanding++
	w.mu.Unlock()
	return w.fakeSender.Deliver(sys, sm, func(resp pdu.PDU, err error) {
		w.mu.Lock()
		w.outstanding--
		w.mu.Unlock()
		done(resp, err)
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

// asyncSender answers every deliver_sm OK from another goroutine, as the
// SMPP reader does, so answers race with the dispatcher's steps.
type asyncSender struct{ answers chan func() }

func (s asyncSender) Deliver(_ string, _ *pdu.DeliverSM, done func(pdu.PDU, error)) error {
	s.answers <- func() { done(pdu.PDU{}, nil) }
	return nil
}

func TestDispatcherLosesNoAnswerUnderConcurrency(t *testing.T) {
	q := NewMemoryQueue(MemoryOptions{})
	s := asyncSender{answers: make(chan func(), 1<<16)}
	stop := make(chan struct{})
	defer close(stop)
	for range 4 {
		go func() {
			for {
				select {
				case f := <-s.answers:
					f()
				case <-stop:
					return
				}
			}
		}()
	}
	h := newHarness(t, q, func(o *Options) { o.Sender = s })
	h.d.ReceiversChanged("acme", 1)
	const n = 20000
	for i := range n {
		h.schedule(receipt(fmt.Sprintf("%016X", i+1), "acme", 0))
	}
	// The deadline only keeps a lost answer from hanging the test; lost
	// answers leave receipts leased (and pending) for the whole lease.
	deadline := time.Now().Add(60 * time.Second)
	for h.d.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d receipts still pending: answers were lost", h.d.Pending())
		}
		h.settle()
	}
	if got := metric(t, h.reg, "dlr_sent_total"); got != n {
		t.Fatalf("dlr_sent_total = %v, want %d: an answer was lost or a receipt sent twice", got, n)
	}
	for i := range n {
		if st, _, ok := h.state(fmt.Sprintf("%016X", i+1)); !ok || st != pdu.StateDelivered {
			t.Fatalf("receipt %d: state %v %v, want DELIVERED", i+1, st, ok)
		}
	}
}

// slowAckQueue holds every Ack until release is closed and reports each
// Claim, so a test can claim while an acknowledgement is on its way.
type slowAckQueue struct {
	Queue
	acking  chan struct{} // one value per Ack entered
	release chan struct{}
	claimed chan time.Time
}

func (q *slowAckQueue) Ack(ctx context.Context, o Outcome, rs ...Receipt) error {
	q.acking <- struct{}{}
	<-q.release
	return q.Queue.Ack(ctx, o, rs...)
}

func (q *slowAckQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	rs, err := q.Queue.Claim(ctx, sys, now, lease, max)
	q.claimed <- now // a handful per test: the buffer holds them all
	return rs, err
}

// An answered receipt whose Ack has not reached the queue when its lease
// ends is claimed again; the dispatcher must not send it a second time.
func TestDispatcherDoesNotResendWhileAcking(t *testing.T) {
	q := &slowAckQueue{Queue: NewMemoryQueue(MemoryOptions{}), acking: make(chan struct{}, 1),
		release: make(chan struct{}), claimed: make(chan time.Time, 64)}
	h := newHarness(t, q, nil)
	h.d.ReceiversChanged("acme", 1)
	h.schedule(receipt("00000000000000C1", "acme", 0))
	d := h.s.next(t)
	d.done(pdu.StatusOK, nil)
	<-q.acking // answered; the Ack waits
	leaseEnd := t0.Add(DefaultLease)
	h.clk.Advance(DefaultLease + time.Second)
	hang := time.After(time.Minute) // a guard against hanging, not a measure
	for claimedAfterLease := false; !claimedAfterLease; {
		select {
		case now := <-q.claimed:
			claimedAfterLease = !now.Before(leaseEnd)
		case <-hang:
			t.Fatal("no claim after the lease ended")
		}
	}
	close(q.release)
	h.settle()
	h.s.none(t)
	if st, _, ok := h.state(d.id()); !ok || st != pdu.StateDelivered {
		t.Fatalf("state = %v %v, want DELIVERED", st, ok)
	}
	if n := metric(t, h.reg, "dlr_sent_total"); n != 1 {
		t.Fatalf("dlr_sent_total = %v, want 1", n)
	}
}
