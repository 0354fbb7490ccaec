package smpp

import (
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// AccountState is one account as the server uses it: its current settings
// (replaced as a whole on reload, so a session always sees one consistent
// version), its throughput limiter shared by every session bound to it, and
// its submit counters.
type AccountState struct {
	SystemID string // never changes; a different system_id is a different account

	settings atomic.Pointer[Account]
	throttle Throttle
	removed  atomic.Bool

	accepted  atomic.Uint64
	rejected  atomic.Uint64
	throttled atomic.Uint64
}

func newAccountState(acc Account, newThrottle ThrottleFactory) *AccountState {
	st := &AccountState{SystemID: acc.SystemID}
	st.settings.Store(&acc)
	st.throttle = newThrottle(acc.SystemID, acc.Throughput)
	return st
}

// Settings returns the account's current settings.
func (a *AccountState) Settings() Account { return *a.settings.Load() }

// MaxBinds is the current bind limit; 0 means unlimited.
func (a *AccountState) MaxBinds() int { return a.settings.Load().MaxBinds }

// Throughput is the current limit in messages per second; 0 means
// unlimited.
func (a *AccountState) Throughput() float64 { return a.settings.Load().Throughput }

// MaxPending is the current cap of receipts waiting for delivery; 0 means
// none.
func (a *AccountState) MaxPending() int { return a.settings.Load().MaxPending }

// Removed reports whether a reload removed the account.
func (a *AccountState) Removed() bool { return a.removed.Load() }

// Allow reports whether n more messages (a submit_multi's destinations)
// fit the account's throughput.
func (a *AccountState) Allow(n int) bool {
	if a.Throughput() <= 0 {
		return true
	}
	return a.throttle.AllowN(n)
}

// SubmitCounts are the answers given to an account's submit_sm, data_sm
// and submit_multi since it was loaded.
type SubmitCounts struct {
	Accepted  uint64 `json:"accepted"`
	Rejected  uint64 `json:"rejected"`
	Throttled uint64 `json:"throttled"`
}

// Submits returns the account's submit counters.
func (a *AccountState) Submits() SubmitCounts {
	return SubmitCounts{Accepted: a.accepted.Load(), Rejected: a.rejected.Load(), Throttled: a.throttled.Load()}
}

// update applies new settings; limits take effect at once.
func (a *AccountState) update(acc Account) {
	old := a.settings.Swap(&acc)
	if old.Throughput != acc.Throughput {
		a.throttle.SetRate(acc.Throughput)
	}
}

// Throttle limits one account's throughput.
type Throttle interface {
	// AllowN takes n messages' worth of the limit (a submit_multi counts
	// each destination: each costs a lookup and a receipt). More than one
	// second's worth is allowed only when the whole second's worth is
	// there, and the rest is owed: later messages wait until it is paid
	// back, so the rate holds on average. It runs on a session's reader
	// goroutine and must not block for long.
	AllowN(n int) bool
	// SetRate changes the limit (messages per second; 0 = unlimited).
	SetRate(perSecond float64)
}

// ThrottleFactory builds the throttle of an account.
type ThrottleFactory func(systemID string, perSecond float64) Throttle

// LocalThrottle is a token bucket in this process with a burst of one
// second's worth (at least 1): the limit holds per instance.
func LocalThrottle(_ string, perSecond float64) Throttle {
	if perSecond <= 0 {
		return &localThrottle{l: rate.NewLimiter(rate.Inf, 1)}
	}
	return &localThrottle{l: rate.NewLimiter(rate.Limit(perSecond), BurstOf(perSecond))}
}

type localThrottle struct{ l *rate.Limiter }

func (t *localThrottle) AllowN(n int) bool {
	if n <= 1 {
		return t.l.Allow()
	}
	now := time.Now()
	burst := t.l.Burst()
	first := min(n, burst)
	r := t.l.ReserveN(now, first)
	if !r.OK() || r.DelayFrom(now) > 0 {
		r.CancelAt(now)
		return false
	}
	for left := n - first; left > 0; left -= burst { // owed: reserved now, paid by the time to come
		t.l.ReserveN(now, min(left, burst))
	}
	return true
}

func (t *localThrottle) SetRate(perSecond float64) {
	if perSecond <= 0 {
		t.l.SetLimit(rate.Inf)
		return
	}
	t.l.SetBurst(BurstOf(perSecond))
	t.l.SetLimit(rate.Limit(perSecond))
}

// BurstOf is the burst allowed at a throughput: one second's worth, at
// least 1.
func BurstOf(perSecond float64) int { return max(int(perSecond), 1) }
