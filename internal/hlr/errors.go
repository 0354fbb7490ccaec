package hlr

import (
	"context"
	"errors"
	"fmt"
)

// Sentinel errors. Every error a Lookuper returns wraps ErrTimeout or
// ErrProvider, except a caller's own cancellation (context.Canceled).
var (
	// ErrTimeout: the provider did not answer in time.
	ErrTimeout = errors.New("hlr: timeout")
	// ErrProvider: no usable answer (transport, HTTP status, parse error,
	// status 2/3, unknown status, network congestion).
	ErrProvider = errors.New("hlr: provider error")
	// ErrCircuitOpen: the breaker is failing fast. It also matches ErrProvider.
	ErrCircuitOpen = fmt.Errorf("%w: circuit open", ErrProvider)
	// ErrNetworkFailure: the HLR answered with a network congestion/system
	// failure (error 33/34). It also matches ErrProvider but does not count
	// against the circuit breaker: the provider itself works.
	ErrNetworkFailure = fmt.Errorf("%w: network congestion or system failure", ErrProvider)
	// ErrInvalidMSISDN: the number is not 1–15 digits.
	ErrInvalidMSISDN = errors.New("hlr: invalid msisdn")
)

// ContextError turns a done context's error into a lookup error: a deadline
// becomes ErrTimeout (still matching context.DeadlineExceeded), a
// cancellation stays context.Canceled.
func ContextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	return fmt.Errorf("hlr: lookup abandoned: %w", err)
}
