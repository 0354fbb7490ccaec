package dlr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// switchQueue forwards to a queue the test can swap.
type switchQueue struct {
	mu sync.Mutex
	q  Queue
}

func (s *switchQueue) set(q Queue) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.q = q
}

func (s *switchQueue) cur() Queue {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.q
}

func (s *switchQueue) Put(ctx context.Context, r Receipt) error { return s.cur().Put(ctx, r) }
func (s *switchQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, max int) ([]Receipt, error) {
	return s.cur().Claim(ctx, sys, now, lease, max)
}
func (s *switchQueue) Ack(ctx context.Context, o Outcome, rs ...Receipt) error {
	return s.cur().Ack(ctx, o, rs...)
}
func (s *switchQueue) Retry(ctx context.Context, r Receipt, at time.Time) error {
	return s.cur().Retry(ctx, r, at)
}
func (s *switchQueue) Cancel(ctx context.Context, sys, id string, at time.Time) (bool, error) {
	return s.cur().Cancel(ctx, sys, id, at)
}
func (s *switchQueue) Lookup(ctx context.Context, sys, id string) (Outcome, bool, error) {
	return s.cur().Lookup(ctx, sys, id)
}
func (s *switchQueue) PendingCount(ctx context.Context, sys string) (int, error) {
	return s.cur().PendingCount(ctx, sys)
}
func (s *switchQueue) NextDue(ctx context.Context, sys string) (time.Time, bool, error) {
	return s.cur().NextDue(ctx, sys)
}
func (s *switchQueue) Expire(ctx context.Context, now time.Time, max int) ([]Receipt, error) {
	return s.cur().Expire(ctx, now, max)
}
func (s *switchQueue) Len(ctx context.Context) (int, error) { return s.cur().Len(ctx) }
func (s *switchQueue) Healthy(ctx context.Context) error {
	if h, ok := s.cur().(interface{ Healthy(context.Context) error }); ok {
		return h.Healthy(ctx)
	}
	return nil
}

// downQueue fails every call.
type downQueue struct{}

var errDown = errors.New("connection refused")

func (downQueue) Put(context.Context, Receipt) error { return errDown }
func (downQueue) Claim(context.Context, string, time.Time, time.Duration, int) ([]Receipt, error) {
	return nil, errDown
}
func (downQueue) Ack(context.Context, Outcome, ...Receipt) error  { return errDown }
func (downQueue) Retry(context.Context, Receipt, time.Time) error { return errDown }
func (downQueue) Cancel(context.Context, string, string, time.Time) (bool, error) {
	return false, errDown
}
func (downQueue) Lookup(context.Context, string, string) (Outcome, bool, error) {
	return Outcome{}, false, errDown
}
func (downQueue) PendingCount(context.Context, string) (int, error) { return 0, errDown }
func (downQueue) NextDue(context.Context, string) (time.Time, bool, error) {
	return time.Time{}, false, errDown
}
func (downQueue) Expire(context.Context, time.Time, int) ([]Receipt, error) { return nil, errDown }
func (downQueue) Len(context.Context) (int, error)                          { return 0, errDown }
func (downQueue) Healthy(context.Context) error                             { return errDown }

