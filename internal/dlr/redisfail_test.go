package dlr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestScriptFailsOtherWritesSucceedReceiptStillArrives: the receipt's
// script fails half way (its account's fresh list has the wrong type, as
// a shard that refuses writes would) while every other write of the same
// commit and of the queue succeeds (the epoch marker, the account set,
// another account's receipt). The receipt must be buffered, written back
// once the account's keys accept writes again, and delivered.
func TestScriptFailsOtherWritesSucceedReceiptStillArrives(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	rq := NewRedisQueue(c, RedisOptions{Prefix: prefix})
	passes := make(chan error, 100)
	bq := NewBufferedQueue(rq, BufferOptions{passed: func(_ int, err error) { passes <- err }})
	h := newHarness(t, bq, nil)
	h.d.ReceiversChanged("acme", 1)

	fresh := rq.accountKeys("acme")[1]
	if err := c.Set(ctx, fresh, "not a list", 0).Err(); err != nil {
		t.Fatal(err)
	}
	h.schedule(receipt("00000000000000F1", "acme", 0), receipt("00000000000000F2", "other", 0))
	if n := bq.Buffered(); n != 1 {
		t.Fatalf("buffered %d receipts, want 1 (acme's)", n)
	}
	if ok, _ := c.SIsMember(ctx, rq.accountsKey(), "acme").Result(); !ok {
		t.Fatal("the account set was not written: the test must fail only the script")
	}
	if n, _ := c.Exists(ctx, rq.epochKey("acme")).Result(); n != 1 {
		t.Fatal("the epoch marker was not written before the script failed")
	}
	if n, _ := rq.PendingCount(ctx, "other"); n != 1 {
		t.Fatalf("the other account's receipt was not stored (%d)", n)
	}
	if err := <-passes; err == nil {
		t.Fatal("write-back succeeded while the script still fails")
	}
	if err := c.Del(ctx, fresh).Err(); err != nil { // the shard is back
		t.Fatal(err)
	}
	for err := range passes {
		if err == nil {
			break
		}
	}
	h.clk.Advance(DefaultPollInterval)
	if d := h.s.next(t); d.id() != "00000000000000F1" {
		t.Fatalf("delivered %s, want 00000000000000F1", d.id())
	}
}

