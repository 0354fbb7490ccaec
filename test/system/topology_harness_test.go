package system

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// This file starts real Redis topologies from Debian's redis-server on
// free loopback ports: a Redis Cluster (masters with one replica each) and
// a Sentinel set (a master, replicas and three Sentinels). Every process
// is killed by PID in t.Cleanup.

// nodeClient opens a client on one node, without retries, so a test sees
// what the node says.
func nodeClient(t *testing.T, addr, pass string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: pass, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: 2 * time.Second, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func shortCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 3*time.Second)
}

// pause stops the process with SIGSTOP (it keeps its sockets but answers
// nothing) until resume.
func (r *redisServer) pause() error {
	r.frozen.Store(true)
	return r.p.cmd.Process.Signal(syscall.SIGSTOP)
}

func (r *redisServer) resume() error {
	defer r.frozen.Store(false)
	return r.p.cmd.Process.Signal(syscall.SIGCONT)
}

// answers reports whether r's process runs and is not frozen.
func (r *redisServer) answers() bool { return r.p.running() && !r.frozen.Load() }

// --- Cluster ---

// clusterNodeTimeout is cluster-node-timeout: how long a master must be
// unreachable before its replica is promoted.
const clusterNodeTimeout = 1500 * time.Millisecond

// redisCluster is a Redis Cluster of private redis-server processes.
type redisCluster struct {
	t     *testing.T
	nodes []*redisServer
	ids   map[*redisServer]string
}

// startCluster starts masters*2 nodes with AOF (appendfsync everysec) and
// joins them with redis-cli --cluster create, one replica per master, then
// waits until every node sees every slot served and every replica in sync.
func startCluster(t *testing.T, masters int) *redisCluster {
	t.Helper()
	cli := redisBinary(t, "redis-cli")
	c := &redisCluster{t: t, ids: map[*redisServer]string{}}
	var addrs []string
	for range masters * 2 {
		r := startOnFreePorts(t, func() *redisServer {
			r := newRedisServer(t)
			r.args = []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
				"--appendonly", "yes", "--appendfsync", "everysec", "--dir", r.dir, "--protected-mode", "no",
				"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-require-full-coverage", "no",
				"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout / time.Millisecond)),
				"--cluster-port", strconv.Itoa(freePort(t))}
			return r
		})
		c.nodes = append(c.nodes, r)
		addrs = append(addrs, r.addr())
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, n := range c.nodes {
		ctx, cancel := shortCtx()
		id, err := nodeClient(t, n.addr(), "").ClusterMyID(ctx).Result()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		c.ids[n] = id
	}
	if !waitFor(30*time.Second, c.settled) {
		t.Fatalf("the cluster did not settle:\n%s", c.describe())
	}
	return c
}

// settled reports whether every node answers, sees cluster_state:ok and
// all 16384 slots on masters that each have an online replica.
func (c *redisCluster) settled() bool {
	for _, n := range c.nodes {
		if !n.p.running() {
			continue
		}
		ctx, cancel := shortCtx()
		info, err := nodeClient(c.t, n.addr(), "").ClusterInfo(ctx).Result()
		cancel()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return false
		}
	}
	for _, m := range c.masters() {
		ctx, cancel := shortCtx()
		info, err := nodeClient(c.t, m.addr(), "").Info(ctx, "replication").Result()
		cancel()
		if err != nil || !strings.Contains(info, "connected_slaves:1") || !strings.Contains(info, "state=online") {
			return false
		}
	}
	return true
}

// URL is the gateway's REDIS_URL for the cluster: every master as a seed.
func (c *redisCluster) URL() string {
	var seeds []string
	for _, m := range c.masters() {
		seeds = append(seeds, m.addr())
	}
	return "redis-cluster://" + strings.Join(seeds, ",")
}

// node returns the running node of an address.
func (c *redisCluster) node(addr string) *redisServer {
	for _, n := range c.nodes {
		if n.addr() == addr {
			return n
		}
	}
	return nil
}

// live returns a running node to ask about the cluster.
func (c *redisCluster) live() *redisServer {
	for _, n := range c.nodes {
		if n.answers() {
			return n
		}
	}
	c.t.Fatal("no cluster node is running")
	return nil
}

