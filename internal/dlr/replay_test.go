package dlr

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestWentBackReplaysReceipts: Redis goes back to a snapshot taken before
// ten receipts were stored (a failover to a replica that lost them). The
// put that finds it hands those ten to the outage buffer, whose write-back
// stores them again, except the one acknowledged since (Redis remembers
// it finished): every receipt promised is pending again, none twice.
func TestWentBackReplaysReceipts(t *testing.T) {
	c := redisTestClient(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c), Registerer: reg})
	b := NewBufferedQueue(q, BufferOptions{manual: true}) // the default size bounds the journal too
	put := func(id string) {
		t.Helper()
		if err := b.Put(ctx, receipt(id, "acme", time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	replayed := replayHandedOver(q)
	snap := firstReceiptsSnapshot(t, q, put)
	var lost []string
	for i := range 10 {
		id := fmt.Sprintf("0000000000000B%02d", i)
		lost = append(lost, id)
		put(id)
	}
	if got := metric(t, reg, "dlr_replay_journal_receipts"); got != float64(3+len(lost)) {
		t.Fatalf("dlr_replay_journal_receipts = %v, want the %d receipts put", got, 3+len(lost))
	}
	restoreAccount(t, q, "acme", snap)
	// Delivered after the failover: its outcome is in the Redis that
	// went back, so it is not put again.
	if err := b.Ack(ctx, Outcome{State: pdu.StateDelivered, At: time.Now()}, receipt(lost[0], "acme", time.Hour)); err != nil {
		t.Fatal(err)
	}
	put("00000000000000C1") // finds the sequence below what it had seen

	if got := counterValue(t, reg, "dlr_replayed_total"); got != 10 {
		t.Fatalf("dlr_replayed_total = %v, want the 10 stored after the snapshot", got)
	}
	select {
	case <-replayed:
	case <-time.After(10 * time.Second): // guards a hang, not a threshold
		t.Fatal("the replayed receipts never reached the buffer")
	}
	if n := b.Held(); n != 10 {
		t.Fatalf("%d receipts buffered for the write-back, want 10", n)
	}
	if _, err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := b.Held(); n != 0 {
		t.Fatalf("%d receipts still buffered after the write-back", n)
	}
	ids, err := c.HKeys(ctx, q.accountKeys("acme")[0]).Result()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, id := range ids {
		have[id] = true
	}
	want := []string{"00000000000000A0", "00000000000000A1", "00000000000000A2", "00000000000000C1"}
	want = append(want, lost[1:]...)
	for _, id := range want {
		if !have[id] {
			t.Errorf("receipt %s is not pending in Redis after the replay", id)
		}
	}
	if have[lost[0]] {
		t.Errorf("receipt %s, delivered after the failover, was put again", lost[0])
	}
	if len(ids) != len(want) {
		t.Errorf("%d receipts pending, want %d: %v", len(ids), len(want), ids)
	}
}

// TestWentBackBehindACountReplaysReceipts: Redis goes back to a snapshot
// taken after a count, and another instance's count runs on it before
// this instance's next put: that count takes the next multiple of
// countStride above what Redis held, the very number of the count this
// instance had seen after the snapshot, as if nothing before it was
// lost. The instance's own put number shows the loss as it is: every
// receipt stored after the snapshot is put again (seen in a Sentinel
// failover, where the sweeps of other instances count every account).
func TestWentBackBehindACountReplaysReceipts(t *testing.T) {
	c := redisTestClient(t)
	ctx := context.Background()
	prefix := redisTestPrefix(t, c)
	reg := prometheus.NewRegistry()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, Registerer: reg, InstanceID: "gw-a"})
	other := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "gw-b"})
	b := NewBufferedQueue(q, BufferOptions{manual: true})
	replayed := replayHandedOver(q)
	put := func(id string) {
		t.Helper()
		if err := b.Put(ctx, receipt(id, "acme", time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	snap := firstReceiptsSnapshot(t, q, put)
	var lost []string
	for i := range 10 {
		if i == 5 { // a count between the two halves
			if _, err := q.PendingCount(ctx, "acme"); err != nil {
				t.Fatal(err)
			}
		}
		id := fmt.Sprintf("0000000000000D%02d", i)
		lost = append(lost, id)
		put(id)
	}
	restoreAccount(t, q, "acme", snap)
	if _, err := other.PendingCount(ctx, "acme"); err != nil { // takes the number of the lost count
		t.Fatal(err)
	}
	put("00000000000000C1") // finds the sequence at that count, below its puts after it
	select {
	case <-replayed:
	case <-time.After(10 * time.Second): // guards a hang, not a threshold
		t.Fatal("no replay")
	}
	if _, err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range lost {
		if ok, err := c.HExists(ctx, q.accountKeys("acme")[0], id).Result(); err != nil || !ok {
			t.Errorf("receipt %s is not pending in Redis after the replay (%v)", id, err)
		}
	}
}

// TestReplayJournalBounds: the journal keeps at most its bound of
// receipts and nothing older than shareMemory, and take returns only the
// account's entries after the number, leaving the rest.
func TestReplayJournalBounds(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	entry := func(sys string, seq int64, at time.Time, n int) replayEntry {
		g := &putGroup{}
		for i := range n {
			r := receipt(fmt.Sprintf("%014X%02d", seq, i), sys, 0)
			g.items = append(g.items, g.appendItem(&r))
		}
		return replayEntry{sys: sys, seq: seq, at: at, text: g.text.String(), items: g.items}
	}
	j := replayJournal{max: 10}
	j.add(entry("a", 1, now.Add(-2*shareMemory), 2), now.Add(-2*shareMemory))
	j.add(entry("a", 2, now, 4), now) // the first is too old now
	j.add(entry("b", 3, now, 4), now)
	j.add(entry("a", 4, now, 4), now) // 12 > 10: the oldest goes
	if j.n != 8 || j.held.Load() != 8 {
		t.Fatalf("journal holds %d receipts (gauge %d), want 8", j.n, j.held.Load())
	}
	rs := j.take("a", 3)
	if len(rs) != 4 || rs[0].MessageID != fmt.Sprintf("%014X%02d", 4, 0) || rs[0].SystemID != "a" {
		t.Fatalf("take(a, 3) = %d receipts (%v), want the 4 of put 4", len(rs), rs)
	}
	if j.n != 4 || len(j.take("a", 0)) != 0 || len(j.take("b", 2)) != 4 || j.n != 0 || j.held.Load() != 0 {
		t.Fatalf("after the takes the journal holds %d, want b's 4 then none", j.n)
	}
	// Two masters at once numbered puts 5 and 6 each: the number found, 6,
	// is not where the lost ones begin.
	j.add(entry("a", 4, now, 1), now)
	j.add(entry("a", 5, now, 1), now) // the old master
	j.add(entry("a", 6, now, 1), now)
	j.add(entry("a", 5, now, 1), now) // the promoted one
	j.add(entry("a", 6, now, 1), now)
	if rs := j.take("a", 6); len(rs) != 4 {
		t.Fatalf("take(a, 6) with 5 and 6 twice = %d receipts, want the 4 numbered 5 and 6", len(rs))
	}
	// Without puts, what is older than shareMemory goes at the next
	// prune (a sweep's count), and the gauge with it.
	if j.n != 1 || j.held.Load() != 1 {
		t.Fatalf("journal holds %d receipts (gauge %d), want put 4's 1", j.n, j.held.Load())
	}
	j.prune(now.Add(shareMemory))
	if j.n != 1 {
		t.Fatalf("pruned at shareMemory: %d left, want 1", j.n)
	}
	j.prune(now.Add(shareMemory + time.Millisecond))
	if j.n != 0 || j.held.Load() != 0 || len(j.entries) != 0 {
		t.Fatalf("pruned after shareMemory: %d receipts in %d entries (gauge %d), want none", j.n, len(j.entries), j.held.Load())
	}
}

// replayHandedOver returns a channel closed once q has handed a replay to
// its outage buffer: that hand-over runs on a goroutine of its own, so a
// test waits for it before looking at the buffer.
func replayHandedOver(q *RedisQueue) <-chan struct{} {
	done := make(chan struct{})
	q.mu.Lock()
	defer q.mu.Unlock()
	toBuffer := q.replayTo
	q.replayTo = func(sys string, rs []Receipt) {
		toBuffer(sys, rs)
		close(done)
	}
	return done
}
