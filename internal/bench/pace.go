package bench

import (
	"context"
	"time"
)

// pacer offers messages at a fixed rate over all sessions: message i is
// due at start + i/rate. A sender that the scheduler wakes late sends
// what is already due at once, so the offered rate holds over the run
// however coarse the sleeps (a token bucket would drop what exceeds its
// burst instead, and offer less than asked on a loaded machine).
type pacer struct {
	start    time.Time
	interval float64 // nanoseconds between two messages
}

func newPacer(start time.Time, rate float64) *pacer {
	return &pacer{start: start, interval: float64(time.Second) / rate}
}

func (p *pacer) due(i uint64) time.Time {
	return p.start.Add(time.Duration(float64(i) * p.interval))
}

// wait returns once message i is due, or false when stop ends first. t is
// the caller's timer, reused from one wait to the next.
func (p *pacer) wait(stop context.Context, i uint64, t *time.Timer) bool {
	d := time.Until(p.due(i))
	if d <= 0 {
		return stop.Err() == nil
	}
	t.Reset(d)
	select {
	case <-t.C:
		return true
	case <-stop.Done():
		t.Stop()
		return false
	}
}