func TestBufferedQueueOutage(t *testing.T) {
	redisDown := func(t *testing.T) (Queue, Queue) {
		c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		good := newTestRedisQueue(t)
		return NewRedisQueue(c, RedisOptions{}), good
	}
	fake := func(*testing.T) (Queue, Queue) { return downQueue{}, NewMemoryQueue(MemoryOptions{}) }
	for _, tt := range []struct {
		name  string
		make_ func(*testing.T) (down, up Queue)
	}{
		{"fake inner", fake},
		{"redis at 127.0.0.1:1", redisDown},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			down, up := tt.make_(t)
			inner := &switchQueue{q: down}
			reg := registry()
			q := NewBufferedQueue(inner, BufferOptions{Size: 3, Registerer: reg, manual: true})

			for i := range 3 {
				if err := q.Put(ctx, receipt(fmt.Sprintf("BUF%d", i), "acme", 0)); err != nil {
					t.Fatalf("Put %d during outage: %v", i, err)
				}
			}
			if err := q.Put(ctx, receipt("BUF3", "acme", 0)); !errors.Is(err, ErrBufferFull) {
				t.Fatalf("Put past the bound = %v, want ErrBufferFull", err)
			}
			if got := metric(t, reg, "dlr_buffer_overflow_total"); got != 1 {
				t.Errorf("dlr_buffer_overflow_total = %v, want 1", got)
			}
			if got := metric(t, reg, "dlr_buffer_size"); got != 3 {
				t.Errorf("dlr_buffer_size = %v, want 3", got)
			}
			if err := q.Healthy(ctx); !errors.Is(err, ErrDegraded) {
				t.Errorf("Healthy = %v, want ErrDegraded", err)
			}
			if o, ok, err := q.Lookup(ctx, "acme", "BUF1"); err != nil || !ok || o.State != pdu.StateEnroute {
				t.Errorf("Lookup buffered = %+v %v %v", o, ok, err)
			}
			if ok, err := q.Cancel(ctx, "acme", "BUF1", t0); err != nil || !ok {
				t.Errorf("Cancel buffered = %v %v", ok, err)
			}
			if n, err := q.Flush(ctx); err == nil || n != 0 {
				t.Errorf("Flush while down = %d %v, want an error", n, err)
			}

			inner.set(up) // the queue is back
			if n, err := q.Flush(ctx); err != nil || n != 2 {
				t.Fatalf("Flush = %d %v, want 2", n, err)
			}
			if n, err := up.Len(ctx); err != nil || n != 2 {
				t.Errorf("inner Len = %d %v, want 2", n, err)
			}
			if err := q.Healthy(ctx); err != nil {
				t.Errorf("Healthy after flush = %v", err)
			}
			if err := q.Put(ctx, receipt("AFTER", "acme", 0)); err != nil || q.Buffered() != 0 {
				t.Errorf("Put after recovery = %v, buffered %d", err, q.Buffered())
			}
			rs, err := up.Claim(ctx, "acme", t0, time.Minute, 10)
			if err != nil || fmt.Sprint(sorted(ids(rs))) != "[AFTER BUF0 BUF2]" {
				t.Errorf("claimed %v %v", ids(rs), err)
			}
		})
	}
}

func TestBufferedQueueWritesBackInTheBackground(t *testing.T) {
	inner := &switchQueue{q: downQueue{}}
	passes := make(chan error, 100)
	q := NewBufferedQueue(inner, BufferOptions{Size: 10, passed: func(_ int, err error) { passes <- err }})
	h := newHarness(t, q, nil)
	h.d.ReceiversChanged("acme", 1)
	h.schedule(receipt("SWEEP1", "acme", 0))
	h.settle()
	h.s.none(t)
	if err := <-passes; err == nil {
		t.Fatal("a write-back pass succeeded while the queue was down")
	}
	inner.set(NewMemoryQueue(MemoryOptions{}))
	for err := range passes {
		if err == nil {
			break
		}
	}
	if q.Buffered() != 0 || q.Degraded() != 0 {
		t.Fatalf("after a good pass: %d buffered, %d degraded", q.Buffered(), q.Degraded())
	}
	h.clk.Advance(DefaultPollInterval)
	if d := h.s.next(t); d.id() != "SWEEP1" {
		t.Fatalf("delivered %s", d.id())
	}
}

// TestOneAccountDegradedOthersFlow: a failure of one account's part of the
// queue (its shard) degrades that account only.
func TestOneAccountDegradedOthersFlow(t *testing.T) {
	ctx := context.Background()
	inner := &failAccountQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), bad: "sick"}
	q := NewBufferedQueue(inner, BufferOptions{manual: true})
	if err := q.Put(ctx, receipt("S1", "sick", 0)); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, receipt("W1", "well", 0)); err != nil {
		t.Fatal(err)
	}
	if q.Buffered() != 1 || q.Degraded() != 1 {
		t.Fatalf("buffered %d, degraded %d, want 1 and 1", q.Buffered(), q.Degraded())
	}
	if n, _ := inner.MemoryQueue.PendingCount(ctx, "well"); n != 1 {
		t.Fatalf("the healthy account's receipt is not in the queue (%d)", n)
	}
	if n, _ := q.PendingCount(ctx, "sick"); n != 1 {
		t.Fatalf("PendingCount(sick) = %d, want 1 (buffered)", n)
	}
	inner.setBad("")
	if n, err := q.Flush(ctx); n != 1 || err != nil {
		t.Fatalf("Flush = %d %v", n, err)
	}
	if q.Degraded() != 0 {
		t.Fatal("still degraded after the flush")
	}
}

