package sharedlimits

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// TestBatchFollowsRedisLatency: a reservation asks for 50 ms of the rate
// (1 to 100) while Redis answers at once, and for what the rate takes in
// two round trips when it is slow, up to the burst: the half batch left
// when a refill is asked for then lasts until it arrives.
func TestBatchFollowsRedisLatency(t *testing.T) {
	tests := []struct {
		rate    float64
		latency time.Duration
		want    int
	}{
		{1500, 0, 75},
		{1500, time.Millisecond, 75},
		{1500, 400 * time.Millisecond, 1200},
		{1500, 2 * time.Second, 1500}, // the burst
		{10000, 0, 100},
		{10000, 20 * time.Millisecond, 400},
		{5, 400 * time.Millisecond, 4},
		{0.5, 400 * time.Millisecond, 1},
	}
	for _, tt := range tests {
		l := New(nil, Options{})
		for range 20 { // the average settles on a steady latency
			l.reserveTook(tt.latency)
		}
		th := &throttle{l: l}
		th.perSec.Store(math.Float64bits(tt.rate))
		if got := th.batch(); got != tt.want {
			t.Errorf("rate %v/s, reservations taking %v: batch %d, want %d", tt.rate, tt.latency, got, tt.want)
		}
	}
}

// TestOneSlowReservationGrowsTheBatch: the first slow reservation after a
// fast spell sizes the next batch at once; the average then follows.
func TestOneSlowReservationGrowsTheBatch(t *testing.T) {
	l := New(nil, Options{})
	for range 20 {
		l.reserveTook(time.Millisecond)
	}
	th := &throttle{l: l}
	th.perSec.Store(math.Float64bits(1500))
	if got := th.batch(); got != 75 {
		t.Fatalf("batch %d after fast reservations, want 75", got)
	}
	l.reserveTook(400 * time.Millisecond)
	if got := th.batch(); got != 1200 {
		t.Fatalf("batch %d after one 400 ms reservation, want 1200", got)
	}
}

// TestFlappingRedisLogsOnce: a Redis that fails and answers in turn (near
// REDIS_TIMEOUT_SECONDS) logs its first degradation at WARNING and its
// end at INFO; the flaps within the next 30 s are DEBUG lines, counted
// by the next WARNING line's repeated.
func TestFlappingRedisLogsOnce(t *testing.T) {
	var logs bytes.Buffer
	l := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	for range 4 {
		l.observe("reserve", errors.New("i/o timeout"))
		l.observe("reserve", nil)
	}
	levels := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var e struct{ Level, Msg string }
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatal(err)
		}
		levels[e.Msg+"/"+e.Level]++
	}
	want := map[string]int{
		"smpp.shared_limits.degraded/WARN": 1, "smpp.shared_limits.restored/INFO": 1,
		"smpp.shared_limits.degraded/DEBUG": 3, "smpp.shared_limits.restored/DEBUG": 3,
	}
	if !maps.Equal(levels, want) {
		t.Fatalf("logged %v, want %v", levels, want)
	}
}

// TestLastingFlapIsLoggedAtWarning: a degradation logged at DEBUG (within
// 30 s of a logged one) that lasts 30 s is logged at WARNING then, and
// its end at INFO: a blip followed by a real outage does not leave the
// outage at DEBUG only.
func TestLastingFlapIsLoggedAtWarning(t *testing.T) {
	var logs bytes.Buffer
	l := New(nil, Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	now := time.Unix(1000, 0)
	l.flap.lines = logging.NewFlaps(func() time.Time { return now })
	l.observe("reserve", errors.New("i/o timeout")) // WARNING
	l.observe("reserve", nil)                       // INFO
	l.observe("reserve", errors.New("i/o timeout")) // within 30 s: DEBUG
	l.logLasting()
	if n := strings.Count(logs.String(), "smpp.shared_limits.degraded"); n != 1 {
		t.Fatalf("degraded logged %d times before it lasted, want 1:\n%s", n, logs.String())
	}
	now = now.Add(logging.FlapWindow)
	l.logLasting()
	l.logLasting() // once only
	l.observe("reserve", nil)
	if n := strings.Count(logs.String(), "smpp.shared_limits.degraded"); n != 2 || !strings.Contains(logs.String(), "degraded_for") {
		t.Fatalf("a lasting degradation: degraded logged %d times, want 2 with degraded_for:\n%s", n, logs.String())
	}
	if n := strings.Count(logs.String(), "smpp.shared_limits.restored"); n != 2 {
		t.Fatalf("restored logged %d times at INFO, want 2 (its end too):\n%s", n, logs.String())
	}
}

// TestHeartbeatEverySecond: the leases are written again every second
// (a third of the lease TTL when shorter). At a third of the default 30 s,
// a Redis restarted empty let binds on other instances exceed max_binds
// for up to 10 s, and /readyz reported the outage as late.
func TestHeartbeatEverySecond(t *testing.T) {
	for _, tt := range []struct {
		ttl, want time.Duration
	}{
		{0, time.Second}, // the default, 30 s
		{30 * time.Second, time.Second},
		{3 * time.Second, time.Second},
		{1500 * time.Millisecond, 500 * time.Millisecond},
	} {
		l := New(nil, Options{LeaseTTL: tt.ttl})
		if got := l.heartbeatEvery(); got != tt.want {
			t.Errorf("LeaseTTL %v: heartbeat every %v, want %v", tt.ttl, got, tt.want)
		}
	}
}

// holdFirstPipeline is a go-redis hook that stops the first pipeline
// until release is closed, telling entered when it arrives.
type holdFirstPipeline struct {
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (h *holdFirstPipeline) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *holdFirstPipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *holdFirstPipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.once.Do(func() {
			close(h.entered)
			<-h.release
		})
		return next(ctx, cmds)
	}
}

