package smpp

import (
	"net/netip"
	"testing"
	"time"
)

func TestBindGuardSlowsRepeatedFailures(t *testing.T) {
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	g := newBindGuard(time.Second, func() time.Time { return now })
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var delays []time.Duration
	for range 6 {
		delays = append(delays, g.delay(a))
		g.failed(a)
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if d := g.delay(b); d != 0 {
		t.Fatalf("another address is slowed down by %v", d)
	}
	now = now.Add(failureWindow + time.Second)
	if d := g.delay(a); d != 0 {
		t.Fatalf("failures older than the window still slow down: %v", d)
	}
	for range 20 {
		g.failed(a)
	}
	if d := g.delay(a); d != maxBindDelay {
		t.Fatalf("delay %v after many failures, want the cap %v", d, maxBindDelay)
	}
	g.succeeded(a)
	if d := g.delay(a); d != 0 {
		t.Fatalf("a successful bind did not reset the delay: %v", d)
	}
}
