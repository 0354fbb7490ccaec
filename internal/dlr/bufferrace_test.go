package dlr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestCancelOfAnUnreplicatedCopyCancelsInTheQueue: with REDIS_WAIT_REPLICAS
// and too few replicas, a put is stored on the master and also kept in
// the buffer (unreplicated). cancel_sm then has to remove it from Redis:
// removing only the buffered copy answered OK while the receipt was still
// claimed and sent.
func TestCancelOfAnUnreplicatedCopyCancelsInTheQueue(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	rq := NewRedisQueue(c, RedisOptions{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	bq := NewBufferedQueue(rq, BufferOptions{manual: true})
	r := receipt("00000000000000C1", "acme", 0)
	if err := bq.Put(ctx, r); err != nil {
		t.Fatalf("Put = %v", err)
	}
	if bq.Held() != 1 || bq.Buffered() != 0 {
		t.Fatalf("held %d, buffered %d: want the copy kept unreplicated", bq.Held(), bq.Buffered())
	}
	ok, err := bq.Cancel(ctx, "acme", r.MessageID, t0.Add(time.Minute))
	if err != nil || !ok {
		t.Fatalf("Cancel = %v, %v; want true", ok, err)
	}
	if got, err := bq.Claim(ctx, "acme", time.Now().Add(time.Hour), time.Minute, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed %v (%v) after cancel_sm answered OK", ids(got), err)
	}
	if bq.Held() != 0 {
		t.Fatalf("the buffer still holds %d copies after the cancel", bq.Held())
	}
}

// TestUnreplicatedCopiesDoNotHoldBackTheRest: while replicas are short,
// every write-back of a copy fails with ErrNotReplicated although the
// master stored it. Such copies go to the back of the account's buffer,
// so that later passes reach the receipts behind them; at the head, the
// same first chunk was written again and again and the rest never
// reached Redis.
func TestUnreplicatedCopiesDoNotHoldBackTheRest(t *testing.T) {
	writtenInThreePasses(t, flushChunk+88)
}

// writtenInThreePasses puts n receipts of one account into a buffer over
// a queue that never has enough replicas, and checks that three
// write-back passes store them all (as unreplicated copies).
func writtenInThreePasses(t *testing.T, n int) (*unreplicatedQueue, *BufferedQueue) {
	t.Helper()
	ctx := context.Background()
	inner := &unreplicatedQueue{NewMemoryQueue(MemoryOptions{})}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true})
	for i := range n {
		if err := bq.Put(ctx, receipt(fmt.Sprintf("%016X", i+1), "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		_, _ = bq.Flush(ctx)
	}
	if got, _ := inner.Len(ctx); got != n {
		t.Fatalf("the queue holds %d of %d receipts after three passes", got, n)
	}
	return inner, bq
}

// restoreHook is a memory queue that takes puts only when up and, when
// the buffer writes back (Restore), calls during after writing.
type restoreHook struct {
	*MemoryQueue
	down   bool
	during func()
}

func (q *restoreHook) Put(ctx context.Context, r Receipt) error {
	if q.down {
		return errDown
	}
	return q.MemoryQueue.Put(ctx, r)
}

func (q *restoreHook) PutAsync(r Receipt, done func(error)) { done(q.Put(context.Background(), r)) }

func (q *restoreHook) Restore(ctx context.Context, rs []Receipt) []error {
	errs := make([]error, len(rs))
	for i, r := range rs {
		errs[i] = q.Put(ctx, r)
	}
	if q.during != nil {
		q.during()
		q.during = nil
	}
	return errs
}

// TestReplayWhileAPassWritesTheCopy: a write-back pass stores a buffered
// receipt, Redis then goes back in time and loses it, and the replay of
// the receipt arrives while the pass still holds its copy. The pass keeps
// the copy and the next pass stores it again; it dropped it as written.
func TestReplayWhileAPassWritesTheCopy(t *testing.T) {
	ctx := context.Background()
	inner := &restoreHook{MemoryQueue: NewMemoryQueue(MemoryOptions{}), down: true}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true})
	r := receipt("00000000000000R1", "acme", 0)
	if err := bq.Put(ctx, r); err != nil || bq.Buffered() != 1 {
		t.Fatalf("Put = %v, buffered %d; want it buffered", err, bq.Buffered())
	}
	inner.down = false
	inner.during = func() {
		inner.MemoryQueue = NewMemoryQueue(MemoryOptions{}) // Redis went back
		bq.replay("acme", []Receipt{r})
	}
	if _, err := bq.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if bq.Buffered() != 1 {
		t.Fatalf("buffered %d after the pass; want the replayed copy kept", bq.Buffered())
	}
	if _, err := bq.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, known, _ := inner.Lookup(ctx, "acme", r.MessageID); !known || bq.Buffered() != 0 {
		t.Fatalf("after the next pass: in the queue %v, buffered %d; want stored again", known, bq.Buffered())
	}
}

