package dlr

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// forEachQueue runs f against every Queue implementation (Redis ones skip
// when no Redis answers).
func forEachQueue(t *testing.T, f func(t *testing.T, q Queue)) {
	for _, impl := range queueImpls() {
		t.Run(impl.name, func(t *testing.T) { f(t, impl.new(t)) })
	}
}

func TestDispatcherDeliversAfterDelay(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		h.d.ReceiversChanged("acme", 1)
		r := receipt("00000000000000A1", "acme", time.Second)
		h.schedule(r)
		h.settle()
		h.s.none(t)
		if st, _, ok := h.state(r.MessageID); !ok || st != pdu.StateEnroute {
			t.Fatalf("state before delivery = %v %v, want ENROUTE", st, ok)
		}
		if got := h.d.Pending(); got != 1 {
			t.Errorf("Pending = %d, want 1", got)
		}

		h.clk.Advance(time.Second)
		d := h.s.next(t)
		if d.sys != "acme" || d.id() != r.MessageID {
			t.Fatalf("delivered %s to %s", d.id(), d.sys)
		}
		if want := r.Text(t0.Add(time.Second)); d.sm.ShortMessage != want {
			t.Errorf("short_message = %q, want %q", d.sm.ShortMessage, want)
		}
		d.done(pdu.StatusOK, nil)
		h.settle()

		st, final, ok := h.state(r.MessageID)
		if !ok || st != pdu.StateDelivered || !final.Equal(t0.Add(time.Second)) {
			t.Errorf("state after OK = %v %v %v, want DELIVERED at t0+1s", st, final, ok)
		}
		for name, want := range map[string]float64{
			"dlr_sent_total": 1, "dlr_delivery_seconds": 1, "dlr_pending": 0, "dlr_retried_total": 0,
		} {
			if got := metric(t, h.reg, name); got != want {
				t.Errorf("%s = %v, want %v", name, got, want)
			}
		}
		if got := metric(t, h.reg, "delivrd_total", "reason=invalid_number"); got != 1 {
			t.Errorf("delivrd_total{reason=invalid_number} = %v, want 1", got)
		}
		h.clk.Advance(time.Hour)
		h.settle()
		h.s.none(t)
	})
}

func TestDispatcherRetries(t *testing.T) {
	tests := []struct {
		name   string
		status pdu.Status
		err    error
	}{
		{"ESME_RX_T_APPN", pdu.StatusXTAppn, nil},
		{"timeout", 0, errors.New("deliver_sm_resp timeout")},
		{"connection lost", 0, errors.New("connection lost")},
		{"other error status", pdu.StatusSysErr, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forEachQueue(t, func(t *testing.T, q Queue) {
				h := newHarness(t, q, nil)
				h.d.ReceiversChanged("acme", 1)
				r := receipt("00000000000000B1", "acme", 0)
				h.schedule(r)
				// Backoff 1 s, 2 s, 4 s, 8 s (RetryMax), 8 s.
				for attempt, wait := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second} {
					d := h.s.next(t)
					if d.id() != r.MessageID {
						t.Fatalf("attempt %d delivered %s", attempt+1, d.id())
					}
					d.done(tt.status, tt.err)
					h.settle()
					if st, _, _ := h.state(r.MessageID); st != pdu.StateEnroute {
						t.Fatalf("state after failure = %v, want ENROUTE", st)
					}
					h.clk.Advance(wait - time.Millisecond)
					h.settle()
					h.s.none(t)
					h.clk.Advance(time.Millisecond)
				}
				h.s.next(t).done(pdu.StatusOK, nil)
				h.settle()
				if st, _, _ := h.state(r.MessageID); st != pdu.StateDelivered {
					t.Errorf("state = %v, want DELIVERED", st)
				}
				if got := metric(t, h.reg, "dlr_retried_total"); got != 5 {
					t.Errorf("dlr_retried_total = %v, want 5", got)
				}
				if got := metric(t, h.reg, "dlr_sent_total"); got != 6 {
					t.Errorf("dlr_sent_total = %v, want 6", got)
				}
			})
		})
	}
}

