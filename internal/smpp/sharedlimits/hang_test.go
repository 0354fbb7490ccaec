package sharedlimits_test

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp/sharedlimits"
)

// ownRedis starts a redis-server of the test's own (skipped without
// redis-server) and returns its address and process; it is killed at the
// end of the test.
func ownRedis(t *testing.T) (string, *exec.Cmd) { return redistest.Server(t) }

// redisCalls reads smpp_shared_limits_redis_calls_total{kind,result}.
func redisCalls(t *testing.T, reg *prometheus.Registry, kind, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "smpp_shared_limits_redis_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["kind"] == kind && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("smpp_shared_limits_redis_calls_total{kind=%s,result=%s} is not exported", kind, result)
	return 0
}

// TestRedisHangWhileASessionCloses: Redis hangs (SIGSTOP: it keeps its
// connections and answers nothing) while an instance holds the only
// lease of an account with max_binds 1; the session closes; Redis
// resumes and executes, in an order of its own, what reached it while it
// hung. Soon after, the account has no lease and a bind on another
// instance is accepted, not after the lease TTL (30 s). The release's
// first try, its script unknown to Redis yet, times out and then fails
// with NOSCRIPT: it must be sent again.
func TestRedisHangWhileASessionCloses(t *testing.T) {
	addr, srv := ownRedis(t)
	ctx := context.Background()
	newInstance := func(name string) (*sharedlimits.Limits, *prometheus.Registry, redis.UniversalClient) {
		rdb, err := redisconn.New(redisconn.Settings{URL: "redis://" + addr + "/0", Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		reg := prometheus.NewRegistry()
		return sharedlimits.New(rdb, sharedlimits.Options{Instance: name, Timeout: 200 * time.Millisecond, Registerer: reg}), reg, rdb
	}
	a, regA, _ := newInstance("a")
	b, _, _ := newInstance("b")
	run(t, a)
	run(t, b)
	if !a.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("the lease was refused")
	}
	if err := srv.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Renews of the lease time out on the client, then the session
	// closes while Redis still hangs.
	if !eventually(func() bool { return redisCalls(t, regA, "heartbeat", "error") >= 2 }) {
		t.Fatal("no heartbeat timed out while Redis hung")
	}
	a.Release("acc", 1)
	if !eventually(func() bool { return redisCalls(t, regA, "release", "error") >= 1 }) {
		t.Fatal("the release did not time out while Redis hung")
	}
	if err := srv.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if !eventually(func() bool { return a.Healthy(ctx) == nil && b.Healthy(ctx) == nil }) {
		t.Fatal("the limits stayed degraded after Redis resumed")
	}
	// Within a few seconds (the heartbeat's second release), not after
	// the lease TTL (30 s).
	deadline := time.Now().Add(3 * time.Second)
	for b.Counts(ctx, []string{"acc"})[0] != 0 || !b.Acquire(ctx, "acc", 2, 1) {
		if time.Now().After(deadline) {
			t.Fatalf("3 s after Redis resumed the account still has %d live leases and a bind elsewhere is refused with max_binds 1",
				b.Counts(ctx, []string{"acc"})[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
}
