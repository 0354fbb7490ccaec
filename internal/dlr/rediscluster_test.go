package dlr

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// startRedisServer starts a redis-server of the test's own on a free
// loopback port with args (skipped without redis-server), stopped at the
// end of the test, and returns its address. A port is free when it is
// picked, not always when the server binds it (another process may take
// it in between): a server that exits before it answers is started again
// on other ports, and its own words are in the failure.
func startRedisServer(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("no redis-server")
	}
	var why string
	for range 3 {
		addr, out, ok := tryRedisServer(t, bin, args)
		if ok {
			return addr
		}
		why = out
	}
	t.Fatalf("redis-server did not start: %s", why)
	return ""
}

// tryRedisServer starts one redis-server and waits until it accepts a
// connection (ok) or exits (its output).
func tryRedisServer(t *testing.T, bin string, args []string) (addr, out string, ok bool) {
	t.Helper()
	port := freePort(t)
	dir := t.TempDir()
	all := []string{"--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
	if slices.Contains(args, "--cluster-enabled") {
		// The bus port defaults to port + 10000, which may be taken or
		// above 65535: name a free one.
		all = append(all, "--cluster-port", freePort(t))
	}
	logFile := filepath.Join(dir, "redis.log")
	cmd := exec.Command(bin, append(all, append(args, "--logfile", logFile)...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	addr = net.JoinHostPort("127.0.0.1", port)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Cleanup(func() { _ = cmd.Process.Kill(); <-exited })
			return addr, "", true
		}
		select {
		case <-exited:
			b, _ := os.ReadFile(logFile)
			return "", fmt.Sprintf("exited: %s", b), false
		case <-deadline:
			_ = cmd.Process.Kill()
			<-exited
			b, _ := os.ReadFile(logFile)
			return "", fmt.Sprintf("no answer in 10 s: %s", b), false
		case <-tick.C:
		}
	}
}

// freePort returns a loopback port that was free a moment ago and that
// no other test in this process was given.
func freePort(t *testing.T) string { return strconv.Itoa(redistest.FreePort(t)) }

// oneNodeCluster starts a redis-server in Cluster mode holding every slot
// (skipped without redis-server) and returns a Cluster client on it: the
// queue's Cluster paths (a pipeline of put scripts over several accounts,
// TxPipelined for an ack of one account) against a real Cluster.
func oneNodeCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	addr := startRedisServer(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	ctx := context.Background()
	node := redis.NewClient(&redis.Options{Addr: addr})
	defer node.Close()
	ready := func(check func() bool) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		deadline := time.After(10 * time.Second)
		for !check() {
			select {
			case <-tick.C:
			case <-deadline:
				t.Fatal("the cluster node did not come up")
			}
		}
	}
	ready(func() bool { return node.Ping(ctx).Err() == nil })
	if err := node.Do(ctx, "cluster", "addslotsrange", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	ready(func() bool {
		info, err := node.ClusterInfo(ctx).Result()
		return err == nil && strings.Contains(info, "cluster_state:ok")
	})
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}})
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClusterPutClaimAck: on a Cluster client puts of one account and
// batches of several (one pipeline of scripts) are claimed (ids from the
// script, bodies by HMGET), acked (one account: a transaction; several:
// one script per account) and remembered.
func TestClusterPutClaimAck(t *testing.T) {
	c := oneNodeCluster(t)
	ctx := context.Background()
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a"})
	one := receipt("00000000000000H1", "acme", time.Second)
	if err := q.Put(ctx, one); err != nil {
		t.Fatal(err)
	}
	// Several accounts in one batch: the group commit takes what waits.
	rs := make([]Receipt, 6)
	for i := range rs {
		rs[i] = receipt(fmt.Sprintf("%016X", 0xB0+i), fmt.Sprintf("acct%d", i%3), time.Second)
	}
	for i, err := range q.Restore(ctx, rs) { // restores: scripts
		if err != nil {
			t.Fatalf("restore %d: %v", i, err)
		}
	}
	errs := make(chan error, len(rs))
	for i := range rs {
		rs[i].MessageID = fmt.Sprintf("%016X", 0xC0+i)
		q.PutAsync(rs[i], func(err error) { errs <- err })
	}
	for range rs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	accounts := []string{"acme", "acct0", "acct1", "acct2"}
	var claimed []Receipt
	for _, sys := range accounts {
		want := 4
		if sys == "acme" {
			want = 1
		}
		got, err := q.Claim(ctx, sys, one.DueAt, time.Minute, 100)
		if err != nil || len(got) != want {
			t.Fatalf("%s: claimed %d (%v), want %d", sys, len(got), err, want)
		}
		claimed = append(claimed, got...)
	}
	// One account: a transaction; several: one script per account.
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, claimed[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, claimed[1:]...); err != nil {
		t.Fatal(err)
	}
	for _, sys := range accounts {
		if n, err := q.PendingCount(ctx, sys); err != nil || n != 0 {
			t.Fatalf("%s: %d pending (%v) after the ack", sys, n, err)
		}
		if n, _ := c.Exists(ctx, q.leaseKey(sys, "a")).Result(); n != 0 {
			t.Fatalf("%s: lease set left after the ack", sys)
		}
	}
	for _, r := range claimed {
		if o, ok, err := q.Lookup(ctx, r.SystemID, r.MessageID); err != nil || !ok || o.State != pdu.StateDelivered {
			t.Fatalf("%s: lookup %+v %v %v", r.MessageID, o, ok, err)
		}
	}
}

