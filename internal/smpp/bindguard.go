package smpp

import (
	"net/netip"
	"sync"
	"time"
)

// bindGuard slows down repeated failed binds from one address: after
// freeFailures failures within window, each further bind answer waits
// step × 2^(failures-freeFailures-1), at most maxDelay. Passwords are
// never recorded.
type bindGuard struct {
	step time.Duration
	now  func() time.Time

	mu       sync.Mutex
	failures map[netip.Addr]*failureCount
}

type failureCount struct {
	n    int
	last time.Time
}

const (
	freeFailures  = 3
	failureWindow = 5 * time.Minute
	maxBindDelay  = 10 * time.Second
	maxTracked    = 100000
)

func newBindGuard(step time.Duration, now func() time.Time) *bindGuard {
	return &bindGuard{step: step, now: now, failures: make(map[netip.Addr]*failureCount)}
}

// delay is how long to hold the answer to a bind from addr that fails.
func (g *bindGuard) delay(addr netip.Addr) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.failures[addr]
	if f == nil || g.now().Sub(f.last) > failureWindow || f.n < freeFailures {
		return 0
	}
	d := g.step << min(f.n-freeFailures, 10)
	return min(d, maxBindDelay)
}

func (g *bindGuard) failed(addr netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if len(g.failures) >= maxTracked {
		for a, f := range g.failures {
			if now.Sub(f.last) > failureWindow {
				delete(g.failures, a)
			}
		}
	}
	f := g.failures[addr]
	if f == nil || now.Sub(f.last) > failureWindow {
		f = &failureCount{}
		g.failures[addr] = f
	}
	f.n++
	f.last = now
}

func (g *bindGuard) succeeded(addr netip.Addr) {
	g.mu.Lock()
	delete(g.failures, addr)
	g.mu.Unlock()
}
