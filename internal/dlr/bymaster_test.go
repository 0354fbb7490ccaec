package dlr

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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
