package sharedlimits

import (
	"math"
	"testing"
	"time"
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
