package dlr

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// accountOn returns an account name whose slot the master at addr serves.
func accountOn(t *testing.T, c *redis.ClusterClient, q *RedisQueue, addr string) string {
	t.Helper()
	var sys string
	redistest.KeyOn(t, c, addr, func(i int) string {
		sys = "acct" + strconv.Itoa(i)
		return q.accountKeys(sys)[0]
	})
	return sys
}

// TestSweepOfHealthyMastersGoesOnWhileOneHangs: on a Cluster whose
// master of one account hangs (SIGSTOP), the sweep's calls still count
// and expire the other master's accounts within the sweep's time: each
// master's accounts go in a pipeline of their own, at once. In one
// pipeline for all, the hung master's timeout failed every account's
// count; one account after another, it spent the sweep's time first.
func TestSweepOfHealthyMastersGoesOnWhileOneHangs(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a", CommitTimeout: 300 * time.Millisecond})
	live, hung := accountOn(t, c, q, ms[0].Addr), accountOn(t, c, q, ms[1].Addr)
	ctx := context.Background()
	for i, sys := range []string{hung, live, live} {
		r := receipt("00000000000000F"+string(rune('1'+i)), sys, 0)
		r.ExpiresAt = t0.Add(time.Minute)
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms[1].Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ms[1].Resume() }()

	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	counts, err := q.PendingCounts(sctx, []string{hung, live})
	if err == nil || counts[0] != -1 || counts[1] != 2 {
		t.Fatalf("counts with %s's master hung: %v, %v; want {-1 2} and its error", hung, counts, err)
	}

	// Each account's expiry is asked once per sweep, in a random order:
	// whatever the order, the live account's receipts expire.
	for range 3 {
		ectx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rs, err := q.Expire(ectx, t0.Add(time.Hour), 100)
		cancel()
		if err == nil || !strings.Contains(err.Error(), hung) {
			t.Fatalf("expiry with %s's master hung: %v, want its error", hung, err)
		}
		for _, r := range rs {
			if r.SystemID != live {
				t.Fatalf("expired %s of %s", r.MessageID, r.SystemID)
			}
		}
		if len(rs) == 2 {
			return
		}
		if len(rs) != 0 {
			t.Fatalf("expired %d of the live account's 2 receipts", len(rs))
		}
		t.Fatalf("expired none of the live account's receipts while %s's master hung", hung)
	}
}

// TestExpiryOfSeveralMastersKeepsToItsLimit: the masters' accounts expire
// at once but share the limit of one Expire: each call takes its count
// from what is left before it runs, so two masters with six expired
// receipts each give five, five and two, never more than asked for.
func TestExpiryOfSeveralMastersKeepsToItsLimit(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a"})
	ctx := context.Background()
	for j, sys := range []string{accountOn(t, c, q, ms[0].Addr), accountOn(t, c, q, ms[1].Addr)} {
		for i := range 6 {
			r := receipt(strconv.Itoa(j)+"00000000000000"+strconv.Itoa(i), sys, 0)
			r.ExpiresAt = t0.Add(time.Minute)
			if err := q.Put(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	seen := make(map[string]bool)
	for _, want := range []int{5, 5, 2, 0} {
		rs, err := q.Expire(ctx, t0.Add(time.Hour), 5)
		if err != nil || len(rs) != want {
			t.Fatalf("Expire(limit 5) = %d receipts, %v; want %d (seen %d before)", len(rs), err, want, len(seen))
		}
		for _, r := range rs {
			if seen[r.MessageID] {
				t.Fatalf("%s expired twice", r.MessageID)
			}
			seen[r.MessageID] = true
		}
	}
}

// TestLossesOfHealthyMastersSettleWhileOneHangs: a loss found on an
// account of a healthy master is settled and reported while the master
// of another lost account hangs. One record after another, the hung
// master's record spent the sweep's time and the healthy one's failed
// with it, sweep after sweep.
func TestLossesOfHealthyMastersSettleWhileOneHangs(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	reg := prometheus.NewRegistry()
	lost, err := NewLossCounter(reg)
	if err != nil {
		t.Fatal(err)
	}
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a", Lost: lost})
	live, hung := accountOn(t, c, q, ms[0].Addr), accountOn(t, c, q, ms[1].Addr)
	// A client that has run commands before (as the gateway's has): it
	// knows the commands' key positions, which a first command asks of
	// any node, the hung one perhaps.
	if err := q.Put(context.Background(), receipt("00000000000000A1", live, 0)); err != nil {
		t.Fatal(err)
	}
	q.mu.Lock()
	q.lossFoundLocked(hung, "t1", 3, "test")
	q.lossFoundLocked(live, "t2", 4, "test")
	q.mu.Unlock()
	if err := ms[1].Pause(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ms[1].Resume() }()

	now := time.Now()
	for _, at := range []time.Time{now, now.Add(DefaultLossSettle)} {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := q.settleLosses(ctx, at)
		cancel()
		if err == nil || !strings.Contains(err.Error(), hung) {
			t.Fatalf("settling with %s's master hung: %v, want its error", hung, err)
		}
	}
	if got := metric(t, reg, "dlr_lost_total", "cause="+LostRedisDataLoss); got != 4 {
		t.Fatalf("dlr_lost_total = %v with %s's master hung, want the 4 lost on the healthy one", got, hung)
	}
}
