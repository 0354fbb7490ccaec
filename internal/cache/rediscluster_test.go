package cache_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// clusterMaster is one redis-server of a test Cluster.
type clusterMaster struct {
	addr string
	bus  int // the Cluster bus port
	cmd  *exec.Cmd
}

// twoMasterCluster starts two redis-server processes of the test's own
// (skipped without redis-server) as a Cluster, slots 0–8191 on the first
// and the rest on the second, and returns a Cluster client on it. Both
// are killed at the end of the test.
func twoMasterCluster(t *testing.T) (*redis.ClusterClient, [2]clusterMaster) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	ctx := context.Background()
	var ms [2]clusterMaster
	var nodes [2]*redis.Client
	for i := range ms {
		port, bus := freeTCPPort(t), freeTCPPort(t)
		dir := t.TempDir()
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
			"--dir", dir, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-port", strconv.Itoa(bus))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGCONT)
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		ms[i] = clusterMaster{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bus: bus, cmd: cmd}
		nodes[i] = redis.NewClient(&redis.Options{Addr: ms[i].addr})
		t.Cleanup(func() { nodes[i].Close() })
		waitFor(t, "redis-server "+ms[i].addr+" to answer", func() bool { return nodes[i].Ping(ctx).Err() == nil })
	}
	if err := nodes[0].Do(ctx, "cluster", "addslotsrange", 0, 8191).Err(); err != nil {
		t.Fatal(err)
	}
	if err := nodes[1].Do(ctx, "cluster", "addslotsrange", 8192, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ms[1].addr)
	// The bus port is named: it is not the default (port + 10000).
	if err := nodes[0].Do(ctx, "cluster", "meet", host, port, ms[1].bus).Err(); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		waitFor(t, "the Cluster to form", func() bool {
			info, err := n.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:2")
		})
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{ms[0].addr}, MaxRedirects: -1})
	t.Cleanup(func() { c.Close() })
	return c, ms
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls ok every 20 ms for up to 10 s.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for !ok() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// keyOn returns a cache key (without the prefix) whose slot is served by
// the master at addr.
func keyOn(t *testing.T, c *redis.ClusterClient, prefix, addr string) string {
	t.Helper()
	for i := range 1000 {
		k := "4479" + strconv.Itoa(1000000+i)
		node, err := c.MasterForKey(context.Background(), prefix+k)
		if err != nil {
			t.Fatal(err)
		}
		if node.Options().Addr == addr {
			return k
		}
	}
	t.Fatalf("no key on %s", addr)
	return ""
}

// TestClusterMasterDownMissesOnlyItsKeys: on a Cluster, a master that
// hangs (SIGSTOP) makes only its own keys cache misses: the other
// master's keys are still read, and the hung one's fail fast, one probe
// per RetryAfter in the background, until it answers again. With one
// state for the whole Cluster, its first timeout took every key down.
func TestClusterMasterDownMissesOnlyItsKeys(t *testing.T) {
	c, ms := twoMasterCluster(t)
	now := time.Unix(1000, 0)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	const prefix = "hlr:"
	r := cache.NewRedis(c, cache.RedisOptions{
		Prefix: prefix, OpTimeout: 200 * time.Millisecond, RetryAfter: time.Second,
		Now: func() time.Time { return *clock.Load() },
	})
	ctx := context.Background()
	live, hung := keyOn(t, c, prefix, ms[0].addr), keyOn(t, c, prefix, ms[1].addr)
	for _, k := range []string{live, hung} {
		if err := r.Set(ctx, k, []byte("v-"+k), time.Minute); err != nil {
			t.Fatal(err)
		}
	}

	if err := ms[1].cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Get(ctx, hung); !errors.Is(err, cache.ErrUnavailable) {
		t.Fatalf("get from the hung master: %v, want ErrUnavailable", err)
	}
	if r.Up() {
		t.Fatal("Up with a master down")
	}
	if b, ok, err := r.Get(ctx, live); err != nil || !ok || string(b) != "v-"+live {
		t.Fatalf("get from the live master while the other hangs: %q %v %v, want its value", b, ok, err)
	}
	// Between probes the hung master's keys fail at once: no command
	// waits for it (the error says so, not a timeout).
	if _, _, err := r.Get(ctx, hung); err == nil || !strings.Contains(err.Error(), "next probe pending") {
		t.Fatalf("get from the hung master before the next probe: %v, want a fast failure", err)
	}

	if err := ms[1].cmd.Process.Signal(syscall.SIGCONT); err != nil {
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
	if !r.Up() {
		t.Fatal("not Up once every master answers")
	}
}
