package dlr

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// blackholeRedis accepts connections and never answers: a paused Redis.
func blackholeRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// TestOutcomeRecordsAreBounded: with Redis not answering, outcome records
// of receipt-less messages (nobody waits for them) stop being queued at
// maxWaitingRecords instead of growing without bound.
func TestOutcomeRecordsAreBounded(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: blackholeRedis(t), ReadTimeout: time.Minute, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() }) // fails the blocked commits at once
	q := NewRedisQueue(c, RedisOptions{CommitTimeout: time.Minute})
	o := Outcome{State: pdu.StateDelivered, At: t0}
	// Committers hold at most maxCommitters batches out of the queue.
	limit := maxWaitingRecords + maxCommitters*putBatchMax + 1
	refused := 0
	for i := range limit {
		r := receipt(fmtID(i), "acme", 0)
		q.RecordAsync(o, r, func(err error) {
			if errors.Is(err, ErrRecordBacklog) {
				refused++ // refusals are answered at once, on this goroutine
			}
		})
	}
	if refused == 0 {
		t.Fatalf("%d records queued behind a Redis that never answers, none refused", limit)
	}
	q.put.mu.Lock()
	waiting := q.put.records
	q.put.mu.Unlock()
	if waiting > maxWaitingRecords {
		t.Fatalf("%d records waiting, bound %d", waiting, maxWaitingRecords)
	}
}

func fmtID(i int) string {
	const hex = "0123456789ABCDEF"
	b := []byte("0000000000000000")
	for j := 15; j >= 0 && i > 0; j-- {
		b[j] = hex[i&15]
		i >>= 4
	}
	return string(b)
}

// failSAdd fails SADD while on is set: the accounts set's shard is down.
type failSAdd struct{ on *atomic.Bool }

func (h failSAdd) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h failSAdd) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.on.Load() && cmd.Name() == "sadd" {
			cmd.SetErr(errDown)
			return errDown
		}
		return next(ctx, cmd)
	}
}
func (h failSAdd) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// TestAccountListedAfterFailedAdd: an account whose first receipts were
// stored while adding it to the accounts set failed is added by the next
// sweep, even if it never stores another receipt: other instances' expiry
// sweeps and lease upkeep find accounts only there.
func TestAccountListedAfterFailedAdd(t *testing.T) {
	base := redisTestClient(t)
	prefix := redisTestPrefix(t, base)
	opts := base.(*redis.Client).Options()
	c := redis.NewClient(opts)
	t.Cleanup(func() { _ = c.Close() })
	var down atomic.Bool
	down.Store(true)
	c.AddHook(failSAdd{&down})
	q := NewRedisQueue(c, RedisOptions{Prefix: prefix})
	ctx := context.Background()
	if err := q.Put(ctx, receipt("00000000000000F1", "quiet", 0)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := base.SIsMember(ctx, q.accountsKey(), "quiet").Result(); ok {
		t.Fatal("listed although SADD failed")
	}
	down.Store(false)
	q.mu.Lock()
	q.listRetry = time.Time{} // the retry pause is over
	q.mu.Unlock()
	_ = q.Maintain(ctx)
	if ok, err := base.SIsMember(ctx, q.accountsKey(), "quiet").Result(); err != nil || !ok {
		t.Fatalf("after a sweep the account is listed: %v (%v), want true", ok, err)
	}
}

// TestCommitBacklogGauge: dlr_commit_backlog counts the receipts handed to
// the group commit until Redis answers them, here a Redis that never does
// until the client is closed: every put is counted from PutAsync on, a
// put is no longer counted by the time its caller hears of it, and none
// is once every commit failed.
func TestCommitBacklogGauge(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: blackholeRedis(t), MaxRetries: -1, ReadTimeout: time.Minute, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = c.Close() })
	reg := prometheus.NewRegistry()
	q := NewRedisQueue(c, RedisOptions{CommitTimeout: time.Minute, Registerer: reg})
	backlog := func() float64 { return float64(q.put.backlog()) } // what the gauge reads
	const n = 3
	type answer struct {
		err     error
		backlog float64 // when the caller heard of it
	}
	done := make(chan answer, n)
	for i := range n {
		q.PutAsync(receipt(fmtID(i+1), "acme", 0), func(err error) { done <- answer{err, backlog()} })
	}
	if got := metric(t, reg, "dlr_commit_backlog"); got != n {
		t.Fatalf("dlr_commit_backlog = %v with %d puts waiting for Redis, want %d", got, n, n)
	}
	_ = c.Close() // fails the blocked commits at once
	for range n {
		a := <-done
		if a.err == nil {
			t.Fatal("a put succeeded against a Redis that never answers")
		}
		if a.backlog > n-1 {
			t.Fatalf("dlr_commit_backlog = %v when a put's caller heard of its failure, want it off the count by then", a.backlog)
		}
	}
	if got := metric(t, reg, "dlr_commit_backlog"); got != 0 {
		t.Fatalf("dlr_commit_backlog = %v once every commit failed, want 0", got)
	}
}

