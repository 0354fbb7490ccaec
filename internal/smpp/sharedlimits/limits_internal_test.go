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
			if err := rdb.ZRem(ctx, l.leaseKey(r.systemID), l.member(r.session)).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	work() // the release's removal, before the heartbeat's write
	close(hold.release)
	<-beat
	work()
	if err := rdb.ZScore(ctx, l.leaseKey("acc"), l.member(1)).Err(); !errors.Is(err, redis.Nil) {
		t.Fatalf("the released lease is in Redis after the heartbeat (ZSCORE: %v)", err)
	}
	if !New(rdb, Options{Prefix: prefix, Instance: "b"}).Acquire(ctx, "acc", 1, 1) {
		t.Fatal("a bind elsewhere was refused with max_binds 1 after the only lease was released")
	}
}
