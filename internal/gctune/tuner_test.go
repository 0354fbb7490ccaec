package gctune

import (
	"context"
	"runtime"
	"testing"
	"time"
)

func TestPercent(t *testing.T) {
	const mb = 1 << 20
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

// fakeRuntime is the live heap and the GOGC calls a Tuner sees.
type fakeRuntime struct {
	live uint64
	set  []int
}

func (f *fakeRuntime) options(headroom uint64, tick <-chan time.Time) Options {
	return Options{
		Headroom: headroom, Tick: tick,
		LiveHeap:   func() uint64 { return f.live },
		SetPercent: func(p int) int { f.set = append(f.set, p); return 100 },
	}
}

func TestAdjustFollowsTheLiveHeapAndIgnoresSmallChanges(t *testing.T) {
	const mb = 1 << 20
	f := &fakeRuntime{live: 8 * mb}
	tu := New(f.options(64*mb, nil))
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
		f.live = step.live
		if got := tu.Adjust(); got != step.want {
			t.Fatalf("live %d MB: Adjust() = %d, want %d", step.live/mb, got, step.want)
		}
	}
	if want := []int{400, 200, 160, 100}; !equal(f.set, want) {
		t.Fatalf("SetPercent calls %v, want %v", f.set, want)
	}
}

func TestRunAdjustsOnEveryTickAndRestoresTheDefault(t *testing.T) {
	const mb = 1 << 20
	f := &fakeRuntime{}
	tick := make(chan time.Time)
	lives := make(chan uint64) // each adjustment reads the next live heap
	o := f.options(64*mb, tick)
	o.LiveHeap = func() uint64 { return <-lives }
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
	if want := []int{400, 200, 100, 100}; !equal(f.set, want) {
		t.Fatalf("SetPercent calls %v, want %v (the last: the default given back)", f.set, want)
	}
}

func TestRunWithoutHeadroomDoesNothing(t *testing.T) {
	f := &fakeRuntime{live: 1}
	New(f.options(0, nil)).Run(context.Background()) // returns at once
	if len(f.set) != 0 {
		t.Fatalf("SetPercent calls %v, want none", f.set)
	}
}

func TestLiveHeapReadsTheRuntime(t *testing.T) {
	keep := make([]*[1024]byte, 1024) // 1 MiB live across the collection
	for i := range keep {
		keep[i] = new([1024]byte)
	}
	runtime.GC()
	if got := liveHeap(); got < 1<<20 {
		t.Fatalf("liveHeap() = %d after a collection with 1 MiB live, want at least that", got)
	}
	runtime.KeepAlive(keep)
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