// TestRedisDataLossIsCounted: Redis loses an account's keys (restart
// without persistence, FLUSHALL, failover to an empty replica); the next
// count or put finds the epoch marker gone and counts what it held.
func TestRedisDataLossIsCounted(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	lost, err := NewLossCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	series := 0
	for _, mf := range mfs {
		if mf.GetName() == "dlr_lost_total" {
			series = len(mf.GetMetric())
		}
	}
	if series != len(lostCauses) { // exported at 0 before any loss, or an alert on it cannot fire
		t.Fatalf("dlr_lost_total has %d series before any loss, want %d", series, len(lostCauses))
	}
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost})
	for _, id := range []string{"00000000000000A1", "00000000000000A2", "00000000000000A3"} {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.PendingCount(ctx, "acme"); err != nil || n != 3 {
		t.Fatalf("PendingCount = %d %v", n, err)
	}
	if err := q.Put(ctx, receipt("00000000000000A4", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	// Redis loses the account.
	base := q.accountBase("acme")
	if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch").Err(); err != nil {
		t.Fatal(err)
	}
	if err := q.Put(ctx, receipt("00000000000000A5", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	settleLossesNow(t, q)
	if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 4 {
		t.Fatalf("dlr_lost_total{cause=redis_data_loss} = %v, want 4", got)
	}
	if n, _ := q.PendingCount(ctx, "acme"); n != 1 {
		t.Fatalf("PendingCount after the loss = %d, want 1", n)
	}
	// Lost again with no put in between: the count finds it.
	if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.PendingCount(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	settleLossesNow(t, q)
	if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 5 {
		t.Fatalf("dlr_lost_total{cause=redis_data_loss} = %v, want 5", got)
	}
}

// TestRedisDataLossCountsAcksAndOtherInstances: what Redis held when it
// lost an account is counted once in all: the instance that finds the
// marker gone counts the account's last count and its own receipts since,
// less those it acknowledged since (no longer in Redis); another instance
// counts the receipts it stored since its own last count, which the first
// cannot know of, when it finds the new marker.
func TestRedisDataLossCountsAcksAndOtherInstances(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	regs := [2]*prometheus.Registry{prometheus.NewRegistry(), prometheus.NewRegistry()}
	var qs [2]*RedisQueue
	for i := range qs {
		lost, err := NewLossCounter(regs[i])
		if err != nil {
			t.Fatal(err)
		}
		qs[i] = NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost, InstanceID: fmt.Sprintf("gw%d", i)})
	}
	put := func(q *RedisQueue, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(qs[0], "00000000000000C1", "00000000000000C2", "00000000000000C3", "00000000000000C4")
	for _, q := range qs { // each instance's last count: 4
		if n, err := q.PendingCount(ctx, "acme"); err != nil || n != 4 {
			t.Fatalf("PendingCount = %d %v", n, err)
		}
	}
	put(qs[0], "00000000000000C5", "00000000000000C6")
	put(qs[1], "00000000000000D1", "00000000000000D2", "00000000000000D3")
	if err := qs[0].Ack(ctx, Outcome{State: pdu.StateDelivered, At: time.Now()}, receipt("00000000000000C1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	// Redis held C2..C6 and D1..D3: 8. It loses the account.
	base := qs[0].accountBase("acme")
	if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch").Err(); err != nil {
		t.Fatal(err)
	}
	put(qs[0], "00000000000000C7") // finds the marker gone
	put(qs[1], "00000000000000D4") // finds the new marker
	want := [2]int{4 + 2 - 1, 3}
	for i, q := range qs {
		if got := pendingLossShare(q, "acme"); got != want[i] {
			t.Errorf("instance %d: share of the loss %d, want %d", i, got, want[i])
		}
	}
	settleLossesNow(t, qs[:]...)
	total := func() float64 {
		return metric(t, regs[0], "dlr_lost_total", "cause="+LostRedisDataLoss) + metric(t, regs[1], "dlr_lost_total", "cause="+LostRedisDataLoss)
	}
	if got := total(); got != 8 {
		t.Errorf("dlr_lost_total{cause=redis_data_loss} summed over the instances = %v, want 8", got)
	}
	// Counted once: further puts, counts and sweeps add nothing.
	put(qs[1], "00000000000000D5")
	for _, q := range qs {
		if n, err := q.PendingCount(ctx, "acme"); err != nil || n != 3 {
			t.Fatalf("PendingCount after the loss = %d %v, want 3", n, err)
		}
	}
	settleLossesNow(t, qs[:]...)
	if got := total(); got != 8 {
		t.Errorf("counted again: %v, want 8", got)
	}
}

// TestRedisDataLossExactWhenAnotherInstanceAcks: clients submit through
// one instance and receive through the other, so after the last count
// the second only removes receipts (a negative share). Redis loses the
// account: the shares are summed in Redis before any is reported, and
// dlr_lost_total, summed over the instances, is what Redis held, not the
// first instance's share alone.
func TestRedisDataLossExactWhenAnotherInstanceAcks(t *testing.T) {
	c, qs, regs := twoLossCountingQueues(t)
	ctx := context.Background()
	var rs []Receipt
	for i := range 10 {
		r := receipt(fmt.Sprintf("00000000000000%02X", 0xE0+i), "acme", 0)
		rs = append(rs, r)
		if err := qs[0].Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, q := range qs { // both count 10
		if n, err := q.PendingCount(ctx, "acme"); err != nil || n != 10 {
			t.Fatalf("PendingCount = %d %v", n, err)
		}
	}
	// The first stores 2 more, the second acknowledges 6: Redis holds 6.
	for _, id := range []string{"00000000000000F1", "00000000000000F2"} {
		if err := qs[0].Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := qs[1].Ack(ctx, Outcome{State: pdu.StateDelivered, At: time.Now()}, rs[:6]...); err != nil {
		t.Fatal(err)
	}
	base := qs[0].accountBase("acme")
	if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := qs[0].PendingCount(ctx, "acme"); err != nil { // finds the marker gone
		t.Fatal(err)
	}
	if _, err := qs[1].PendingCount(ctx, "acme"); err != nil { // finds the new marker
		t.Fatal(err)
	}
	if a, b := pendingLossShare(qs[0], "acme"), pendingLossShare(qs[1], "acme"); a != 12 || b != -6 {
		t.Fatalf("shares %d and %d, want 12 and -6", a, b)
	}
	// Before the record is settled nothing is reported, whoever sweeps.
	now := time.Now()
	for _, q := range qs {
		if err := q.settleLosses(ctx, now); err != nil {
			t.Fatal(err)
		}
	}
	sum := func() float64 {
		return metric(t, regs[0], "dlr_lost_total", "cause="+LostRedisDataLoss) + metric(t, regs[1], "dlr_lost_total", "cause="+LostRedisDataLoss)
	}
	if got := sum(); got != 0 {
		t.Fatalf("reported %v before the loss settled", got)
	}
	settleLossesNow(t, qs[:]...)
	if got := sum(); got != 6 {
		t.Fatalf("dlr_lost_total summed over the instances = %v, Redis held 6", got)
	}
	if len(qs[0].losses)+len(qs[1].losses) != 0 {
		t.Fatalf("losses still waiting after settling: %v %v", qs[0].losses, qs[1].losses)
	}
}

// twoLossCountingQueues is two instances on the test Redis under one
// prefix, each counting its losses on a registry of its own.
func twoLossCountingQueues(t *testing.T) (redis.UniversalClient, [2]*RedisQueue, [2]*prometheus.Registry) {
	t.Helper()
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	var regs [2]*prometheus.Registry
	var qs [2]*RedisQueue
	for i := range qs {
		regs[i] = prometheus.NewRegistry()
		lost, err := NewLossCounter(regs[i])
		if err != nil {
			t.Fatal(err)
		}
		qs[i] = NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost, InstanceID: fmt.Sprintf("gw%d", i)})
	}
	return c, qs, regs
}

// pendingLossShare sums q's shares of sys's losses waiting to be settled.
func pendingLossShare(q *RedisQueue, sys string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, l := range q.losses {
		if l.sys == sys {
			n += l.share
		}
	}
	return n
}

// settleLossesNow has every q add its shares, then sweeps them once the
// records are settled (a clock LossSettle ahead).
func settleLossesNow(t *testing.T, qs ...*RedisQueue) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for _, at := range []time.Time{now, now.Add(DefaultLossSettle)} {
		for _, q := range qs {
			if err := q.settleLosses(ctx, at); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestRedisDataLossExactWhateverWhenInstancesCounted: two instances
// store receipts of one account and count it at different times; Redis
// loses it. The one that finds the marker gone counts from its own last
// count and names that count in the new marker; the other counts what it
// stored after that same count, so the two add up to what Redis held
// whichever counted last. (Each counting from its own last count, the
// total missed or doubled what the other stored between the two counts.)
func TestRedisDataLossExactWhateverWhenInstancesCounted(t *testing.T) {
	type step struct {
		q     int // the instance
		count bool
		puts  int
	}
	tests := []struct {
		name  string
		steps []step
		want  [2]int // each instance's share
	}{
		{"the other counted later", []step{{q: 0, puts: 4}, {q: 0, count: true}, {q: 1, puts: 3}, {q: 1, count: true}, {q: 1, puts: 2}, {q: 0, puts: 1}},
			[2]int{4 + 1, 3 + 2}},
		{"the other counted earlier", []step{{q: 0, puts: 4}, {q: 1, count: true}, {q: 1, puts: 3}, {q: 0, count: true}, {q: 1, puts: 2}, {q: 0, puts: 1}},
			[2]int{7 + 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, qs, regs := twoLossCountingQueues(t)
			ctx := context.Background()
			next := 0
			put := func(q *RedisQueue, n int) {
				t.Helper()
				for range n {
					next++
					if err := q.Put(ctx, receipt(fmt.Sprintf("%016X", next), "acme", 0)); err != nil {
						t.Fatal(err)
					}
				}
			}
			held := 0
			for _, st := range tt.steps {
				if st.count {
					if _, err := qs[st.q].PendingCount(ctx, "acme"); err != nil {
						t.Fatal(err)
					}
					continue
				}
				put(qs[st.q], st.puts)
				held += st.puts
			}
			base := qs[0].accountBase("acme")
			if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch", base+"countseq").Err(); err != nil {
				t.Fatal(err)
			}
			put(qs[0], 1) // finds the marker gone
			put(qs[1], 1) // finds the new marker
			for i, q := range qs {
				if got := pendingLossShare(q, "acme"); got != tt.want[i] {
					t.Errorf("instance %d: share of the loss %d, want %d", i, got, tt.want[i])
				}
			}
			settleLossesNow(t, qs[:]...)
			total := 0.0
			for _, reg := range regs {
				total += metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss)
			}
			if total != float64(held) {
				t.Errorf("counted %v in all, Redis held %d", total, held)
			}
		})
	}
}

// TestLossCountedFromTheCountTheMarkerNames: the marker a put writes
// names the finder's count when the put was built (5); the finder's next
// count (6) is recorded before the put's reply. The finder counts from
// count 5, as the other instance does: what Redis held (15), not count 6
// plus the other's writes after 5 (18).
func TestLossCountedFromTheCountTheMarkerNames(t *testing.T) {
	var qs [2]*RedisQueue
	var regs [2]*prometheus.Registry
	for i := range qs {
		regs[i] = prometheus.NewRegistry()
		lost, err := NewLossCounter(regs[i])
		if err != nil {
			t.Fatal(err)
		}
		qs[i] = NewRedisQueue(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), RedisOptions{Lost: lost})
		qs[i].epochs["acme"] = "old"
	}
	a, b := qs[0], qs[1]
	now := time.Now()
	// Counts take multiples of countStride, puts the numbers after them.
	c5, c6 := int64(5*countStride), int64(6*countStride)
	a.shareLocked("acme").counted(c5, 10, now) // count 5: 10 pending
	b.shareLocked("acme").wrote(c5+1, 3, now)  // B stores 3 after it
	marker := a.markerLocked("acme")           // A builds a put: its marker names count 5
	a.shareLocked("acme").counted(c6, 13, now) // A's count 6 (13 pending) is recorded first
	b.shareLocked("acme").wrote(c6+1, 2, now)  // B stores 2 after it: Redis holds 15
	a.epochSeenLocked("acme", marker, true)    // A's put finds the keys gone
	b.epochSeenLocked("acme", marker, false)   // B finds A's marker
	la, lb := pendingLossShare(a, "acme"), pendingLossShare(b, "acme")
	if la+lb != 15 {
		t.Fatalf("counted %v (A %v + B %v), Redis held 15", la+lb, la, lb)
	}
}

// TestCorruptBodyIsSetAside: a body that does not decode is moved to the
// bad hash, counted once, and the receipts claimed with it are returned.
func TestCorruptBodyIsSetAside(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	lost, _ := NewLossCounter(nil)
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost})
	for _, id := range []string{"00000000000000B1", "00000000000000B2", "00000000000000B3"} {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.HSet(ctx, q.accountKeys("acme")[0], "00000000000000B2", "\x07garbage").Err(); err != nil {
		t.Fatal(err)
	}
	rs, err := q.Claim(ctx, "acme", t0.Add(time.Hour), time.Minute, 10)
	if err != nil || len(rs) != 2 {
		t.Fatalf("Claim = %v %v, want the two good receipts", ids(rs), err)
	}
	if got := lost.Count(LostCorrupt); got != 1 {
		t.Fatalf("corrupt count = %d, want 1", got)
	}
	if v, _ := c.HGet(ctx, q.badKey("acme"), "00000000000000B2").Result(); v != "\x07garbage" {
		t.Fatalf("bad hash holds %q", v)
	}
	if n, _ := q.PendingCount(ctx, "acme"); n != 2 {
		t.Fatalf("PendingCount = %d, want 2", n)
	}
	if rs, _ := q.Claim(ctx, "acme", t0.Add(time.Hour+2*time.Minute), time.Minute, 10); len(rs) != 2 || lost.Count(LostCorrupt) != 1 {
		t.Fatalf("after the lease: claimed %v, corrupt count %d", ids(rs), lost.Count(LostCorrupt))
	}
}

// TestWaitReplicasNotReachedKeepsReceiptInBuffer: with WaitReplicas on a
// Redis without replicas, the commit's WAIT falls short: Put reports
// ErrNotReplicated, and behind a BufferedQueue the receipt stays in memory
// (the account degraded) instead of being promised on one server only.
func TestWaitReplicasNotReachedKeepsReceiptInBuffer(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix, WaitReplicas: 1, WaitTimeout: 20 * time.Millisecond})
	if err := q.Put(ctx, receipt("00000000000000D1", "acme", 0)); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("Put = %v, want ErrNotReplicated", err)
	}
	bq := NewBufferedQueue(q, BufferOptions{manual: true})
	if err := bq.Put(ctx, receipt("00000000000000D2", "acme", 0)); err != nil {
		t.Fatalf("buffered Put = %v", err)
	}
	// Held in memory as well; Redis's master holds it (counted there).
	if bq.Held() != 1 || bq.Buffered() != 0 || bq.Degraded() != 1 {
		t.Fatalf("held %d, only here %d, degraded %d; want 1, 0 and 1", bq.Held(), bq.Buffered(), bq.Degraded())
	}
}