// failAccountQueue fails every Put of one account, as a Cluster with that
// account's shard down does.
type failAccountQueue struct {
	*MemoryQueue
	mu  sync.Mutex
	bad string
}

func (q *failAccountQueue) setBad(sys string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bad = sys
}

func (q *failAccountQueue) Put(ctx context.Context, r Receipt) error {
	q.mu.Lock()
	bad := q.bad
	q.mu.Unlock()
	if r.SystemID == bad {
		return errDown
	}
	return q.MemoryQueue.Put(ctx, r)
}

func (q *gateQueue) PutAsync(r Receipt, done func(error)) { done(q.Put(context.Background(), r)) }

func ids(rs []Receipt) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.MessageID)
	}
	return out
}

// lateQueue stores the first receipt but reports a timeout, as a Redis
// Put that reached Redis after its deadline does.
type lateQueue struct {
	*MemoryQueue
	late bool
}

func (q *lateQueue) Put(ctx context.Context, r Receipt) error {
	err := q.MemoryQueue.Put(ctx, r)
	if !q.late {
		q.late = true
		return context.DeadlineExceeded
	}
	return err
}

func TestFlushDoesNotBringBackADeliveredReceipt(t *testing.T) {
	ctx := context.Background()
	inner := &lateQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{})}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true})
	r := receipt("00000000000000C1", "acme", 0)
	if err := bq.Put(ctx, r); err != nil { // times out: buffered, yet stored
		t.Fatal(err)
	}
	if bq.Buffered() != 1 {
		t.Fatalf("buffered %d, want 1", bq.Buffered())
	}
	deliverFrom(t, inner, t0.Add(time.Hour))
	if _, err := bq.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if o, ok, _ := inner.Lookup(ctx, r.SystemID, r.MessageID); !ok || o.State != pdu.StateDelivered {
		t.Fatalf("after Flush the delivered receipt is %v (known %v): it would be sent again", o.State, ok)
	}
	if n, _ := inner.Len(ctx); n != 0 {
		t.Fatalf("%d receipts pending after Flush, want 0", n)
	}
}

// forgetfulQueue is a lateQueue that no longer remembers finished
// receipts: the done records expired (the outage outlasted the queue's
// memory of outcomes, ten minutes with Redis).
type forgetfulQueue struct{ *lateQueue }

func (q *forgetfulQueue) Lookup(ctx context.Context, sys, id string) (Outcome, bool, error) {
	o, ok, err := q.lateQueue.Lookup(ctx, sys, id)
	if ok && o.State != pdu.StateEnroute {
		return Outcome{}, false, err
	}
	return o, ok, err
}

// TestAckedWhileBufferedIsNotWrittenBack: a receipt whose put reached the
// queue although it failed (a timeout, REDIS_WAIT_REPLICAS short of
// replicas) stays buffered as well; delivered and acknowledged through
// the buffered queue meanwhile, its copy is dropped rather than written
// back, even once the queue has forgotten it finished. It used to be
// stored again and sent a second time.
func TestAckedWhileBufferedIsNotWrittenBack(t *testing.T) {
	ctx := context.Background()
	inner := &forgetfulQueue{&lateQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{})}}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true})
	r := receipt("00000000000000C2", "acme", 0)
	if err := bq.Put(ctx, r); err != nil { // times out: buffered, yet stored
		t.Fatal(err)
	}
	rs, err := bq.Claim(ctx, "acme", t0.Add(time.Hour), time.Minute, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("claim: %v %v", rs, err)
	}
	if err := bq.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
	if n := bq.Buffered(); n != 0 {
		t.Fatalf("Buffered = %d after the receipt was delivered, want 0", n)
	}
	if _, ok, _ := bq.Lookup(ctx, r.SystemID, r.MessageID); ok {
		t.Fatal("Lookup still reports the delivered receipt as buffered and pending")
	}
	if _, err := bq.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := inner.Len(ctx); n != 0 {
		t.Fatalf("%d receipts pending after Flush, want 0: the delivered receipt would be sent again", n)
	}
	if bq.Degraded() != 0 {
		t.Fatalf("%d accounts still degraded after the pass dropped the buffer's only receipt", bq.Degraded())
	}
}

