package smpp

import (
	"sync"
	"time"
)

// FakeClock is a Clock moved only by Advance; tickers and timers fire
// when the clock passes their time. Exported for the external tests.
type FakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters map[*fakeWaiter]struct{}
	added   chan struct{} // signalled when a ticker or timer is created
}

type fakeWaiter struct {
	at     time.Time
	period time.Duration // 0 for a timer
	c      chan time.Time
	clk    *FakeClock
}

// NewFakeClock returns a clock reading now.
func NewFakeClock(now time.Time) *FakeClock {
	return &FakeClock{now: now, waiters: make(map[*fakeWaiter]struct{}), added: make(chan struct{}, 1)}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTicker implements Clock.
func (c *FakeClock) NewTicker(d time.Duration) Ticker { return fakeTicker{c.add(d, d)} }

// NewTimer implements Clock.
func (c *FakeClock) NewTimer(d time.Duration) Timer { return fakeTimer{c.add(d, 0)} }

// Added is signalled each time a ticker or timer is created.
func (c *FakeClock) Added() <-chan struct{} { return c.added }

// Waiters is the number of live tickers and timers.
func (c *FakeClock) Waiters() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.waiters)
}

func (c *FakeClock) add(d, period time.Duration) *fakeWaiter {
	c.mu.Lock()
	w := &fakeWaiter{at: c.now.Add(d), period: period, c: make(chan time.Time, 1), clk: c}
	c.waiters[w] = struct{}{}
	c.mu.Unlock()
	select {
	case c.added <- struct{}{}:
	default:
	}
	return w
}

// Advance moves the clock by d, firing what falls due in order.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var next *fakeWaiter
		for w := range c.waiters {
			if !w.at.After(end) && (next == nil || w.at.Before(next.at)) {
				next = w
			}
		}
		if next == nil {
			break
		}
		if next.at.After(c.now) {
			c.now = next.at
		}
		select {
		case next.c <- c.now:
		default: // a ticker drops ticks its reader missed, like time.Ticker
		}
		if next.period > 0 {
			next.at = next.at.Add(next.period)
		} else {
			delete(c.waiters, next)
		}
	}
	c.now = end
	c.mu.Unlock()
}

func (w *fakeWaiter) stop() bool {
	w.clk.mu.Lock()
	defer w.clk.mu.Unlock()
	_, ok := w.clk.waiters[w]
	delete(w.clk.waiters, w)
	return ok
}

type fakeTicker struct{ w *fakeWaiter }

func (t fakeTicker) C() <-chan time.Time { return t.w.c }
func (t fakeTicker) Stop()               { t.w.stop() }

type fakeTimer struct{ w *fakeWaiter }

func (t fakeTimer) C() <-chan time.Time { return t.w.c }
func (t fakeTimer) Stop() bool          { return t.w.stop() }
