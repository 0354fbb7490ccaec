package dlr

import "sync"

// expirySeen makes a receipt that expires while both a shard's claim and
// the sweep (the sweeper, running at the same time) hold it be logged and
// counted once: the claim leases it but the sweep's Expire removes it all
// the same, and the claim's Ack as EXPIRED follows. The ids are kept for
// one to two sweep intervals, far longer than the step in which both can
// see the same receipt.
type expirySeen struct {
	mu        sync.Mutex
	cur, prev map[string]struct{}
}

// first reports whether id was not seen expiring before, and records it.
func (e *expirySeen) first(id string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.cur[id]; ok {
		return false
	}
	if _, ok := e.prev[id]; ok {
		return false
	}
	if e.cur == nil {
		e.cur = make(map[string]struct{})
	}
	e.cur[id] = struct{}{}
	return true
}

// rotate forgets the ids recorded before the previous call; the sweep
// calls it once per interval.
func (e *expirySeen) rotate() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.prev, e.cur = e.cur, nil
}
