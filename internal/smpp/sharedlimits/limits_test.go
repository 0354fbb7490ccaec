package sharedlimits_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp/sharedlimits"
)

func newPair(t *testing.T, ttl time.Duration) (a, b *sharedlimits.Limits, rdb *redis.Client) {
	t.Helper()
	rdb, prefix := redistest.Client(t)
	a = sharedlimits.New(rdb, sharedlimits.Options{Prefix: prefix, Instance: "a", LeaseTTL: ttl})
	b = sharedlimits.New(rdb, sharedlimits.Options{Prefix: prefix, Instance: "b", LeaseTTL: ttl})
	return a, b, rdb
}

func run(t *testing.T, l *sharedlimits.Limits) context.CancelFunc {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return cancel
}

func TestLeasesHoldAcrossInstances(t *testing.T) {
	a, b, _ := newPair(t, 30*time.Second)
	run(t, a)
	run(t, b)
	ctx := context.Background()
	if !a.Acquire(ctx, "acc", 1, 2) || !b.Acquire(ctx, "acc", 1, 2) {
		t.Fatal("the first two leases were refused")
	}
	if a.Acquire(ctx, "acc", 2, 2) || b.Acquire(ctx, "acc", 2, 2) {
		t.Fatal("a third lease was granted with max_binds 2")
	}
	if !a.Acquire(ctx, "other", 1, 1) {
		t.Fatal("another account's lease was refused")
	}
	if n := b.Counts(ctx, []string{"acc"})[0]; n != 2 {
		t.Fatalf("Counts = %d; want 2", n)
	}
	a.Release("acc", 1)
	// The release is asynchronous: wait until Redis shows it.
	if !eventually(func() bool { return b.Counts(ctx, []string{"acc"})[0] == 1 }) {
		t.Fatal("the released lease is still counted")
	}
	if !b.Acquire(ctx, "acc", 2, 2) {
		t.Fatal("a lease was refused after a release")
	}
}

func TestLeasesOfADeadInstanceExpire(t *testing.T) {
	a, b, _ := newPair(t, 3*time.Second)
	run(t, b) // a never renews: it died
	ctx := context.Background()
	if !a.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("lease refused")
	}
	if b.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("second lease granted with max_binds 1")
	}
	if !eventually(func() bool { return b.Acquire(ctx, "acc", 1, 1) }) {
		t.Fatal("the dead instance's lease never expired")
	}
}