// TestCloseCountsWhatItCouldNotStore: a shutdown while the queue stays
// down keeps trying until the deadline, then counts and returns exactly
// what is left in the buffer.
func TestCloseCountsWhatItCouldNotStore(t *testing.T) {
	lost, _ := NewLossCounter(nil)
	q := NewBufferedQueue(downQueue{}, BufferOptions{manual: true, Lost: lost})
	ctx := context.Background()
	for _, id := range []string{"S1", "S2", "S3"} {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if left := q.Close(dctx); left != 3 {
		t.Fatalf("Close left %d, want 3", left)
	}
	if got := lost.Count(LostShutdown); got != 3 {
		t.Fatalf("lost{shutdown} = %d, want 3", got)
	}
}

// TestRestoreSkipsFinishedReceipts: the write-back of a buffered receipt
// whose earlier Put did reach Redis, and which was delivered since, must
// not bring it back; one still pending is left as it is (not listed twice).
func TestRestoreSkipsFinishedReceipts(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
	ctx := context.Background()
	done, pending, fresh := receipt("00000000000000R1", "acme", 0), receipt("00000000000000R2", "acme", time.Hour), receipt("00000000000000R3", "acme", 0)
	for _, r := range []Receipt{done, pending} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := q.Claim(ctx, "acme", t0.Add(time.Minute), time.Minute, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("Claim = %v %v", ids(rs), err)
	}
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...); err != nil {
		t.Fatal(err)
	}
	for i, err := range q.Restore(ctx, []Receipt{done, pending, fresh}) {
		want := error(nil)
		if i == 0 {
			want = errFinishedInQueue
		}
		if !errors.Is(err, want) {
			t.Fatalf("Restore[%d]: %v (the delivered one skipped as finished, the others stored)", i, err)
		}
	}
	if o, ok, _ := q.Lookup(ctx, "acme", done.MessageID); !ok || o.State != pdu.StateDelivered {
		t.Fatalf("the delivered receipt is %v (known %v) after the write-back", o.State, ok)
	}
	if n, _ := q.PendingCount(ctx, "acme"); n != 2 {
		t.Fatalf("PendingCount = %d, want 2 (the pending one and the new one)", n)
	}
	// The pending one keeps its single list element; the new one, due an
	// hour before the list's tail, is scheduled in the due set.
	if n, _ := c.LLen(ctx, q.accountKeys("acme")[1]).Result(); n != 1 {
		t.Fatalf("fresh list holds %d elements, want 1", n)
	}
	if n, _ := c.ZCard(ctx, q.accountKeys("acme")[2]).Result(); n != 1 {
		t.Fatalf("due set holds %d elements, want 1", n)
	}
}

