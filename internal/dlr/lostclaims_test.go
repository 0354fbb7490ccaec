package dlr

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// replyCutter is a TCP proxy to Redis that, when armed, cuts the
// connection on which the next reply arrives instead of passing it on:
// the command ran, its client never learns how.
type replyCutter struct {
	ln    net.Listener
	to    string
	armed atomic.Bool
	cut   chan struct{} // a send per reply cut
	wg    sync.WaitGroup
}

func newReplyCutter(t *testing.T, to string) *replyCutter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &replyCutter{ln: ln, to: to, cut: make(chan struct{}, 8)}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *replyCutter) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		r, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); _, _ = io.Copy(r, c); r.Close() }()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			defer r.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := r.Read(buf)
				if n > 0 && p.armed.CompareAndSwap(true, false) {
					p.cut <- struct{}{}
					return
				}
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// TestLostClaimReplyIsTakenBack: a claim whose reply is lost after Redis
// ran it (a connection cut, a failover) leased receipts the instance never
// got; the next sweep makes them due again, not the visibility timeout (a
// minute here).
func TestLostClaimReplyIsTakenBack(t *testing.T) {
	direct := redisTestClient(t)
	opts := *direct.(*redis.Client).Options()
	p := newReplyCutter(t, opts.Addr)
	opts.Addr = p.ln.Addr().String()
	opts.MaxRetries = -1 // the reply is lost for good
	c := redis.NewClient(&opts)
	t.Cleanup(func() { c.Close() })
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, direct), InstanceID: "a"})
	ctx := context.Background()
	want := []string{"00000000000000L1", "00000000000000L2", "00000000000000L3"}
	for _, id := range want {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	// A claim before anything is due: the script is in Redis's cache, so
	// the next claim is one EVALSHA and the reply cut is the script's.
	if got := claimIDs(t, q, "acme", t0.Add(-time.Hour)); len(got) != 0 {
		t.Fatalf("claimed %v before anything was due", got)
	}
	now := t0.Add(time.Second)
	p.armed.Store(true)
	if rs, err := q.Claim(ctx, "acme", now, time.Minute, 100); err == nil {
		t.Fatalf("the claim whose reply was cut returned %d receipts and no error", len(rs))
	}
	<-p.cut
	if n, _ := direct.ZCard(ctx, q.leaseKey("acme", "a")).Result(); n != int64(len(want)) {
		t.Fatalf("the cut claim leased %d receipts, want %d (it must have run)", n, len(want))
	}
	if got := claimIDs(t, q, "acme", now.Add(time.Millisecond)); len(got) != 0 {
		t.Fatalf("a claim before the sweep returned %v, want none (leased)", got)
	}
	if err := q.Maintain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := claimIDs(t, q, "acme", now.Add(2*time.Millisecond)); !slices.Equal(got, want) {
		t.Fatalf("the claim after the sweep returned %v, want the lost claim's %v", got, want)
	}
	if got := claimIDs(t, q, "acme", now.Add(3*time.Millisecond)); len(got) != 0 {
		t.Fatalf("a last claim returned %v, want none (each receipt once)", got)
	}
}

// TestClaimRunTwiceReturnsTheSameReceipts: the claim script run again with
// the same lease end (a client's retry after a lost reply) returns what
// the first run leased, and leases nothing more.
func TestClaimRunTwiceReturnsTheSameReceipts(t *testing.T) {
	c := redisTestClient(t)
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c), InstanceID: "a"})
	ctx := context.Background()
	for _, id := range []string{"00000000000000T1", "00000000000000T2", "00000000000000T3"} {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Second)
	until := now.Add(time.Minute).UnixMilli()
	first, _, err := q.leaseDue(ctx, "acme", q.claimKeys("acme"), now, until, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first run: %v %v, want 2 ids", first, err)
	}
	again, _, err := q.leaseDue(ctx, "acme", q.claimKeys("acme"), now, until, 2)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(first)
	slices.Sort(again)
	if !slices.Equal(first, again) {
		t.Fatalf("the run again returned %v, want the first run's %v", again, first)
	}
	if got := claimIDs(t, q, "acme", now.Add(time.Millisecond)); !slices.Equal(got, []string{"00000000000000T3"}) {
		t.Fatalf("the next claim returned %v, want the one receipt left", got)
	}
}