// TestAvailableAgainCountsDroppedApart: the account's recovery line says
// how many receipts were written back and how many were dropped because
// they were delivered meanwhile (it counted both as written back).
func TestAvailableAgainCountsDroppedApart(t *testing.T) {
	ctx := context.Background()
	var logged syncBuffer
	inner := &forgetfulQueue{&lateQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{})}}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true, Logger: slog.New(slog.NewJSONHandler(&logged, nil))})
	if err := bq.Put(ctx, receipt("00000000000000C3", "acme", 0)); err != nil { // stored, reported late: buffered
		t.Fatal(err)
	}
	if err := bq.Put(ctx, receipt("00000000000000C4", "acme", 0)); err != nil { // the account is degraded: buffered only
		t.Fatal(err)
	}
	rs, err := bq.Claim(ctx, "acme", t0.Add(time.Hour), time.Minute, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("claim: %v %v", rs, err)
	}
	if err := bq.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
	if _, err := bq.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	logged.mu.Lock()
	out := logged.b.String()
	logged.mu.Unlock()
	if !strings.Contains(out, `"flushed":1,"delivered_meanwhile":1`) {
		t.Fatalf("dlr.account_available_again does not count 1 written back and 1 dropped:\n%s", out)
	}
}

// unreplicatedQueue stores every receipt but reports that WAIT saw too
// few replicas, as RedisQueue does with REDIS_WAIT_REPLICAS while
// replicas are down.
type unreplicatedQueue struct{ *MemoryQueue }

func (q *unreplicatedQueue) Put(ctx context.Context, r Receipt) error {
	if err := q.MemoryQueue.Put(ctx, r); err != nil {
		return err
	}
	return fmt.Errorf("dlr: redis put: %w", ErrNotReplicated)
}

func (q *unreplicatedQueue) PutAsync(r Receipt, done func(error)) {
	done(q.Put(context.Background(), r))
}

// Restore writes back as RedisQueue does: stored (unless pending), then
// WAIT, short of replicas.
func (q *unreplicatedQueue) Restore(ctx context.Context, rs []Receipt) []error {
	errs := make([]error, len(rs))
	for i, r := range rs {
		if _, known, _ := q.Lookup(ctx, r.SystemID, r.MessageID); !known {
			_ = q.MemoryQueue.Put(ctx, r)
		}
		errs[i] = fmt.Errorf("dlr: redis put: %w", ErrNotReplicated)
	}
	return errs
}

// TestUnreplicatedCopiesAreCountedOnce: a receipt Redis holds but could
// not replicate is kept in the buffer against a failover, and counted
// once (in the queue): it used to be counted twice in the account's
// pending receipts (and dlr_pending, and the max_pending_receipts cap),
// and as lost by a shutdown that could not write it back.
func TestUnreplicatedCopiesAreCountedOnce(t *testing.T) {
	ctx := context.Background()
	inner := &unreplicatedQueue{NewMemoryQueue(MemoryOptions{})}
	lost := &LossCounter{}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true, Lost: lost})
	for _, id := range []string{"00000000000000D1", "00000000000000D2"} {
		if err := bq.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	// The first put reached Redis (unreplicated); the account is then
	// degraded, so the second waits only here.
	check := func(when string, wantOnly int) {
		t.Helper()
		if held, only := bq.Held(), bq.Buffered(); held != 2 || only != wantOnly {
			t.Fatalf("%s: Held %d, Buffered %d; want 2 held, %d whose only copy is here", when, held, only, wantOnly)
		}
		if n, err := bq.PendingCount(ctx, "acme"); err != nil || n != 2 {
			t.Fatalf("%s: PendingCount = %d (%v), want 2", when, n, err)
		}
		if n, err := bq.Len(ctx); err != nil || n != 2 {
			t.Fatalf("%s: Len = %d (%v), want 2", when, n, err)
		}
	}
	check("after the puts", 1)
	if _, err := bq.Flush(ctx); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("write-back with replicas still short: %v", err)
	}
	check("after a write-back that reached Redis unreplicated", 0)
	done, cancel := context.WithCancel(ctx)
	cancel()
	if n := bq.Close(done); n != 0 {
		t.Fatalf("Close counted %d lost: the receipts are in the queue", n)
	}
}

