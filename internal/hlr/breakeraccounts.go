package hlr

import (
	"sync"
	"time"
)

// accountRuns keeps which accounts the breaker's current run of failures
// came from, and which accounts asked lately. A run from one account while
// others ask does not open the breaker for everyone: numbers that one
// client sends (that time out at the provider, say) say nothing of the
// others', and 20 such submits every HLR_BREAKER_OPEN_SECONDS would
// otherwise fail every account's lookups. That account alone is cut off
// for the open period instead. A run from several accounts, or from the
// only account asking, opens the breaker as before.
type accountRuns struct {
	now      func() time.Time
	window   time.Duration // the open period: "lately", and how long a cut-off lasts
	failures int           // the run that trips

	mu      sync.Mutex
	run     int
	first   string // the run's first account
	multi   bool   // the run holds another account's failure too
	seen    map[string]time.Time
	cutOff  map[string]cutOffAccount
	pruneAt time.Time
}

// cutOffAccount is an account whose own run of failures was cut off.
type cutOffAccount struct {
	until      time.Time
	byTimeouts bool
}

func newAccountRuns(failures int, window time.Duration) *accountRuns {
	return &accountRuns{now: time.Now, window: window, failures: failures,
		seen: make(map[string]time.Time), cutOff: make(map[string]cutOffAccount)}
}

// asked records a lookup of acct and reports whether acct is cut off (and
// whether timeouts cut it off).
func (a *accountRuns) asked(acct string) (cut, byTimeouts bool) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if c, ok := a.cutOff[acct]; ok {
		if now.Before(c.until) {
			return true, c.byTimeouts
		}
		delete(a.cutOff, acct)
	}
	a.seen[acct] = now
	if now.After(a.pruneAt) { // the map holds the accounts of one window
		for k, t := range a.seen {
			if now.Sub(t) > a.window {
				delete(a.seen, k)
			}
		}
		a.pruneAt = now.Add(a.window)
	}
	return false, false
}

// succeeded ends the run.
func (a *accountRuns) succeeded() {
	a.mu.Lock()
	a.run, a.first, a.multi = 0, "", false
	a.mu.Unlock()
}

// failed adds a failure of acct to the run. When the run trips, comes
// from acct alone and another account asked within the window, acct is
// cut off (byTimeouts: what mostly failed) and the run ends: it reports
// true.
func (a *accountRuns) failed(acct string, byTimeouts func() bool) bool {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.run == 0 {
		a.first = acct
	} else if acct != a.first {
		a.multi = true
	}
	a.run++
	if a.run < a.failures || a.multi || !a.othersAskedLocked(acct, now) {
		return false
	}
	a.cutOff[acct] = cutOffAccount{until: now.Add(a.window), byTimeouts: byTimeouts()}
	a.run, a.first, a.multi = 0, "", false
	return true
}

// othersAskedLocked reports whether an account other than acct asked
// within the window.
func (a *accountRuns) othersAskedLocked(acct string, now time.Time) bool {
	for k, t := range a.seen {
		if k != acct && now.Sub(t) <= a.window {
			return true
		}
	}
	return false
}

// trips reports whether the run is long enough to open the breaker (a run
// that cut one account off ended).
func (a *accountRuns) trips() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.run >= a.failures
}