func TestDispatcherDropsPermanentRefusal(t *testing.T) {
	for _, status := range []pdu.Status{pdu.StatusXPAppn, pdu.StatusXRAppn} {
		t.Run(status.String(), func(t *testing.T) {
			forEachQueue(t, func(t *testing.T, q Queue) {
				h := newHarness(t, q, nil)
				h.d.ReceiversChanged("acme", 2)
				r := receipt("00000000000000C1", "acme", 0)
				h.schedule(r)
				h.s.next(t).done(status, nil)
				h.settle()
				if got := metric(t, h.reg, "dlr_dropped_total", "status="+status.String()); got != 1 {
					t.Errorf("dlr_dropped_total{status=%s} = %v, want 1", status, got)
				}
				if st, _, ok := h.state(r.MessageID); !ok || st != pdu.StateUndeliverable {
					t.Errorf("state = %v %v, want UNDELIVERABLE", st, ok)
				}
				if n, _ := q.Len(context.Background()); n != 0 {
					t.Errorf("queue Len = %d, want 0", n)
				}
				h.clk.Advance(time.Hour)
				h.settle()
				h.s.none(t)
			})
		})
	}
}

func TestDispatcherExpires(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		r1 := receipt("00000000000000D1", "nobody", time.Second) // no receiver: expired by the sweep
		r1.ExpiresAt = t0.Add(10 * time.Second)
		r2 := receipt("00000000000000D2", "acme", 20*time.Second) // due after its expiry: expired when claimed or swept
		r2.ExpiresAt = t0.Add(15 * time.Second)
		r3 := receipt("00000000000000D3", "nobody", time.Second) // still valid
		h.schedule(r1, r2, r3)
		h.d.ReceiversChanged("acme", 1)
		h.clk.Advance(9 * time.Second)
		h.settle()
		if got := metric(t, h.reg, "dlr_expired_total"); got != 0 {
			t.Fatalf("dlr_expired_total = %v before expiry", got)
		}
		h.clk.Advance(time.Second)
		h.settle()
		h.clk.Advance(20 * time.Second)
		h.settle()
		h.s.none(t)
		if got := metric(t, h.reg, "dlr_expired_total"); got != 2 {
			t.Errorf("dlr_expired_total = %v, want 2", got)
		}
		for _, id := range []string{r1.MessageID, r2.MessageID} {
			if st, _, ok := h.state(id); !ok || st != pdu.StateExpired {
				t.Errorf("%s state = %v %v, want EXPIRED", id, st, ok)
			}
		}
		if st, _, _ := h.state(r3.MessageID); st != pdu.StateEnroute {
			t.Errorf("r3 state = %v, want ENROUTE", st)
		}
		if got := h.d.Pending(); got != 1 {
			t.Errorf("Pending = %d, want 1", got)
		}
	})
}

func TestDispatcherKeepsReceiptsUntilReceiverBinds(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		var rs []Receipt
		for i := range 3 {
			rs = append(rs, receipt(fmt.Sprintf("00000000000000E%d", i), "acme", time.Second))
		}
		h.schedule(rs...)
		h.clk.Advance(time.Minute)
		h.settle()
		h.s.none(t)

		// The app says a receiver is bound but the sender has none (yet).
		h.s.setNoReceiver("acme", true)
		h.d.ReceiversChanged("acme", 1)
		h.settle()
		h.s.none(t)
		if got := h.d.Pending(); got != 3 {
			t.Errorf("Pending = %d, want 3", got)
		}

		h.s.setNoReceiver("acme", false)
		h.d.ReceiversChanged("acme", 1)
		got := map[string]bool{}
		for range rs {
			d := h.s.next(t)
			got[d.id()] = true
			d.done(pdu.StatusOK, nil)
		}
		h.settle()
		for _, r := range rs {
			if !got[r.MessageID] {
				t.Errorf("%s not delivered", r.MessageID)
			}
		}
		if n := h.d.Pending(); n != 0 {
			t.Errorf("Pending = %d, want 0", n)
		}
		if got := metric(t, h.reg, "dlr_retried_total"); got != 0 {
			t.Errorf("dlr_retried_total = %v: putting back for a missing receiver is not a retry", got)
		}

		h.d.ReceiversChanged("acme", 0)
		h.settle() // a step already under way may still see the receiver
		r := receipt("00000000000000E9", "acme", 0)
		h.schedule(r)
		h.clk.Advance(time.Minute)
		h.settle()
		h.s.none(t)
	})
}

