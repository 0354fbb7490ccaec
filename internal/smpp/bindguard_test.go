package smpp

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func newTestGuard(clk Clock, entries int) *bindGuard {
	o := Options{Clock: clk, BindGuardEntries: entries, BindTimeout: 10 * time.Second}
	o.setDefaults()
	return newBindGuard(&o)
}

func TestBindGuardSlowsRepeatedFailures(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
	g := newTestGuard(clk, 0)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	var delays []time.Duration
	for range 6 {
		delays = append(delays, g.delay(a, "acct", time.Hour))
		g.failed(a, "acct")
	}
	want := []time.Duration{0, 0, 0, time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if delays[i] != want[i] {
			t.Fatalf("delays %v, want %v", delays, want)
		}
	}
	if d := g.delay(b, "acct", time.Hour); d != 0 {
		t.Fatalf("the same account from another address is slowed down by %v", d)
	}
	if d := g.delay(a, "other", time.Hour); d != 5*time.Second {
		// The address count applies to every account from a.
		t.Fatalf("another account from the flooding address waits %v, want the cap 5s", d)
	}
	clk.Advance(failureWindow + time.Second)
	if d := g.delay(a, "acct", time.Hour); d != 0 {
		t.Fatalf("failures older than the window still slow down: %v", d)
	}
	for range 10 {
		g.failed(a, "acct")
	}
	if d := g.delay(a, "acct", time.Hour); d != 5*time.Second {
		t.Fatalf("delay %v after many failures, want the cap: half the bind timeout", d)
	}
}

// TestBindGuardSuccessClearsOnlyItsOwnPair: a success on one account does
// not reset another account's count, nor the address count.
func TestBindGuardSuccessClearsOnlyItsOwnPair(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
	g := newTestGuard(clk, 0)
	a := netip.MustParseAddr("192.0.2.1")
	for range 5 {
		g.failed(a, "victim")
	}
	g.succeeded(a, "attacker-owned")
	if d := g.delay(a, "victim", time.Hour); d == 0 {
		t.Fatal("a success on another account reset the victim's count")
	}
	g.succeeded(a, "victim")
	if d := g.delay(a, "victim", time.Hour); d == 0 {
		t.Fatal("a success cleared the address count too")
	}
}

func TestBindGuardBlocksAfterMaxFailuresOnce(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
	g := newTestGuard(clk, 0)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	blocks := 0
	for i := range 3 * g.maxFailures {
		if g.failed(a, fmt.Sprint("id", i)) {
			blocks++
		}
	}
	if blocks != 1 {
		t.Fatalf("the address was reported blocked %d times, want once", blocks)
	}
	if !g.blocked(a) || g.blocked(b) {
		t.Fatalf("blocked(a)=%v blocked(b)=%v, want true, false", g.blocked(a), g.blocked(b))
	}
	clk.Advance(g.ban)
	if g.blocked(a) {
		t.Fatal("still blocked after the ban")
	}
}

// TestBindGuardMemoryIsBounded: a flood from many addresses and system_ids
// never grows the tables past their size, and a blocked address survives
// the churn.
func TestBindGuardMemoryIsBounded(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
	g := newTestGuard(clk, 64)
	blockedAddr := netip.MustParseAddr("198.51.100.1")
	for range g.maxFailures {
		g.failed(blockedAddr, "x")
	}
	for i := range 10000 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		g.failed(addr, fmt.Sprint("sys", i))
		if i%97 == 0 {
			g.failed(addr, "x") // some addresses fail twice: fewer evictable
		}
	}
	if a, p := g.size(); a > 64 || p > 64 {
		t.Fatalf("tables hold %d addresses and %d pairs, bound is 64", a, p)
	}
	if !g.blocked(blockedAddr) {
		t.Fatal("the blocked address was evicted by the churn")
	}
}

func TestBindGuardNeverBlocksWhenTurnedOff(t *testing.T) {
	clk := NewFakeClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
	o := Options{Clock: clk, MaxFailedBinds: -1}
	o.setDefaults()
	g := newBindGuard(&o)
	a := netip.MustParseAddr("192.0.2.1")
	for range 1000 {
		if g.failed(a, "x") {
			t.Fatal("blocked with MaxFailedBinds < 0")
		}
	}
	if g.blocked(a) {
		t.Fatal("blocked with MaxFailedBinds < 0")
	}
}

// TestBindGuardParallelChecksTakeTurns: binds of one address + system_id
// that arrive together (parallel connections) have their passwords checked
// one delay apart, so more connections do not mean more guesses, also when
// only the address failed before (against a decoy account); a wait past the
// bind's time left reserves no turn; another account from the same address
// does not queue behind them.
func TestBindGuardParallelChecksTakeTurns(t *testing.T) {
	s := time.Second
	tests := []struct {
		name     string
		failedOn string // the account the address failed against
		limit    time.Duration
		want     []time.Duration // waits of binds for "acct" arriving together
	}{
		{"the account failed", "acct", 3500 * time.Millisecond, []time.Duration{s, 2 * s, 3 * s, 4 * s, 4 * s}},
		{"only the address failed", "decoy", time.Hour, []time.Duration{s, 2 * s, 3 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := NewFakeClock(time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC))
			g := newTestGuard(clk, 0)
			a := netip.MustParseAddr("192.0.2.1")
			for range freeFailures {
				g.failed(a, tt.failedOn)
			}
			var got []time.Duration
			for range tt.want {
				got = append(got, g.delay(a, "acct", tt.limit))
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("waits %v, want %v (one check per second; waits past %v reserve nothing)", got, tt.want, tt.limit)
			}
			if d := g.delay(a, "other", tt.limit); d != s {
				t.Fatalf("another account from the address waits %v, want the address's delay 1s", d)
			}
			clk.Advance(time.Duration(len(tt.want)) * s) // the turns taken have passed
			if d := g.delay(a, "acct", tt.limit); d != s {
				t.Fatalf("after the turns: %v, want the delay again", d)
			}
		})
	}
}
