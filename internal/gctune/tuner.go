package gctune

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultMaxPercent bounds the GOGC a Tuner sets: the heap grows to at
// most five times its live size between collections.
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
	// LiveHeap, Current and SetPercent replace the runtime's (tests): the
	// live heap in bytes as of the last collection, the GOGC in force,
	// and debug.SetGCPercent.
	LiveHeap   func() uint64
	Current    func() int
	SetPercent func(int) int
}

// Tuner adjusts GOGC to the live heap; see the package documentation.
type Tuner struct {
	o      Options
	before int  // the GOGC in force before this Tuner's first change
	set    bool // before is known
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
		o.LiveHeap = func() uint64 { return readUint64("/gc/heap/live:bytes") }
	}
	if o.Current == nil {
		o.Current = func() int { return int(readUint64("/gc/gogc:percent")) }
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

// Adjust sets GOGC for the live heap now and returns the GOGC in force.
// A change of less than a tenth of the GOGC in force is not made: the
// setting stays steady while the heap does. The GOGC in force is read
// from the runtime, not remembered: whoever else set it, it is compared
// with what holds.
func (t *Tuner) Adjust() int {
	p := Percent(t.o.LiveHeap(), t.o.Headroom, t.o.MaxPercent)
	cur := t.o.Current()
	if cur > 0 && abs(p-cur)*10 < cur {
		return cur
	}
	old := t.o.SetPercent(p)
	if !t.set {
		t.before, t.set = old, true
	}
	return p
}

// Run adjusts GOGC every Interval until ctx ends, then gives back the
// GOGC that was in force before its first change.
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
	defer func() {
		if t.set {
			t.o.SetPercent(t.before)
		}
	}()
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

// readUint64 reads one runtime metric of kind uint64; 0 when the runtime
// does not have it.
func readUint64(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
