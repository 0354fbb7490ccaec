package dlr

import (
	"context"
	"testing"
	"time"
)

// TestLeasesCarryTheInstance: a restarted instance (same id) takes its
// leases back at once, without waiting for the lease to end; another
// instance takes a dead instance's leases once its heartbeat is gone, and
// leaves a live one's alone.
func TestLeasesCarryTheInstance(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	clk := newFakeClock(time.Now())
	newQ := func(id string) *RedisQueue {
		return NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: id, Heartbeat: time.Hour, Clock: clk})
	}
	claim := func(q *RedisQueue) int {
		t.Helper()
		// Real time: Maintain compares leases with the wall clock.
		rs, err := q.Claim(ctx, "acme", time.Now(), time.Hour, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(rs)
	}
	a, b := newQ("gw-a"), newQ("gw-b")
	if err := a.Put(ctx, receipt("00000000000000E1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if n := claim(a); n != 1 {
		t.Fatalf("a claimed %d, want 1", n)
	}
	if n := claim(b); n != 0 {
		t.Fatalf("b claimed %d during a's lease", n)
	}

	a2 := newQ("gw-a") // a restarted
	if n, err := a2.TakeBackLeases(ctx, time.Now().Add(time.Hour+time.Second)); err != nil || n != 1 {
		t.Fatalf("TakeBackLeases = %d %v, want 1", n, err)
	}
	if n := claim(a2); n != 1 {
		t.Fatalf("restarted a claimed %d, want its own lease back at once", n)
	}

	for _, q := range []*RedisQueue{a2, b} {
		if err := q.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := claim(b); n != 0 {
		t.Fatalf("b took %d receipts of a live instance", n)
	}
	if err := c.Del(ctx, a2.heartbeatKey("gw-a")).Err(); err != nil { // a dies
		t.Fatal(err)
	}
	if err := b.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := claim(b); n != 0 {
		t.Fatalf("b took %d receipts at the first sweep that found a's heartbeat gone, want them a third of the heartbeat later", n)
	}
	clk.Advance(20 * time.Minute) // a third of the heartbeat
	if err := b.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := claim(b); n != 1 {
		t.Fatalf("b claimed %d after a's heartbeat expired, want 1", n)
	}
}

// TestLiveInstanceWhoseHeartbeatVanishedKeepsItsLeases: a live instance's
// heartbeat can vanish (its Cluster master failed over after the key
// expired there, or Redis restarted empty); it writes it again at its
// next sweep, and the other instance, whose sweep found it gone, does not
// take its leases (their receipts are being sent), not even at a sweep
// that follows at once (a drain's); it takes them once the heartbeat
// has stayed gone for a third of its TTL, the longest between two
// writes of a live instance.
func TestLiveInstanceWhoseHeartbeatVanishedKeepsItsLeases(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	clk := newFakeClock(time.Now())
	a := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "gw-a", Heartbeat: time.Hour, Clock: clk})
	b := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "gw-b", Heartbeat: time.Hour, Clock: clk})
	if err := a.Put(ctx, receipt("00000000000000E1", "acme", 0)); err != nil {
		t.Fatal(err)
	}
	if rs, err := a.Claim(ctx, "acme", time.Now(), time.Hour, 10); err != nil || len(rs) != 1 {
		t.Fatalf("a claimed %d (%v), want 1", len(rs), err)
	}
	maintain := func(q *RedisQueue) {
		t.Helper()
		if err := q.Maintain(ctx); err != nil {
			t.Fatal(err)
		}
	}
	maintain(a)
	for range 3 {
		if err := c.Del(ctx, a.heartbeatKey("gw-a")).Err(); err != nil {
			t.Fatal(err)
		}
		maintain(b) // finds it gone
		maintain(b) // at once: still within a's time to write it
		clk.Advance(19 * time.Minute)
		maintain(a) // writes it again
		maintain(b) // finds it back
		clk.Advance(19 * time.Minute)
	}
	if rs, err := b.Claim(ctx, "acme", time.Now(), time.Hour, 10); err != nil || len(rs) != 0 {
		t.Fatalf("b claimed %d (%v) of a live instance whose heartbeat vanished between its sweeps, want 0", len(rs), err)
	}
	// Gone for a third of the heartbeat: a died.
	if err := c.Del(ctx, a.heartbeatKey("gw-a")).Err(); err != nil {
		t.Fatal(err)
	}
	maintain(b)
	clk.Advance(20 * time.Minute)
	maintain(b)
	if rs, err := b.Claim(ctx, "acme", time.Now(), time.Hour, 10); err != nil || len(rs) != 1 {
		t.Fatalf("b claimed %d (%v) once a's heartbeat stayed gone for a third of its TTL, want 1", len(rs), err)
	}
}

