package gateway

import (
	"context"
	"testing"
	"time"
)

func TestFairShare(t *testing.T) {
	type step struct {
		take    string        // the account taking a place, or
		give    string        // the account giving one back, or
		wait    time.Duration // time passing
		want    bool          // take's answer
		wantUse int
	}
	tests := []struct {
		name     string
		capacity int
		steps    []step
	}{
		{"an account alone takes all but the reserve", 16, []step{ // reserve 2
			{take: "a", want: true, wantUse: 1},
			{take: "a", want: true, wantUse: 2},
			{take: "a", want: true, wantUse: 3},
			{take: "a", want: true, wantUse: 4},
			{take: "a", want: true, wantUse: 5},
			{take: "a", want: true, wantUse: 6},
			{take: "a", want: true, wantUse: 7},
			{take: "a", want: true, wantUse: 8},
			{take: "a", want: true, wantUse: 9},
			{take: "a", want: true, wantUse: 10},
			{take: "a", want: true, wantUse: 11},
			{take: "a", want: true, wantUse: 12},
			{take: "a", want: true, wantUse: 13},
			{take: "a", want: true, wantUse: 14},
			{take: "a", want: false, wantUse: 14},
			// A newcomer takes from the reserve, once: then it holds a place.
			{take: "b", want: true, wantUse: 15},
			{take: "b", want: false, wantUse: 15},
			{take: "c", want: true, wantUse: 16},
			{take: "d", want: false, wantUse: 16}, // full
			// The shares are now 14/3 = 4: a drains to it before it takes again.
			{give: "a", wantUse: 15},
			{give: "a", wantUse: 14},
			{give: "a", wantUse: 13},
			{take: "b", want: true, wantUse: 14}, // b holds 2 of its 4
			{take: "a", want: false, wantUse: 14},
		}},
		{"shares shrink as accounts arrive and grow as they leave", 16, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "b", want: true, wantUse: 2},
			{take: "a", want: true, wantUse: 3},
			{take: "b", want: true, wantUse: 4},
			{take: "a", want: true, wantUse: 5},
			{take: "b", want: true, wantUse: 6},
			{take: "a", want: true, wantUse: 7},
			{take: "b", want: true, wantUse: 8},
			{take: "a", want: true, wantUse: 9},
			{take: "b", want: true, wantUse: 10},
			{take: "a", want: true, wantUse: 11},
			{take: "b", want: true, wantUse: 12},
			{take: "a", want: true, wantUse: 13},
			{take: "b", want: true, wantUse: 14},
			{take: "a", want: false, wantUse: 14}, // 7 each, 14/2
			{give: "b", wantUse: 13},
			{give: "b", wantUse: 12},
			{give: "b", wantUse: 11},
			{give: "b", wantUse: 10},
			{give: "b", wantUse: 9},
			{give: "b", wantUse: 8},
			{give: "b", wantUse: 7}, // b holds none, but lingers: a's share stays 7
			{take: "a", want: false, wantUse: 7},
			{wait: shareLinger, wantUse: 7}, // b is gone: a alone, its share 14
			{take: "a", want: true, wantUse: 8},
		}},
		{"a bursty account keeps its share between bursts", 16, []step{ // reserve 2
			// a floods: all 14 places it may take.
			{take: "a", want: true, wantUse: 1}, {take: "a", want: true, wantUse: 2},
			{take: "a", want: true, wantUse: 3}, {take: "a", want: true, wantUse: 4},
			{take: "a", want: true, wantUse: 5}, {take: "a", want: true, wantUse: 6},
			{take: "a", want: true, wantUse: 7}, {take: "a", want: true, wantUse: 8},
			{take: "a", want: true, wantUse: 9}, {take: "a", want: true, wantUse: 10},
			{take: "a", want: true, wantUse: 11}, {take: "a", want: true, wantUse: 12},
			{take: "a", want: true, wantUse: 13}, {take: "a", want: true, wantUse: 14},
			// b's first burst: one place from the reserve, the rest refused
			// while a holds its surplus.
			{take: "b", want: true, wantUse: 15},
			{take: "b", want: false, wantUse: 15},
			// a's work completes; its share is 7 now.
			{give: "a", wantUse: 14}, {give: "a", wantUse: 13}, {give: "a", wantUse: 12},
			{give: "a", wantUse: 11}, {give: "a", wantUse: 10}, {give: "a", wantUse: 9},
			{give: "a", wantUse: 8},
			{take: "a", want: false, wantUse: 8},
			// b's burst is done; between bursts a still may not refill.
			{give: "b", wantUse: 7},
			{wait: time.Second, wantUse: 7},
			{take: "a", want: false, wantUse: 7},
			// b's next burst finds room.
			{take: "b", want: true, wantUse: 8},
			{take: "b", want: true, wantUse: 9},
			{take: "b", want: true, wantUse: 10},
			{take: "b", want: true, wantUse: 11},
		}},
		{"a small pool has no reserve", 5, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "a", want: true, wantUse: 2},
			{take: "a", want: true, wantUse: 3},
			{take: "a", want: true, wantUse: 4},
			{take: "a", want: true, wantUse: 5},
			{take: "b", want: false, wantUse: 5},
			{give: "a", wantUse: 4},
			{take: "b", want: true, wantUse: 5},
		}},
		{"a pool of one serves one at a time", 1, []step{
			{take: "a", want: true, wantUse: 1},
			{take: "b", want: false, wantUse: 1},
			{give: "a", wantUse: 0},
			{take: "b", want: true, wantUse: 1},
		}},
		{"giving back what was never taken changes nothing", 2, []step{
			{give: "a", wantUse: 0},
			{take: "a", want: true, wantUse: 1},
			{give: "b", wantUse: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			f := newFairShare(tt.capacity, func() time.Time { return now })
			for i, s := range tt.steps {
				switch {
				case s.wait > 0:
					now = now.Add(s.wait)
				case s.give != "":
					f.give(s.give)
				default:
					if got := f.take(s.take); got != s.want {
						t.Fatalf("step %d: take(%q) = %v, want %v", i, s.take, got, s.want)
					}
				}
				if got := f.inUse(); got != s.wantUse {
					t.Fatalf("step %d: inUse = %d, want %d", i, got, s.wantUse)
				}
			}
		})
	}
}

// TestWorkersQueueHoldsEveryPlace: the workers' channel has room for every
// place the share admits, so a request admitted before the workers have
// taken the ones ahead of it is queued, not ESME_RTHROTTLED. With a
// channel of only the queue's places, an admitted request met a full
// channel whenever the workers were slow to start.
func TestWorkersQueueHoldsEveryPlace(t *testing.T) {
	for _, workers := range []int{1, 2, 256} {
		h, err := New(Options{Lookuper: newMemoryHLR(), Receipts: noReceipts{}, IDs: NewIDs(1, time.Now), Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if h.jobs.capacity() < h.jobShare.capacity {
			t.Errorf("workers=%d: the queue holds %d, the share admits %d", workers, h.jobs.capacity(), h.jobShare.capacity)
		}
		h.Close(context.Background())
	}
}