func (q *failAccountQueue) PutAsync(r Receipt, done func(error)) {
	done(q.Put(context.Background(), r))
}

func (q *lateQueue) PutAsync(r Receipt, done func(error)) { done(q.Put(context.Background(), r)) }

// gateQueue is a MemoryQueue whose Put fails while failing is set, and,
// once hold is set, stops inside Put (after telling entered) until
// release is closed: a write-back pass caught half-way.
type gateQueue struct {
	*MemoryQueue
	failing bool
	hold    bool
	entered chan struct{}
	release chan struct{}
}

func (q *gateQueue) Put(ctx context.Context, r Receipt) error {
	if q.failing {
		return errDown
	}
	if q.hold {
		close(q.entered)
		<-q.release
	}
	return q.MemoryQueue.Put(ctx, r)
}

// TestCancelDuringWriteBackIsNotUndone: a cancel_sm that takes a receipt
// out of the buffer while a write-back pass is already writing it must
// still win: the pass cancels what it wrote, so no receipt is sent for a
// cancelled message.
func TestCancelDuringWriteBackIsNotUndone(t *testing.T) {
	ctx := context.Background()
	inner := &gateQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), failing: true,
		entered: make(chan struct{}), release: make(chan struct{})}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true})
	r := receipt("00000000000000E1", "acme", 0)
	if err := bq.Put(ctx, r); err != nil || bq.Buffered() != 1 {
		t.Fatalf("Put = %v, buffered %d, want buffered", err, bq.Buffered())
	}
	inner.failing, inner.hold = false, true
	flushed := make(chan error, 1)
	go func() {
		_, err := bq.Flush(ctx)
		flushed <- err
	}()
	<-inner.entered // the pass is writing r
	ok, err := bq.Cancel(ctx, "acme", r.MessageID, t0.Add(time.Minute))
	if err != nil || !ok {
		t.Fatalf("Cancel = %v, %v", ok, err)
	}
	close(inner.release)
	if err := <-flushed; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if n, _ := inner.Len(ctx); n != 0 {
		t.Fatalf("%d receipts pending after the pass: the cancelled receipt would be sent", n)
	}
	if o, known, _ := inner.Lookup(ctx, "acme", r.MessageID); !known || o.State != pdu.StateDeleted {
		t.Fatalf("cancelled receipt is %v (known %v), want DELETED", o.State, known)
	}
	if bq.Buffered() != 0 || bq.Degraded() != 0 {
		t.Fatalf("buffered %d, degraded %d after the pass, want 0 and 0", bq.Buffered(), bq.Degraded())
	}
}

// flakyRecorder is a memory queue whose puts and outcome records fail
// while down; attempts counts the records it was asked for.
type flakyRecorder struct {
	*MemoryQueue
	down     atomic.Bool
	attempts int
	hang     bool // records get no answer: their done is kept in held
	held     []func(error)
}

func (f *flakyRecorder) Put(ctx context.Context, r Receipt) error {
	if f.down.Load() {
		return errDown
	}
	return f.MemoryQueue.Put(ctx, r)
}

func (f *flakyRecorder) PutAsync(r Receipt, done func(error)) {
	if f.down.Load() {
		done(errDown)
		return
	}
	f.MemoryQueue.PutAsync(r, done)
}

