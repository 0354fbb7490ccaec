package hlr

import (
	"sync"
	"time"
)

// failureRun is the breaker's current run of consecutive failures: how
// many of each kind, and which accounts they came from; and which
// accounts asked lately. A run from one account while others ask does not
// open the breaker for everyone: numbers that one client sends (that time
// out at the provider, say) say nothing of the others', and 20 such
// submits every HLR_BREAKER_OPEN_SECONDS would otherwise fail every
// account's lookups. That account alone is cut off for the open period
// instead. A run from several accounts, or from the only account asking,
// opens the breaker (trips).
type failureRun struct {
	now      func() time.Time
	window   time.Duration // the open period: "lately", and how long a cut-off lasts
	failures int           // the run that trips

	mu             sync.Mutex
	timeouts, errs int
	lastTimeout    bool   // the kind of the last failure: the cause of a reopening from half-open
	first          string // the run's first account
	multi          bool   // the run holds another account's failure too
	seen           map[string]time.Time
	cutOff         map[string]cutOffAccount
	pruneAt        time.Time
}

// cutOffAccount is an account whose own run of failures was cut off.
type cutOffAccount struct {
	until      time.Time
	byTimeouts bool
}

func newFailureRun(failures int, window time.Duration) *failureRun {
	return &failureRun{now: time.Now, window: window, failures: failures,
		seen: make(map[string]time.Time), cutOff: make(map[string]cutOffAccount)}
}

// asked records a lookup of acct and reports whether acct is cut off (and
// whether timeouts cut it off).
func (r *failureRun) asked(acct string) (cut, byTimeouts bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.cutOff[acct]; ok {
		if now.Before(c.until) {
			return true, c.byTimeouts
		}
		delete(r.cutOff, acct)
	}
	r.seen[acct] = now
	if now.After(r.pruneAt) { // the map holds the accounts of one window
		for k, t := range r.seen {
			if now.Sub(t) > r.window {
				delete(r.seen, k)
			}
		}
		r.pruneAt = now.Add(r.window)
	}
	return false, false
}

// succeeded ends the run.
func (r *failureRun) succeeded() {
	r.mu.Lock()
	r.resetLocked()
	r.mu.Unlock()
}

func (r *failureRun) resetLocked() {
	r.timeouts, r.errs, r.first, r.multi = 0, 0, "", false
}

// byTimeoutsLocked reports whether timeouts are most of the run (a tie is
// not most: errors).
func (r *failureRun) byTimeoutsLocked() bool { return r.timeouts > r.errs }

// failed adds a failure of acct (a timeout or a provider error) to the
// run. When the run is long enough, comes from acct alone and another
// account asked within the window, acct is cut off and the run ends: it
// reports true, and whether timeouts were most of the run.
func (r *failureRun) failed(acct string, timeout bool) (cut, byTimeouts bool) {
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timeouts+r.errs == 0 {
		r.first = acct
	} else if acct != r.first {
		r.multi = true
	}
	r.lastTimeout = timeout
	if timeout {
		r.timeouts++
	} else {
		r.errs++
	}
	if r.timeouts+r.errs < r.failures || r.multi || !r.othersAskedLocked(acct, now) {
		return false, false
	}
	byTimeouts = r.byTimeoutsLocked()
	r.cutOff[acct] = cutOffAccount{until: now.Add(r.window), byTimeouts: byTimeouts}
	r.resetLocked()
	return true, byTimeouts
}

// othersAskedLocked reports whether an account other than acct asked
// within the window.
func (r *failureRun) othersAskedLocked(acct string, now time.Time) bool {
	for k, t := range r.seen {
		if k != acct && now.Sub(t) <= r.window {
			return true
		}
	}
	return false
}

// trips reports whether the run is long enough to open the breaker (a run
// that cut one account off ended).
func (r *failureRun) trips() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.timeouts+r.errs >= r.failures
}

// opened ends the run as the breaker opens and reports whether timeouts
// opened it: most of the run when it was closed, the failed probe's kind
// when it was half-open (an outage that changes kind is decided by what
// fails now). The run starts again from nothing, so that failures of this
// outage do not outvote the next probe's.
func (r *failureRun) opened(fromHalfOpen bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	byTimeouts := r.byTimeoutsLocked()
	if fromHalfOpen {
		byTimeouts = r.lastTimeout
	}
	r.resetLocked()
	return byTimeouts
}
