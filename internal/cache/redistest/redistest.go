package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is tried when REDIS_TEST_URL is not set.
const DefaultURL = "redis://127.0.0.1:6379/15"

// Client returns a client for the test Redis and a unique key prefix
// ("test:<random>:"). Keys under the prefix are deleted and the client is
// closed in t.Cleanup. Without a Redis the test is skipped; with
// REDIS_TEST_URL set, an unreachable Redis fails the test instead.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	url, explicit := testURL()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("REDIS_TEST_URL: %v", err)
	}
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if explicit {
			t.Fatalf("REDIS_TEST_URL set but Redis does not answer: %v", err)
		}
		t.Skip("set REDIS_TEST_URL or run Redis on 127.0.0.1:6379 to enable")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "test:" + hex.EncodeToString(b[:]) + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			_ = c.Del(ctx, keys...).Err()
		}
		_ = c.Close()
	})
	return c, prefix
}

// URL is Client for code that opens its own connections (a whole gateway
// under test): the Redis URL and a unique key prefix whose keys are deleted
// in t.Cleanup.
func URL(t testing.TB) (url, prefix string) {
	t.Helper()
	_, prefix = Client(t)
	url, _ = testURL()
	return url, prefix
}

func testURL() (url string, explicit bool) {
	if url = os.Getenv("REDIS_TEST_URL"); url != "" {
		return url, true
	}
	return DefaultURL, false
}
