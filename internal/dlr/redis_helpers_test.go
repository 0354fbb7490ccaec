package dlr

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// redisTestClient returns a client for the test Redis (redistest: at
// once skipped without one, failed when REDIS_TEST_URL does not answer).
func redisTestClient(tb testing.TB) redis.UniversalClient {
	tb.Helper()
	c, _ := redistest.Client(tb)
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