// TestOutcomesOfTheEarlierLayoutAreRead: while instances of an earlier
// version still run beside this one, an outcome they wrote (one hash per
// time bucket, the id as its field) is found by query_sm and keeps the
// write-back of a buffered receipt from sending that receipt again.
func TestOutcomesOfTheEarlierLayoutAreRead(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
	ctx := context.Background()
	r := receipt("00000000000000E1", "acme", 0)
	bucket, _ := q.doneBucket("acme", time.Now())
	at := time.Now().Truncate(time.Millisecond).UTC()
	if err := c.HSet(ctx, bucket, r.MessageID, fmt.Sprintf("%d:%d", pdu.StateDelivered, at.UnixMilli())).Err(); err != nil {
		t.Fatal(err)
	}
	if o, ok, err := q.Lookup(ctx, "acme", r.MessageID); err != nil || !ok || o.State != pdu.StateDelivered || !o.At.Equal(at) {
		t.Fatalf("Lookup = %+v %v %v, want DELIVERED at %v", o, ok, err, at)
	}
	for i, err := range q.Restore(ctx, []Receipt{r}) {
		if !errors.Is(err, errFinishedInQueue) {
			t.Fatalf("Restore[%d]: %v, want it skipped as finished", i, err)
		}
	}
	if n, _ := q.PendingCount(ctx, "acme"); n != 0 {
		t.Fatalf("PendingCount = %d after the write-back of a finished receipt, want 0", n)
	}
}