// TestLeaseReleasedDuringAHeartbeatStaysReleased: a heartbeat copies the
// leases held, then writes them; a lease released in between, its
// removal done before the heartbeat's write, was written back and
// blocked a bind elsewhere for the lease TTL (max_binds 1: the client
// reconnecting to another instance was refused for 30 s).
func TestLeaseReleasedDuringAHeartbeatStaysReleased(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	l := New(rdb, Options{Prefix: prefix, Instance: "a"})
	if !l.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("the lease was refused")
	}
	hold := &holdFirstPipeline{entered: make(chan struct{}), release: make(chan struct{})}
	rdb.AddHook(hold)
	beat := make(chan struct{})
	go func() { l.heartbeat(ctx); close(beat) }()
	<-hold.entered // the heartbeat has copied the lease and is about to write it
	l.Release("acc", 1)
	work := func() { // what the release worker does with what is queued
		for len(l.releases) > 0 {
			r := <-l.releases
			if err := l.release(ctx, rdb, r).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	work() // the release's removal, before the heartbeat's write
	close(hold.release)
	<-beat
	work()
	if n := l.Counts(ctx, []string{"acc"})[0]; n != 0 {
		t.Fatalf("%d live leases after the heartbeat, want 0: the released one was written again", n)
	}
	if !New(rdb, Options{Prefix: prefix, Instance: "b"}).Acquire(ctx, "acc", 1, 1) {
		t.Fatal("a bind elsewhere was refused with max_binds 1 after the only lease was released")
	}
}

// hangFirst is a go-redis hook that keeps the first pipeline (or, with
// single, the first command) from Redis and fails it as a client-side
// timeout, as a Redis that hangs (SIGSTOP) does; kept holds what it sent,
// which that Redis, resumed, still executes: replay sends it then. While
// the call waits on proceed, the caller is inside it (entered).
type hangFirst struct {
	single  bool
	once    sync.Once
	entered chan struct{}
	proceed chan struct{}
	kept    [][]any
}

func newHangFirst(single bool) *hangFirst {
	return &hangFirst{single: single, entered: make(chan struct{}), proceed: make(chan struct{})}
}

func (h *hangFirst) hang(cmds []redis.Cmder) (hung bool) {
	h.once.Do(func() {
		for _, c := range cmds {
			h.kept = append(h.kept, c.Args())
		}
		close(h.entered)
		<-h.proceed
		hung = true
	})
	return hung
}

func (h *hangFirst) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *hangFirst) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if h.single && h.hang([]redis.Cmder{cmd}) {
			return context.DeadlineExceeded
		}
		return next(ctx, cmd)
	}
}
func (h *hangFirst) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !h.single && h.hang(cmds) {
			return context.DeadlineExceeded
		}
		return next(ctx, cmds)
	}
}

// replay sends what the hook kept, as the resumed Redis executes it.
func (h *hangFirst) replay(t *testing.T, rdb *redis.Client) {
	t.Helper()
	if len(h.kept) == 0 {
		t.Fatal("nothing was sent to the hung Redis")
	}
	for _, args := range h.kept {
		if err := rdb.Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("%v: %v", args[0], err)
		}
	}
}