// TestTakeBackLeasesLeavesTheNewProcesss: the restarted process takes
// back the leases of its former one (ending before its start plus its
// lease), and leaves those it took itself since, which a take-back retried
// after Redis came back would otherwise hand out again while their
// receipts are being delivered.
func TestTakeBackLeasesLeavesTheNewProcesss(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	const lease = time.Hour
	old, restarted := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "gw-a", Heartbeat: time.Hour}),
		NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "gw-a", Heartbeat: time.Hour})
	for _, id := range []string{"00000000000000E1", "00000000000000E2"} {
		if err := old.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if rs, err := old.Claim(ctx, "acme", now, lease, 1); err != nil || len(rs) != 1 {
		t.Fatalf("the former process claimed %d (%v), want 1", len(rs), err)
	}
	started := now.Add(time.Second) // the restart
	if rs, err := restarted.Claim(ctx, "acme", started.Add(time.Second), lease, 1); err != nil || len(rs) != 1 {
		t.Fatalf("the new process claimed %d (%v), want 1", len(rs), err)
	}
	n, err := restarted.TakeBackLeases(ctx, started.Add(lease))
	if err != nil || n != 1 {
		t.Fatalf("TakeBackLeases = %d %v, want the former process's 1", n, err)
	}
	rs, err := restarted.Claim(ctx, "acme", started.Add(2*time.Second), lease, 10)
	if err != nil || len(rs) != 1 || rs[0].MessageID != "00000000000000E1" {
		t.Fatalf("claimed %+v (%v) after the take-back, want the former process's E1 only", rs, err)
	}
}

// TestLateRetryLeavesAnotherInstancesLease: A's lease on a receipt ends
// before its deliver_sm is answered, B claims the receipt and sends it,
// and then A's answer comes and A retries it: the retry leaves B's live
// lease alone. It used to make the receipt due at the retry's time, and a
// third instance C claimed it while B was still sending it.
func TestLateRetryLeavesAnotherInstancesLease(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	newQ := func(id string) *RedisQueue {
		return NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: id, Heartbeat: time.Hour})
	}
	a, b, cq := newQ("gw-a"), newQ("gw-b"), newQ("gw-c")
	now := time.Now() // lease ends are compared with the wall clock
	r := receipt("00000000000000E1", "acme", 0)
	if err := a.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	rs, err := a.Claim(ctx, "acme", now.Add(-2*time.Minute), time.Minute, 10) // A's lease ended a minute ago
	if err != nil || len(rs) != 1 {
		t.Fatalf("A claimed %v (%v)", ids(rs), err)
	}
	if got, err := b.Claim(ctx, "acme", now, time.Hour, 10); err != nil || len(got) != 1 {
		t.Fatalf("B claimed %v (%v) after A's lease ended, want the receipt", ids(got), err)
	}
	late := rs[0]
	late.Attempts++
	if err := a.Retry(ctx, late, now.Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if got, err := cq.Claim(ctx, "acme", now, time.Hour, 10); err != nil || len(got) != 0 {
		t.Fatalf("C claimed %v (%v) while B holds a live lease on it", ids(got), err)
	}
}

// TestGiveBackLeasesLeavesAnotherProcesssLeases: a process stopping gives
// back the leases of its INSTANCE_ID, unless another process with the
// same id wrote the heartbeat since (a restart overlapping the drain):
// its leases, which cannot be told from the stopping one's, stay with it.
func TestGiveBackLeasesLeavesAnotherProcesssLeases(t *testing.T) {
	c := redisTestClient(t)
	prefix := redisTestPrefix(t, c)
	ctx := context.Background()
	old := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	other := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "b"})
	for _, id := range []string{"00000000000000G1", "00000000000000G2"} {
		if err := old.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if rs, err := old.Claim(ctx, "acme", time.Now(), time.Minute, 1); err != nil || len(rs) != 1 {
		t.Fatalf("claim: %v %v", ids(rs), err)
	}
	before := time.Now().Add(2 * time.Minute)
	if n, err := old.GiveBackLeases(ctx, before); err != nil || n != 1 {
		t.Fatalf("GiveBackLeases = %d, %v; want its one lease back", n, err)
	}
	// A new process with the same id starts, writes its heartbeat and claims.
	restarted := NewRedisQueue(c, RedisOptions{Prefix: prefix, InstanceID: "a"})
	if err := restarted.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if rs, err := restarted.Claim(ctx, "acme", time.Now(), time.Minute, 10); err != nil || len(rs) != 2 {
		t.Fatalf("the restarted process claimed %v (%v), want both", ids(rs), err)
	}
	if n, err := old.GiveBackLeases(ctx, before); err != nil || n != 0 {
		t.Fatalf("GiveBackLeases with another process of the id running = %d, %v; want 0", n, err)
	}
	if rs, err := other.Claim(ctx, "acme", time.Now(), time.Minute, 10); err != nil || len(rs) != 0 {
		t.Fatalf("another instance claimed %v (%v): the running process's leases were given back", ids(rs), err)
	}
}