func (f *flakyRecorder) RecordAsync(o Outcome, r Receipt, done func(error)) {
	f.attempts++
	if f.hang {
		f.held = append(f.held, done)
		return
	}
	if f.down.Load() {
		done(errDown)
		return
	}
	f.MemoryQueue.RecordAsync(o, r, done)
}

// TestBufferedQueueKeepsRecordsThroughAnOutage: the outcome record of a
// receipt-less message whose write fails waits in the outage buffer like
// a receipt (the submit is answered at once, query_sm finds it), a record
// of an account already degraded goes there without trying Redis, the
// write-back stores them once Redis answers, and past the bound a record
// is refused. Another account's record goes straight to Redis.
func TestBufferedQueueKeepsRecordsThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	inner := &flakyRecorder{MemoryQueue: NewMemoryQueue(MemoryOptions{})}
	q := NewBufferedQueue(inner, BufferOptions{Size: 2, Registerer: registry(), manual: true})
	delivered := Outcome{State: pdu.StateDelivered, SystemID: "acme"}
	record := func(id, sys string) error {
		var got error
		called := false
		q.RecordAsync(delivered, receipt(id, sys, 0), func(err error) { got, called = err, true })
		if !called {
			t.Fatalf("record %s: done not called at once", id)
		}
		return got
	}

	inner.down.Store(true)
	if err := record("REC1", "acme"); err != nil {
		t.Fatalf("record whose write failed: %v, want it buffered", err)
	}
	if err := record("REC2", "acme"); err != nil || inner.attempts != 1 {
		t.Fatalf("record of the degraded account: %v after %d attempts on Redis, want buffered without one", err, inner.attempts)
	}
	if q.BufferedRecords() != 2 || q.Degraded() != 1 || q.Buffered() != 0 {
		t.Fatalf("records %d, degraded %d, receipts %d; want 2, 1, 0", q.BufferedRecords(), q.Degraded(), q.Buffered())
	}
	if o, known, err := q.Lookup(ctx, "acme", "REC1"); err != nil || !known || o.State != pdu.StateDelivered {
		t.Fatalf("Lookup of a buffered record: %v %v %v, want DELIVERED", o.State, known, err)
	}
	if err := record("REC3", "acme"); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("record past the bound: %v, want ErrBufferFull", err)
	}

	inner.down.Store(false)
	if err := record("OTHER", "other"); err != nil || inner.attempts != 2 {
		t.Fatalf("record of a healthy account: %v, %d attempts; want it written", err, inner.attempts)
	}
	if n, err := q.Flush(ctx); err != nil || n != 2 {
		t.Fatalf("Flush: %d, %v; want the 2 records", n, err)
	}
	if q.BufferedRecords() != 0 || q.Degraded() != 0 {
		t.Fatalf("after the pass: records %d, degraded %d; want 0, 0", q.BufferedRecords(), q.Degraded())
	}
	for _, id := range []string{"REC1", "REC2"} {
		if o, known, err := inner.Lookup(ctx, "acme", id); err != nil || !known || o.State != pdu.StateDelivered {
			t.Fatalf("%s in the queue after the pass: %v %v %v, want DELIVERED", id, o.State, known, err)
		}
	}
}

// TestBufferedQueueRecordWriteBackEndsWithItsContext: a write-back pass
// whose records get no answer from Redis ends when its context does (a
// shutdown's deadline), keeping them buffered; a late answer harms
// nothing, and the next pass writes them.
func TestBufferedQueueRecordWriteBackEndsWithItsContext(t *testing.T) {
	inner := &flakyRecorder{MemoryQueue: NewMemoryQueue(MemoryOptions{})}
	q := NewBufferedQueue(inner, BufferOptions{Size: 10, Registerer: registry(), manual: true})
	inner.down.Store(true)
	q.RecordAsync(Outcome{State: pdu.StateDelivered}, receipt("REC1", "acme", 0), func(error) {})
	if q.BufferedRecords() != 1 {
		t.Fatalf("records buffered: %d, want 1", q.BufferedRecords())
	}
	inner.down.Store(false)
	inner.hang = true
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the deadline has come: the pass waits for no answer
	if n, err := q.Flush(ctx); err == nil || n != 0 {
		t.Fatalf("pass with no answer: %d written, err %v; want 0 and the deadline", n, err)
	}
	if q.BufferedRecords() != 1 || q.Degraded() != 1 {
		t.Fatalf("after the pass: records %d, degraded %d; want 1, 1", q.BufferedRecords(), q.Degraded())
	}
	for _, done := range inner.held {
		done(nil) // the late answer
	}
	inner.hang = false
	if n, err := q.Flush(context.Background()); err != nil || n != 1 || q.BufferedRecords() != 0 {
		t.Fatalf("next pass: %d written, err %v, %d left; want 1, nil, 0", n, err, q.BufferedRecords())
	}
}