// TestForgottenLostClaimsAreCounted: claims of one account that all fail
// (Redis refuses connections) are remembered for the sweep's take-back up
// to maxLostClaims; each one forgotten beyond that is counted, since its
// receipts wait for the visibility timeout instead.
func TestForgottenLostClaimsAreCounted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every dial is refused
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, DialerRetries: 1, DialerRetryTimeout: time.Millisecond})
	defer c.Close()
	reg := prometheus.NewRegistry()
	q := NewRedisQueue(c, RedisOptions{Registerer: reg})
	ctx := context.Background()
	now := time.Now()
	const claims = maxLostClaims + 5
	for i := range claims {
		if _, _, _, err := q.ClaimNext(ctx, "acct", now, time.Minute, 10); err == nil {
			t.Fatalf("claim %d against a refused connection succeeded", i)
		}
		want := float64(max(i+1-maxLostClaims, 0))
		if got := counterValue(t, reg, "dlr_lost_claims_forgotten_total"); got != want {
			t.Fatalf("after %d failed claims dlr_lost_claims_forgotten_total = %v, want %v", i+1, got, want)
		}
	}
	if l := q.claims.take("acct"); len(l) != maxLostClaims {
		t.Errorf("remembered %d lost claims, want %d", len(l), maxLostClaims)
	}
}

// counterValue is the sum of the counter name's series in reg; the test
// fails when reg has no such metric.
func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			var v float64
			for _, m := range mf.GetMetric() {
				v += m.GetCounter().GetValue()
			}
			return v
		}
	}
	t.Fatalf("%s is not registered", name)
	return 0
}

// deadlineHook reports the deadline of every pipeline sent.
type deadlineHook struct{ sent chan time.Time }

func (h deadlineHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h deadlineHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h deadlineHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		dl, _ := ctx.Deadline()
		h.sent <- dl
		return next(ctx, cmds)
	}
}

// TestCommitEndsATimeoutAfterItsOldestReceipt: a receipt that queued
// while the committer waited for a Redis that does not answer is
// committed with what is left of its own CommitTimeout, not a new one:
// with Redis hung, a submit is held at most REDIS_TIMEOUT_SECONDS before
// its receipt goes to the outage buffer (it was twice that).
func TestCommitEndsATimeoutAfterItsOldestReceipt(t *testing.T) {
	const timeout = 300 * time.Millisecond
	c := redis.NewClient(&redis.Options{Addr: blackholeRedis(t), ReadTimeout: time.Minute, ContextTimeoutEnabled: true, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	sent := make(chan time.Time, 16)
	c.AddHook(deadlineHook{sent: sent})
	q := NewRedisQueue(c, RedisOptions{CommitTimeout: timeout})
	done := make(chan error, 2)
	q.PutAsync(receipt("00000000000000A1", "acme", 0), func(err error) { done <- err })
	<-sent // the first batch is in flight, its committer waits for Redis
	q.PutAsync(receipt("00000000000000A2", "acme", 0), func(err error) { done <- err })
	queued := time.Now() // the second receipt was queued before this
	var dl time.Time
	select {
	case dl = <-sent:
	case <-time.After(10 * time.Second):
		t.Fatal("the second receipt was never sent")
	}
	// (A committer idle at that moment may have taken it at once, with a
	// whole timeout from then: hence the slack, far below a second
	// timeout.)
	if limit := queued.Add(timeout + timeout/4); dl.After(limit) {
		t.Fatalf("the second receipt's commit ends %v after it was queued, want at most %v", dl.Sub(queued), limit.Sub(queued))
	}
	for range 2 {
		if err := <-done; err == nil {
			t.Fatal("a put to a Redis that never answers succeeded")
		}
	}
}

// slowHook makes every pipeline take d longer, as a busy Redis answering
// in d would (the wait ends with the context, as a read deadline would).
type slowHook struct{ d time.Duration }

func (h slowHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h slowHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h slowHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		select {
		case <-time.After(h.d):
		case <-ctx.Done():
			for _, c := range cmds {
				c.SetErr(ctx.Err())
			}
			return ctx.Err()
		}
		return next(ctx, cmds)
	}
}

// TestSlowRedisStoresEveryReceipt: a Redis that answers every commit
// within CommitTimeout (in 150 ms of 500) stores every receipt, also
// those that queued behind a commit in flight; measuring their commit
// from when they were queued failed about half of them.
func TestSlowRedisStoresEveryReceipt(t *testing.T) {
	c := redisTestClient(t)
	c.AddHook(slowHook{d: 150 * time.Millisecond})
	q := NewRedisQueue(c, RedisOptions{Prefix: redisTestPrefix(t, c), CommitTimeout: 500 * time.Millisecond})
	const n = 40
	errs := make(chan error, n)
	for i := range n {
		q.PutAsync(receipt(fmtID(i+1), "acme", 0), func(err error) { errs <- err })
		time.Sleep(10 * time.Millisecond) // puts arrive while commits are in flight
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a receipt failed against a Redis answering within its timeout: %v", err)
		}
	}
}
