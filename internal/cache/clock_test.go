package cache_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// preciseClock is a CoarseClock's precise clock in tests: it moves only
// when told, and its tickers fire only when the test sends a tick.
type preciseClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers map[time.Duration]*fakeTicker
}

func newPreciseClock() *preciseClock {
	return &preciseClock{now: time.Unix(1_800_000_000, 0), tickers: map[time.Duration]*fakeTicker{}}
}

func (c *preciseClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *preciseClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *preciseClock) NewTicker(d time.Duration) cache.Ticker {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time), done: make(chan struct{})}
	c.tickers[d] = t
	return t
}

func (c *preciseClock) ticker(d time.Duration) *fakeTicker {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tickers[d]
}

// tick fires the ticker of period d. The ticker's channel is unbuffered and
// the clock's goroutine handles one tick at a time, so once a second tick
// is taken the first one's reading is stored.
func (c *preciseClock) tick(t *testing.T, d time.Duration) {
	t.Helper()
	tk := c.ticker(d)
	if tk == nil {
		t.Fatalf("no ticker of period %v", d)
	}
	now := c.Now()
	tk.c <- now
	tk.c <- now
}

type fakeTicker struct {
	c    chan time.Time
	once sync.Once
	done chan struct{} // closed by Stop
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() { t.once.Do(func() { close(t.done) }) }

func (t *fakeTicker) isStopped() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// TestCoarseClock: the reading moves only at the ticks of the resolution,
// to the precise clock's time, and follows the precise clock once stopped.
func TestCoarseClock(t *testing.T) {
	const res = 5 * time.Millisecond
	precise := newPreciseClock()
	start := precise.Now().UnixNano()
	c := cache.NewCoarseClock(precise, res)
	defer c.Stop()

	steps := []struct {
		name    string
		advance time.Duration
		tick    bool
		want    time.Duration // since start
	}{
		{"at start", 0, false, 0},
		{"between ticks the reading stays", 3 * time.Millisecond, false, 0},
		{"a tick reads the precise clock", 0, true, 3 * time.Millisecond},
		{"a later tick", 2*time.Hour + time.Nanosecond, true, 2*time.Hour + 3*time.Millisecond + time.Nanosecond},
	}
	for _, s := range steps {
		precise.Advance(s.advance)
		if s.tick {
			precise.tick(t, res)
		}
		if got := time.Duration(c.NowNano() - start); got != s.want {
			t.Fatalf("%s: reading %v after start, want %v", s.name, got, s.want)
		}
	}

	cleanUp := c.Tick(time.Second)
	if cleanUp == nil || precise.ticker(time.Second) == nil {
		t.Fatal("Tick did not hand out a ticker of the precise clock")
	}
	c.Stop()
	c.Stop() // a second Stop is harmless
	for _, d := range []time.Duration{res, time.Second} {
		if !precise.ticker(d).isStopped() {
			t.Errorf("the ticker of period %v survived Stop", d)
		}
	}
	precise.Advance(time.Millisecond)
	if got, want := c.NowNano(), precise.Now().UnixNano(); got != want {
		t.Fatalf("after Stop: reading %d, want the precise %d", got, want)
	}
}

// TestMemoryCoarseClockExpiry: on a CoarseClock an entry expires at the
// first tick at or past its TTL; between ticks it may outlive its TTL by
// up to the resolution (the documented staleness bound).
func TestMemoryCoarseClockExpiry(t *testing.T) {
	const res = 5 * time.Millisecond
	precise := newPreciseClock()
	clk := cache.NewCoarseClock(precise, res)
	defer clk.Stop()
	m, err := cache.NewMemory[int](10, cache.MemoryOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Set(context.Background(), "k", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	precise.Advance(time.Minute)
	if _, ok := m.Ref("k"); !ok {
		t.Fatal("the entry expired before the clock's next tick")
	}
	precise.tick(t, res)
	if _, ok := m.Ref("k"); ok {
		t.Fatal("the entry outlived its TTL past a tick")
	}
}

// TestCoarseClockUnreachableStops: a clock nobody stopped and nobody uses
// any more (a cache that was not closed) stops its goroutine and its
// ticker at a tick after it is collected.
func TestCoarseClockUnreachableStops(t *testing.T) {
	const res = 5 * time.Millisecond
	precise := newPreciseClock()
	func() {
		c := cache.NewCoarseClock(precise, res)
		_ = c.NowNano()
	}()
	tk := precise.ticker(res)
	for {
		runtime.GC()
		select {
		case tk.c <- precise.Now():
		case <-tk.done:
			return
		}
	}
}