// TestReplayAtShutdownIsWrittenOrCounted: receipts Redis lost by going
// back are replayed into the buffer while Close writes it back: that
// write-back stores them too. Once Close has counted what it left, a
// replay can no longer be written: it is counted in
// dlr_lost_total{cause="shutdown"}, not dropped without a trace.
func TestReplayAtShutdownIsWrittenOrCounted(t *testing.T) {
	ctx := context.Background()
	inner := &restoreHook{MemoryQueue: NewMemoryQueue(MemoryOptions{}), down: true}
	lost, _ := NewLossCounter(nil)
	bq := NewBufferedQueue(inner, BufferOptions{manual: true, Lost: lost})
	if err := bq.Put(ctx, receipt("00000000000000S1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	inner.down = false
	during := receipt("00000000000000S2", "acme", 0)
	inner.during = func() { bq.replay("acme", []Receipt{during}) } // found by Close's own write-back
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if left := bq.Close(cctx); left != 0 {
		t.Fatalf("Close left %d, want 0", left)
	}
	if _, known, _ := inner.Lookup(ctx, "acme", during.MessageID); !known {
		t.Fatal("a receipt replayed during Close's write-back was not stored")
	}
	bq.replay("acme", []Receipt{receipt("00000000000000S3", "acme", 0)})
	if got := lost.Count(LostShutdown); got != 1 {
		t.Fatalf("lost{shutdown} = %d after a replay that came after Close, want 1", got)
	}
}

// TestLookupOfAnUnreplicatedCopyAsksTheQueue: a receipt kept in the
// buffer because WAIT saw too few replicas is also on the master, where
// another instance may claim and deliver it; query_sm then answers what
// the queue remembers, not ENROUTE from the copy.
func TestLookupOfAnUnreplicatedCopyAsksTheQueue(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	rq := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a", WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	bq := NewBufferedQueue(rq, BufferOptions{manual: true})
	other := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "b"})
	r := receipt("00000000000000L1", "acme", 0)
	if err := bq.Put(ctx, r); err != nil || bq.Held() != 1 {
		t.Fatalf("Put = %v, held %d; want the copy kept unreplicated", err, bq.Held())
	}
	rs, err := other.Claim(ctx, "acme", time.Now(), time.Minute, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("the other instance claimed %v (%v)", ids(rs), err)
	}
	if err := other.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
	o, ok, err := bq.Lookup(ctx, "acme", r.MessageID)
	if err != nil || !ok || o.State != pdu.StateDelivered {
		t.Fatalf("Lookup = %v %v %v, want DELIVERED", o.State, ok, err)
	}
	if done, err := bq.Cancel(ctx, "acme", r.MessageID, t0); err != nil || done {
		t.Fatalf("Cancel of the delivered message = %v %v, want false", done, err)
	}
}

// TestCancelsAreForgottenAfterThePass: the cancels a write-back pass may
// need are those made while it runs; after it they are forgotten, so a
// long outage with many cancel_sm does not grow the buffer's memory past
// its bound.
func TestCancelsAreForgottenAfterThePass(t *testing.T) {
	ctx := context.Background()
	inner := &restoreHook{MemoryQueue: NewMemoryQueue(MemoryOptions{}), down: true}
	bq := NewBufferedQueue(inner, BufferOptions{manual: true})
	for i := range 100 {
		r := receipt(fmt.Sprintf("%016X", i+1), "acme", 0)
		if err := bq.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		if ok, err := bq.Cancel(ctx, "acme", r.MessageID, t0); err != nil || !ok {
			t.Fatalf("Cancel = %v %v", ok, err)
		}
	}
	if err := bq.Put(ctx, receipt("00000000000000FF", "acme", 0)); err != nil { // still buffered: the account stays degraded
		t.Fatal(err)
	}
	_, _ = bq.Flush(ctx) // the queue is still down
	bq.mu.Lock()
	n := len(bq.cancelled)
	bq.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d cancels kept after the pass", n)
	}
}

