package hlr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerSettings configures the circuit breaker. The zero value gives the
// defaults.
type BreakerSettings struct {
	// Disabled removes the breaker from a chain.
	Disabled bool
	// ConsecutiveFailures that open the breaker (default 10). Only errors
	// wrapping ErrProvider or ErrTimeout count; usable answers (valid or
	// invalid) and ErrNetworkFailure are successes; a caller's cancellation
	// is ignored.
	ConsecutiveFailures uint32
	// OpenTimeout is how long the breaker stays open before it lets probes
	// through (half-open; default 5 s).
	OpenTimeout time.Duration
	// HalfOpenRequests is how many probes may run while half-open (default 1);
	// that many successes close the breaker, one failure reopens it.
	HalfOpenRequests uint32
}

// Breaker fails fast with ErrCircuitOpen while the provider keeps failing.
//
// It remembers what opened it: while open (and for the requests refused in
// half-open), its error also matches ErrTimeout when most of the failures
// that opened it were timeouts, so HLR_TIMEOUT_POLICY keeps deciding during
// an outage of a slow HLR rather than HLR_ERROR_POLICY. A reopening after a
// failed half-open probe takes the probe's cause: an outage that changes
// kind (errors, then a hanging HLR) is decided by the policy of what fails
// now, not of what failed first.
type Breaker struct {
	next Lookuper
	cb   *gobreaker.CircuitBreaker[Result]
	m    *Metrics

	// openedByTimeouts is the cause of the last opening.
	openedByTimeouts atomic.Bool
	// run is the current run of failures, by kind and account: whether
	// it opens the breaker or cuts one account off (breakerrun.go).
	run *failureRun
	log *slog.Logger
}

// NewBreaker wraps next in a circuit breaker (github.com/sony/gobreaker/v2).
// State changes are logged on logger (nil: discard) and exported as
// hlr_breaker_state.
func NewBreaker(next Lookuper, s BreakerSettings, m *Metrics, logger *slog.Logger) *Breaker {
	if s.ConsecutiveFailures == 0 {
		s.ConsecutiveFailures = 10
	}
	if s.OpenTimeout <= 0 {
		s.OpenTimeout = 5 * time.Second
	}
	if s.HalfOpenRequests == 0 {
		s.HalfOpenRequests = 1
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	b := &Breaker{next: next, m: m, log: logger, run: newFailureRun(int(s.ConsecutiveFailures), s.OpenTimeout)}
	failures, openTimeout := s.ConsecutiveFailures, s.OpenTimeout
	b.cb = gobreaker.NewCircuitBreaker[Result](gobreaker.Settings{
		Name:        "hlr",
		MaxRequests: s.HalfOpenRequests,
		Timeout:     s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures && b.run.trips() },
		IsExcluded: func(err error) bool {
			return err != nil && !errors.Is(err, ErrProvider) && !errors.Is(err, ErrTimeout)
		},
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, ErrNetworkFailure) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			m.setBreakerState(stateValue(to))
			if to == gobreaker.StateOpen {
				b.openedByTimeouts.Store(b.run.opened(from == gobreaker.StateHalfOpen))
				// gobreaker moves to half-open lazily, when it is next
				// asked; ask it when the open period ends so the state
				// (and hlr_breaker_state) follows the breaker, not the
				// next lookup.
				time.AfterFunc(openTimeout+time.Millisecond, func() { _ = b.cb.State() })
			}
			lvl := slog.LevelInfo
			attrs := []slog.Attr{slog.String("state", to.String()), slog.String("from", from.String()), slog.String("to", to.String())}
			if to == gobreaker.StateOpen {
				cause := "provider_errors"
				if b.openedByTimeouts.Load() {
					cause = "timeouts"
				}
				lvl, attrs = slog.LevelWarn, append(attrs, slog.String("opened_by", cause))
			}
			logger.LogAttrs(context.Background(), lvl, "hlr.breaker.state", attrs...)
		},
	})
	m.setBreakerState(0)
	return b
}

func stateValue(s gobreaker.State) float64 {
	switch s {
	case gobreaker.StateHalfOpen:
		return 1
	case gobreaker.StateOpen:
		return 2
	default:
		return 0
	}
}

// Lookup calls next unless the breaker is open. A refused call's error
// wraps ErrCircuitOpen and, when timeouts opened the breaker, ErrTimeout.
//
// An account whose own run of failures was cut off (failureRun) is refused
// the same way for the open period, the breaker staying closed for the
// others.
func (b *Breaker) Lookup(ctx context.Context, msisdn string) (Result, error) {
	acct := accountOf(ctx)
	if cut, byTimeouts := b.run.asked(acct); cut {
		b.m.breakerRejected()
		if byTimeouts {
			return Result{}, fmt.Errorf("%w (account %q cut off, by timeouts): %w", ErrCircuitOpen, acct, ErrTimeout)
		}
		return Result{}, fmt.Errorf("%w (account %q cut off, by provider errors)", ErrCircuitOpen, acct)
	}
	res, err := b.cb.Execute(func() (Result, error) {
		res, err := b.next.Lookup(ctx, msisdn)
		if err != nil && cutByCaller(ctx) {
			// Not the provider's failure: excluded (neither counted
			// nor a success), and handed back as it was below.
			return res, callerGaveUp{err}
		}
		b.countRun(acct, err)
		return res, err
	})
	if cut, ok := err.(callerGaveUp); ok {
		return res, cut.err
	}
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		b.m.breakerRejected()
		if b.openedByTimeouts.Load() {
			return Result{}, fmt.Errorf("%w (%v, opened by timeouts): %w", ErrCircuitOpen, err, ErrTimeout)
		}
		return Result{}, fmt.Errorf("%w (%v, opened by provider errors)", ErrCircuitOpen, err)
	}
	return res, err
}

// callerGaveUp carries the error of a call its caller's deadline ended
// through gobreaker, which excludes it: it matches neither ErrTimeout nor
// ErrProvider (no Unwrap).
type callerGaveUp struct{ err error }

func (e callerGaveUp) Error() string { return e.err.Error() }

// countRun adds err to the run of failures, counting the same outcomes
// gobreaker counts (see the settings in NewBreaker). It runs before
// gobreaker sees the outcome, so an opening finds the run complete.
func (b *Breaker) countRun(acct string, err error) {
	var timeout bool
	switch {
	case err == nil || errors.Is(err, ErrNetworkFailure):
		b.run.succeeded()
		return
	case errors.Is(err, ErrTimeout):
		timeout = true
	case !errors.Is(err, ErrProvider):
		return
	}
	if cut, byTimeouts := b.run.failed(acct, timeout); cut {
		cause := "provider_errors"
		if byTimeouts {
			cause = "timeouts"
		}
		b.log.Warn("hlr.breaker.account_cut_off", "system_id", acct, "for", b.run.window.String(), "opened_by", cause,
			"detail", "this account's own lookups failed in a row while other accounts asked: its lookups fail fast for the open period; the breaker stays closed for the others")
	}
}

// State returns "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.cb.State().String() }

// Open reports whether the breaker is failing fast.
func (b *Breaker) Open() bool { return b.cb.State() == gobreaker.StateOpen }
