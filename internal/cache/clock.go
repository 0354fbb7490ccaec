package cache

import (
	"sync"
	"sync/atomic"
	"time"
	"weak"
)

// Clock is the precise time source a [CoarseClock] reads. Durations are
// measured between two Now readings, so with [SystemClock] (whose readings
// carry Go's monotonic clock) a jump of the wall clock moves no TTL. Tests
// drive a fake one.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker firing every d.
	NewTicker(d time.Duration) Ticker
}

// Ticker is a periodic ticker of a Clock.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// SystemClock is the real, monotonic clock.
type SystemClock struct{}

// Now returns time.Now(), which carries a monotonic reading.
func (SystemClock) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (SystemClock) NewTicker(d time.Duration) Ticker { return sysTicker{time.NewTicker(d)} }

type sysTicker struct{ t *time.Ticker }

func (t sysTicker) C() <-chan time.Time { return t.t.C }
func (t sysTicker) Stop()               { t.t.Stop() }

// DefaultCoarseResolution is how often a [Memory] cache's default clock
// reads the time. TTLs are seconds to hours, so an entry living a few
// milliseconds more or less than its TTL does not matter.
const DefaultCoarseResolution = 5 * time.Millisecond

// CoarseClock is the time source of a [Memory] cache (an otter.Clock): it
// reads a precise Clock once per resolution in a goroutine of its own, and
// a hit loads the last reading instead of reading the clock itself (a
// clock read was a sizeable part of a hit; an atomic load is not).
//
// Staleness bound: a reading lags the precise clock by at most the
// resolution while the goroutine keeps up, and by the goroutine's
// scheduling delay more when it does not. An entry's expiry is computed
// and checked on readings that lag alike, so an entry lives its TTL give
// or take that lag (with the default, a few milliseconds).
//
// Readings are nanoseconds on the precise clock's monotonic scale, counted
// from its Unix time when the CoarseClock was made, and never go back.
// After Stop the clock reads the precise clock on every call, so a cache
// that still uses it keeps expiring entries on time.
type CoarseClock struct {
	precise    Clock
	start      time.Time
	startNanos int64
	last       atomic.Int64 // the last reading; 0 once stopped

	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}

	mu      sync.Mutex
	tickers []Ticker // those handed out by Tick, stopped by Stop
	stopped bool
}

// NewCoarseClock starts a CoarseClock reading precise once per
// resolution (DefaultCoarseResolution when not positive). Stop it when
// done.
func NewCoarseClock(precise Clock, resolution time.Duration) *CoarseClock {
	if resolution <= 0 {
		resolution = DefaultCoarseResolution
	}
	start := precise.Now()
	c := &CoarseClock{
		precise:    precise,
		start:      start,
		startNanos: start.UnixNano(),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.last.Store(c.startNanos)
	go refreshCoarse(weak.Make(c), precise.NewTicker(resolution), c.stop, c.done)
	return c
}

// refreshCoarse stores a new reading at every tick until Stop. It holds
// the clock weakly, so that a clock nobody stopped (a cache that was not
// closed) does not keep its goroutine and ticker alive: it ends at the
// first tick after the clock is collected.
func refreshCoarse(wc weak.Pointer[CoarseClock], t Ticker, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C():
			c := wc.Value()
			if c == nil {
				return
			}
			c.last.Store(c.preciseNano())
		}
	}
}

// preciseNano reads the precise clock on the coarse clock's scale.
func (c *CoarseClock) preciseNano() int64 {
	return c.startNanos + c.precise.Now().Sub(c.start).Nanoseconds()
}

// NowNano returns the last reading (otter.Clock).
func (c *CoarseClock) NowNano() int64 {
	if n := c.last.Load(); n != 0 {
		return n
	}
	return c.preciseNano()
}

// Tick returns the ticks of a ticker of the precise clock firing every d,
// which Stop stops (otter.Clock: otter's periodic clean-up).
func (c *CoarseClock) Tick(d time.Duration) <-chan time.Time {
	t := c.precise.NewTicker(d)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		t.Stop()
	} else {
		c.tickers = append(c.tickers, t)
	}
	return t.C()
}

// Stop stops the goroutine and the tickers handed out by Tick; from then
// on NowNano reads the precise clock. It is safe to call more than once.
func (c *CoarseClock) Stop() {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.last.Store(0)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopped = true
	for _, t := range c.tickers {
		t.Stop()
	}
	c.tickers = nil
}
