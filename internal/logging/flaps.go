package logging

import "time"

// FlapWindow is how long after a key's degradation was logged a new one
// is only counted: a Redis that refuses writes on and off (maxmemory
// reached and freed every few hundred milliseconds, a flapping link, an
// answer time near the timeout) would otherwise log a failure and a
// recovery line per flap.
const FlapWindow = 30 * time.Second

// Flaps decides which of a key's degraded / available-again transitions
// are logged at their levels (WARNING or ERROR, INFO): the first, then at
// most one every FlapWindow, carrying how many were not (repeated); the
// others go to DEBUG; a degradation not logged that lasts FlapWindow is
// logged then (Lasting). It is not safe for concurrent use: its caller
// holds a lock. Entries are kept per key that was degraded (the caller's
// keys must be bounded: accounts of the accounts file, or one) and
// dropped once quiet for a window.
type Flaps struct {
	now     func() time.Time
	entries map[string]*flapEntry
}

type flapEntry struct {
	logged   time.Time // the last degradation logged at ERROR
	repeated int       // degradations since, not logged at ERROR
	quiet    bool      // the last degradation was not logged at ERROR
}

// NewFlaps returns a Flaps on the clock now (nil: time.Now).
func NewFlaps(now func() time.Time) Flaps {
	if now == nil {
		now = time.Now
	}
	return Flaps{now: now, entries: make(map[string]*flapEntry)}
}

// Now is the clock's time.
func (f *Flaps) Now() time.Time { return f.now() }

// Degraded records that sys became degraded and reports whether to log it
// at its level (loud), with the degradations not logged since the last
// line.
func (f *Flaps) Degraded(sys string) (repeated int, loud bool) {
	now := f.now()
	f.prune(now)
	e := f.entries[sys]
	if e == nil {
		f.entries[sys] = &flapEntry{logged: now}
		return 0, true
	}
	if now.Sub(e.logged) < FlapWindow {
		e.repeated++
		e.quiet = true
		return 0, false
	}
	repeated = e.repeated
	*e = flapEntry{logged: now}
	return repeated, true
}

// Lasting reports whether sys's degradation, not logged at its level
// (quiet), has lasted FlapWindow since since and is to be logged at its
// level now, with the degradations before it not logged. Its recovery is
// then logged at INFO.
func (f *Flaps) Lasting(sys string, since time.Time) (repeated int, loud bool) {
	e := f.entries[sys]
	now := f.now()
	if e == nil || !e.quiet || now.Sub(since) < FlapWindow {
		return 0, false
	}
	repeated = max(e.repeated-1, 0) // this one is logged now
	*e = flapEntry{logged: now}
	return repeated, true
}

// Recovered reports whether sys's recovery is logged at INFO: when its
// degradation was logged at its level.
func (f *Flaps) Recovered(sys string) bool {
	e := f.entries[sys]
	return e == nil || !e.quiet
}

// prune drops the entries of accounts that have not degraded since their
// last line for a window: their next degradation is logged at ERROR
// anyway, and there is no count to carry.
func (f *Flaps) prune(now time.Time) {
	for sys, e := range f.entries {
		if e.repeated == 0 && now.Sub(e.logged) >= FlapWindow {
			delete(f.entries, sys)
		}
	}
}