// TestBufferedQueueLogsWhatEachAccountWroteBack: the line of an account
// available again counts its own receipts and records written back over
// the outage, not the pass's running total.
func TestBufferedQueueLogsWhatEachAccountWroteBack(t *testing.T) {
	var logBuf bytes.Buffer
	inner := &flakyRecorder{MemoryQueue: NewMemoryQueue(MemoryOptions{})}
	q := NewBufferedQueue(inner, BufferOptions{Size: 10, Registerer: registry(), manual: true,
		Logger: slog.New(slog.NewJSONHandler(&logBuf, nil))})
	ctx := context.Background()
	inner.down.Store(true)
	for _, r := range []Receipt{receipt("A1", "acme", 0), receipt("A2", "acme", 0), receipt("O1", "other", 0)} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatalf("Put during the outage: %v", err)
		}
	}
	q.RecordAsync(Outcome{State: pdu.StateDelivered}, receipt("A3", "acme", 0), func(error) {})
	inner.down.Store(false)
	if n, err := q.Flush(ctx); err != nil || n != 4 {
		t.Fatalf("Flush: %d, %v; want 4", n, err)
	}
	flushed := map[string]float64{}
	for _, line := range bytes.Split(bytes.TrimSpace(logBuf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		if m["msg"] == "dlr.account_available_again" {
			flushed[m["system_id"].(string)] = m["flushed"].(float64)
		}
	}
	if flushed["acme"] != 3 || flushed["other"] != 1 || len(flushed) != 2 {
		t.Fatalf("flushed per account %v, want acme 3 (two receipts and a record) and other 1", flushed)
	}
}

