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

// hungAccountQueue is a memory queue on which, while hung is set, every
// call about one account (a Cluster master that hangs) waits until its
// context ends. Claims and probes (NextDue) of that account are counted.
type hungAccountQueue struct {
	*MemoryQueue
	sys    string
	hung   atomic.Bool
	claims atomic.Int32
	probes atomic.Int32
	// claimed gets a value at the first claim of the account.
	claimed chan struct{}
	// release, when closed, ends every stalled call (a test's cleanup).
	release chan struct{}
	// budget is the time the first claim of the account had left (its
	// context's deadline) when it came; -1 for none.
	budget atomic.Int64
}

func (q *hungAccountQueue) stall(ctx context.Context, sys string) error {
	if sys != q.sys || !q.hung.Load() {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-q.release:
		return errors.New("released")
	}
}

func (q *hungAccountQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, n int) ([]Receipt, error) {
	if sys == q.sys && q.claims.Add(1) == 1 {
		q.budget.Store(-1)
		if dl, ok := ctx.Deadline(); ok {
			q.budget.Store(int64(time.Until(dl)))
		}
		close(q.claimed)
	}
	if err := q.stall(ctx, sys); err != nil {
		return nil, err
	}
	return q.MemoryQueue.Claim(ctx, sys, now, lease, n)
}

func (q *hungAccountQueue) NextDue(ctx context.Context, sys string) (time.Time, bool, error) {
	if sys == q.sys {
		q.probes.Add(1)
	}
	if err := q.stall(ctx, sys); err != nil {
		return time.Time{}, false, err
	}
	return q.MemoryQueue.NextDue(ctx, sys)
}

// TestFailedClaimSetsTheAccountAside: once a claim of an account fails
// (its queue calls hang until OpTimeout), the loop it shares with another
// account claims for it no more, however often it steps for the other
// one, until a probe of the account answers; then its receipts flow again.
func TestFailedClaimSetsTheAccountAside(t *testing.T) {
	q := &hungAccountQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), sys: "hung", claimed: make(chan struct{})}
	q.hung.Store(true)
	h := newHarness(t, q, func(o *Options) {
		o.Shards = 1 // both accounts on one loop
		o.OpTimeout = 50 * time.Millisecond
	})
	h.s.setAuto(pdu.StatusOK)
	h.d.ReceiversChanged("hung", 1)
	h.d.ReceiversChanged("ok", 1)
	h.schedule(receipt("00000000000000A0", "hung", 0))
	select {
	case <-q.claimed:
	case <-time.After(10 * time.Second):
		t.Fatal("no claim of the hung account")
	}
	ids := []string{"00000000000000B1", "00000000000000B2", "00000000000000B3", "00000000000000B4", "00000000000000B5"}
	for _, id := range ids {
		h.schedule(receipt(id, "ok", 0))
		if got := h.s.next(t); got.id() != id {
			t.Fatalf("delivered %s, want %s", got.id(), id)
		}
		h.settle()
	}
	if n := q.claims.Load(); n != 1 {
		t.Fatalf("%d claims of the hung account while the loop served the other one %d times, want 1 (set aside after the first)", n, len(ids))
	}

	// The account answers again: the next probe finds out and its receipt
	// goes out.
	q.hung.Store(false)
	h.clk.Advance(probeInterval)
	if got := h.s.next(t); got.id() != "00000000000000A0" {
		t.Fatalf("delivered %s, want the hung account's receipt", got.id())
	}
	if q.probes.Load() == 0 {
		t.Fatal("the account was claimed again without a probe")
	}
}

// TestClaimTimeoutBoundsAHungClaim: a claim is bounded by ClaimTimeout,
// not OpTimeout, so the other accounts of its loop wait no longer than
// that for a master that hangs (the application sets
// REDIS_TIMEOUT_SECONDS).
func TestClaimTimeoutBoundsAHungClaim(t *testing.T) {
	q := &hungAccountQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), sys: "hung", claimed: make(chan struct{})}
	q.hung.Store(true)
	const claimTimeout = 50 * time.Millisecond
	h := newHarness(t, q, func(o *Options) {
		o.Shards = 1 // both accounts on one loop
		o.OpTimeout = time.Hour
		o.ClaimTimeout = claimTimeout
	})
	q.release = make(chan struct{})
	t.Cleanup(func() { close(q.release) }) // before the harness stops: a claim that hangs must not hold it
	h.s.setAuto(pdu.StatusOK)
	h.d.ReceiversChanged("hung", 1)
	h.schedule(receipt("00000000000000A0", "hung", 0))
	select {
	case <-q.claimed:
	case <-time.After(10 * time.Second):
		t.Fatal("no claim of the hung account")
	}
	if b := time.Duration(q.budget.Load()); b < 0 || b > claimTimeout {
		t.Fatalf("the claim had %v to run, want at most ClaimTimeout (%v)", b, claimTimeout)
	}
	// The loop is free again once the claim has timed out: the other
	// account's receipt goes out (with OpTimeout it would wait an hour).
	h.d.ReceiversChanged("ok", 1)
	h.schedule(receipt("00000000000000B1", "ok", 0))
	if got := h.s.next(t); got.id() != "00000000000000B1" {
		t.Fatalf("delivered %s, want the healthy account's receipt", got.id())
	}
}

