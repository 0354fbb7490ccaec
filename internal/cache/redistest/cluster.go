package redistest

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterMaster is one redis-server of a Cluster started by [Cluster].
type ClusterMaster struct {
	Addr string
	bus  int // the Cluster bus port
	cmd  *exec.Cmd
}

// Pause freezes the master (SIGSTOP): it holds its connections and
// answers nothing, as a hung process or a partition that drops packets.
func (m *ClusterMaster) Pause() error { return m.cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused master go on (SIGCONT).
func (m *ClusterMaster) Resume() error { return m.cmd.Process.Signal(syscall.SIGCONT) }

// Server starts a plain redis-server of the test's own on a free loopback
// port (skipped without redis-server), waits until it answers and returns
// its address and process; it is killed at the end of the test.
func Server(t testing.TB) (string, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	port := FreePort(t)
	cmd := startServer(t, bin, port)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	waitFor(t, "redis-server to answer", func() bool { return c.Ping(context.Background()).Err() == nil })
	return addr, cmd
}

// startServer starts redis-server on port without persistence, with
// extra arguments, and kills it (resumed first, were it paused) at the
// end of the test.
func startServer(t testing.TB, bin string, port int, extra ...string) *exec.Cmd {
	t.Helper()
	args := append([]string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", t.TempDir()}, extra...)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// Cluster starts masters redis-server processes of the test's own on
// loopback (skipped without redis-server) as one Cluster, the slots
// shared out in equal ranges, no replicas, and returns a Cluster client
// on it. The processes are killed at the end of the test.
func Cluster(t testing.TB, masters int) (*redis.ClusterClient, []*ClusterMaster) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	ctx := context.Background()
	ms := make([]*ClusterMaster, masters)
	nodes := make([]*redis.Client, masters)
	for i := range ms {
		port, bus := FreePort(t), FreePort(t)
		cmd := startServer(t, bin, port, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(bus))
		ms[i] = &ClusterMaster{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), bus: bus, cmd: cmd}
		nodes[i] = redis.NewClient(&redis.Options{Addr: ms[i].Addr})
		t.Cleanup(func() { nodes[i].Close() })
		waitFor(t, "redis-server "+ms[i].Addr+" to answer", func() bool { return nodes[i].Ping(ctx).Err() == nil })
	}
	per := 16384 / masters
	for i, n := range nodes {
		last := (i+1)*per - 1
		if i == masters-1 {
			last = 16383
		}
		if err := n.Do(ctx, "cluster", "addslotsrange", i*per, last).Err(); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			// The bus port is named: it is not the default (port + 10000).
			host, port, _ := net.SplitHostPort(ms[i].Addr)
			if err := nodes[0].Do(ctx, "cluster", "meet", host, port, ms[i].bus).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	known := "cluster_known_nodes:" + strconv.Itoa(masters)
	for _, n := range nodes {
		waitFor(t, "the Cluster to form", func() bool {
			info, err := n.ClusterInfo(ctx).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, known)
		})
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{ms[0].Addr}, MaxRedirects: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { c.Close() })
	return c, ms
}

// waitFor polls ok every 20 ms for up to 20 s.
func waitFor(t testing.TB, what string, ok func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(20 * time.Second)
	for !ok() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// KeyOn returns the first key(i), i = 0, 1, …, whose slot the master at
// addr serves (a test that freezes one master picks keys on each).
func KeyOn(t testing.TB, c *redis.ClusterClient, addr string, key func(i int) string) string {
	t.Helper()
	for i := range 10_000 {
		k := key(i)
		node, err := c.MasterForKey(context.Background(), k)
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