// TestDataLossCountedOnceWhateverTheReplyOrder: the reply that found the
// marker gone and another showing the new marker (a count, or the other
// committer) may be recorded in either order; the loss is counted once,
// as what the account held, and receipts stored after it are not.
func TestDataLossCountedOnceWhateverTheReplyOrder(t *testing.T) {
	for _, lostFirst := range []bool{true, false} {
		reg := prometheus.NewRegistry()
		lost, err := NewLossCounter(reg)
		if err != nil {
			t.Fatal(err)
		}
		q := NewRedisQueue(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), RedisOptions{Lost: lost})
		q.mu.Lock()
		q.epochs["acme"] = "old"
		q.shareLocked("acme").counted(1, 12, time.Now())
		mine := q.markerLocked("acme")
		// The first reply recorded brings 5 receipts stored after the
		// loss, under the new marker (recordGroups adds them after the
		// marker is taken): the second reply must not count them.
		q.epochSeenLocked("acme", mine, lostFirst)
		q.shareLocked("acme").wrote(0, 5, time.Now())
		q.epochSeenLocked("acme", mine, !lostFirst)
		q.mu.Unlock()
		if got, n := pendingLossShare(q, "acme"), len(q.losses); got != 12 || n != 1 {
			t.Errorf("lost reply first %v: %d losses waiting with a share of %d, want one of 12", lostFirst, n, got)
		}
	}
}

