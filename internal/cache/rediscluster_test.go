package cache_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// keyOn returns a cache key (without the prefix) whose slot the master
// at addr serves.
func keyOn(t *testing.T, c *redis.ClusterClient, prefix, addr string) string {
	t.Helper()
	k := redistest.KeyOn(t, c, addr, func(i int) string { return prefix + "4479" + strconv.Itoa(1000000+i) })
	return strings.TrimPrefix(k, prefix)
}

// TestClusterMasterDownMissesOnlyItsKeys: on a Cluster, a master that
// hangs (SIGSTOP) makes only its own keys cache misses: the other
// master's keys are still read, and the hung one's fail fast, one probe
// per RetryAfter in the background, until it answers again. With one
// state for the whole Cluster, its first timeout took every key down.
func TestClusterMasterDownMissesOnlyItsKeys(t *testing.T) {
	c, ms := redistest.Cluster(t, 2)
	now := time.Unix(1000, 0)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	const prefix = "hlr:"
	r := cache.NewRedis(c, cache.RedisOptions{
		Prefix: prefix, OpTimeout: 200 * time.Millisecond, RetryAfter: time.Second,
		Now: func() time.Time { return *clock.Load() },
	})
	ctx := context.Background()
	live, hung := keyOn(t, c, prefix, ms[0].Addr), keyOn(t, c, prefix, ms[1].Addr)
	for _, k := range []string{live, hung} {
		if err := r.Set(ctx, k, []byte("v-"+k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	if err := ms[1].Pause(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get(ctx, hung); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("get from the hung master: %v, want ErrUnavailable", err)
	}
	if r.Up() || r.DownServers() != 1 {
		t.Fatalf("Up = %v, DownServers = %d with one master down, want false, 1", r.Up(), r.DownServers())
	}
	if b, ok, err := r.Get(ctx, live); err != nil || !ok || string(b) != "v-"+live {
		t.Fatalf("get from the live master while the other hangs: %q %v %v, want its value", b, ok, err)
	}
	// Between probes the hung master's keys fail at once: no command
	// waits for it (the error says so, not a timeout).
	if _, _, err := r.Get(ctx, hung); err == nil || !strings.Contains(err.Error(), "next probe pending") {
		t.Fatalf("get from the hung master before the next probe: %v, want a fast failure", err)
	}

	if err := ms[1].Resume(); err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Second)
	clock.Store(&later)
	// The call that finds the probe due starts it in the background and
	// fails at once; once the probe has its answer the keys are read.
	if _, _, err := r.Get(ctx, hung); err == nil || !strings.Contains(err.Error(), "probing") {
		t.Fatalf("the call that starts the probe: %v, want a fast failure", err)
	}
	r.WaitProbes()
	if b, ok, err := r.Get(ctx, hung); err != nil || !ok || string(b) != "v-"+hung {
		t.Fatalf("probe of the master that answers again: %q %v %v, want its value", b, ok, err)
	}
	if !r.Up() || r.DownServers() != 0 {
		t.Fatalf("Up = %v, DownServers = %d once every master answers, want true, 0", r.Up(), r.DownServers())
	}
}