// TestNewReceiptsGoBeforeUnreplicatedCopies: while replicas are short
// (REDIS_WAIT_REPLICAS), every pass fails the copies Redis's master holds
// again. A receipt buffered then waited behind all of them, a chunk per
// pass, seconds per chunk, neither in Redis nor sent; it is written by
// the next pass, and that pass counts as progress for the backoff.
func TestNewReceiptsGoBeforeUnreplicatedCopies(t *testing.T) {
	ctx := context.Background()
	const copies = 3 * flushChunk
	inner, bq := writtenInThreePasses(t, copies)
	const late = "00000000000ABCDE"
	if err := bq.Put(ctx, receipt(late, "acme", 0)); err != nil {
		t.Fatal(err)
	}
	n, moved, err := bq.flush(ctx)
	if !errors.Is(err, ErrNotReplicated) || n != 0 || moved != 1 {
		t.Fatalf("pass after the new receipt: written %d, moved %d, %v; want 0, 1, not replicated", n, moved, err)
	}
	if _, known, _ := inner.Lookup(ctx, "acme", late); !known {
		t.Fatalf("the receipt buffered after %d unreplicated copies is not in the queue after one pass", copies)
	}
	if held, only := bq.Held(), bq.Buffered(); held != copies+1 || only != 0 {
		t.Fatalf("Held %d, Buffered %d; want %d held, none only here", held, only, copies+1)
	}
}

// TestCopiesDeliveredElsewhereLeaveTheBuffer: with REDIS_WAIT_REPLICAS
// and no replica answering, an instance keeps a copy of each receipt it
// put. Another instance claims and delivers them. The write-back pass
// then finds them finished in Redis and drops the copies although WAIT
// still fails; it kept them (every pass failed the whole batch), and the
// buffer filled with delivered receipts until submits were refused.
func TestCopiesDeliveredElsewhereLeaveTheBuffer(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	rq := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a", WaitReplicas: 1, WaitTimeout: 10 * time.Millisecond})
	bq := NewBufferedQueue(rq, BufferOptions{manual: true})
	other := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "b"})
	delivered := []Receipt{receipt("00000000000000E1", "acme", 0), receipt("00000000000000E2", "acme", 0)}
	waiting := receipt("00000000000000E3", "acme", time.Hour)
	for _, r := range append(delivered, waiting) {
		if err := bq.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bq.Flush(ctx); !errors.Is(err, ErrNotReplicated) || bq.Held() != 3 {
		t.Fatalf("first pass: %v, held %d; want not replicated, 3 held", err, bq.Held())
	}
	rs, err := other.Claim(ctx, "acme", t0.Add(time.Minute), time.Minute, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("the other instance claimed %v (%v), want the two due", ids(rs), err)
	}
	if err := other.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
	if _, err := bq.Flush(ctx); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("second pass: %v, want not replicated (the receipt still waiting)", err)
	}
	if held := bq.Held(); held != 1 {
		t.Fatalf("held %d after the pass, want 1: the copies of receipts delivered elsewhere stayed", held)
	}
	if _, known, _ := rq.Lookup(ctx, "acme", waiting.MessageID); !known {
		t.Fatal("the receipt still waiting is not in Redis")
	}
}

// TestPickTakesNewReceiptsAndCopies: a pass takes up to flushChunk of
// the receipts only the buffer holds, however many copies Redis holds
// unreplicated are before them, and up to flushChunk copies: under a
// steady flow of new receipts the copies are still written again (and
// those delivered meanwhile found and dropped) as fast as they come.
func TestPickTakesNewReceiptsAndCopies(t *testing.T) {
	for _, tt := range []struct {
		name                  string
		copies, fresh         int
		wantFresh, wantCopies int
	}{
		{"many of both", 600, 600, flushChunk, flushChunk},
		{"few new", 600, 100, 100, flushChunk},
		{"few copies", 100, 600, flushChunk, 100},
		{"only copies", 600, 0, 0, flushChunk},
		{"only new", 0, 600, flushChunk, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a := &degraded{ids: make(map[string]copyState)}
			add := func(n int, st copyState, tag string) {
				for i := range n {
					id := fmt.Sprintf("%s%014d", tag, i)
					a.rs = append(a.rs, receipt(id, "acme", 0))
					a.ids[id] = st
					if st == unreplicated {
						a.stored++
					}
				}
			}
			add(tt.copies, unreplicated, "C-") // the older ones
			add(tt.fresh, onlyHere, "N-")
			chunk, done := a.pick(nil, nil)
			nFresh, nCopies := 0, 0
			for _, r := range chunk {
				if a.ids[r.MessageID] == onlyHere {
					nFresh++
				} else {
					nCopies++
				}
			}
			if nFresh != tt.wantFresh || nCopies != tt.wantCopies || len(done) != 0 {
				t.Fatalf("picked %d new, %d copies, %d done; want %d, %d, 0", nFresh, nCopies, len(done), tt.wantFresh, tt.wantCopies)
			}
		})
	}
}