// slots returns, as one running node sees it, the master serving each
// slot range.
func (c *redisCluster) slots() ([]redis.ClusterSlot, error) {
	ctx, cancel := shortCtx()
	defer cancel()
	return nodeClient(c.t, c.live().addr(), "").ClusterSlots(ctx).Result()
}

// masters returns the nodes serving slots, as a running node sees it.
func (c *redisCluster) masters() []*redisServer {
	slots, err := c.slots()
	if err != nil {
		c.t.Fatal(err)
	}
	seen := map[string]bool{}
	var out []*redisServer
	for _, s := range slots {
		if a := s.Nodes[0].Addr; !seen[a] {
			seen[a] = true
			out = append(out, c.node(a))
		}
	}
	return out
}

// replicasOf returns the nodes that replicate master, as a running node
// sees it (CLUSTER NODES: a replica's line names its master's id).
func (c *redisCluster) replicasOf(master *redisServer) []*redisServer {
	ctx, cancel := shortCtx()
	defer cancel()
	text, err := nodeClient(c.t, c.live().addr(), "").ClusterNodes(ctx).Result()
	if err != nil {
		c.t.Fatal(err)
	}
	var out []*redisServer
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != c.ids[master] || !strings.Contains(f[2], "slave") {
			continue
		}
		for n, id := range c.ids {
			if id == f[0] {
				out = append(out, n)
			}
		}
	}
	return out
}

// keySlot is the cluster slot of key.
func (c *redisCluster) keySlot(key string) int {
	ctx, cancel := shortCtx()
	defer cancel()
	n, err := nodeClient(c.t, c.live().addr(), "").ClusterKeySlot(ctx, key).Result()
	if err != nil {
		c.t.Fatal(err)
	}
	return int(n)
}

// masterOf returns the master serving slot, as a running node sees it.
func (c *redisCluster) masterOf(slot int) *redisServer {
	slots, err := c.slots()
	if err != nil {
		c.t.Fatal(err)
	}
	for _, s := range slots {
		if slot >= int(s.Start) && slot <= int(s.End) {
			return c.node(s.Nodes[0].Addr)
		}
	}
	c.t.Fatalf("no master serves slot %d", slot)
	return nil
}

// waitPromoted waits until slot is served by a node other than dead and
// returns it and when it was first seen.
func (c *redisCluster) waitPromoted(slot int, dead *redisServer, d time.Duration) (*redisServer, time.Time, bool) {
	var m *redisServer
	ok := waitFor(d, func() bool {
		slots, err := c.slots()
		if err != nil {
			return false
		}
		for _, s := range slots {
			if slot >= int(s.Start) && slot <= int(s.End) && s.Nodes[0].Addr != dead.addr() {
				m = c.node(s.Nodes[0].Addr)
				return true
			}
		}
		return false
	})
	return m, time.Now(), ok
}

// migrateSlot moves slot from its master to dst the way redis-cli
// --cluster reshard does: IMPORTING on dst, MIGRATING on the source, MIGRATE
// the keys in batches, then assign the slot to dst everywhere.
func (c *redisCluster) migrateSlot(slot int, dst *redisServer) error {
	src := c.masterOf(slot)
	if src == dst {
		return fmt.Errorf("slot %d is already on %s", slot, dst.addr())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, d := nodeClient(c.t, src.addr(), ""), nodeClient(c.t, dst.addr(), "")
	if err := d.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", c.ids[src]).Err(); err != nil {
		return fmt.Errorf("SETSLOT IMPORTING: %w", err)
	}
	if err := s.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", c.ids[dst]).Err(); err != nil {
		return fmt.Errorf("SETSLOT MIGRATING: %w", err)
	}
	for {
		keys, err := s.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			return fmt.Errorf("GETKEYSINSLOT: %w", err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", "127.0.0.1", dst.port, "", 0, 5000, "REPLACE", "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := s.Do(ctx, args...).Err(); err != nil {
			return fmt.Errorf("MIGRATE: %w", err)
		}
	}
	for _, n := range append([]*redisServer{dst, src}, c.masters()...) {
		if err := nodeClient(c.t, n.addr(), "").Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", c.ids[dst]).Err(); err != nil {
			return fmt.Errorf("SETSLOT NODE on %s: %w", n.addr(), err)
		}
	}
	return nil
}