func TestHeartbeatKeepsLeases(t *testing.T) {
	a, b, _ := newPair(t, 3*time.Second)
	run(t, a)
	ctx := context.Background()
	if !a.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("lease refused")
	}
	// Two lease lifetimes later the renewed lease still holds.
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) {
		if b.Acquire(ctx, "acc", 1, 1) {
			t.Fatal("a renewed lease expired")
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func TestThroughputIsShared(t *testing.T) {
	a, b, _ := newPair(t, 30*time.Second)
	run(t, a)
	run(t, b)
	// 0.01/s: a burst of one message, then one every 100 s, for both
	// instances together. The pools fill in the background, so ask until
	// the one message goes through, then some more.
	ta, tb := a.Throttle("acc", 0.01), b.Throttle("acc", 0.01)
	allowed, rounds := 0, 0
	for deadline := time.Now().Add(10 * time.Second); rounds < 50 && time.Now().Before(deadline); {
		for _, th := range []smpp.Throttle{ta, tb} {
			if th.AllowN(1) {
				allowed++
			}
		}
		if allowed > 0 {
			rounds++
		}
		time.Sleep(10 * time.Millisecond)
	}
	if allowed != 1 {
		t.Fatalf("two instances allowed %d messages at 0.01/s, want the burst of 1", allowed)
	}
	// Another account has its own limit.
	other := a.Throttle("other", 0.01)
	if !eventually(func() bool { return other.AllowN(1) }) {
		t.Fatal("another account was throttled")
	}
}

// TestRaisedThroughputAppliesAtOnce: at 0.01/s the one message of the
// burst passes, then none for 100 s. The account's throughput raised to
// 100/s by a reload lets messages through at once: the limiter's state in
// Redis, kept at the old rate, no longer holds the new one back.
func TestRaisedThroughputAppliesAtOnce(t *testing.T) {
	a, _, _ := newPair(t, 30*time.Second)
	run(t, a)
	th := a.Throttle("acc", 0.01)
	if !eventually(func() bool { return th.AllowN(1) }) {
		t.Fatal("the burst's message did not pass")
	}
	th.SetRate(100)
	if !eventually(func() bool { return th.AllowN(1) }) {
		t.Fatal("nothing passed within 10 s of raising the throughput to 100/s")
	}
}

// TestCountsAnswersEveryAccount: Counts gives each account's leases in
// one pipeline; while the limits are degraded (Redis hangs) it answers -1
// for every account without asking Redis, so a listing of many accounts
// does not wait out the timeout once per account.
func TestCountsAnswersEveryAccount(t *testing.T) {
	a, b, _ := newPair(t, 30*time.Second)
	ctx := context.Background()
	if !a.Acquire(ctx, "acc", 1, 3) || !b.Acquire(ctx, "acc", 1, 3) || !a.Acquire(ctx, "other", 2, 3) {
		t.Fatal("a lease was refused")
	}
	if got := b.Counts(ctx, []string{"acc", "other", "none"}); !slices.Equal(got, []int{2, 1, 0}) {
		t.Fatalf("Counts = %v, want [2 1 0]", got)
	}

	addr, got, release := stallingRedis(t)
	defer close(release)
	// As the gateway's client: the context's deadline bounds each call.
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	l := sharedlimits.New(rdb, sharedlimits.Options{Instance: "a", Timeout: 100 * time.Millisecond})
	if !l.Acquire(ctx, "acc", 1, 1) { // times out: degraded
		t.Fatal("without Redis a lease must be granted")
	}
	<-got
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("acc%d", i)
	}
	for i, n := range l.Counts(ctx, ids) {
		if n != -1 {
			t.Fatalf("Counts[%d] = %d while degraded, want -1", i, n)
		}
	}
	select {
	case <-got:
		t.Fatal("Counts asked a Redis known not to answer")
	default:
	}
}

// stallingRedis accepts connections and reads requests but answers only
// once release is closed, like a Redis that hangs.
func stallingRedis(t *testing.T) (addr string, got <-chan struct{}, release chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gotc, release := make(chan struct{}, 1), make(chan struct{})
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				if _, err := c.Read(buf); err == nil {
					select {
					case gotc <- struct{}{}:
					default:
					}
				}
				<-release
			}()
		}
	}()
	return ln.Addr().String(), gotc, release
}

// TestSharedThroughputCountsEveryDestination: a submit_multi to three
// numbers at 0.01/s passes on the one token there is and owes two: no
// instance lets another message through for the next 200 s.
func TestSharedThroughputCountsEveryDestination(t *testing.T) {
	a, b, _ := newPair(t, 30*time.Second)
	run(t, a)
	run(t, b)
	ta, tb := a.Throttle("multi", 0.01), b.Throttle("multi", 0.01)
	// The one token is in whichever pool got it first.
	if !eventually(func() bool { return ta.AllowN(3) || tb.AllowN(3) }) {
		t.Fatal("the multi never passed")
	}
	for range 20 {
		for _, th := range []smpp.Throttle{ta, tb} {
			if th.AllowN(1) {
				t.Fatal("a message passed while the multi's destinations are owed")
			}
		}
		time.Sleep(10 * time.Millisecond) // let refills run and be refused
	}
}

// Allow runs on a session's reader goroutine: with an empty pool it
// answers at once (throttled) while the refill waits for Redis.
func TestAllowNeverWaitsForRedis(t *testing.T) {
	addr, got, release := stallingRedis(t)
	defer close(release)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, Protocol: 2})
	t.Cleanup(func() { _ = rdb.Close() })
	l := sharedlimits.New(rdb, sharedlimits.Options{Instance: "a", Timeout: time.Minute})
	run(t, l)
	th := l.Throttle("acc", 100)
	answered := make(chan bool, 1)
	go func() { answered <- th.AllowN(1) }()
	select {
	case ok := <-answered:
		if ok {
			t.Fatal("allowed with an empty pool")
		}
	case <-time.After(10 * time.Second): // guards against a hang only
		t.Fatal("Allow waited for Redis")
	}
	select {
	case <-got: // a refill was asked for, in the background
	case <-time.After(10 * time.Second):
		t.Fatal("no refill reached Redis")
	}
}

func TestFallsBackPerInstanceWithoutRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	reg := prometheus.NewRegistry()
	l := sharedlimits.New(rdb, sharedlimits.Options{Instance: "a", Timeout: 200 * time.Millisecond, Registerer: reg})
	ctx := context.Background()
	if !l.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("without Redis a lease must be granted (the local count applies)")
	}
	if err := l.Healthy(ctx); !errors.Is(err, sharedlimits.ErrDegraded) {
		t.Fatalf("Healthy = %v, want ErrDegraded", err)
	}
	// Once degraded, a bind does not wait for Redis again: no second
	// lease call is made.
	if !l.Acquire(ctx, "acc", 2, 1) {
		t.Fatal("a second lease must be granted while degraded")
	}
	if got := leaseErrors(t, reg); got != 1 {
		t.Fatalf("%v failed lease calls, want 1: the second bind asked Redis", got)
	}
	th := l.Throttle("acc", 0.5)
	allowed := 0
	for range 10 {
		if th.AllowN(1) {
			allowed++
		}
	}
	if allowed != 1 {
		t.Fatalf("fallback allowed %d at 0.5/s, want the local burst of 1", allowed)
	}
	mfs, _ := reg.Gather()
	found := false
	for _, mf := range mfs {
		if mf.GetName() == "smpp_shared_limits_degraded" {
			found = true
			if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 1 {
				t.Fatalf("smpp_shared_limits_degraded = %v, want 1", v)
			}
		}
	}
	if !found {
		t.Fatal("smpp_shared_limits_degraded is not exported")
	}
}

// TestHealthyOnceRedisAnswered: an instance that has not yet reached
// Redis does not report its limits as shared (readyz would say so while
// Redis is absent at start), and reports them once Redis answers.
func TestHealthyOnceRedisAnswered(t *testing.T) {
	a, _, _ := newPair(t, 30*time.Second)
	ctx := context.Background()
	if err := a.Healthy(ctx); !errors.Is(err, sharedlimits.ErrDegraded) {
		t.Fatalf("before Redis answered: Healthy = %v, want ErrDegraded", err)
	}
	run(t, a)
	if !eventually(func() bool { return a.Healthy(ctx) == nil }) {
		t.Fatalf("Redis answers: Healthy = %v, want nil", a.Healthy(ctx))
	}
}

// TestIdleInstanceReportsOutage: an instance with no bound session finds
// out that Redis does not answer by its heartbeat (every third of the
// lease lifetime), not at the next bind.
func TestIdleInstanceReportsOutage(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })
	l := sharedlimits.New(rdb, sharedlimits.Options{Instance: "a", LeaseTTL: 3 * time.Second, Timeout: 200 * time.Millisecond})
	stop := run(t, l)
	defer stop()
	if !eventually(func() bool { return errors.Is(l.Healthy(context.Background()), sharedlimits.ErrDegraded) }) {
		t.Fatal("an idle instance without Redis does not report degraded")
	}
}

