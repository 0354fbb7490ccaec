package dlr

import (
	"sync"
	"time"
)

// inflightShares is the accounting of MaxInFlight: the deliver_sm of all
// shards sent (or reserved) and not yet answered, in total and by account.
// The accounts that want places share all but an eighth of them equally
// (alone, an account may take seven eighths): the eighth left is for
// accounts that hold none, such as one that sends a receipt now and then
// and holds nothing between them, so it never waits for another's
// deliver_sm to be answered or time out. Such an account takes an eighth
// of that eighth at most, until it holds places and shares the rest: two
// accounts whose receivers never answered, the second binding after the
// first took seven eighths, took the last eighth too. Without shares, one
// account whose receivers never answer (or answer late) held every place
// until its deliver_sm timed out, and took each freed place again at
// once: every other account's receipts waited up to the response timeout
// (seen: 20 receivers of one account that never answered took all 4,096
// places; another account's receipts came p50 4.2 s, up to 10 s, after
// their submits instead of 1 s).
//
// An account wants places while it holds some, or when a reservation of
// its found none in the last waitWindow (it asks again at every step of
// its loop, which an answer wakes).
type inflightShares struct {
	mu      sync.Mutex
	max     int
	total   int
	byAcct  map[string]int
	waiting map[string]time.Time
}

// waitWindow is how long a refused account counts as wanting places.
const waitWindow = time.Second

// headroomDiv: 1/headroomDiv of the places is kept for accounts that hold
// none; each such account takes at most 1/newcomerDiv of it (64 of 512).
const (
	headroomDiv = 8
	newcomerDiv = 8
)

func newInflightShares(max int) *inflightShares {
	return &inflightShares{max: max, byAcct: make(map[string]int), waiting: make(map[string]time.Time)}
}

// reserve takes up to n places for sys and returns how many; full is set
// when no place at all is left (no other account can take one either).
func (f *inflightShares) reserve(sys string, n int, now time.Time) (k int, full bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	room := f.max - f.total
	if room <= 0 {
		f.waiting[sys] = now
		return 0, true
	}
	shared := f.max - f.max/headroomDiv
	share := shared / f.wantingLocked(sys, now)
	held := f.byAcct[sys]
	// The places beyond the shared part are for accounts that hold none,
	// a slice each: an account that holds places, and a second or third
	// account whose receivers never answer, cannot take them all.
	avail := max(0, shared-f.total)
	if held == 0 {
		avail += min(room-avail, max(f.max/headroomDiv/newcomerDiv, 1))
	}
	k = min(n, avail, max(share, 1)-held)
	if k <= 0 {
		f.waiting[sys] = now
		return 0, false
	}
	delete(f.waiting, sys)
	f.byAcct[sys] += k
	f.total += k
	return k, false
}

// want records that sys wants places it did not ask for: the accounts a
// loop did not get to once every place was taken.
func (f *inflightShares) want(sys string, now time.Time) {
	f.mu.Lock()
	f.waiting[sys] = now
	f.mu.Unlock()
}

// wantingLocked counts the accounts that want places, sys included, and
// forgets those that stopped waiting.
func (f *inflightShares) wantingLocked(sys string, now time.Time) int {
	n := len(f.byAcct)
	if _, holds := f.byAcct[sys]; !holds {
		n++
	}
	for a, at := range f.waiting {
		if now.Sub(at) > waitWindow {
			delete(f.waiting, a)
			continue
		}
		if _, holds := f.byAcct[a]; !holds && a != sys {
			n++
		}
	}
	return n
}

// release gives back k places of sys (answered, or reserved and not
// sent).
func (f *inflightShares) release(sys string, k int) {
	if k <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.total -= k
	if left := f.byAcct[sys] - k; left > 0 {
		f.byAcct[sys] = left
	} else {
		delete(f.byAcct, sys)
	}
}

// runOf is the length of the run of sent (not expired) results of one
// account ending at res[i].
func runOf(res []result, i int) int {
	n := 0
	for j := i; j >= 0 && !res[j].expired && res[j].r.SystemID == res[i].r.SystemID; j-- {
		n++
	}
	return n
}
