package hlr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
type Breaker struct {
	next Lookuper
	cb   *gobreaker.CircuitBreaker[Result]
	m    *Metrics
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
	b := &Breaker{next: next, m: m}
	failures := s.ConsecutiveFailures
	b.cb = gobreaker.NewCircuitBreaker[Result](gobreaker.Settings{
		Name:        "hlr",
		MaxRequests: s.HalfOpenRequests,
		Timeout:     s.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		IsExcluded: func(err error) bool {
			return err != nil && !errors.Is(err, ErrProvider) && !errors.Is(err, ErrTimeout)
		},
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, ErrNetworkFailure) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			m.setBreakerState(stateValue(to))
			lvl := slog.LevelInfo
			if to == gobreaker.StateOpen {
				lvl = slog.LevelWarn
			}
			logger.Log(context.Background(), lvl, "hlr.breaker.state", slog.String("state", to.String()),
				slog.String("from", from.String()),
				slog.String("to", to.String()))
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

// Lookup calls next unless the breaker is open.
func (b *Breaker) Lookup(ctx context.Context, msisdn string) (Result, error) {
	res, err := b.cb.Execute(func() (Result, error) { return b.next.Lookup(ctx, msisdn) })
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		b.m.breakerRejected()
		return Result{}, fmt.Errorf("%w (%v)", ErrCircuitOpen, err)
	}
	return res, err
}

// State returns "closed", "half-open" or "open".
func (b *Breaker) State() string { return b.cb.State().String() }

// Open reports whether the breaker is failing fast.
func (b *Breaker) Open() bool { return b.cb.State() == gobreaker.StateOpen }
