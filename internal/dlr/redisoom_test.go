package dlr

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// fullRedis starts a redis-server of its own with maxmemory 4 MB and the
// documented noeviction policy (skipped without redis-server), and returns
// a client on it and a function that fills it until it refuses writes.
func fullRedis(t *testing.T) (*redis.Client, func()) {
	t.Helper()
	addr := startRedisServer(t, "--maxmemory", "4mb", "--maxmemory-policy", "noeviction")
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(ctx).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not come up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	fill := func() {
		junk := strings.Repeat("x", 16<<10)
		for i := range 10_000 {
			err := c.Set(ctx, fmt.Sprintf("fill:%d", i), junk, 0).Err()
			if err != nil && strings.HasPrefix(err.Error(), "OOM") {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		t.Fatal("Redis never refused a write at maxmemory")
	}
	return c, fill
}

// TestAckOnAFullRedis: above maxmemory Redis refuses every write queued
// in a transaction; the ack, which frees memory, still goes through (on
// the scripts) and the receipt is no longer pending.
func TestAckOnAFullRedis(t *testing.T) {
	c, fill := fullRedis(t)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a"})
	r := receipt("00000000000000F1", "acme", time.Second)
	if err := q.Put(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err := q.Claim(ctx, "acme", r.DueAt, time.Minute, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("claim: %d receipts, %v", len(got), err)
	}
	fill()
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: time.Now()}, got...); err != nil {
		t.Fatalf("ack on a full Redis: %v", err)
	}
	if n := c.HLen(ctx, q.accountKeys("acme")[0]).Val(); n != 0 {
		t.Fatalf("%d receipts still pending after the ack", n)
	}
}
