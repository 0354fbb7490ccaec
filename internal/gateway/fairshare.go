package gateway

import (
	"sync"
	"time"
)

// fairShare admits work into a bounded pool per account, so that one
// account cannot take every place and leave the others ESME_RTHROTTLED.
//
// An eighth of the pool (reserveDivisor) is kept for accounts that hold no
// place: an account alone may fill the rest, and a newcomer still finds a
// place. The rest is shared: an account may hold at most (capacity −
// reserve) ÷ active places, where active counts the accounts holding
// places, itself included, and those that held some within shareLinger.
// When another account arrives, the share of those already in shrinks and
// their surplus drains as their work completes; nothing is taken back
// from work already admitted. The linger keeps a client that sends in
// bursts, or a trickle slower than the work it waits for, counted between
// them: otherwise each time it held nothing a flooder's share grew back to
// the whole pool, the flooder refilled it, and the client's next burst
// found only the reserve, one place (the rest ESME_RTHROTTLED although it
// held far less than its share). A pool of fewer than reserveDivisor
// places has no reserve: an account alone may take all of it, as with a
// plain queue.
//
// Work that waits (the submits queued for an HLR worker, the submit_multi
// being decided) is what it bounds; the cost is one mutex per admitted
// request, which is small next to the HLR lookup each one waits for, and
// a clock reading when an account gives back its last place or while an
// account lingers.
type fairShare struct {
	mu       sync.Mutex
	capacity int
	reserve  int // places only an account holding none may take
	used     int
	held     map[string]int
	// idle: accounts holding no place that held some within shareLinger,
	// with when they gave back their last.
	idle      map[string]time.Time
	nextPrune time.Time // idle is scanned at most every sharePrune
	now       func() time.Time
}

// reserveDivisor: the pool's 1/reserveDivisor is the newcomers' reserve.
const reserveDivisor = 8

// shareLinger is how long an account that gave back its last place still
// counts in the shares: longer than a submit can hold a place
// (HLR_SLOT_WAIT_SECONDS + HLR_TIMEOUT_SECONDS, 6 s by default, is the
// most; a flooder's surplus drains within its HLR's answer time), so the
// pauses of a bursty client do not hand its share back to a flooder.
const shareLinger = 5 * time.Second

// sharePrune is how often the idle accounts are scanned for those whose
// linger ended: a scan per take would cost one step per account.
const sharePrune = 100 * time.Millisecond

func newFairShare(capacity int, now func() time.Time) *fairShare {
	capacity = max(capacity, 1)
	if now == nil {
		now = time.Now
	}
	return &fairShare{capacity: capacity, reserve: capacity / reserveDivisor, held: make(map[string]int),
		idle: make(map[string]time.Time), now: now}
}

// take reserves a place for account; false when the pool is full, when
// only the reserve is left and the account holds a place already, or when
// it holds its share.
func (f *fairShare) take(account string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.held[account]
	switch {
	case f.used >= f.capacity:
		return false
	case n > 0 && f.used >= f.capacity-f.reserve:
		return false
	case n >= f.shareLocked(account, n):
		return false
	}
	if n == 0 {
		delete(f.idle, account)
	}
	f.held[account] = n + 1
	f.used++
	return true
}

// shareLocked is the most places account, holding n, may hold.
func (f *fairShare) shareLocked(account string, n int) int {
	active := len(f.held) + f.lingeringLocked()
	if _, lingers := f.idle[account]; n == 0 && !lingers {
		active++ // the account asking counts too
	}
	return max((f.capacity-f.reserve)/active, 1)
}

// lingeringLocked forgets the idle accounts whose linger ended and
// returns how many are left.
func (f *fairShare) lingeringLocked() int {
	if len(f.idle) == 0 {
		return 0
	}
	now := f.now()
	if now.Before(f.nextPrune) {
		return len(f.idle)
	}
	f.nextPrune = now.Add(sharePrune)
	for a, at := range f.idle {
		if now.Sub(at) >= shareLinger {
			delete(f.idle, a)
		}
	}
	return len(f.idle)
}

// give returns a place taken by take.
func (f *fairShare) give(account string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.held[account]
	if n <= 0 {
		return // not taken: a bug elsewhere, never a negative count
	}
	if n == 1 {
		delete(f.held, account)
		f.idle[account] = f.now()
	} else {
		f.held[account] = n - 1
	}
	f.used--
}

// inUse returns the places taken in all.
func (f *fairShare) inUse() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used
}
