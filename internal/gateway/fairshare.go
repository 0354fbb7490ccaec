package gateway

import "sync"

// fairShare admits work into a bounded pool per account, so that one
// account cannot take every place and leave the others ESME_RTHROTTLED.
//
// An eighth of the pool (reserveDivisor) is kept for accounts that hold no
// place: an account alone may fill the rest, and a newcomer still finds a
// place. The rest is shared: an account may hold at most (capacity −
// reserve) ÷ active places, where active counts the accounts holding
// places, itself included. When another account arrives, the share of
// those already in shrinks and their surplus drains as their work
// completes; nothing is taken back from work already admitted. A pool of
// fewer than reserveDivisor places has no reserve: an account alone may
// take all of it, as with a plain queue.
//
// Work that waits (the submits queued for an HLR worker, the submit_multi
// being decided) is what it bounds; the cost is one mutex per admitted
// request, which is small next to the HLR lookup each one waits for.
type fairShare struct {
	mu       sync.Mutex
	capacity int
	reserve  int // places only an account holding none may take
	used     int
	held     map[string]int
}

// reserveDivisor: the pool's 1/reserveDivisor is the newcomers' reserve.
const reserveDivisor = 8

func newFairShare(capacity int) *fairShare {
	capacity = max(capacity, 1)
	return &fairShare{capacity: capacity, reserve: capacity / reserveDivisor, held: make(map[string]int)}
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
	case n >= f.shareLocked(n):
		return false
	}
	f.held[account] = n + 1
	f.used++
	return true
}

// shareLocked is the most places an account holding n may hold.
func (f *fairShare) shareLocked(n int) int {
	active := len(f.held)
	if n == 0 {
		active++ // the account asking counts too
	}
	return max((f.capacity-f.reserve)/active, 1)
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
