package smpp

import (
	"testing"
	"time"
)

// TestIdleBudgetWindowNeverMovesBack: the PDUs of one read carry that
// read's time. Those still buffered after a pause count in the second the
// pause opened; restarting the window at their older time ended it soon
// after the pause, and a flood got up to twice the limit through in a
// second.
func TestIdleBudgetWindowNeverMovesBack(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	steps := []struct {
		arrived time.Time
		wait    time.Duration
	}{
		{ms(0), 0},
		{ms(100), 0},
		{ms(100), 900 * time.Millisecond}, // the third in the second [0, 1000): pause to 1000
		{ms(100), 0},                      // read before the pause: counts in [1000, 2000)
		{ms(1000), 0},
		{ms(1000), time.Second}, // the third in [1000, 2000)
		{ms(2500), 0},           // a later second starts afresh
		{ms(2600), 0},
	}
	var b idleBudget
	for i, st := range steps {
		if got := b.spend(st.arrived, 2); got != st.wait {
			t.Fatalf("step %d (at %v): pause %v, want %v", i, st.arrived.Sub(t0), got, st.wait)
		}
	}
	var free idleBudget
	for range 10 {
		if got := free.spend(t0, -1); got != 0 {
			t.Fatalf("no limit: pause %v", got)
		}
	}
}