// describe is CLUSTER NODES as a running node sees it, for failure
// messages.
func (c *redisCluster) describe() string {
	for _, n := range c.nodes {
		if !n.answers() {
			continue
		}
		ctx, cancel := shortCtx()
		s, err := nodeClient(c.t, n.addr(), "").ClusterNodes(ctx).Result()
		cancel()
		if err == nil {
			return s
		}
	}
	return "(no node answers)"
}

// --- Sentinel ---

const (
	sentinelMaster  = "gw"
	sentinelDownAft = 1000 * time.Millisecond // down-after-milliseconds
)

// sentinelSet is a master, its replicas and three Sentinels, with a
// password on the data nodes and another on the Sentinels.
type sentinelSet struct {
	t            *testing.T
	data         []*redisServer // the first is the initial master
	sentinels    []*redisServer
	pass, sentPw string
}

// startSentinelSet starts a master with AOF, replicas of it and three
// Sentinels (quorum 2), and waits until every Sentinel knows the replicas
// and the other Sentinels.
func startSentinelSet(t *testing.T, replicas int) *sentinelSet {
	t.Helper()
	s := &sentinelSet{t: t, pass: "data-pw-1", sentPw: "sentinel-pw-2"}
	for i := range 1 + replicas {
		r := startOnFreePorts(t, func() *redisServer {
			r := newRedisServer(t)
			r.pass = s.pass
			r.args = []string{"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1", "--save", "",
				"--appendonly", "yes", "--appendfsync", "everysec", "--dir", r.dir, "--protected-mode", "no",
				"--requirepass", s.pass, "--masterauth", s.pass}
			if i > 0 {
				r.args = append(r.args, "--replicaof", "127.0.0.1", strconv.Itoa(s.data[0].port))
			}
			return r
		})
		s.data = append(s.data, r)
	}
	for range 3 {
		r := startOnFreePorts(t, func() *redisServer {
			r := newRedisServer(t)
			r.pass = s.sentPw
			conf := filepath.Join(r.dir, "sentinel.conf")
			text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndir %s\nrequirepass %s\n"+
				"sentinel monitor %s 127.0.0.1 %d 2\nsentinel auth-pass %s %s\n"+
				"sentinel down-after-milliseconds %s %d\nsentinel failover-timeout %s 10000\nsentinel parallel-syncs %s 1\n",
				r.port, r.dir, s.sentPw, sentinelMaster, s.data[0].port, sentinelMaster, s.pass,
				sentinelMaster, sentinelDownAft/time.Millisecond, sentinelMaster, sentinelMaster)
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			r.args = []string{conf, "--sentinel"}
			return r
		})
		s.sentinels = append(s.sentinels, r)
	}
	if !waitFor(30*time.Second, func() bool { return s.settled(replicas) }) {
		t.Fatalf("the Sentinels did not settle: %s", s.describe())
	}
	return s
}