func TestClaimLeaseEndsAreUniquePerAccount(t *testing.T) {
	c := newClaimLeases()
	for _, tc := range []struct {
		sys        string
		want, then int64
	}{
		{"a", 1000, 1000},
		{"a", 1000, 1001}, // the same millisecond: one later
		{"a", 999, 1002},  // a clock that stepped back
		{"b", 1000, 1000}, // another account has its own
		{"a", 5000, 5000},
	} {
		if got := c.next(tc.sys, tc.want); got != tc.then {
			t.Errorf("next(%s, %d) = %d, want %d", tc.sys, tc.want, got, tc.then)
		}
	}
	forgotten := 0
	for i := range maxLostClaims + 3 {
		n := c.failed("a", int64(i))
		if want := min(max(i+1-maxLostClaims, 0), 1); n != want {
			t.Errorf("failed #%d forgot %d, want %d", i+1, n, want)
		}
		forgotten += n
	}
	if forgotten != 3 {
		t.Errorf("forgot %d lease ends in all, want 3", forgotten)
	}
	if l := c.take("a"); len(l) != maxLostClaims || l[0] != 3 {
		t.Errorf("kept %d lost claims from %d, want the last %d", len(l), l[0], maxLostClaims)
	}
	if l := c.take("a"); len(l) != 0 {
		t.Errorf("take kept %v", l)
	}
}

// TestLostClaimsPutBackFirst: lease ends a sweep took but could not take
// back are older than those remembered since, so they are remembered
// again ahead of them and are the ones forgotten past maxLostClaims.
func TestLostClaimsPutBackFirst(t *testing.T) {
	c := newClaimLeases()
	for i := range 60 {
		c.failed("a", int64(i))
	}
	taken := c.take("a")
	for i := range 10 {
		c.failed("a", int64(100+i)) // claims failing while the sweep runs
	}
	if n := c.putBack("a", taken); n != 6 {
		t.Errorf("putBack forgot %d, want 6", n)
	}
	l := c.take("a")
	if len(l) != maxLostClaims || l[0] != 6 || l[53] != 59 || l[54] != 100 || l[63] != 109 {
		t.Errorf("remembered %v, want 6..59 then 100..109", l)
	}
	if n := c.putBack("a", nil); n != 0 {
		t.Errorf("putBack of nothing forgot %d", n)
	}
}

// refuseScripts answers every script run with a Redis error reply while
// armed, as a Cluster node does for a slot being migrated: the script did
// not run.
type refuseScripts struct {
	armed atomic.Bool
	reply string
}

type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

func (h *refuseScripts) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *refuseScripts) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if name := cmd.Name(); h.armed.Load() && (name == "evalsha" || name == "eval") {
			cmd.SetErr(replyError(h.reply))
			return cmd.Err()
		}
		return next(ctx, cmd)
	}
}
func (h *refuseScripts) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestRefusedClaimIsNotALostClaim: a claim Redis refused (TRYAGAIN while
// its slot migrates) leased nothing; it is not remembered for taking
// back, and many of them count no claims forgotten. A claim cut off after
// it was sent still is (TestLostClaimReplyIsTakenBack).
func TestRefusedClaimIsNotALostClaim(t *testing.T) {
	c := redisTestClient(t)
	h := &refuseScripts{reply: "TRYAGAIN Multiple keys request during rehashing of slot"}
	c.AddHook(h)
	reg := prometheus.NewRegistry()
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c), InstanceID: "a", Registerer: reg})
	ctx := context.Background()
	want := []string{"00000000000000R1", "00000000000000R2"}
	for _, id := range want {
		if err := q.Put(ctx, receipt(id, "acme", 0)); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(time.Second)
	h.armed.Store(true)
	for i := range 2 * maxLostClaims {
		if _, err := q.Claim(ctx, "acme", now.Add(time.Duration(i)*time.Millisecond), time.Minute, 100); err == nil {
			t.Fatal("a refused claim returned no error")
		}
	}
	h.armed.Store(false)
	if lost := q.claims.accounts(); len(lost) != 0 {
		t.Fatalf("refused claims remembered as lost for %v", lost)
	}
	if got := counterValue(t, reg, "dlr_lost_claims_forgotten_total"); got != 0 {
		t.Fatalf("dlr_lost_claims_forgotten_total = %v after refused claims, want 0", got)
	}
	if got := claimIDs(t, q, "acme", now.Add(time.Second)); !slices.Equal(got, want) {
		t.Fatalf("the claim after the refusals returned %v, want %v", got, want)
	}
}