func TestDispatcherCancel(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		r := receipt("00000000000000F1", "acme", time.Second)
		h.schedule(r)
		ctx := context.Background()
		tests := []struct {
			id   string
			want bool
		}{
			{r.MessageID, true},
			{r.MessageID, false},
			{"FFFFFFFFFFFFFFFF", false},
		}
		for _, tt := range tests {
			got, err := h.d.Cancel(ctx, "acme", tt.id)
			if err != nil || got != tt.want {
				t.Errorf("Cancel(%s) = %v %v, want %v", tt.id, got, err, tt.want)
			}
		}
		if st, _, ok := h.state(r.MessageID); !ok || st != pdu.StateDeleted {
			t.Errorf("state = %v %v, want DELETED", st, ok)
		}
		if _, _, ok := h.state("FFFFFFFFFFFFFFFF"); ok {
			t.Error("unknown id reported as known")
		}
		h.d.ReceiversChanged("acme", 1)
		h.clk.Advance(time.Minute)
		h.settle()
		h.s.none(t)
		if n := h.d.Pending(); n != 0 {
			t.Errorf("Pending = %d, want 0", n)
		}
	})
}

func TestDispatcherDrain(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		h.s.setAuto(pdu.StatusOK) // answered inside Deliver
		h.d.ReceiversChanged("acme", 1)
		for i := range 5 {
			h.schedule(receipt(fmt.Sprintf("000000000000010%d", i), "acme", 0))
		}
		h.schedule(receipt("0000000000000200", "nobody", 0))       // no receiver: stays
		h.schedule(receipt("0000000000000201", "acme", time.Hour)) // not due before the deadline
		pending := h.d.Drain(context.Background())
		if pending != 2 {
			t.Errorf("Drain = %d, want 2", pending)
		}
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Drain")
		}
		if got := len(h.s.sent); got != 5 {
			t.Errorf("%d receipts sent, want 5", got)
		}
	})
}

func TestDispatcherDrainWaitsForAnswers(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), nil)
	h.d.ReceiversChanged("acme", 1)
	h.schedule(receipt("0000000000000301", "acme", 0))
	d := h.s.next(t) // in flight, not answered yet
	res := make(chan int)
	go func() { res <- h.d.Drain(context.Background()) }()
	select {
	case n := <-res:
		t.Fatalf("Drain returned %d before the answer", n)
	default:
	}
	d.done(pdu.StatusOK, nil)
	if n := <-res; n != 0 {
		t.Errorf("Drain = %d, want 0", n)
	}
}

func TestDispatcherDrainDeadline(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), nil)
	h.d.ReceiversChanged("acme", 1)
	h.schedule(receipt("0000000000000401", "acme", 0))
	h.s.next(t) // never answered
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n := h.d.Drain(ctx); n != 1 {
		t.Errorf("Drain = %d, want 1 (still leased)", n)
	}
}

