package dlr

import (
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestInflightShares: alone an account may take every place; while
// others want places too, each holds at most an equal share, and one
// refused counts as wanting for waitWindow.
func TestInflightShares(t *testing.T) {
	type op struct {
		sys      string
		n        int // > 0 reserve n, < 0 release -n
		at       time.Duration
		want     int
		wantFull bool
	}
	tests := []struct {
		name string
		ops  []op
	}{
		{"alone takes all", []op{{"a", 10, 0, 8, false}, {"a", 1, 0, 0, true}}},
		{"a hog leaves the newcomer its share", []op{
			{"hog", 8, 0, 8, false},
			{"ok", 4, 0, 0, true},    // nothing left: ok waits
			{"hog", -2, 0, 0, false}, // two answers
			{"hog", 2, 0, 0, false},  // hog holds 6 > 8/2
			{"ok", 4, 0, 2, false},   // ok takes what is free, up to its share
		}},
		{"shares of three", []op{
			{"a", 8, 0, 8, false},
			{"b", 1, 0, 0, true},
			{"c", 1, 0, 0, true},
			{"a", -6, 0, 0, false},
			{"b", 8, 0, 2, false}, // 8 / 3 wanting
			{"c", 8, 0, 2, false},
			{"a", 8, 0, 0, false}, // a holds 2 of its 2
		}},
		{"a waiter stops counting after waitWindow", []op{
			{"a", 8, 0, 8, false},
			{"b", 1, 0, 0, true},
			{"a", -8, 0, 0, false},
			{"a", 8, 2 * waitWindow, 8, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflightShares(8)
			for i, o := range tt.ops {
				if o.n < 0 {
					f.release(o.sys, -o.n)
					continue
				}
				got, full := f.reserve(o.sys, o.n, t0.Add(o.at))
				if got != o.want || full != o.wantFull {
					t.Fatalf("op %d: reserve(%s, %d) = %d, full %v; want %d, full %v", i, o.sys, o.n, got, full, o.want, o.wantFull)
				}
			}
		})
	}
}

// TestHogDoesNotStarveOtherAccounts: an account whose receivers never
// answer holds every place under MaxInFlight; once some of its deliver_sm
// are answered (or time out), another account's receipt goes out in the
// freed place, and the first gets no more than its share back.
func TestHogDoesNotStarveOtherAccounts(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), func(o *Options) {
		o.MaxInFlight = 4
		o.Shards = 1
	})
	h.d.ReceiversChanged("hog", 1)
	h.d.ReceiversChanged("ok", 1)
	for i := range 10 {
		h.schedule(receipt(fmt.Sprintf("00000000000001%02d", i), "hog", 0))
	}
	var hogs []delivery
	for range 4 {
		hogs = append(hogs, h.s.next(t))
	}
	h.schedule(receipt("00000000000002FF", "ok", 0))
	h.settle()
	h.s.none(t) // every place taken
	hogs[0].done(pdu.StatusOK, nil)
	hogs[1].done(pdu.StatusOK, nil)
	if got := h.s.next(t); got.sys != "ok" {
		t.Fatalf("a freed place went to %s (%s), want the other account's receipt", got.sys, got.id())
	}
	h.settle()
	h.s.none(t) // hog holds 2 of 4 while ok wants places: its share
}
