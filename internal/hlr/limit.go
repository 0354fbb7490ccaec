package hlr

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultMaxConcurrency is the default bound on provider calls in flight
// (HLR_MAX_CONCURRENCY).
const DefaultMaxConcurrency = 256

// LimiterOptions configures NewLimiter. The zero value gives
// DefaultMaxConcurrency slots and no per-call timeout.
type LimiterOptions struct {
	// MaxConcurrency bounds the provider calls in flight (default
	// DefaultMaxConcurrency).
	MaxConcurrency int
	// CallTimeout, when set, bounds each call to next from the moment it
	// has a slot (HLR_TIMEOUT_SECONDS), and a caller waits for a slot only
	// until its context's deadline less CallTimeout: a call that waited
	// for its slot always has its whole time, so the circuit breaker
	// behind never counts as a provider timeout the time a lookup spent
	// queued here, and it ends before its caller gives up. (One that finds
	// a slot free with less than CallTimeout left, having spent some of
	// its time before it came, in a cache tier or a queue, calls with
	// what is left when that is more than the provider's recent answers
	// took: a call its caller would give up on before the answer is
	// billed for nothing. See answersInTime.)
	CallTimeout time.Duration
	// Metrics receives hlr_inflight_requests and
	// hlr_slot_wait_timeouts_total (nil: none).
	Metrics *Metrics
}

// limiter bounds the calls in flight to next and shares the slots
// fairly between accounts (WithAccount): while callers wait, a freed slot
// goes to the next account in turn, so one account's burst (a flood, a
// submit_multi of 254 numbers) queues behind its own lookups, not behind
// every other account's. No account holds more than perAccount slots:
// the rest (a sixteenth, none below 16 slots) is kept for the others, so
// an account that arrives while a burst of slow calls (slower than a
// caller waits for a slot) holds all it may still gets a slot at once.
type limiter struct {
	next       Lookuper
	o          LimiterOptions
	perAccount int

	// answerTime is a moving average of how long the provider's answers
	// took (calls that returned one), in nanoseconds; 0 until the first.
	answerTime atomic.Int64

	mu      sync.Mutex
	free    int                     // slots not held
	held    map[string]int          // slots held, by account (only accounts holding some)
	waiting map[string]*slotWaiters // by account, only accounts with waiters
	turn    []string                // accounts with waiters, in the order they are served
}

// reservedSlots is how many of max slots no single account may hold: a
// sixteenth. Below 16 slots none: a reserve would take too large a part
// from a single account, the usual set-up.
func reservedSlots(max int) int { return max / 16 }

// slotWaiters are one account's callers waiting for a slot, first come
// first served; a caller that gave up stays in the list, marked, until
// its turn comes (removing it at once would cost a scan per timeout).
type slotWaiters struct{ list []*slotWaiter }

type slotWaiter struct {
	ready     chan struct{} // receives the slot
	granted   bool          // under limiter.mu
	abandoned bool          // under limiter.mu
}

// NewLimiter returns next behind a fair concurrency limit (see
// LimiterOptions). Callers beyond it wait for a slot while their context
// allows; one that cannot get a slot in time returns ContextError's error
// (ErrTimeout on a deadline) without calling next.
func NewLimiter(next Lookuper, o LimiterOptions) Lookuper {
	if o.MaxConcurrency <= 0 {
		o.MaxConcurrency = DefaultMaxConcurrency
	}
	return &limiter{next: next, o: o, free: o.MaxConcurrency, perAccount: o.MaxConcurrency - reservedSlots(o.MaxConcurrency),
		held: make(map[string]int), waiting: make(map[string]*slotWaiters)}
}

func (l *limiter) Lookup(ctx context.Context, msisdn string) (Result, error) {
	acct := accountOf(ctx)
	if !l.tryAcquire(acct) {
		err := l.wait(ctx, acct)
		if err == nil && l.tooLate(ctx) {
			// Handed a slot after its wait should have ended (the
			// process stalled, or the grant raced the deadline): the
			// call would not have its whole CallTimeout, would end
			// after its caller gave up, and its timeout would count
			// against the provider.
			l.release(acct)
			err = context.DeadlineExceeded
		}
		if err != nil {
			l.o.Metrics.slotWaitTimedOut()
			return Result{}, fmt.Errorf("hlr: no free lookup slot in time (HLR_MAX_CONCURRENCY): %w", ContextError(err))
		}
	}
	l.o.Metrics.inflightAdd(1)
	defer func() {
		l.o.Metrics.inflightAdd(-1)
		l.release(acct)
	}()
	if l.o.CallTimeout <= 0 {
		return l.next.Lookup(ctx, msisdn)
	}
	if l.tooLate(ctx) {
		// Found a slot free with less than CallTimeout left: the call
		// ends by the caller's deadline, which the breaker must not
		// count as the provider's timeout. Unless the provider's
		// answers lately took longer than is left: then the caller
		// would give up before the answer, billed for nothing, and the
		// slot is better left to a fresher lookup.
		if !l.answersInTime(ctx) {
			l.o.Metrics.slotWaitTimedOut()
			return Result{}, fmt.Errorf("hlr: no free lookup slot in time (HLR_MAX_CONCURRENCY): %w: less time left than the provider's answers take", ErrTimeout)
		}
		ctx = context.WithValue(ctx, callersDeadlineKey{}, true)
	}
	callCtx, cancel := context.WithTimeout(ctx, l.o.CallTimeout)
	defer cancel()
	start := time.Now()
	res, err := l.next.Lookup(callCtx, msisdn)
	if err == nil {
		l.answered(time.Since(start))
	}
	if err != nil && errors.Is(callCtx.Err(), context.DeadlineExceeded) && !errors.Is(err, ErrTimeout) {
		err = ContextError(callCtx.Err()) // a provider that did not say its time ran out
	}
	return res, err
}

