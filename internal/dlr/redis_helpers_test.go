package dlr

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisTestClient connects to REDIS_TEST_URL, else to
// redis://127.0.0.1:6379/15 if it answers; otherwise it skips tb.
func redisTestClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	url, explicit := os.LookupEnv("REDIS_TEST_URL")
	if !explicit || url == "" {
		url, explicit = "redis://127.0.0.1:6379/15", false
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		tb.Fatalf("REDIS_TEST_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if explicit {
			tb.Fatalf("REDIS_TEST_URL=%s: %v", url, err)
		}
		tb.Skipf("no Redis at %s (%v): start redis-server on 127.0.0.1:6379 or set REDIS_TEST_URL to run the Redis tests", url, err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// redisTestPrefix returns a fresh key prefix whose keys are deleted when
// tb ends.
func redisTestPrefix(tb testing.TB, c redis.UniversalClient) string {
	tb.Helper()
	prefix := fmt.Sprintf("dlrtest:%d:%016x:", os.Getpid(), rand.Uint64())
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		for len(keys) > 0 {
			n := min(len(keys), 500)
			c.Del(ctx, keys[:n]...)
			keys = keys[n:]
		}
	})
	return prefix
}

func newTestRedisQueue(tb testing.TB) Queue {
	c := redisTestClient(tb)
	return NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(tb, c)})
}