// hangAccountHook makes the commands of one account (its hash tag) wait
// until their context ends, as a Cluster master that died would, while
// the others go through.
type hangAccountHook struct{ tag string }

func (h hangAccountHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h hangAccountHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h hangAccountHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		var live, dead []redis.Cmder
		for _, c := range cmds {
			if strings.Contains(fmt.Sprint(c.Args()...), h.tag) {
				dead = append(dead, c)
			} else {
				live = append(live, c)
			}
		}
		var err error
		if len(live) > 0 {
			err = next(ctx, live)
		}
		if len(dead) > 0 {
			<-ctx.Done()
			for _, c := range dead {
				c.SetErr(ctx.Err())
			}
			err = ctx.Err()
		}
		return err
	}
}

// TestCommitWithAHungMasterStoresTheOthers: a commit whose deadline ends
// while one account's master does not answer still stores the other
// accounts' groups, so the master is not taken to be hung (which would
// measure the next commits from their oldest receipt, failing healthy
// accounts' receipts that queued meanwhile); a commit of the hung
// account alone that stores nothing in time marks it hung.
func TestCommitWithAHungMasterStoresTheOthers(t *testing.T) {
	c := oneNodeCluster(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a"})
	// The put script is in the node's cache, as it is after the first
	// commit: a commit whose deadline passed has no time to send it again.
	if err := q.Put(context.Background(), receipt("00000000000000E1", "warm", time.Second)); err != nil {
		t.Fatal(err)
	}
	addr := masterAddr(t, c)
	c.AddHook(hangAccountHook{tag: "{dead}"})
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := map[string]error{}
	commit := func(ctx context.Context, batch []putReq) {
		t.Helper()
		for i := range batch {
			id := batch[i].r.MessageID
			wg.Add(1)
			batch[i].h = putHooks{done: func(err error) {
				mu.Lock()
				errs[id] = err
				mu.Unlock()
				wg.Done()
			}}
		}
		q.commit(ctx, batch)
		wg.Wait() // answered by commit or the lane it left them to
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	commit(ctx, []putReq{
		{kind: kindPut, r: receipt("00000000000000D1", "dead", time.Second), at: time.Now()},
		{kind: kindPut, r: receipt("00000000000000A1", "alive", time.Second), at: time.Now()},
	})
	if errs["00000000000000A1"] != nil || !isTimeout(errs["00000000000000D1"]) || q.put.nodeHung(addr) {
		t.Fatalf("errors %v, master hung %v; want the live account stored, the hung one out of time, the master not hung", errs, q.put.nodeHung(addr))
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel2()
	commit(ctx2, []putReq{{kind: kindPut, r: receipt("00000000000000D2", "dead", time.Second), at: time.Now()}})
	if !isTimeout(errs["00000000000000D2"]) || !q.put.nodeHung(addr) {
		t.Fatalf("a commit of the hung account alone: %v, master hung %v; want out of time, hung", errs["00000000000000D2"], q.put.nodeHung(addr))
	}
}

// TestHungMasterCommitGoesOnWithoutTheCommitter: a commit does not wait
// for a master that does not answer: after laneAfter its share is left
// to run as the master's lane and commit returns; once the master is
// taken to be hung, its groups of the next batch go to a lane at once.
// The receipts are still answered, from the batch the committer left to
// them (it does not reuse a batch a lane holds).
func TestHungMasterCommitGoesOnWithoutTheCommitter(t *testing.T) {
	c := oneNodeCluster(t)
	reg := prometheus.NewRegistry()
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a", CommitTimeout: 2 * time.Second, Registerer: reg})
	if err := q.Put(context.Background(), receipt("00000000000000E1", "warm", time.Second)); err != nil {
		t.Fatal(err)
	}
	addr := masterAddr(t, c)
	hook := &switchHook{}
	c.AddHook(hook)
	hook.hang.Store(true)
	failed := make(chan error, 1)
	hung := []putReq{{kind: kindPut, r: receipt("00000000000000D1", "dead", time.Second), at: time.Now(), h: putHooks{done: func(err error) { failed <- err }}}}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if kept := q.commit(ctx, hung); !kept {
		t.Fatal("the first commit to the hung master returned with its answers; want it left to a lane")
	}
	if n := metric(t, reg, "dlr_commit_lanes"); n != 1 {
		t.Fatalf("dlr_commit_lanes = %v with a share left to run, want 1", n)
	}
	if err := <-failed; !isTimeout(err) || !q.put.nodeHung(addr) {
		t.Fatalf("the hung master's put: %v, hung %v; want out of time, hung", err, q.put.nodeHung(addr))
	}

	// The master answers again, but is still taken to be hung: the next
	// batch goes to a lane at once, and commit does not wait for it.
	hook.hang.Store(false)
	done := make(chan string, 1)
	batch := []putReq{{kind: kindPut, r: receipt("00000000000000A1", "alive", time.Second), at: time.Now()}}
	batch[0].h = putHooks{done: func(err error) {
		if err != nil {
			t.Errorf("put: %v", err)
		}
		done <- "00000000000000A1"
	}}
	q.put.committing += len(batch)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 2*time.Second)
	if kept := q.commit(ctx2, batch); !kept {
		t.Fatal("a commit left to a lane: not kept; want it left, commit not waiting for it")
	}
	cancel2() // as the committer does once commit returns
	if id := <-done; id != "00000000000000A1" {
		t.Fatalf("answered %s", id)
	}
	if rs, err := q.Claim(context.Background(), "alive", time.Now().Add(2*time.Second), time.Minute, 10); err != nil || len(rs) != 1 || rs[0].MessageID != "00000000000000A1" {
		t.Fatalf("claimed %v, %v; want the receipt stored", rs, err)
	}
	if q.put.nodeHung(addr) {
		t.Fatal("the master is still taken to be hung after it stored the lane's receipts")
	}
	for q.put.laneCount() != 0 {
		runtime.Gosched() // the lane ends once it finds nothing queued
	}
	if n := metric(t, reg, "dlr_commit_lanes"); n != 0 {
		t.Fatalf("dlr_commit_lanes = %v once the lane ended, want 0", n)
	}
}

// masterAddr is the address of c's master as the client knows it (that
// of its slot map: a node alone does not know its own host).
func masterAddr(t *testing.T, c *redis.ClusterClient) string {
	t.Helper()
	node, err := c.MasterForKey(context.Background(), "x")
	if err != nil {
		t.Fatal(err)
	}
	return node.Options().Addr
}

// switchHook makes every pipeline wait until its context ends while hang
// is set, as a Cluster master that hangs.
type switchHook struct{ hang atomic.Bool }

func (h *switchHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *switchHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *switchHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !h.hang.Load() {
			return next(ctx, cmds)
		}
		<-ctx.Done()
		for _, c := range cmds {
			c.SetErr(ctx.Err())
		}
		return ctx.Err()
	}
}

// TestAckOfAHungMasterBoundedByTheCommitTimeout: on a Cluster an ack
// that takes an account whose master does not answer ends by
// CommitTimeout, whatever the caller's deadline (none here), so the
// dispatcher shard's answer goroutine, which waits for it, is held that
// long only; the other account's receipts of the same ack are removed.
func TestAckOfAHungMasterBoundedByTheCommitTimeout(t *testing.T) {
	c := oneNodeCluster(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: "dlrtest:", InstanceID: "a", CommitTimeout: 200 * time.Millisecond})
	ctx := context.Background()
	var claimed []Receipt
	for _, r := range []Receipt{receipt("00000000000000D1", "dead", 0), receipt("00000000000000A1", "alive", 0),
		receipt("00000000000000E1", "warm1", 0), receipt("00000000000000E2", "warm2", 0)} {
		if err := q.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
		rs, err := q.Claim(ctx, r.SystemID, time.Now().Add(time.Hour), time.Minute, 10)
		if err != nil || len(rs) != 1 {
			t.Fatalf("claim of %s: %v, %v", r.SystemID, rs, err)
		}
		claimed = append(claimed, rs[0])
	}
	dead, alive := claimed[0], claimed[1]
	// The scripts are in the node's cache, as after the first acks: an
	// ack whose deadline passed has no time to send them again.
	if err := q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, claimed[2:]...); err != nil {
		t.Fatal(err)
	}
	c.AddHook(hangAccountHook{tag: "{dead}"})
	for _, rs := range [][]Receipt{{dead}, {dead, alive}} {
		done := make(chan error, 1)
		go func() { done <- q.Ack(ctx, Outcome{State: pdu.StateDelivered, At: t0}, rs...) }()
		select {
		case err := <-done:
			if !isTimeout(err) || !strings.Contains(err.Error(), "dead") && len(rs) > 1 {
				t.Fatalf("ack of %d receipts, one on the hung master: %v, want its timeout", len(rs), err)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("ack of %d receipts, one on the hung master, still waiting after 30 s", len(rs))
		}
	}
	if n, err := q.PendingCount(ctx, "alive"); err != nil || n != 0 {
		t.Fatalf("alive: %d pending (%v) after the ack, want 0", n, err)
	}
}