// answered adds an answer's time to the moving average (a weight of an
// eighth: a provider that slows down is followed within a few dozen
// answers). Concurrent updates may lose one another's; an average is all
// that is needed.
func (l *limiter) answered(d time.Duration) {
	old := l.answerTime.Load()
	if old == 0 {
		l.answerTime.Store(int64(d) | 1)
		return
	}
	l.answerTime.Store(old + (int64(d)-old)/8 | 1)
}

// answersInTime reports whether more is left of ctx than the provider's
// answers lately took, with a quarter more for their spread (true before
// the first answer).
func (l *limiter) answersInTime(ctx context.Context) bool {
	avg := time.Duration(l.answerTime.Load())
	dl, ok := ctx.Deadline()
	return avg == 0 || !ok || time.Until(dl) >= avg+avg/4
}

// tooLate reports whether less than CallTimeout is left of ctx.
func (l *limiter) tooLate(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ok && l.o.CallTimeout > 0 && time.Until(dl) < l.o.CallTimeout
}

// tryAcquire takes a free slot for acct when no account that could take
// it waits and acct holds less than its share.
func (l *limiter) tryAcquire(acct string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.takeFreeLocked(acct)
}

func (l *limiter) takeFreeLocked(acct string) bool {
	if l.free > 0 && l.held[acct] < l.perAccount && !l.eligibleWaiterLocked() {
		l.free--
		l.held[acct]++
		return true
	}
	return false
}

// eligibleWaiterLocked reports whether an account waits that could take a
// free slot (one below its share): it goes first. Accounts waiting at
// their share do not make others queue for the slots kept for them.
func (l *limiter) eligibleWaiterLocked() bool {
	for _, acct := range l.turn {
		if l.held[acct] < l.perAccount {
			return true
		}
	}
	return false
}

// wait queues the caller under its account until a slot is handed to it
// or ctx (less CallTimeout) ends.
func (l *limiter) wait(ctx context.Context, acct string) error {
	if dl, ok := ctx.Deadline(); ok && l.o.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-l.o.CallTimeout))
		defer cancel()
	}
	w := &slotWaiter{ready: make(chan struct{}, 1)}
	l.mu.Lock()
	if l.takeFreeLocked(acct) { // freed meanwhile
		l.mu.Unlock()
		return nil
	}
	q := l.waiting[acct]
	if q == nil {
		q = &slotWaiters{}
		l.waiting[acct] = q
		l.turn = append(l.turn, acct)
	}
	q.list = append(q.list, w)
	// A slot may be free that the accounts queued ahead cannot take (they
	// hold their share): it goes to the next account in turn that can.
	l.grantLocked()
	l.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	if w.granted { // handed a slot as ctx ended: pass it on
		l.mu.Unlock()
		l.release(acct)
		return ctx.Err()
	}
	w.abandoned = true
	l.mu.Unlock()
	return ctx.Err()
}

// release gives back acct's slot and hands one to the first waiter of
// the next account in turn that holds less than its share, or frees it.
func (l *limiter) release(acct string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[acct]--; l.held[acct] <= 0 {
		delete(l.held, acct)
	}
	l.free++
	l.grantLocked()
}

// grantLocked hands the free slots to waiters, one per account in turn,
// skipping (without moving) accounts that hold their share.
func (l *limiter) grantLocked() {
	for i := 0; l.free > 0 && i < len(l.turn); {
		acct := l.turn[i]
		if l.held[acct] >= l.perAccount {
			i++
			continue
		}
		l.turn = append(l.turn[:i], l.turn[i+1:]...)
		q := l.waiting[acct]
		var w *slotWaiter
		for len(q.list) > 0 && w == nil {
			if x := q.list[0]; !x.abandoned {
				w = x
			}
			q.list[0] = nil
			q.list = q.list[1:]
		}
		if len(q.list) > 0 {
			l.turn = append(l.turn, acct) // its next waiter is served after the others'
		} else {
			delete(l.waiting, acct)
		}
		if w != nil {
			w.granted = true
			l.free--
			l.held[acct]++
			w.ready <- struct{}{}
		}
		// turn[i] is now the account after acct: go on from there.
	}
}

// callersDeadlineKey marks the context of a call that ends by its
// caller's deadline, before CallTimeout (see cutByCaller).
type callersDeadlineKey struct{}

// cutByCaller reports whether ctx, a provider call's, ended by its
// caller's deadline rather than its own CallTimeout: the provider was not
// given its whole time.
func cutByCaller(ctx context.Context) bool {
	marked, _ := ctx.Value(callersDeadlineKey{}).(bool)
	return marked && errors.Is(ctx.Err(), context.DeadlineExceeded)
}

// accountKey is the context key of the account a lookup is made for.
type accountKey struct{}

// WithAccount returns ctx naming the account (system_id) a lookup is made
// for; the concurrency limit takes turns between accounts.
func WithAccount(ctx context.Context, account string) context.Context {
	return context.WithValue(ctx, accountKey{}, account)
}

func accountOf(ctx context.Context) string {
	s, _ := ctx.Value(accountKey{}).(string)
	return s
}
