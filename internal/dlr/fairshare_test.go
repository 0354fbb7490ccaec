package dlr

import (
	"fmt"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// TestInflightShares: the accounts that want places share seven eighths
// of them (alone, an account takes seven eighths); the eighth left is for
// accounts that hold none, a slice each; one refused counts as wanting
// for waitWindow.
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
		{"alone takes seven eighths", []op{{"a", 20, 0, 14, false}, {"a", 1, 0, 0, false}}},
		{"the eighth left is for newcomers, a slice each", []op{
			{"hog", 16, 0, 14, false},
			{"ok", 8, 0, 1, false},  // a slice of the eighth
			{"ok", 8, 0, 0, false},  // holding one: only the shared part, which is taken
			{"new", 1, 0, 1, false}, // the last place
			{"late", 1, 0, 0, true},
		}},
		{"a second hog does not take the eighth", []op{
			{"hog", 16, 0, 14, false},
			{"hog2", 16, 0, 1, false},
			{"hog2", 16, 0, 0, false},
			{"ok", 1, 0, 1, false},
		}},
		{"a hog gets no freed place beyond its share", []op{
			{"hog", 16, 0, 14, false},
			{"ok", 4, 0, 1, false},
			{"ok", 1, 0, 0, false},   // ok wants more
			{"hog", -4, 0, 0, false}, // four answers: hog holds 10
			{"hog", 4, 0, 0, false},  // over its share, 14 / 2
			{"ok", 8, 0, 3, false},   // the shared part left
		}},
		{"shares of three", []op{
			{"a", 16, 0, 14, false},
			{"b", 1, 0, 1, false},
			{"c", 1, 0, 1, false},
			{"a", -14, 0, 0, false}, // a holds none: not wanting
			{"b", 16, 0, 6, false},  // 14 / 2 wanting, b holds 1
			{"c", 16, 0, 6, false},
			{"a", 16, 0, 1, false}, // the shared part is taken: a slice of the eighth
		}},
		{"a waiter stops counting after waitWindow", []op{
			{"a", 16, 0, 14, false},
			{"b", 2, 0, 1, false},
			{"b", 1, 0, 0, false}, // b wants more
			{"b", -1, 0, 0, false},
			{"a", -14, 0, 0, false},
			{"a", 16, 2 * waitWindow, 14, false},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newInflightShares(16)
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
// answer takes seven eighths of the places under MaxInFlight, not all:
// another account's receipt goes out at once (a slice of the eighth
// left), and, with the first over its share while the other wants
// places, the places its answers free go to the other.
func TestHogDoesNotStarveOtherAccounts(t *testing.T) {
	h := newHarness(t, NewMemoryQueue(MemoryOptions{}), func(o *Options) {
		o.MaxInFlight = 16
		o.Shards = 1
	})
	h.d.ReceiversChanged("hog", 1)
	h.d.ReceiversChanged("ok", 1)
	for i := range 30 {
		h.schedule(receipt(fmt.Sprintf("00000000000001%02d", i), "hog", 0))
	}
	var hogs []delivery
	for range 14 {
		hogs = append(hogs, h.s.next(t))
	}
	h.settle()
	h.s.none(t) // seven eighths
	for i := range 4 {
		h.schedule(receipt(fmt.Sprintf("00000000000002%02d", i), "ok", 0))
	}
	if got := h.s.next(t); got.sys != "ok" {
		t.Fatalf("a place went to %s (%s), want the other account's receipt", got.sys, got.id())
	}
	h.settle()
	h.s.none(t) // ok holds its slice of the eighth; the shared part is taken
	for _, d := range hogs[:2] {
		d.done(pdu.StatusOK, nil)
	}
	if got := h.s.next(t); got.sys != "ok" {
		t.Fatalf("a freed place went to %s (%s), want the other account's receipt", got.sys, got.id())
	}
	h.settle()
	h.s.none(t)
}
