package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultURL is tried when REDIS_TEST_URL is not set (and
// REDIS_TEST_DEFAULT_URL does not replace it).
const DefaultURL = "redis://127.0.0.1:6379/15"

// Environment variables read by this package.
const (
	// EnvURL names the Redis the tests must use: when it does not answer,
	// the tests fail rather than skip.
	EnvURL = "REDIS_TEST_URL"
	// EnvDefaultURL replaces DefaultURL as the address probed when EnvURL
	// is unset; an unreachable one skips the tests. It lets a machine that
	// runs Redis on 6379 check how the suite behaves without one.
	EnvDefaultURL = "REDIS_TEST_DEFAULT_URL"
)

// probeTimeout bounds the one TCP dial that decides whether the default
// Redis is there: a local Redis answers in microseconds, and a missing one
// refuses at once, so the bound only matters for a black-holed address.
const probeTimeout = 300 * time.Millisecond

// probes caches, per test binary, whether a default URL answered, so that
// without Redis every Redis test skips at once instead of each paying for
// its own connection attempts. A test binary is one process: this is the
// only state it shares between tests.
var probes sync.Map // url → *probe

type probe struct {
	once sync.Once
	err  error
}

// Client returns a client for the test Redis and a unique key prefix
// ("test:<random>:"). Keys under the prefix are deleted and the client is
// closed in t.Cleanup. Without a Redis the test is skipped at once and
// quietly; with REDIS_TEST_URL set, an unreachable Redis fails the test
// instead.
func Client(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c := connect(t)
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

// connect skips or fails t when there is no Redis to use, and otherwise
// returns a client that has answered PING.
func connect(t testing.TB) *redis.Client {
	t.Helper()
	url, explicit := testURL()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", envName(explicit), err)
	}
	if !explicit {
		p, _ := probes.LoadOrStore(url, &probe{})
		pr := p.(*probe)
		pr.once.Do(func() { pr.err = dialOnce(opts) })
		if pr.err != nil {
			t.Skipf("no Redis at %s (%v): set %s or run Redis on 127.0.0.1:6379 to enable", url, pr.err, EnvURL)
		}
	}
	// No command retries: a test Redis either answers or the test says
	// so, rather than waiting out a retry schedule.
	opts.MaxRetries = -1
	c := redis.NewClient(opts)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		if explicit {
			t.Fatalf("%s=%s set but Redis does not answer: %v", EnvURL, url, err)
		}
		t.Skipf("no Redis at %s (%v): set %s or run Redis on 127.0.0.1:6379 to enable", url, err, EnvURL)
	}
	return c
}

// dialOnce opens and closes one connection to the Redis of opts, without
// a Redis client: a client retries the dial and logs each failure, which
// is noise when "no Redis here" is the expected answer.
func dialOnce(opts *redis.Options) error {
	network := opts.Network
	if network == "" {
		network = "tcp"
	}
	conn, err := net.DialTimeout(network, opts.Addr, probeTimeout)
	if err != nil {
		return err
	}
	return conn.Close()
}

func testURL() (url string, explicit bool) {
	if url = os.Getenv(EnvURL); url != "" {
		return url, true
	}
	if url = os.Getenv(EnvDefaultURL); url != "" {
		return url, false
	}
	return DefaultURL, false
}

func envName(explicit bool) string {
	if explicit {
		return EnvURL
	}
	return EnvDefaultURL
}