// releasesDone waits until the release worker has given back n leases.
func releasesDone(t *testing.T, l *Limits, n float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var m dto.Metric
		if err := l.redisCalls.WithLabelValues("release", "ok").Write(&m); err != nil {
			t.Fatal(err)
		}
		if m.GetCounter().GetValue() >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the release worker gave back %v leases, want %v", m.GetCounter().GetValue(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// onlyLeaseFreed: the account has no live lease left, and another
// instance's bind is accepted with max_binds 1.
func onlyLeaseFreed(t *testing.T, rdb *redis.Client, prefix string, l *Limits) {
	t.Helper()
	ctx := context.Background()
	if n := l.Counts(ctx, []string{"acc"})[0]; n != 0 {
		t.Errorf("%d live leases after the only one was released, want 0", n)
	}
	if !New(rdb, Options{Prefix: prefix, Instance: "b"}).Acquire(ctx, "acc", 1, 1) {
		t.Error("a bind elsewhere was refused with max_binds 1 after the only lease was released")
	}
}

// TestStaleRenewAfterReleaseWritesNoLease: a heartbeat's renew that timed
// out on the client (Redis hung) is still executed by Redis when it
// resumes, possibly after the release's removal, sent on another
// connection, and after the heartbeat's second removal. It wrote the
// released lease back for the lease TTL: max_binds 1 refused every bind
// for 30 s and binds.cluster counted a session that did not exist.
func TestStaleRenewAfterReleaseWritesNoLease(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := New(rdb, Options{Prefix: prefix, Instance: "a"})
	if !l.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("the lease was refused")
	}
	hang := newHangFirst(false)
	rdb.AddHook(hang)
	beat := make(chan struct{})
	go func() { l.heartbeat(ctx); close(beat) }()
	<-hang.entered // the renew is on its way to the hung Redis
	l.Release("acc", 1)
	close(hang.proceed) // the heartbeat times out
	<-beat
	go l.releaseLoop(ctx)
	releasesDone(t, l, 2) // the release and the heartbeat's second one
	hang.replay(t, rdb)   // Redis resumes: the stale renew runs last
	onlyLeaseFreed(t, rdb, prefix, l)
}

// TestStaleAcquireAfterReleaseWritesNoLease: a bind's lease request that
// timed out (the bind is accepted, the limits are degraded) and that the
// resumed Redis executes after the session's release must not take the
// lease again either.
func TestStaleAcquireAfterReleaseWritesNoLease(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := acquireScript.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	l := New(rdb, Options{Prefix: prefix, Instance: "a"})
	hang := newHangFirst(true)
	rdb.AddHook(hang)
	close(hang.proceed)
	if !l.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("a bind was refused while Redis hung")
	}
	l.Release("acc", 1)
	go l.releaseLoop(ctx)
	releasesDone(t, l, 1)
	hang.replay(t, rdb)
	onlyLeaseFreed(t, rdb, prefix, l)
}

// TestHeartbeatWritesLostLeasesBack: a Redis that lost the leases
// (restarted empty) has the held ones back at the next heartbeat, and a
// released one stays released.
func TestHeartbeatWritesLostLeasesBack(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := New(rdb, Options{Prefix: prefix, Instance: "a"})
	for s := range uint64(3) {
		if !l.Acquire(ctx, "acc", s, 3) {
			t.Fatal("a lease was refused")
		}
	}
	l.Release("acc", 2)
	go l.releaseLoop(ctx)
	releasesDone(t, l, 1)
	for range 2 {
		l.heartbeat(ctx)
		if n := l.Counts(ctx, []string{"acc"})[0]; n != 2 {
			t.Fatalf("%d live leases after a heartbeat, want the 2 held", n)
		}
		if err := rdb.Del(ctx, l.leaseKey("acc")).Err(); err != nil { // Redis restarted empty
			t.Fatal(err)
		}
	}
}

// TestFailedReleaseIsSentAgain: a release that failed (Redis hung) is
// sent again once a heartbeat finds Redis answering; it was given up, and
// the lease blocked a bind elsewhere for the lease TTL.
func TestFailedReleaseIsSentAgain(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := New(rdb, Options{Prefix: prefix, Instance: "a"})
	if !l.Acquire(ctx, "acc", 1, 1) {
		t.Fatal("the lease was refused")
	}
	hang := newHangFirst(true) // the release
	rdb.AddHook(hang)
	close(hang.proceed)
	l.Release("acc", 1)
	go l.releaseLoop(ctx)
	<-hang.entered
	for l.Healthy(ctx) == nil { // the release has failed
		time.Sleep(time.Millisecond)
	}
	l.heartbeat(ctx) // Redis answers again
	releasesDone(t, l, 1)
	onlyLeaseFreed(t, rdb, prefix, l)
}