// TestBufferedQueueFlappingAccountLogsOnce: an account whose part of Redis
// refuses writes on and off (maxmemory reached and freed) logs its first
// degradation at ERROR and its recovery at INFO; the flaps within the next
// 30 s go to DEBUG, and the first degradation after them is at ERROR again
// with how many were not; a quiet one that lasts 30 s is logged at ERROR.
func TestBufferedQueueFlappingAccountLogsOnce(t *testing.T) {
	var logBuf bytes.Buffer
	now := time.Unix(1_700_000_000, 0)
	inner := &flakyRecorder{MemoryQueue: NewMemoryQueue(MemoryOptions{})}
	q := NewBufferedQueue(inner, BufferOptions{Size: 10, Registerer: registry(), manual: true,
		now: func() time.Time { return now }, Logger: slog.New(slog.NewJSONHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	ctx := context.Background()
	flap := func(id string) {
		t.Helper()
		inner.down.Store(true)
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatalf("Put during the outage: %v", err)
		}
		inner.down.Store(false)
		if n, err := q.Flush(ctx); err != nil || n != 1 {
			t.Fatalf("Flush: %d, %v; want 1", n, err)
		}
	}
	for i := range 5 {
		flap(fmt.Sprintf("F%d", i))
		now = now.Add(time.Second)
	}
	now = now.Add(logging.FlapWindow)
	flap("L")
	// A flap right after that line, quiet, turns into an outage: once it
	// has lasted 30 s the next write-back pass logs it at ERROR, and its
	// end at INFO.
	now = now.Add(time.Second)
	inner.down.Store(true)
	if err := q.Put(ctx, receipt("Q", "acme", 0)); err != nil {
		t.Fatalf("Put during the outage: %v", err)
	}
	if _, err := q.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded while down")
	}
	now = now.Add(logging.FlapWindow)
	if _, err := q.Flush(ctx); err == nil {
		t.Fatal("Flush succeeded while down")
	}
	inner.down.Store(false)
	if n, err := q.Flush(ctx); err != nil || n != 1 {
		t.Fatalf("Flush: %d, %v; want 1", n, err)
	}
	type line struct {
		level    string
		repeated float64
	}
	var degraded, again []line
	for _, raw := range bytes.Split(bytes.TrimSpace(logBuf.Bytes()), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		rep, _ := m["repeated"].(float64)
		switch m["msg"] {
		case "dlr.account_degraded_buffering_receipts_in_memory":
			degraded = append(degraded, line{m["level"].(string), rep})
		case "dlr.account_available_again":
			again = append(again, line{m["level"].(string), rep})
		}
	}
	wantDegraded := []line{{"ERROR", 0}, {"DEBUG", 0}, {"DEBUG", 0}, {"DEBUG", 0}, {"DEBUG", 0}, {"ERROR", 4}, {"DEBUG", 0}, {"ERROR", 0}}
	wantAgain := []line{{"INFO", 0}, {"DEBUG", 0}, {"DEBUG", 0}, {"DEBUG", 0}, {"DEBUG", 0}, {"INFO", 0}, {"INFO", 0}}
	if !slices.Equal(degraded, wantDegraded) || !slices.Equal(again, wantAgain) {
		t.Fatalf("degraded lines %v, want %v; available-again lines %v, want %v", degraded, wantDegraded, again, wantAgain)
	}
}

// TestAvailableAgainCountsDeliveredElsewhere: a buffered copy that the
// write-back skips because the inner queue already holds the receipt's
// outcome (its put had reached the queue although it failed, and the
// receipt was delivered from there, by this instance or another) is
// counted as delivered meanwhile, not as written back. On Redis the
// restore script skips it; on a queue without one, a Lookup does.
func TestAvailableAgainCountsDeliveredElsewhere(t *testing.T) {
	for _, tc := range []struct {
		name  string
		inner func(t *testing.T) Queue
	}{
		{"memory", func(*testing.T) Queue { return NewMemoryQueue(MemoryOptions{}) }},
		{"redis", func(t *testing.T) Queue { return newTestRedisQueue(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			var logged syncBuffer
			inner := tc.inner(t)
			bq := NewBufferedQueue(inner, BufferOptions{manual: true, Logger: slog.New(slog.NewJSONHandler(&logged, nil))})
			r := receipt("00000000000000C5", "acme", 0)
			// Stored, yet its put reported a timeout: buffered as well.
			if err := inner.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
			if err := bq.fallback(r, context.DeadlineExceeded); err != nil {
				t.Fatal(err)
			}
			if bq.Buffered() != 1 {
				t.Fatalf("buffered %d, want 1", bq.Buffered())
			}
			deliverFrom(t, inner, time.Now().Add(time.Hour))
			if _, err := bq.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if n := bq.Buffered(); n != 0 {
				t.Fatalf("Buffered = %d after the pass, want 0", n)
			}
			if n, _ := inner.Len(ctx); n != 0 {
				t.Fatalf("%d receipts pending after the pass, want 0: the delivered receipt would be sent again", n)
			}
			logged.mu.Lock()
			out := logged.b.String()
			logged.mu.Unlock()
			if !strings.Contains(out, `"flushed":0,"delivered_meanwhile":1`) {
				t.Fatalf("dlr.account_available_again does not count the receipt delivered meanwhile:\n%s", out)
			}
		})
	}
}

// deliverFrom claims acme's one receipt from inner at now and acknowledges
// it as delivered: delivered from the inner queue, not through a buffer
// above it.
func deliverFrom(t *testing.T, inner Queue, now time.Time) {
	t.Helper()
	ctx := context.Background()
	rs, err := inner.Claim(ctx, "acme", now, time.Minute, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("claim: %v %v", rs, err)
	}
	if err := inner.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
}