// TestUnsettledLossReportedAtShutdown: a loss found less than the settle
// time before the shutdown is reported then, not dropped with the
// process: through its record when Redis answers, by the instance alone
// (its share) when it does not.
func TestUnsettledLossReportedAtShutdown(t *testing.T) {
	for _, redisUp := range []bool{true, false} {
		t.Run(fmt.Sprintf("redis answers %v", redisUp), func(t *testing.T) {
			var c redis.UniversalClient = redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
			prefix := "dlr:"
			if redisUp {
				rc := redisTestClient(t)
				c, prefix = rc, redisTestPrefix(t, rc)
			}
			reg := prometheus.NewRegistry()
			lost, err := NewLossCounter(reg)
			if err != nil {
				t.Fatal(err)
			}
			q := NewRedisQueue(c, RedisOptions{Prefix: prefix, Lost: lost, Registerer: reg})
			q.mu.Lock()
			q.epochs["acme"] = "old"
			q.shareLocked("acme").counted(countStride, 7, time.Now())
			q.epochSeenLocked("acme", q.markerLocked("acme"), true)
			q.mu.Unlock()
			if got := metric(t, reg, "dlr_losses_unsettled"); got != 1 {
				t.Fatalf("dlr_losses_unsettled = %v with one loss found, want 1", got)
			}
			if err := q.settleLosses(context.Background(), time.Now()); (err == nil) != redisUp {
				t.Fatalf("settleLosses: %v", err)
			}
			if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 0 {
				t.Fatalf("reported %v before the loss settled", got)
			}
			q.ReportUnsettledLosses(context.Background())
			if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 7 {
				t.Fatalf("dlr_lost_total after the shutdown = %v, want 7", got)
			}
			if got := metric(t, reg, "dlr_losses_unsettled"); got != 0 {
				t.Fatalf("dlr_losses_unsettled = %v after the shutdown, want 0", got)
			}
		})
	}
}

