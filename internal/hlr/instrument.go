package hlr

import (
	"context"
	"time"
)

// instrumented records provider-call metrics around a provider.
type instrumented struct {
	next Lookuper
	m    *Metrics
	now  func() time.Time
}

// NewInstrumented wraps a provider so every call is counted in
// hlr_requests_total and timed in hlr_latency_seconds. now may be nil
// (time.Now). With m nil it returns next unchanged.
func NewInstrumented(next Lookuper, m *Metrics, now func() time.Time) Lookuper {
	if m == nil {
		return next
	}
	if now == nil {
		now = time.Now
	}
	return &instrumented{next: next, m: m, now: now}
}

func (i *instrumented) Lookup(ctx context.Context, msisdn string) (Result, error) {
	start := i.now()
	res, err := i.next.Lookup(ctx, msisdn)
	i.m.providerCall(res, err, i.now().Sub(start).Seconds())
	return res, err
}