func TestDispatcherScheduleRejectsInvalid(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), nil)
	for _, r := range []Receipt{{SystemID: "a"}, {MessageID: "A"}} {
		if err := h.d.Schedule(context.Background(), r); !errors.Is(err, ErrInvalidReceipt) {
			t.Errorf("Schedule(%+v) = %v, want ErrInvalidReceipt", r, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	o := Options{RetryMin: time.Second, RetryMax: 300 * time.Second}
	tests := []struct {
		n    int
		want time.Duration
	}{
		{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {9, 256 * time.Second},
		{10, 300 * time.Second}, {1000, 300 * time.Second},
	}
	for _, tt := range tests {
		if got := o.backoff(tt.n); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.n, got, tt.want)
		}
	}
}

func TestReasonLabelBounded(t *testing.T) {
	m := &metrics{reasons: map[string]struct{}{}}
	tests := []struct{ in, want string }{
		{"invalid_number", "invalid_number"},
		{"", "unknown"},
		{"Has Spaces", "other"},
		{"x_very_long_reason_that_goes_past_the_limit", "other"},
	}
	for _, tt := range tests {
		if got := m.reasonLabel(tt.in); got != tt.want {
			t.Errorf("reasonLabel(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for i := range 2 * maxReasonLabels {
		m.reasonLabel(fmt.Sprintf("r%d", i))
	}
	if got := m.reasonLabel("brand_new"); got != "other" {
		t.Errorf("reason past the bound = %q, want other", got)
	}
}

// TestDeliverInflightGauge: dlr_deliver_inflight counts the deliver_sm
// sent and not answered yet (bounded by MaxInFlight).
func TestDeliverInflightGauge(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		h.d.ReceiversChanged("acme", 1)
		h.schedule(receipt("00000000000000B1", "acme", 0), receipt("00000000000000B2", "acme", 0))
		first, second := h.s.next(t), h.s.next(t)
		h.settle()
		if got := metric(t, h.reg, "dlr_deliver_inflight"); got != 2 {
			t.Fatalf("dlr_deliver_inflight = %v with two deliver_sm unanswered, want 2", got)
		}
		first.done(pdu.StatusOK, nil)
		h.settle()
		if got := metric(t, h.reg, "dlr_deliver_inflight"); got != 1 {
			t.Fatalf("dlr_deliver_inflight = %v after one answer, want 1", got)
		}
		second.done(pdu.StatusOK, nil)
		h.settle()
		if got := metric(t, h.reg, "dlr_deliver_inflight"); got != 0 {
			t.Fatalf("dlr_deliver_inflight = %v after both answers, want 0", got)
		}
	})
}

// failingRecorder is a memory queue whose outcome records all fail.
type failingRecorder struct{ *MemoryQueue }

func (failingRecorder) RecordAsync(_ Outcome, _ Receipt, done func(error)) {
	done(errors.New("record refused"))
}

// TestOutcomeNotRecordedIsCounted: an accepted message that asked for no
// receipt and whose outcome could not be remembered is counted in
// dlr_outcomes_not_recorded_total (a later query_sm cannot answer it).
func TestOutcomeNotRecordedIsCounted(t *testing.T) {
	h := newHarness(t, failingRecorder{NewMemoryQueue(MemoryOptions{})}, nil)
	if got := metric(t, h.reg, "dlr_outcomes_not_recorded_total"); got != 0 {
		t.Fatalf("dlr_outcomes_not_recorded_total = %v before any message, want 0", got)
	}
	done := make(chan struct{})
	h.d.Accepted(receipt("00000000000000C1", "acme", 0), func() { close(done) })
	<-done // a refused record is done too: the submit is answered
	if got := metric(t, h.reg, "dlr_outcomes_not_recorded_total"); got != 1 {
		t.Fatalf("dlr_outcomes_not_recorded_total = %v after a refused record, want 1", got)
	}
}

// TestDeliverInflightGaugeNotSent: receipts the sender could not take (no
// receiver) are put back and not counted as in flight.
func TestDeliverInflightGaugeNotSent(t *testing.T) {
	forEachQueue(t, func(t *testing.T, q Queue) {
		h := newHarness(t, q, nil)
		h.s.setNoReceiver("acme", true)
		h.d.ReceiversChanged("acme", 1)
		h.schedule(receipt("00000000000000D1", "acme", 0), receipt("00000000000000D2", "acme", 0))
		h.settle()
		h.s.none(t)
		if got := metric(t, h.reg, "dlr_deliver_inflight"); got != 0 {
			t.Fatalf("dlr_deliver_inflight = %v after both receipts were put back unsent, want 0", got)
		}
	})
}

// stuckSweepQueue is a memory queue whose upkeep (Maintain) does not
// return until its context ends: a sweep against a Redis that does not
// answer, with a long OpTimeout.
type stuckSweepQueue struct {
	*MemoryQueue
	entered chan struct{}
	release chan struct{} // closed when the test ends, whatever happened
}

func (q *stuckSweepQueue) Maintain(ctx context.Context) error {
	select {
	case q.entered <- struct{}{}:
	default:
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-q.release:
		return errors.New("released by the test")
	}
}

// stuckSweepHarness runs a dispatcher whose first sweep is stuck in a
// queue call (OpTimeout an hour) and returns once it is.
func stuckSweepHarness(t *testing.T) *harness {
	t.Helper()
	q := &stuckSweepQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := newHarness(t, q, func(o *Options) { o.OpTimeout = time.Hour })
	t.Cleanup(func() { close(q.release) }) // before the harness waits for Run
	select {
	case <-q.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no sweep started")
	}
	return h
}

// TestDrainDoesNotWaitOutAStuckSweep: a sweep stuck in a queue call holds
// neither Drain past its context nor Run past Drain's stop: the sweep's
// calls end when the loop is told to stop (the shutdown's budget is not
// spent waiting on a Redis that does not answer).
func TestDrainDoesNotWaitOutAStuckSweep(t *testing.T) {
	h := stuckSweepHarness(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		h.d.Drain(ctx)
	}()
	for name, c := range map[string]<-chan struct{}{"Drain": drained, "Run": h.done} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not return while a sweep's queue call was stuck", name)
		}
	}
}

