package dlr

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// TestFullRedisCacheGivesWayToReceipts: a Redis at maxmemory (noeviction)
// whose memory the HLR cache holds (answers kept for a day) refuses a
// receipt, which waits in the outage buffer. The refusal makes the cache
// give way (BufferOptions.OutOfMemory → cache.Redis.GiveWay): it removes
// its own keys, the write-back stores the receipt, and the account is
// healthy again. Without the hook the receipt stayed in memory until the
// cached answers expired.
func TestFullRedisCacheGivesWayToReceipts(t *testing.T) {
	c, _ := fullRedis(t)
	ctx := context.Background()
	answer := strings.Repeat("a", 16<<10)
	for i := 0; ; i++ {
		err := c.Set(ctx, fmt.Sprintf("hlr:%d", 447000000+i), answer, 24*time.Hour).Err()
		if err != nil && strings.HasPrefix(err.Error(), "OOM") {
			break
		}
		if err != nil || i > 10_000 {
			t.Fatalf("filling Redis with cached answers: %v after %d", err, i)
		}
	}
	cr := cache.NewRedis(c, cache.RedisOptions{Prefix: "hlr:"})
	var calls atomic.Int64
	inner := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a"})
	q := NewBufferedQueue(inner, BufferOptions{manual: true, OutOfMemory: func() { calls.Add(1); cr.GiveWay() }})
	r := receipt("00000000000000F2", "acme", 0)
	if err := q.Put(ctx, r); err != nil {
		t.Fatalf("put on a full Redis: %v (want it buffered)", err)
	}
	if q.Buffered() != 1 || calls.Load() == 0 {
		t.Fatalf("buffered %d, OutOfMemory called %d times (%v); want 1 buffered and the hook called", q.Buffered(), calls.Load(), q.Healthy(ctx))
	}
	// The cache's pass runs in the background; each write-back pass that
	// Redis still refuses asks again (at most one pass a second).
	deadline := time.Now().Add(10 * time.Second)
	for q.Buffered() > 0 && time.Now().Before(deadline) {
		_, _ = q.Flush(ctx)
		if q.Buffered() > 0 {
			time.Sleep(50 * time.Millisecond) // the cache's background pass, not a timing threshold
		}
	}
	if q.Buffered() != 0 {
		t.Fatalf("receipt still buffered 10 s after the cache was asked to give way (shed %d keys)", cr.Shed())
	}
	got, err := q.Claim(ctx, "acme", time.Now().Add(time.Second), time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].MessageID != r.MessageID {
		t.Fatalf("claim after the write-back: %v, %v", got, err)
	}
	if err := cr.Set(ctx, "447999999999", []byte("x"), time.Hour); err == nil {
		t.Error("the cache wrote while giving way")
	}
}

// TestOutOfMemoryOnlyForOOM: the hook hears of memory refusals only.
func TestOutOfMemoryOnlyForOOM(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("dlr: redis put: %w", fmt.Errorf("OOM command not allowed when used memory > 'maxmemory'.")), true},
		{fmt.Errorf("EXECABORT Transaction discarded because of previous errors. (OOM command not allowed when used memory > 'maxmemory'.)"), true},
		{fmt.Errorf("dial tcp 127.0.0.1:1: connect: connection refused"), false},
		{fmt.Errorf("READONLY You can't write against a read only replica."), false},
		{nil, false},
	} {
		if got := outOfMemory(tc.err); got != tc.want {
			t.Errorf("outOfMemory(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
