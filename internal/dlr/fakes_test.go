package dlr

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// fakeClock is a Clock moved by Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{}
}

func newFakeClock(now time.Time) *fakeClock {
	return &fakeClock{now: now, timers: make(map[*fakeTimer]struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) TimerAt(at time.Time) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: at, ch: make(chan time.Time, 1), clk: c}
	if at.After(c.now) {
		c.timers[t] = struct{}{}
	} else {
		t.ch <- c.now
	}
	return t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for t := range c.timers {
		if !t.at.After(c.now) {
			t.ch <- c.now
			delete(c.timers, t)
		}
	}
}

type fakeTimer struct {
	at  time.Time
	ch  chan time.Time
	clk *fakeClock
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

func (t *fakeTimer) Stop() bool {
	t.clk.mu.Lock()
	defer t.clk.mu.Unlock()
	_, ok := t.clk.timers[t]
	delete(t.clk.timers, t)
	return ok
}

// delivery is one deliver_sm handed to the fake sender.
type delivery struct {
	sys  string
	sm   *pdu.DeliverSM
	done func(pdu.Status, error)
}

func (d delivery) id() string {
	id, _ := d.sm.TLVs.CString(pdu.TagReceiptedMessageID)
	return id
}

// fakeSender records deliveries. With auto set it answers each at once
// with *auto; accounts in noReceiver get ErrNoReceiver.
type fakeSender struct {
	mu         sync.Mutex
	noReceiver map[string]bool
	auto       *pdu.Status
	sent       chan delivery
}

func newFakeSender() *fakeSender {
	return &fakeSender{noReceiver: make(map[string]bool), sent: make(chan delivery, 10000)}
}

func (s *fakeSender) Deliver(sys string, sm *pdu.DeliverSM, resp func(pdu.PDU, error)) error {
	done := func(st pdu.Status, err error) { resp(pdu.PDU{Header: pdu.Header{Status: st}}, err) }
	cp := *sm // the dispatcher reuses sm after Deliver returns
	sm = &cp
	s.mu.Lock()
	no, auto := s.noReceiver[sys], s.auto
	s.mu.Unlock()
	if no {
		return ErrNoReceiver
	}
	s.sent <- delivery{sys: sys, sm: sm, done: done}
	if auto != nil {
		done(*auto, nil)
	}
	return nil
}

func (s *fakeSender) setNoReceiver(sys string, v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noReceiver[sys] = v
}

func (s *fakeSender) setAuto(st pdu.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.auto = &st
}

// next waits for the next delivery. The timeout only guards against a
// hanging test; it is not a performance threshold.
func (s *fakeSender) next(t *testing.T) delivery {
	t.Helper()
	select {
	case d := <-s.sent:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("no deliver_sm")
		return delivery{}
	}
}

func (s *fakeSender) none(t *testing.T) {
	t.Helper()
	select {
	case d := <-s.sent:
		t.Fatalf("unexpected deliver_sm for %s", d.id())
	default:
	}
}

// harness runs a dispatcher on a fake clock and a fake sender.
type harness struct {
	t    *testing.T
	clk  *fakeClock
	q    Queue
	s    *fakeSender
	d    *Dispatcher
	reg  *prometheus.Registry
	done chan struct{}
	sys  map[string]string // message id → account, for state
}

func newHarness(t *testing.T, q Queue, tweak func(*Options)) *harness {
	t.Helper()
	return newHarnessBefore(t, q, tweak, nil)
}

// newHarnessBefore is newHarness calling before with the dispatcher
// before it runs: what before sets up is there at the loop's first step.
func newHarnessBefore(t *testing.T, q Queue, tweak func(*Options), before func(*Dispatcher)) *harness {
	t.Helper()
	h := &harness{t: t, clk: newFakeClock(t0), q: q, s: newFakeSender(), reg: prometheus.NewRegistry(), done: make(chan struct{}), sys: make(map[string]string)}
	// Four shards, whatever the machine's GOMAXPROCS: the tests' accounts
	// spread over several loops.
	opts := Options{Queue: q, Sender: h.s, Clock: h.clk, RetryMin: time.Second, RetryMax: 8 * time.Second, Registerer: h.reg, Shards: 4}
	if tweak != nil {
		tweak(&opts)
	}
	h.d = NewDispatcher(opts)
	if before != nil {
		before(h.d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer close(h.done)
		if err := h.d.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-h.done
	})
	return h
}

// settle returns once the loop has handled everything that happened
// before the call and is waiting.
func (h *harness) settle() {
	h.t.Helper()
	c := make(chan struct{})
	select {
	case h.d.syncReq <- c:
	case <-h.done:
		return
	case <-time.After(10 * time.Second):
		h.t.Fatal("dispatcher loop not responding")
	}
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		h.t.Fatal("dispatcher loop never idle")
	}
}

func (h *harness) schedule(rs ...Receipt) {
	h.t.Helper()
	for _, r := range rs {
		h.sys[r.MessageID] = r.SystemID
		if err := h.d.Schedule(context.Background(), r); err != nil {
			h.t.Fatalf("Schedule: %v", err)
		}
	}
}

func (h *harness) state(id string) (pdu.MessageState, time.Time, bool) {
	sys, known := h.sys[id]
	if !known {
		sys = "acme"
	}
	o, ok, err := h.d.Lookup(context.Background(), sys, id)
	if err != nil {
		h.t.Fatalf("Lookup: %v", err)
	}
	return o.State, o.At, ok
}

// metric returns the value of a counter, gauge or histogram count whose
// labels include all of the given name=value pairs.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, l := range labels {
				k, v, _ := strings.Cut(l, "=")
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == k && lp.GetValue() == v {
						found = true
					}
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			case m.Histogram != nil:
				sum += float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return sum
}

// receipt returns a receipt of sys submitted at t0, due after delay.
func receipt(id, sys string, delay time.Duration) Receipt {
	r := sampleReceipt()
	r.MessageID, r.SystemID = id, sys
	r.DueAt = t0.Add(delay)
	return r
}
