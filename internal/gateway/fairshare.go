package gateway

import "sync"

// fairShare admits work into a bounded pool per account, so that one
// account cannot take every place and leave the others ESME_RTHROTTLED.
//
// An account may hold at most capacity ÷ (active + 1) places (at least
// one), where active counts the accounts holding places, itself included.
// The "+ 1" keeps room for an account that holds nothing yet: an account
// alone gets half the pool, two share two thirds, and a newcomer finds a
// place while the pool is not full (with several accounts it can be: each
// keeps what it took before the others arrived, until that work ends). When another account
// arrives, the share of those already in shrinks and their surplus drains
// as their work completes; nothing is taken back from work already
// admitted.
//
// Work that waits (the submits queued for an HLR worker, the submit_multi
// being decided) is what it bounds; the cost is one mutex per admitted
// request, which is small next to the HLR lookup each one waits for.
type fairShare struct {
	mu       sync.Mutex
	capacity int
	used     int
	held     map[string]int
}

func newFairShare(capacity int) *fairShare {
	return &fairShare{capacity: max(capacity, 1), held: make(map[string]int)}
}

// take reserves a place for account; false when the pool is full or the
// account holds its share already.
func (f *fairShare) take(account string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.held[account]
	if f.used >= f.capacity || n >= f.shareLocked(n) {
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
	return max(f.capacity/(active+1), 1)
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