// TestRedisDataLossFoundByAnInstanceThatOnlyAcks: the second instance
// never stores nor counts the account before the loss; it only claims and
// acknowledges. Its acks read the epoch marker, so its first count after
// the loss finds the new marker and takes its acknowledgements off: the
// sum is what Redis held.
func TestRedisDataLossFoundByAnInstanceThatOnlyAcks(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	var qs [2]*RedisQueue
	for i := range qs {
		qs[i] = NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: fmt.Sprintf("gw%d", i)})
	}
	put := func(from, n int) {
		t.Helper()
		for i := range n {
			if err := qs[0].Put(ctx, receipt(fmt.Sprintf("%016X", from+i), "acme", 0)); err != nil {
				t.Fatal(err)
			}
		}
	}
	put(0x100, 20)
	if _, err := qs[0].PendingCount(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	got, err := qs[1].Claim(ctx, "acme", time.Now().Add(time.Hour), time.Minute, 100)
	if err != nil || len(got) != 20 {
		t.Fatalf("claimed %d: %v", len(got), err)
	}
	if err := qs[1].Ack(ctx, Outcome{State: pdu.StateDelivered, At: time.Now()}, got...); err != nil {
		t.Fatal(err)
	}
	put(0x200, 10) // Redis holds 10
	base := qs[0].accountBase("acme")
	if err := c.Del(ctx, base+"r", base+"fresh", base+"epoch", base+"countseq", base+"due", base+"exp").Err(); err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if _, err := q.PendingCount(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	if a, b := pendingLossShare(qs[0], "acme"), pendingLossShare(qs[1], "acme"); a != 30 || b != -20 {
		t.Fatalf("shares %d and %d, want 30 and -20", a, b)
	}
	// Acknowledging receipts Redis no longer holds takes nothing off.
	if err := qs[1].Ack(ctx, Outcome{State: pdu.StateDelivered, At: time.Now()}, receipt("0000000000000201", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if sh := qs[1].shares["acme"]; sh != nil && sh.since(0) != 0 {
		t.Fatalf("an ack of a receipt Redis lost counted as a removal: %d", sh.since(0))
	}
}

// TestClaimWithAKeyOfAnotherTypeLosesNothing: a key of the account that
// holds another type (an operator's SET on it) fails the claim before it
// writes anything; once the key is repaired the receipt is claimed. The
// claim used to fail half way, after the receipt had left the fresh list
// or the due set, and nothing claimed it again.
func TestClaimWithAKeyOfAnotherTypeLosesNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		key     int  // accountKeys index made a string
		retried bool // in the due set only (claimed, then retried), else fresh, expiring within the lease
	}{
		{"exp set", 3, false},
		{"fresh list", 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := redisTestClient(t)
			q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
			ctx := context.Background()
			r := receipt("00000000000000W1", "acme", 0)
			r.ExpiresAt = t0.Add(30 * time.Second)
			if err := q.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
			if tc.retried {
				if rs, err := q.Claim(ctx, "acme", t0, time.Minute, 10); err != nil || len(rs) != 1 {
					t.Fatalf("claimed %v (%v)", ids(rs), err)
				}
				if err := q.Retry(ctx, r, t0); err != nil {
					t.Fatal(err)
				}
			}
			key := q.accountKeys("acme")[tc.key]
			if err := c.Set(ctx, key, "junk", 0).Err(); err != nil {
				t.Fatal(err)
			}
			if rs, err := q.Claim(ctx, "acme", t0.Add(time.Second), time.Minute, 10); err == nil {
				t.Fatalf("claimed %v with %s holding a string, want an error", ids(rs), key)
			}
			if err := c.Del(ctx, key).Err(); err != nil {
				t.Fatal(err)
			}
			rs, err := q.Claim(ctx, "acme", t0.Add(time.Second), time.Minute, 10)
			if err != nil || len(rs) != 1 {
				t.Fatalf("claimed %v (%v) once %s was repaired, want the receipt", ids(rs), err, key)
			}
		})
	}
}

