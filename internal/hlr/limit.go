package hlr

import "context"

// DefaultMaxConcurrency is the default bound on provider calls in flight
// (HLR_MAX_CONCURRENCY).
const DefaultMaxConcurrency = 256

// limiter bounds the number of calls in flight to next.
type limiter struct {
	next  Lookuper
	slots chan struct{}
	m     *Metrics
}

// NewLimiter allows at most max concurrent calls to next (DefaultMaxConcurrency
// when max <= 0). Callers beyond that wait for a slot while their context
// allows; a context that ends first returns ContextError (ErrTimeout on a
// deadline). It keeps hlr_inflight_requests.
func NewLimiter(next Lookuper, max int, m *Metrics) Lookuper {
	if max <= 0 {
		max = DefaultMaxConcurrency
	}
	return &limiter{next: next, slots: make(chan struct{}, max), m: m}
}

func (l *limiter) Lookup(ctx context.Context, msisdn string) (Result, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		select {
		case l.slots <- struct{}{}:
		case <-ctx.Done():
			return Result{}, ContextError(ctx.Err())
		}
	}
	l.m.inflightAdd(1)
	defer func() {
		l.m.inflightAdd(-1)
		<-l.slots
	}()
	return l.next.Lookup(ctx, msisdn)
}
