package gctune

import (
	"context"
	"runtime"
	"slices"
	"testing"
	"time"
)

const mb = 1 << 20

func TestPercent(t *testing.T) {
	for _, c := range []struct {
		name     string
		live, hr uint64
		want     int
	}{
		{"no live heap yet", 0, 64 * mb, 400},
		{"small heap: capped", 4 * mb, 64 * mb, 400},
		{"headroom over the heap", 32 * mb, 64 * mb, 200},
		{"heap as large as the headroom", 64 * mb, 64 * mb, 100},
		{"large heap: the default", 500 * mb, 64 * mb, 100},
	} {
		if got := Percent(c.live, c.hr, DefaultMaxPercent); got != c.want {
			t.Errorf("%s: Percent(%d, %d) = %d, want %d", c.name, c.live, c.hr, got, c.want)
		}
	}
}

// fakeRuntime is the process's GOGC, shared by the Tuners of a test as the
// runtime's is by every Tuner of a process, and the calls that set it.
type fakeRuntime struct {
	gogc int
	set  []int
}

func (f *fakeRuntime) options(headroom uint64, live func() uint64, tick <-chan time.Time) Options {
	return Options{
		Headroom: headroom, Tick: tick, LiveHeap: live,
		Current: func() int { return f.gogc },
		SetPercent: func(p int) int {
			old := f.gogc
			f.gogc = p
			f.set = append(f.set, p)
			return old
		},
	}
}

func TestAdjustFollowsTheLiveHeapAndIgnoresSmallChanges(t *testing.T) {
	f := &fakeRuntime{gogc: 100}
	live := uint64(0)
	tu := New(f.options(64*mb, func() uint64 { return live }, nil))
	for _, step := range []struct {
		live uint64
		want int
	}{
		{8 * mb, 400},
		{32 * mb, 200},
		{33 * mb, 200}, // 193: less than a tenth off, left as it is
		{40 * mb, 160},
		{200 * mb, 100},
	} {
		live = step.live
		if got := tu.Adjust(); got != step.want {
			t.Fatalf("live %d MB: Adjust() = %d, want %d", step.live/mb, got, step.want)
		}
	}
	if want := []int{400, 200, 160, 100}; !slices.Equal(f.set, want) {
		t.Fatalf("SetPercent calls %v, want %v", f.set, want)
	}
}

// Another Tuner of the process (or anyone) changing GOGC is seen: the
// setting is compared with what holds, not with what this Tuner set last.
func TestAdjustSeesAChangeMadeByOthers(t *testing.T) {
	f := &fakeRuntime{gogc: 100}
	tu := New(f.options(64*mb, func() uint64 { return 4 * mb }, nil))
	tu.Adjust()
	f.gogc = 100 // another Tuner stopped and gave back its default
	if got := tu.Adjust(); got != 400 || f.gogc != 400 {
		t.Fatalf("Adjust() = %d with GOGC %d, want 400 set again", got, f.gogc)
	}
}

func TestRunAdjustsOnEveryTickAndRestoresWhatWasInForce(t *testing.T) {
	f := &fakeRuntime{gogc: 150} // set before the Tuner starts
	tick := make(chan time.Time)
	lives := make(chan uint64) // each adjustment reads the next live heap
	o := f.options(64*mb, func() uint64 { return <-lives }, tick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { New(o).Run(ctx); close(done) }()
	lives <- 4 * mb // the adjustment at start
	tick <- time.Time{}
	lives <- 32 * mb
	tick <- time.Time{}
	lives <- 128 * mb
	cancel()
	<-done
	if want := []int{400, 200, 100, 150}; !slices.Equal(f.set, want) {
		t.Fatalf("SetPercent calls %v, want %v (the last: the GOGC in force before)", f.set, want)
	}
}

func TestRunWithoutHeadroomDoesNothing(t *testing.T) {
	f := &fakeRuntime{gogc: 100}
	New(f.options(0, func() uint64 { return 1 }, nil)).Run(context.Background()) // returns at once
	if len(f.set) != 0 {
		t.Fatalf("SetPercent calls %v, want none", f.set)
	}
}

func TestRuntimeMetricsAreRead(t *testing.T) {
	keep := make([]*[1024]byte, 1024) // 1 MiB live across the collection
	for i := range keep {
		keep[i] = new([1024]byte)
	}
	runtime.GC()
	if got := readUint64("/gc/heap/live:bytes"); got < 1<<20 {
		t.Fatalf("live heap %d after a collection with 1 MiB live, want at least that", got)
	}
	runtime.KeepAlive(keep)
	if got := readUint64("/gc/gogc:percent"); got == 0 {
		t.Fatalf("GOGC read as 0")
	}
}
