package smpp

import (
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// bindGuard throttles failed binds. Failures are counted per remote address
// and per address + system_id; never per system_id alone, so a flood
// against one account from one address cannot slow or block that account's
// binds from other addresses. Once either count passes freeFailures, the
// next bind from that address waits step × 2^(failures-freeFailures-1),
// at most maxDelay, BEFORE its password is checked: a guesser gets one
// check per delay, not an answer delayed after an instant check, and the
// checks of one address + system_id take turns, so parallel connections
// do not multiply them. A success
// clears only its own address + system_id count (never the address count,
// never another account's). After maxFailures failures within window the
// address is refused for ban (at accept and at bind), logged once.
//
// Both tables have a fixed number of entries, so a flood from many
// addresses costs constant memory: when a table is full the entry to
// replace is picked among a few, preferring expired then unblocked ones.
// Passwords are never recorded.
type bindGuard struct {
	step        time.Duration
	maxDelay    time.Duration
	maxFailures int
	ban         time.Duration
	clock       Clock

	mu    sync.Mutex
	addrs boundedTable[netip.Addr]
	pairs boundedTable[addrSystemID]
}

type addrSystemID struct {
	addr     netip.Addr
	systemID string
}

type failureCount struct {
	n            int
	last         time.Time
	blockedUntil time.Time
	nextCheck    time.Time // pairs: the earliest the next delayed bind's password is checked
}

const (
	freeFailures  = 3
	failureWindow = 5 * time.Minute
	maxBindDelay  = 8 * time.Second
	evictScan     = 8 // entries looked at to pick one to replace in a full table
)

func newBindGuard(o *Options) *bindGuard {
	g := &bindGuard{
		step: o.FailedBindDelay,
		// The answer must always come before the bind timeout.
		maxDelay:    min(maxBindDelay, o.BindTimeout/2),
		maxFailures: o.MaxFailedBinds,
		ban:         o.FailedBindBlock,
		clock:       o.Clock,
		addrs:       boundedTable[netip.Addr]{max: o.BindGuardEntries},
		pairs:       boundedTable[addrSystemID]{max: o.BindGuardEntries},
	}
	if o.Registerer != nil {
		for _, table := range []string{"address", "pair"} {
			o.Registerer.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name:        "smpp_bind_guard_entries",
				Help:        "Entries of the failed-bind tables (bounded by SMPP_BIND_GUARD_ENTRIES each).",
				ConstLabels: prometheus.Labels{"table": table},
			}, func() float64 {
				addrs, pairs := g.size()
				if table == "address" {
					return float64(addrs)
				}
				return float64(pairs)
			}))
		}
	}
	return g
}

// blocked reports whether addr is refused after too many failed binds.
func (g *bindGuard) blocked(addr netip.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.addrs.get(addr)
	return f != nil && g.clock.Now().Before(f.blockedUntil)
}

// delay is how long a bind from addr for systemID waits before its
// password is checked. The delayed checks of one address + system_id are
// spaced by the delay: binds sent in parallel connections wait their turn
// one after another, so a guesser gets one check of an account's password
// per delay however many connections it opens. A wait of limit or more
// (the bind's time left before its timeout) reserves no turn: that bind
// is refused unchecked.
func (g *bindGuard) delay(addr netip.Addr, systemID string, limit time.Duration) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	n := 0
	if f := g.addrs.get(addr); f != nil && now.Sub(f.last) <= failureWindow {
		n = f.n
	}
	pair := g.pairs.get(addrSystemID{addr, systemID})
	if pair != nil && now.Sub(pair.last) <= failureWindow {
		n = max(n, pair.n)
	}
	if n < freeFailures {
		return 0
	}
	d := min(g.step<<min(n-freeFailures, 16), g.maxDelay)
	if pair == nil {
		// Slowed by the address's failures only: the pair gets an entry
		// (no failure of its own) to hold its turns.
		pair = g.pairs.add(addrSystemID{addr, strings.Clone(systemID)}, now)
	}
	wait := max(d, pair.nextCheck.Sub(now))
	if wait < limit {
		pair.nextCheck = now.Add(wait + d)
	}
	return wait
}

// failed counts a failed bind. It reports whether this failure made the
// address blocked (true once per block, for the log line and the counter).
func (g *bindGuard) failed(addr netip.Addr, systemID string) (nowBlocked bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.clock.Now()
	// A copy: the decoded system_id shares the memory of its whole frame.
	g.pairs.bump(addrSystemID{addr, strings.Clone(systemID)}, now)
	f := g.addrs.bump(addr, now)
	if g.maxFailures > 0 && f.n >= g.maxFailures && !now.Before(f.blockedUntil) {
		f.blockedUntil = now.Add(g.ban)
		f.n = 0 // a new count starts when the block ends
		return true
	}
	return false
}

// succeeded clears the failures of this address + system_id only.
func (g *bindGuard) succeeded(addr netip.Addr, systemID string) {
	g.mu.Lock()
	g.pairs.remove(addrSystemID{addr, systemID})
	g.mu.Unlock()
}

// size is the number of tracked addresses and pairs.
func (g *bindGuard) size() (addrs, pairs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.addrs.m), len(g.pairs.m)
}

// boundedTable is a map of failure counts with at most max entries.
type boundedTable[K comparable] struct {
	max int
	m   map[K]*failureCount
}

func (t *boundedTable[K]) get(k K) *failureCount { return t.m[k] }

func (t *boundedTable[K]) remove(k K) { delete(t.m, k) }

// bump counts one failure for k at now, starting afresh after the window.
func (t *boundedTable[K]) bump(k K, now time.Time) *failureCount {
	f := t.m[k]
	if f == nil {
		f = t.add(k, now)
	} else if now.Sub(f.last) > failureWindow {
		f.n = 0
	}
	f.n++
	f.last = now
	return f
}

// add makes an entry for k with no failure, seen at now, making room in
// a full table first.
func (t *boundedTable[K]) add(k K, now time.Time) *failureCount {
	if t.m == nil {
		t.m = make(map[K]*failureCount)
	}
	if len(t.m) >= t.max {
		t.evictOne(now)
	}
	f := &failureCount{last: now}
	t.m[k] = f
	return f
}

// evictOne removes one entry: among the first few map iteration yields
// (an arbitrary sample), an expired one, else one not blocked with the
// fewest failures, else the first.
func (t *boundedTable[K]) evictOne(now time.Time) {
	var victim K
	best := -1
	i := 0
	for k, f := range t.m {
		score := f.n
		switch {
		case now.Sub(f.last) > failureWindow && !now.Before(f.blockedUntil):
			delete(t.m, k)
			return
		case now.Before(f.blockedUntil):
			score += 1 << 30
		}
		if best < 0 || score < best {
			victim, best = k, score
		}
		if i++; i >= evictScan {
			break
		}
	}
	if best >= 0 {
		delete(t.m, victim)
	}
}
