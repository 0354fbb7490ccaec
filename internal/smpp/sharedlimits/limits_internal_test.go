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
	"testing"
	"time"

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

// TestRaisedRateClearsTheStateOnce: every instance reloads a raised
// throughput and tells Redis; only the first clears the limiter's state
// (one burst passes), the others find the rate recorded and leave the
// state as it is. They each cleared it, and N instances let N bursts
// through. A lowered rate is recorded, so raising it back clears again.
func TestRaisedRateClearsTheStateOnce(t *testing.T) {
	rdb, prefix := redistest.Client(t)
	ctx := context.Background()
	a := New(rdb, Options{Prefix: prefix, Instance: "a"})
	b := New(rdb, Options{Prefix: prefix, Instance: "b"})
	ta, tb := a.Throttle("acc", 10).(*throttle), b.Throttle("acc", 10).(*throttle)
	state, _, _ := rateStateKeys(ta.key)
	stateKept := func() bool { return rdb.Exists(ctx, state).Val() == 1 }
	for _, step := range []struct {
		l       *Limits
		t       *throttle
		rate    float64
		cleared bool
	}{
		{a, ta, 20, true},  // the first instance to raise
		{b, tb, 20, false}, // the next one to the same rate
		{a, ta, 10, false}, // lowered: recorded, never cleared
		{b, tb, 10, false},
		{b, tb, 20, true}, // raised back
		{a, ta, 20, false},
	} {
		if err := rdb.Set(ctx, state, "kept at the old rate", 0).Err(); err != nil {
			t.Fatal(err)
		}
		step.t.SetRate(step.rate)
		c := step.t.change.Swap(0)
		step.l.setRate(ctx, step.t, c == rateRaised)
		if cleared := !stateKept(); cleared != step.cleared {
			t.Fatalf("instance %s to %v/s: state cleared %v, want %v", step.l.opts.Instance, step.rate, cleared, step.cleared)
		}
	}
}

// TestRateStateKeysShareASlot: the record of the rate must hash to the
// state's Cluster slot, or the script setting both would be refused.
func TestRateStateKeysShareASlot(t *testing.T) {
	for _, tt := range []struct {
		key, state, record string
		ok                 bool
	}{
		{"gw:throughput:acc", "rate:gw:throughput:acc", "{rate:gw:throughput:acc}:set_for", true},
		{"{gw}:throughput:acc", "rate:{gw}:throughput:acc", "rate:{gw}:throughput:acc:set_for", true},
		{"gw:{}:acc", "rate:gw:{}:acc", "", false}, // an empty tag is no tag: hashed whole, braces and all
		{"gw:a}b", "rate:gw:a}b", "", false},
	} {
		state, record, ok := rateStateKeys(tt.key)
		if state != tt.state || record != tt.record || ok != tt.ok {
			t.Errorf("rateStateKeys(%q) = %q, %q, %v; want %q, %q, %v", tt.key, state, record, ok, tt.state, tt.record, tt.ok)
		}
	}
}