// stuckClaimQueue is a memory queue whose claims, once stuck is set, do
// not return until their context ends: a Redis that does not answer.
// Claims begun after late is set are counted.
type stuckClaimQueue struct {
	*MemoryQueue
	stuck, late atomic.Bool
	entered     chan struct{}
	lateClaims  atomic.Int32
}

func (q *stuckClaimQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, n int) ([]Receipt, error) {
	if q.late.Load() {
		q.lateClaims.Add(1)
	}
	if !q.stuck.Load() {
		return q.MemoryQueue.Claim(ctx, sys, now, lease, n)
	}
	select {
	case q.entered <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStoppingLoopClaimsForNoFurtherAccount: each claim outlives the
// loop's context (an answered receipt's claim must not be cut), so a loop
// told to stop while claims hang would otherwise go on claiming for each
// of its accounts, OpTimeout each, and hold the shutdown that long.
func TestStoppingLoopClaimsForNoFurtherAccount(t *testing.T) {
	const accounts = 200
	q := &stuckClaimQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), entered: make(chan struct{}, 1)}
	h := newHarness(t, q, func(o *Options) { o.OpTimeout = 100 * time.Millisecond })
	q.stuck.Store(true)
	for i := range accounts {
		h.d.ReceiversChanged(fmt.Sprintf("acct%02d", i), 1)
	}
	select {
	case <-q.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no claim started")
	}
	q.late.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Drain gives up on the loop at once; Run is told to stop
	h.d.Drain(ctx)
	select {
	case <-h.done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return")
	}
	// Between Drain's stop and Run's context ending, each of the shards
	// may start one more claim; without the check every account gets one.
	if n := q.lateClaims.Load(); n > int32(len(h.d.shards)) {
		t.Fatalf("%d claims started after the loop was told to stop, want at most %d", n, len(h.d.shards))
	}
}

// partlyExpiringQueue is a memory queue whose Expire removes one receipt
// and then fails, as a Redis expiry whose next account's script failed
// (or a sweep cut short) does: once.
type partlyExpiringQueue struct {
	*MemoryQueue
	once atomic.Bool
}

func (q *partlyExpiringQueue) Expire(ctx context.Context, now time.Time, max int) ([]Receipt, error) {
	if q.once.CompareAndSwap(false, true) {
		return []Receipt{receipt("0000000000000E01", "acme", 0)}, errors.New("the next account's expiry failed")
	}
	return q.MemoryQueue.Expire(ctx, now, max)
}

// TestSweepCountsWhatExpireReturnedWithAnError: receipts Expire returns
// along with an error are expired in the queue, so they are logged and
// counted like any other.
func TestSweepCountsWhatExpireReturnedWithAnError(t *testing.T) {
	h := newHarness(t, &partlyExpiringQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{})}, nil)
	h.settle() // the first sweep has run
	if got := metric(t, h.reg, "dlr_expired_total"); got != 1 {
		t.Fatalf("dlr_expired_total = %v, want 1", got)
	}
}
