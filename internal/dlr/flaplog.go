package dlr

import "time"

// flapWindow is how long after an account's degradation was logged a new
// one is only counted: a Redis that refuses writes on and off (maxmemory
// reached and freed every few hundred milliseconds, a flapping link)
// would otherwise log an ERROR and an INFO line per flap.
const flapWindow = 30 * time.Second

// flapLog decides which of an account's degraded / available-again
// transitions are logged at their level (ERROR, INFO): the first, then at
// most one every flapWindow, carrying how many were not (repeated); the
// others go to DEBUG. Its caller holds BufferedQueue.mu. Entries are kept
// per account that was degraded (accounts are configured, so bounded) and
// dropped once quiet for a window.
type flapLog struct {
	now     func() time.Time
	entries map[string]*flapEntry
}

type flapEntry struct {
	logged   time.Time // the last degradation logged at ERROR
	repeated int       // degradations since, not logged at ERROR
	quiet    bool      // the last degradation was not logged at ERROR
}

func newFlapLog(now func() time.Time) flapLog {
	if now == nil {
		now = time.Now
	}
	return flapLog{now: now, entries: make(map[string]*flapEntry)}
}

// degraded records that sys became degraded and reports whether to log it
// at ERROR, with the degradations not logged since the last line.
func (f *flapLog) degraded(sys string) (repeated int, loud bool) {
	now := f.now()
	f.prune(now)
	e := f.entries[sys]
	if e == nil {
		f.entries[sys] = &flapEntry{logged: now}
		return 0, true
	}
	if now.Sub(e.logged) < flapWindow {
		e.repeated++
		e.quiet = true
		return 0, false
	}
	repeated = e.repeated
	*e = flapEntry{logged: now}
	return repeated, true
}

// lasting reports whether sys's degradation, not logged at ERROR (quiet),
// has lasted flapWindow since since and is to be logged at ERROR now, with
// the degradations before it not logged. Its recovery is then logged at
// INFO.
func (f *flapLog) lasting(sys string, since time.Time) (repeated int, loud bool) {
	e := f.entries[sys]
	now := f.now()
	if e == nil || !e.quiet || now.Sub(since) < flapWindow {
		return 0, false
	}
	repeated = max(e.repeated-1, 0) // this one is logged now
	*e = flapEntry{logged: now}
	return repeated, true
}

// recovered reports whether sys's recovery is logged at INFO: when its
// degradation was.
func (f *flapLog) recovered(sys string) bool {
	e := f.entries[sys]
	return e == nil || !e.quiet
}

// prune drops the entries of accounts that have not degraded since their
// last line for a window: their next degradation is logged at ERROR
// anyway, and there is no count to carry.
func (f *flapLog) prune(now time.Time) {
	for sys, e := range f.entries {
		if e.repeated == 0 && now.Sub(e.logged) >= flapWindow {
			delete(f.entries, sys)
		}
	}
}
