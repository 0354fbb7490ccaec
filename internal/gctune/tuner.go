package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultMaxPercent bounds the GOGC a Tuner sets: the heap grows to at
// most five times its live size between collections, so a burst that
// grows the live heap between two adjustments cannot take the process far
// beyond its usual size.
const DefaultMaxPercent = 400

// DefaultInterval is how often a Tuner reads the live heap.
const DefaultInterval = time.Second

// Options configure New.
type Options struct {
	// Headroom is how far the heap may grow above the live heap before
	// the next collection (GC_HEADROOM_MB), within the percentages
	// [100, MaxPercent]. 0 turns the Tuner off: Run returns at once.
	Headroom uint64
	// MaxPercent bounds the GOGC set (DefaultMaxPercent when 0).
	MaxPercent int
	// Interval between adjustments (DefaultInterval when 0).
	Interval time.Duration
	// Tick, when set, replaces the ticker (tests): one adjustment per
	// value received.
	Tick <-chan time.Time
	// LiveHeap and SetPercent replace the runtime's (tests): the live heap
	// in bytes as of the last collection, and debug.SetGCPercent.
	LiveHeap   func() uint64
	SetPercent func(int) int
}

// Tuner adjusts GOGC to the live heap; see the package documentation.
type Tuner struct {
	o   Options
	cur int // the GOGC this Tuner set last; 0 before the first
}

// New returns a Tuner; Run starts it.
func New(o Options) *Tuner {
	if o.MaxPercent <= 0 {
		o.MaxPercent = DefaultMaxPercent
	}
	if o.Interval <= 0 {
		o.Interval = DefaultInterval
	}
	if o.LiveHeap == nil {
		o.LiveHeap = liveHeap
	}
	if o.SetPercent == nil {
		o.SetPercent = debug.SetGCPercent
	}
	return &Tuner{o: o}
}

// Percent is the GOGC that lets a heap of live bytes grow by headroom
// before the next collection, within [100, max].
func Percent(live, headroom uint64, max int) int {
	if live == 0 {
		return max
	}
	p := headroom * 100 / live
	switch {
	case p < 100:
		return 100
	case p > uint64(max):
		return max
	}
	return int(p)
}

// Adjust sets GOGC for the live heap now and returns it. A change of less
// than a tenth is not made: the setting stays steady while the heap does.
func (t *Tuner) Adjust() int {
	p := Percent(t.o.LiveHeap(), t.o.Headroom, t.o.MaxPercent)
	if t.cur != 0 && abs(p-t.cur)*10 < t.cur {
		return t.cur
	}
	t.o.SetPercent(p)
	t.cur = p
	return p
}

// Run adjusts GOGC every Interval until ctx ends, then gives back the
// default, 100.
func (t *Tuner) Run(ctx context.Context) {
	if t.o.Headroom == 0 {
		return
	}
	tick := t.o.Tick
	if tick == nil {
		tk := time.NewTicker(t.o.Interval)
		defer tk.Stop()
		tick = tk.C
	}
	defer t.o.SetPercent(100)
	t.Adjust()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
			t.Adjust()
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// liveHeap reads the heap the last collection marked live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