// TestRestoreLeavesAPendingReceiptAsItIs: the outage buffer writes back a
// copy of a receipt Redis already holds (a put that timed out but landed)
// and has retried since: the restore leaves the stored receipt alone, its
// attempts and due time included, instead of overwriting its body with
// the older copy.
func TestRestoreLeavesAPendingReceiptAsItIs(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
	ctx := context.Background()
	copyOf := receipt("00000000000000P1", "acme", 0)
	if err := q.Put(ctx, copyOf); err != nil {
		t.Fatal(err)
	}
	rs, err := q.Claim(ctx, "acme", t0, time.Minute, 10)
	if err != nil || len(rs) != 1 {
		t.Fatalf("claimed %v (%v)", ids(rs), err)
	}
	retried := rs[0]
	retried.Attempts = 3
	later := t0.Add(time.Hour)
	if err := q.Retry(ctx, retried, later); err != nil {
		t.Fatal(err)
	}
	if errs := q.Restore(ctx, []Receipt{copyOf}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	rs, err = q.Claim(ctx, "acme", later, time.Minute, 10)
	if err != nil || len(rs) != 1 || rs[0].Attempts != 3 || !rs[0].DueAt.Equal(later) {
		t.Fatalf("claimed %+v (%v) after the restore; want the retried receipt, 3 attempts, due %v", rs, err, later)
	}
}

// TestExpireWithAKeyOfAnotherTypeLosesNothing: the expiry script with the
// due set holding another type fails before it writes; once the key is
// repaired the expired receipt is removed and reported. It used to remove
// the body, fail on the due set and report nothing, and every later sweep
// failed on the same list element.
func TestExpireWithAKeyOfAnotherTypeLosesNothing(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c)})
	ctx := context.Background()
	r := receipt("00000000000000X1", "acme", 0)
	r.ExpiresAt = t0.Add(time.Minute)
	if err := q.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	due := q.accountKeys("acme")[2]
	if err := c.Set(ctx, due, "junk", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if rs, err := q.Expire(ctx, t0.Add(time.Hour), 10); err == nil {
		t.Fatalf("expired %v with %s holding a string, want an error", ids(rs), due)
	}
	if err := c.Del(ctx, due).Err(); err != nil {
		t.Fatal(err)
	}
	rs, err := q.Expire(ctx, t0.Add(time.Hour), 10)
	if err != nil || len(rs) != 1 || rs[0].MessageID != r.MessageID {
		t.Fatalf("expired %v (%v) once %s was repaired, want the receipt", ids(rs), err, due)
	}
}