// eventually polls cond for up to 10 s.
func eventually(cond func() bool) bool {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func TestStopReleasesQueuedLeases(t *testing.T) {
	a, b, _ := newPair(t, 30*time.Second)
	ctx := context.Background()
	const n = 20
	for i := range n {
		if !a.Acquire(ctx, "acc", uint64(i), n) {
			t.Fatal("lease refused")
		}
	}
	// The sessions close as the instance stops: Run's context has already
	// ended when it gets to the releases.
	for i := range n {
		a.Release("acc", uint64(i))
	}
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	a.Run(stopped)
	if got := b.Counts(ctx, []string{"acc"})[0]; got != 0 {
		t.Fatalf("%d leases left after the stop, want 0", got)
	}
}

// leaseErrors reads smpp_shared_limits_redis_calls_total{kind="lease",result="error"}.
func leaseErrors(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	return redisCalls(t, reg, "lease", "error")
}

// TestBurstPassesOnCredit: at 100/s a pool holds about 7 tokens (50 ms of
// the rate), yet a client's burst of 60 messages passes at once, as the
// GCRA's burst of one second's worth allows and as it does without Redis;
// it used to pass 5–7 and throttle the rest. What passed on credit is
// reserved in Redis: the two instances together then keep to the limit.
func TestBurstPassesOnCredit(t *testing.T) {
	a, b, _ := newPair(t, 30*time.Second)
	run(t, a)
	run(t, b)
	const rate = 100.0
	begun := time.Now() // Redis grants its burst, then the rate from here
	ta, tb := a.Throttle("acc", rate), b.Throttle("acc", rate)
	if !eventually(func() bool { return ta.AllowN(1) }) || !eventually(func() bool { return tb.AllowN(1) }) {
		t.Fatal("no batch reached the pools")
	}
	passed := 0
	for range 60 {
		if ta.AllowN(1) {
			passed++
		}
	}
	if passed != 60 {
		t.Fatalf("a burst of 60 at %v/s: %d passed, want all (within the burst of one second's worth)", rate, passed)
	}
	// Both instances flooded: what passes over the flood is what Redis
	// granted (its burst, then the rate) plus at most what each pool may
	// owe (the burst) and hold (a batch and a half: 50 ms of the rate, up
	// to the burst while Redis is slow to answer, as on a loaded machine).
	flood := 62 // the two messages and the burst above
	for start := time.Now(); time.Since(start) < time.Second; {
		for _, th := range []smpp.Throttle{ta, tb} {
			if th.AllowN(1) {
				flood++
			}
		}
	}
	elapsed := time.Since(begun).Seconds()
	bound := int(rate + rate*elapsed + 2*(rate+1.5*rate))
	t.Logf("%d passed in %.2fs since the throttles were made, at most %d", flood, elapsed, bound)
	if flood > bound {
		t.Fatalf("%d passed over %.2fs at %v/s on two instances, want at most %d", flood, elapsed, rate, bound)
	}
}

// TestBurstAfterAnOverloadPassesOnceIdle: an account throttled until Redis
// said "none left", then idle while its debt was paid and its burst came
// back in Redis, passes its next burst on credit; it used to pass only
// what the pool held (5 of 20 at 100/s), the credit being Redis's last
// word from the overload.
func TestBurstAfterAnOverloadPassesOnceIdle(t *testing.T) {
	a, _, _ := newPair(t, 30*time.Second)
	run(t, a)
	const rate = 100.0
	th := a.Throttle("acc", rate)
	if !eventually(func() bool { return th.AllowN(1) }) {
		t.Fatal("no batch reached the pool")
	}
	// Overload until throttled for a while: Redis's burst is spent.
	throttled := 0
	for throttled < 1000 {
		if !th.AllowN(1) {
			throttled++
		}
	}
	// Idle until the debt the overload left (at most the burst, 1 s of
	// the rate) is paid, a batch at a time as Redis has them when the
	// overload spent the credit, and Redis has at least 20 back: Redis's
	// own time, so a real wait, with a second to spare for a loaded
	// machine.
	time.Sleep(2500 * time.Millisecond)
	passed := 0
	for range 20 {
		if th.AllowN(1) {
			passed++
		}
	}
	if passed != 20 {
		t.Fatalf("a burst of 20 after 2.5 s idle at %v/s: %d passed, want 20", rate, passed)
	}
}

// TestSlowReservationHoldsNoOtherAccount: one account's reservation
// waiting on Redis does not hold another account's refill (a single
// worker made every account wait behind each slow call in turn).
func TestSlowReservationHoldsNoOtherAccount(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	slowAsked, fastAsked := make(chan struct{}), make(chan struct{})
	var slowOnce, fastOnce sync.Once
	rdb.AddHook(reserveHook{on: func(key string) {
		switch {
		case strings.HasSuffix(key, "throughput:slow"):
			slowOnce.Do(func() { close(slowAsked) })
			select { // Redis is slow for this account until the other asks
			case <-fastAsked:
			case <-time.After(10 * time.Second):
			}
		case strings.HasSuffix(key, "throughput:fast"):
			fastOnce.Do(func() { close(fastAsked) })
		}
	}})
	l := sharedlimits.New(rdb, sharedlimits.Options{Prefix: prefix, Instance: "a"})
	run(t, l)
	_ = l.Throttle("slow", 100) // asks for its first batch at once
	<-slowAsked
	_ = l.Throttle("fast", 100)
	select {
	case <-fastAsked:
	case <-time.After(5 * time.Second):
		t.Fatal("the second account's reservation waited for the first's")
	}
}

// reserveHook calls on with the key of every command that names a
// throughput limiter.
type reserveHook struct{ on func(key string) }

func (h reserveHook) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h reserveHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		for _, a := range cmd.Args() {
			if s, ok := a.(string); ok && strings.Contains(s, "gw:throughput:") {
				h.on(s)
				break
			}
		}
		return next(ctx, cmd)
	}
}
func (h reserveHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