// TestStuckSweepHoldsNoClaims: a sweep whose queue call does not return
// (a Redis that does not answer, OpTimeout long) holds no loop: receipts
// of every shard's accounts are still sent.
func TestStuckSweepHoldsNoClaims(t *testing.T) {
	h := stuckSweepHarness(t)
	h.s.setAuto(pdu.StatusOK)
	// One account on each shard.
	want := map[string]bool{}
	for i := 0; len(want) < len(h.d.shards); i++ {
		sys := "acct" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		s := h.d.shardOf(sys)
		if want[sys] || shardTaken(h.d, want, s) {
			continue
		}
		want[sys] = true
		h.d.ReceiversChanged(sys, 1)
		h.schedule(receipt("00000000000000C"+string(rune('0'+s.index)), sys, 0))
	}
	for range len(want) {
		d := h.s.next(t)
		delete(want, d.sys)
	}
	if len(want) > 0 {
		t.Fatalf("no receipt sent for %v while the sweep was stuck", want)
	}
}

func shardTaken(d *Dispatcher, accts map[string]bool, s *shard) bool {
	for sys := range accts {
		if d.shardOf(sys) == s {
			return true
		}
	}
	return false
}

// takeBackQueue is a memory queue whose upkeep, from its second call on
// (the first is Run's first sweep), makes a receipt due at once, as the
// take-back of a claim whose reply was lost does; that call waits for the
// test to release it.
type takeBackQueue struct {
	*MemoryQueue
	calls   atomic.Int32
	r       Receipt
	entered chan struct{}
	release chan struct{}
}

func (q *takeBackQueue) Maintain(ctx context.Context) error {
	if q.calls.Add(1) != 2 {
		return nil
	}
	close(q.entered)
	<-q.release
	if err := ctx.Err(); err != nil {
		return err // cut: the drain did not wait for its sweep
	}
	return q.MemoryQueue.Put(ctx, q.r)
}

// TestDrainWaitsForItsFirstSweep: a receipt the drain's first sweep makes
// due (leases of lost claims taken back) is sent before Drain returns,
// though every loop was idle before that sweep ended.
func TestDrainWaitsForItsFirstSweep(t *testing.T) {
	q := &takeBackQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{}), r: receipt("00000000000000F1", "acme", 0),
		entered: make(chan struct{}), release: make(chan struct{})}
	h := newHarness(t, q, nil)
	h.s.setAuto(pdu.StatusOK)
	h.d.ReceiversChanged("acme", 1)
	h.settle() // Run's first sweep is done
	go func() {
		<-q.entered
		close(q.release)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if left := h.d.Drain(ctx); left != 0 {
		t.Fatalf("Drain left %d pending, want 0 (the taken-back receipt sent)", left)
	}
	if got := h.s.next(t); got.id() != q.r.MessageID {
		t.Fatalf("delivered %s, want %s", got.id(), q.r.MessageID)
	}
}

// hangingLenQueue is a memory queue whose Len waits until its context
// ends: a Redis that hangs, asked for the pending count by a scrape.
type hangingLenQueue struct{ *MemoryQueue }

func (q hangingLenQueue) Len(ctx context.Context) (int, error) {
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestPendingDoesNotHoldAScrape: dlr_pending's Pending waits
// pendingScrapeWait at most for a queue that hangs, not OpTimeout, and
// gives the last count known.
func TestPendingDoesNotHoldAScrape(t *testing.T) {
	h := newHarness(t, hangingLenQueue{NewMemoryQueue(MemoryOptions{})}, func(o *Options) { o.OpTimeout = time.Hour })
	done := make(chan int, 1)
	go func() { done <- h.d.Pending() }()
	select {
	case n := <-done:
		if n != 0 {
			t.Fatalf("Pending() = %d, want the last count known, 0", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Pending waited for the queue that hangs")
	}
}

// manyHungQueue is a memory queue on which every call about an account
// named hung* waits until its context ends; claims of those are counted.
type manyHungQueue struct {
	*MemoryQueue
	claims atomic.Int32
}

func hung(sys string) bool { return len(sys) > 4 && sys[:4] == "hung" }

func (q *manyHungQueue) Claim(ctx context.Context, sys string, now time.Time, lease time.Duration, n int) ([]Receipt, error) {
	if hung(sys) {
		q.claims.Add(1)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return q.MemoryQueue.Claim(ctx, sys, now, lease, n)
}

func (q *manyHungQueue) NextDue(ctx context.Context, sys string) (time.Time, bool, error) {
	if hung(sys) {
		<-ctx.Done()
		return time.Time{}, false, ctx.Err()
	}
	return q.MemoryQueue.NextDue(ctx, sys)
}

// TestClaimsFailingInARowSetTheRestAside: once two claims of a step fail
// in a row, the accounts left are set aside unclaimed (a loop of ten
// accounts on a hung Redis shard waited out ten timeouts in turn), and
// the loop serves a healthy account at once, claiming none of them.
func TestClaimsFailingInARowSetTheRestAside(t *testing.T) {
	q := &manyHungQueue{MemoryQueue: NewMemoryQueue(MemoryOptions{})}
	// The ten accounts have receivers before the loop's first step (one
	// added while it runs would be claimed by a step of its own).
	h := newHarnessBefore(t, q, func(o *Options) {
		o.Shards = 1
		o.OpTimeout = 50 * time.Millisecond
	}, func(d *Dispatcher) {
		for i := range 10 {
			d.ReceiversChanged(fmt.Sprintf("hung%02d", i), 1)
		}
	})
	h.s.setAuto(pdu.StatusOK)
	h.settle()
	if n := q.claims.Load(); n != failedClaimsInRow {
		t.Fatalf("%d claims of hung accounts in the first step, want %d", n, failedClaimsInRow)
	}
	h.d.ReceiversChanged("ok", 1)
	h.schedule(receipt("00000000000003A0", "ok", 0))
	if got := h.s.next(t); got.id() != "00000000000003A0" {
		t.Fatalf("delivered %s, want the healthy account's receipt", got.id())
	}
	if n := q.claims.Load(); n != failedClaimsInRow {
		t.Fatalf("%d claims of hung accounts, want %d: they are set aside", n, failedClaimsInRow)
	}
}
