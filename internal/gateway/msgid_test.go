package gateway

import (
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestIDsAreUniqueUppercaseHex(t *testing.T) {
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	g := NewIDs(0xABC, func() time.Time { return now })
	format := regexp.MustCompile(`^[0-9A-F]{16}$`)
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// More than 2^20 ids in one frozen second: the generator must borrow
	// the next second instead of repeating.
	const workers, each = 8, 140000
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]string, 0, each)
			for range each {
				local = append(local, g.Next())
			}
			mu.Lock()
			defer mu.Unlock()
			for _, id := range local {
				if seen[id] {
					t.Errorf("duplicate id %s", id)
					return
				}
				seen[id] = true
			}
		}()
	}
	wg.Wait()
	for id := range seen {
		if !format.MatchString(id) {
			t.Fatalf("id %q is not 16 uppercase hex characters", id)
		}
		break
	}
}

func TestIDsDifferAcrossInstanceTags(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC) }
	a, b := NewIDs(1, now), NewIDs(2, now)
	if x, y := a.Next(), b.Next(); x == y {
		t.Fatalf("two instances produced the same id %s", x)
	}
}

// TestSetTagSwitchesTheTag: after SetTag, ids carry the new tag (bits
// 20–31), so they differ from what a process holding the old tag mints in
// the same second.
func TestSetTagSwitchesTheTag(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC) }
	g, other := NewIDs(975, now), NewIDs(975, now)
	g.SetTag(12)
	id := g.Next()
	v, err := strconv.ParseUint(id, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if tag := v >> 20 & 0xFFF; tag != 12 {
		t.Fatalf("id %s carries tag %d after SetTag(12)", id, tag)
	}
	if o := other.Next(); o == id {
		t.Fatalf("the switched generator minted %s, as the old tag's holder did", id)
	}
}

func TestIDsAfterRestartDoNotRepeat(t *testing.T) {
	clock := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	first := NewIDs(7, func() time.Time { return clock })
	before := first.Next()
	clock = clock.Add(time.Second)
	restarted := NewIDs(7, func() time.Time { return clock })
	if after := restarted.Next(); after == before {
		t.Fatalf("restart one second later repeated id %s", after)
	}
}

func TestFormatID(t *testing.T) {
	tests := []struct {
		v    uint64
		want string
	}{
		{0, "0000000000000000"},
		{0x0123456789ABCDEF, "0123456789ABCDEF"},
		{0xFEDCBA9876543210, "FEDCBA9876543210"},
		{1<<64 - 1, "FFFFFFFFFFFFFFFF"},
	}
	for _, tt := range tests {
		if got := formatID(tt.v); got != tt.want {
			t.Errorf("formatID(%#x) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func BenchmarkIDsNext(b *testing.B) {
	now := time.Date(2026, 11, 25, 18, 0, 0, 0, time.UTC)
	g := NewIDs(7, func() time.Time { return now })
	b.ReportAllocs()
	for b.Loop() {
		_ = g.NextAt(now)
	}
}