// sentinelInfo is SENTINEL MASTER as one Sentinel answers it.
func (s *sentinelSet) sentinelInfo(r *redisServer) (map[string]string, error) {
	ctx, cancel := shortCtx()
	defer cancel()
	c := redis.NewSentinelClient(&redis.Options{Addr: r.addr(), Password: s.sentPw, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	return c.Master(ctx, sentinelMaster).Result()
}

func (s *sentinelSet) settled(replicas int) bool {
	for _, r := range s.sentinels {
		m, err := s.sentinelInfo(r)
		if err != nil || m["num-slaves"] != strconv.Itoa(replicas) || m["num-other-sentinels"] != "2" || strings.Contains(m["flags"], "down") {
			return false
		}
	}
	ctx, cancel := shortCtx()
	defer cancel()
	info, err := nodeClient(s.t, s.master().addr(), s.pass).Info(ctx, "replication").Result()
	return err == nil && strings.Contains(info, fmt.Sprintf("connected_slaves:%d", replicas)) && !strings.Contains(info, "state=wait_bgsave")
}

// master returns the data node the first answering Sentinel names master.
func (s *sentinelSet) master() *redisServer {
	for _, r := range s.sentinels {
		m, err := s.sentinelInfo(r)
		if err != nil {
			continue
		}
		for _, d := range s.data {
			if m["port"] == strconv.Itoa(d.port) {
				return d
			}
		}
	}
	s.t.Fatal("no Sentinel names a master")
	return nil
}

// URL is the gateway's REDIS_URL: every Sentinel, the data password as the
// master's and the Sentinels' own password.
func (s *sentinelSet) URL() string {
	var addrs []string
	for _, r := range s.sentinels {
		addrs = append(addrs, r.addr())
	}
	return fmt.Sprintf("redis-sentinel://:%s@%s/0?master=%s&sentinel_password=%s", s.pass, strings.Join(addrs, ","), sentinelMaster, s.sentPw)
}

// waitFailover waits until every Sentinel names a master other than old
// and that node says it is a master; it returns it and when it was seen.
func (s *sentinelSet) waitFailover(old *redisServer, d time.Duration) (*redisServer, time.Time, bool) {
	var nm *redisServer
	ok := waitFor(d, func() bool {
		nm = nil
		for _, r := range s.sentinels {
			m, err := s.sentinelInfo(r)
			if err != nil || m["port"] == strconv.Itoa(old.port) {
				return false
			}
			for _, dn := range s.data {
				if m["port"] == strconv.Itoa(dn.port) {
					nm = dn
				}
			}
		}
		if nm == nil {
			return false
		}
		ctx, cancel := shortCtx()
		defer cancel()
		role, err := nodeClient(s.t, nm.addr(), s.pass).Do(ctx, "ROLE").Slice()
		return err == nil && len(role) > 0 && role[0] == "master"
	})
	return nm, time.Now(), ok
}

// failover asks the first Sentinel that answers for a failover
// (SENTINEL FAILOVER): a handover without waiting for the master to be
// found down.
func (s *sentinelSet) failover() error {
	var err error
	for _, r := range s.sentinels {
		ctx, cancel := shortCtx()
		c := redis.NewSentinelClient(&redis.Options{Addr: r.addr(), Password: s.sentPw, MaxRetries: -1, DialTimeout: time.Second})
		err = c.Failover(ctx, sentinelMaster).Err()
		c.Close()
		cancel()
		if err == nil {
			return nil
		}
	}
	return fmt.Errorf("SENTINEL FAILOVER: %w", err)
}

func (s *sentinelSet) describe() string {
	var b strings.Builder
	for _, r := range s.sentinels {
		m, err := s.sentinelInfo(r)
		fmt.Fprintf(&b, "\nsentinel %s: %v %v", r.addr(), m, err)
	}
	return b.String()
}

// replicationLag says how many bytes of the master's replication stream
// each replica lacks, as "addr: n bytes" items.
func (s *sentinelSet) replicationLag(master *redisServer) string {
	ctx, cancel := shortCtx()
	defer cancel()
	offset := func(r *redisServer, field string) int64 {
		info, err := nodeClient(s.t, r.addr(), s.pass).Info(ctx, "replication").Result()
		if err != nil {
			return -1
		}
		for _, line := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(line, field+":"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return -1
	}
	m := offset(master, "master_repl_offset")
	var parts []string
	for _, d := range s.data {
		if d != master && d.p.running() {
			parts = append(parts, fmt.Sprintf("%s: %d bytes", d.addr(), m-offset(d, "slave_repl_offset")))
		}
	}
	return strings.Join(parts, ", ")
}

// cutReplication sets masterauth on every replica of master to pass and
// closes their link to it: with a wrong password they cannot reconnect,
// so they lag; with the right one they follow again.
func (s *sentinelSet) cutReplication(master *redisServer, pass string) error {
	ctx, cancel := shortCtx()
	defer cancel()
	for _, d := range s.data {
		if d == master || !d.p.running() {
			continue
		}
		c := nodeClient(s.t, d.addr(), s.pass)
		if err := c.ConfigSet(ctx, "masterauth", pass).Err(); err != nil {
			return err
		}
		if pass != s.pass {
			if err := c.Do(ctx, "CLIENT", "KILL", "TYPE", "master").Err(); err != nil {
				return err
			}
		}
	}
	return nil
}
