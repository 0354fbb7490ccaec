package hlr

import (
	"context"
	"errors"
	"time"

	"golang.org/x/sync/singleflight"
)

// CoalesceOptions configures NewCoalescing.
type CoalesceOptions struct {
	// Timeout bounds the shared call (in a chain: the wait for a provider
	// slot, at most ChainOptions.SlotWait, then the provider call,
	// HLR_TIMEOUT_SECONDS), and so does the deadline of the caller that
	// starts it: a call must not outlive the submit it was made for (in a
	// chain, its slot wait ends when the caller's deadline leaves just
	// the call's time). The shared call does not end when that caller is
	// cancelled for another reason (its session closed), so a billed
	// answer still reaches the cache; each caller returns when its own
	// context ends. 0 means no bound beyond the starting caller's
	// deadline.
	Timeout time.Duration
	// Recheck, if set, is consulted inside the shared call before the
	// provider: a number cached by a call that finished a moment ago is
	// answered from the cache rather than looked up (and billed) again.
	Recheck func(ctx context.Context, msisdn string) (Result, bool)
	// Store, if set, is called with every usable answer before the shared
	// call is released, so Recheck sees it.
	Store func(ctx context.Context, msisdn string, r Result) Result
	// Metrics counts the lookups the shared call saved
	// (hlr_lookups_avoided_total{by="coalesced"}) and Recheck's hits.
	Metrics *Metrics
}

// coalescing makes concurrent lookups of one number share one call to next.
type coalescing struct {
	next Lookuper
	g    singleflight.Group
	o    CoalesceOptions
}

// NewCoalescing returns a Lookuper whose concurrent lookups of the same
// number share one call to next (golang.org/x/sync/singleflight).
func NewCoalescing(next Lookuper, o CoalesceOptions) Lookuper {
	return &coalescing{next: next, o: o}
}

// deadline is the shared call's: the earlier of the starting caller's
// deadline and Timeout from now; callers reports whether it is the
// caller's.
func (c *coalescing) deadline(ctx context.Context) (dl time.Time, ok, callers bool) {
	dl, ok = ctx.Deadline()
	if c.o.Timeout > 0 {
		if bound := time.Now().Add(c.o.Timeout); !ok || bound.Before(dl) {
			return bound, true, false
		}
	}
	return dl, ok, ok
}

// sharedAnswer is what a shared call hands every caller: the answer, and
// whether the call ended by its starter's deadline rather than its own
// bound (a caller with time left then tries again).
type sharedAnswer struct {
	r       Result
	callers bool
}

// joinAttempts bounds how often a caller whose shared call failed by
// another caller's deadline tries again.
const joinAttempts = 3

func (c *coalescing) Lookup(ctx context.Context, msisdn string) (Result, error) {
	for attempt := 1; ; attempt++ {
		r, retry, err := c.lookupOnce(ctx, msisdn)
		if !retry || attempt == joinAttempts {
			return r, err
		}
	}
}

// lookupOnce makes or joins the shared call of msisdn. retry says the
// call this caller joined ended by its starter's deadline while this one
// has time left: a submit that waited in the workers' queue must not fail
// a fresh submit of the same number.
func (c *coalescing) lookupOnce(ctx context.Context, msisdn string) (r Result, retry bool, err error) {
	if err := ctx.Err(); err != nil {
		return Result{}, false, ContextError(err)
	}
	// Only the caller whose function runs makes the call; the others
	// share its answer. The channel receive orders the write before the
	// read.
	ran := false
	ch := c.g.DoChan(msisdn, func() (any, error) {
		ran = true
		callCtx := context.WithoutCancel(ctx)
		dl, ok, callers := c.deadline(ctx)
		if ok {
			var cancel context.CancelFunc
			callCtx, cancel = context.WithDeadline(callCtx, dl)
			defer cancel()
		}
		if c.o.Recheck != nil {
			if r, ok := c.o.Recheck(callCtx, msisdn); ok {
				c.o.Metrics.avoidBySource(r.Source)
				return sharedAnswer{r: r}, nil
			}
		}
		r, err := c.next.Lookup(callCtx, msisdn)
		if err != nil {
			if errors.Is(callCtx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
				err = ContextError(callCtx.Err())
			}
			return sharedAnswer{callers: callers}, err
		}
		if c.o.Store != nil {
			r = c.o.Store(callCtx, msisdn, r)
		}
		return sharedAnswer{r: r}, nil
	})
	select {
	case res := <-ch:
		if !ran {
			// Shared, also when the call failed: this lookup made no
			// request of its own.
			c.o.Metrics.avoid(byCoalesced)
		}
		a, _ := res.Val.(sharedAnswer)
		if res.Err != nil {
			again := !ran && a.callers && errors.Is(res.Err, ErrTimeout) && ctx.Err() == nil
			return Result{}, again, res.Err
		}
		return a.r, false, nil
	case <-ctx.Done():
		return Result{}, false, ContextError(ctx.Err())
	}
}
