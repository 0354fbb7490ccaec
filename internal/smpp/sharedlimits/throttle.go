package sharedlimits

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// throttle is one account's share of a Redis GCRA limiter. Messages take
// tokens from a local pool; a worker (refillLoop) reserves the next small
// batch from Redis when the pool falls to half a batch, and again as soon
// as Redis has one after saying "not yet", so the pool is refilled ahead
// of need. AllowN runs on a session's reader goroutine and never waits for
// Redis. With the pool empty, a message passes on credit while Redis's
// last answer said the account had that much of its burst left, plus what
// the rate has added since, up to the burst (the pool goes below zero,
// down to minus that much), and the next refill reserves the debt in
// Redis: a client's burst passes as the GCRA's burst of one
// second's worth allows, though the pool holds only 50 ms of the rate.
// Otherwise the message is throttled (that is what the limit means) and a
// refill is requested. Reserved tokens are counted in Redis, so the
// instances together keep to the limit over time; instances that burst at
// once may each pass on credit what Redis last said was left before they
// hear of each other, which the refills pay back before anything else
// passes. A pool holds at most about 1.5 batches (50 ms of the rate, more
// while Redis is slow: see batch), so little is reserved unused.
type throttle struct {
	l        *Limits
	key      string
	perSec   atomic.Uint64 // math.Float64bits of the rate
	tokens   atomic.Int64  // below zero: a debt the next refills reserve
	credit   atomic.Int64  // Redis's remaining burst at its last answer (see creditNow)
	creditAt atomic.Int64  // Limits.mono time of that answer
	pending  atomic.Bool   // a refill is queued, running or timed
	batchAt  atomic.Int64  // Limits.mono time: Redis has no whole batch before then
	// raised: the rate went up; the next refill clears the limiter's
	// state in Redis first (see SetRate).
	raised atomic.Bool
	local  smpp.Throttle
	// refilling is held by the worker refilling t: SetRate may queue a
	// refill while another runs, and two would each reserve a batch.
	refilling sync.Mutex
}

// Throttle builds the shared throttle of an account; it is an
// smpp.ThrottleFactory.
func (l *Limits) Throttle(systemID string, perSecond float64) smpp.Throttle {
	t := &throttle{l: l, key: l.rateKey(systemID), local: smpp.LocalThrottle(systemID, perSecond)}
	t.perSec.Store(math.Float64bits(perSecond))
	t.setCredit(0) // until Redis's first answer, what the rate adds
	if perSecond > 0 {
		t.refillSoon() // the first message finds a batch rather than an empty pool
	}
	return t
}

func (t *throttle) rate() float64 { return math.Float64frombits(t.perSec.Load()) }

// SetRate changes the limit at once on this instance; Redis holds the
// limit as arguments of each call, so the other instances follow as soon
// as they reload too. A raised rate also clears the limiter's state in
// Redis: the state kept at the lower rate (when the next message may
// pass) would hold the new rate back, for up to one message's interval
// at the old rate (20 s at 0.05/s). Clearing it lets one burst through,
// as after a restart. The refill is asked for at once, even while one
// waits on a timer set at the old rate.
func (t *throttle) SetRate(perSecond float64) {
	old := math.Float64frombits(t.perSec.Swap(math.Float64bits(perSecond)))
	t.local.SetRate(perSecond)
	t.tokens.Store(0)
	t.setCredit(0) // Redis's word on the old rate's burst
	t.batchAt.Store(0)
	if perSecond > old && old > 0 {
		t.raised.Store(true)
	}
	if perSecond > 0 {
		t.pending.Store(true)
		select {
		case t.l.refills <- t:
		default:
			t.pending.Store(false) // the next message asks again
		}
	}
}

// batch is how many tokens one reservation asks for: 50 ms of the rate,
// 1 to 100; more when Redis is slow to answer, so that the half batch left
// when the next refill is asked for lasts until it arrives: what the rate
// takes in two round trips of a reservation, up to the burst (Redis
// grants no more at once). A Redis answering in 400 ms held an account
// limited to 1,500/s to 300–600/s with batches of 50 ms.
func (t *throttle) batch() int {
	rate := t.rate()
	n := min(max(int(rate/20), 1), 100)
	if ahead := int(rate * 2 * t.l.reserveLatency().Seconds()); ahead > n {
		n = min(ahead, smpp.BurstOf(rate))
	}
	return n
}

// AllowN takes k tokens from the pool. More than a batch is allowed when
// a whole batch is there, and anything on credit (see throttle); the pool
// then goes below zero, and the refills (each reserved in Redis) pay the
// debt before anything else passes, so all instances together still keep
// to the limit.
func (t *throttle) AllowN(k int) bool {
	if t.l.degraded.Load() {
		return t.local.AllowN(k)
	}
	if t.rate() <= 0 {
		return true // no limit
	}
	k = max(k, 1)
	need := int64(min(k, t.batch()))
	floor := int64(math.MinInt64) // -creditNow(), read once when the pool is short
	for {
		n := t.tokens.Load()
		if n < need {
			if floor == math.MinInt64 {
				floor = -t.creditNow()
			}
			if n-int64(k) < floor {
				break
			}
		}
		if t.tokens.CompareAndSwap(n, n-int64(k)) {
			if n-int64(k) <= int64(t.batch()/2) {
				t.refillSoon()
			}
			return true
		}
	}
	// The pool is empty: throttled now, and a batch is asked for in the
	// background (unless Redis said when the next one will be there: then
	// the worker asks at that time). At the limit this asks Redis about
	// as often as batches are granted, however many messages are offered.
	t.refillSoon()
	return false
}

// debtRetry is how soon a refill that failed is tried again while the
// pool owes a debt.
const debtRetry = time.Second

// refillSoon queues one refill unless one is already queued.
func (t *throttle) refillSoon() {
	if !t.pending.CompareAndSwap(false, true) {
		return
	}
	select {
	case t.l.refills <- t:
	default:
		t.pending.Store(false)
	}
}

// reserve asks Redis for n tokens, all or none. When Redis has fewer, it
// stores in retry when n will be there. (redis_rate's AllowAtMost would
// grant part of a batch, but it charges a fraction of a token more than it
// grants, which lost a quarter of the rate at the limit.)
func (t *throttle) reserve(ctx context.Context, n int, retry *atomic.Int64) (bool, error) {
	perSec := t.rate()
	if perSec <= 0 {
		return true, nil
	}
	limit := redis_rate.Limit{
		// redis_rate takes an integer rate: count in thousandths over
		// 1000 s so fractional rates keep their precision.
		Rate:   max(int(math.Round(perSec*1000)), 1),
		Period: 1000 * time.Second,
		Burst:  smpp.BurstOf(perSec),
	}
	ctx, cancel := t.l.opCtx(ctx)
	defer cancel()
	start := t.l.mono()
	res, err := t.l.rate.AllowN(ctx, t.key, limit, n)
	t.l.observe("reserve", err)
	if err == nil {
		t.l.reserveTook(time.Duration(t.l.mono() - start))
	}
	if err != nil {
		t.setCredit(0)
		return false, wrap("reserve throughput", err)
	}
	// What Redis has left of the burst is what the pool may owe until its
	// next answer (none after "not yet"), plus what the rate adds.
	t.setCredit(int64(res.Remaining))
	if res.Allowed == 0 {
		// An answer at a rate changed meanwhile (SetRate) says nothing
		// of when the new rate has a batch: not kept.
		if t.rate() == perSec {
			retry.Store(t.l.mono() + int64(res.RetryAfter))
		}
		return false, nil
	}
	return true, nil
}

func (l *Limits) refillLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case t := <-l.refills:
			l.refill(ctx, t)
		}
	}
}

// refill reserves one batch for t unless its pool is already full enough
// (another request got there first). When Redis has no whole batch yet, the
// refill is requested again for when it will: a timer per throttle at
// most, since t.pending stays set until then.
func (l *Limits) refill(ctx context.Context, t *throttle) {
	t.refilling.Lock() // the other refill's batch is seen below
	defer t.refilling.Unlock()
	if t.raised.CompareAndSwap(true, false) {
		l.clearRate(ctx, t)
		t.batchAt.Store(0) // what Redis said of the old state is void
	}
	if t.tokens.Load() > int64(t.batch()/2) {
		t.pending.Store(false)
		return
	}
	if wait := t.batchAt.Load() - l.mono(); wait > 0 {
		l.refillAt(ctx, t, time.Duration(wait))
		return
	}
	n := t.refillSize()
	ok, err := t.reserve(ctx, n, &t.batchAt)
	switch {
	case err != nil && t.tokens.Load() < 0:
		// A debt is left (messages passed on credit): asked again in a
		// while rather than at the next message, which after an idle
		// spell would find the debt still owed and its burst short.
		l.refillAt(ctx, t, debtRetry)
	case err != nil:
		// Allow falls back on the local limit while degraded; the next
		// message asks again.
		t.pending.Store(false)
	case ok:
		t.tokens.Add(int64(n))
		t.pending.Store(false)
		if t.tokens.Load() <= int64(t.batch()/2) {
			// Still short: a debt paid a batch at a time (refillSize)
			// goes on without waiting for a message. Otherwise an
			// account idle after an overload kept the rest of its debt,
			// and its next burst passed only what was left of the
			// credit after it.
			t.refillSoon()
		}
	default:
		l.refillAt(ctx, t, time.Duration(t.batchAt.Load()-l.mono()))
	}
}

// setCredit records Redis's remaining burst as of now.
func (t *throttle) setCredit(n int64) {
	t.credit.Store(n)
	t.creditAt.Store(t.l.mono())
}

// creditNow is how far below zero the pool may go: what Redis last said
// was left of the burst, plus what the rate has added since, up to the
// burst. An account idle since an overload (when Redis last said "none
// left") has its burst back, as it has in Redis, without a reservation
// first: it used to pass only what its pool held.
func (t *throttle) creditNow() int64 {
	burst := int64(smpp.BurstOf(t.rate()))
	c := t.credit.Load()
	if c >= burst {
		return burst
	}
	grown := float64(t.l.mono()-t.creditAt.Load()) / float64(time.Second) * t.rate()
	return min(burst, c+int64(grown))
}

// refillSize is how many tokens the next refill reserves: a batch, or the
// pool's debt when it is larger (messages passed on credit) and within
// the credit, so that one reservation pays it; never more than the burst,
// which is all Redis grants at once. After a "not yet" (no credit left)
// the debt is paid a batch at a time until the credit has grown back to
// it: a reservation of the whole debt would wait for Redis to gather it
// while other instances' batches take the rate as it comes.
func (t *throttle) refillSize() int {
	n := int64(t.batch())
	if debt := -t.tokens.Load(); debt > n && debt <= t.creditNow() {
		n = min(debt, int64(smpp.BurstOf(t.rate())))
	}
	return int(n)
}

// clearRate deletes t's limiter state in Redis (SetRate: a raised rate).
// A failure leaves the old state to run out, as before.
func (l *Limits) clearRate(ctx context.Context, t *throttle) {
	ctx, cancel := l.opCtx(ctx)
	defer cancel()
	err := l.rate.Reset(ctx, t.key)
	l.observe("reset", err)
}

// refillAt queues t's refill again after wait, keeping t.pending set so
// that messages meanwhile do not queue more.
func (l *Limits) refillAt(ctx context.Context, t *throttle, wait time.Duration) {
	time.AfterFunc(max(wait, 0), func() {
		if ctx.Err() != nil {
			t.pending.Store(false)
			return
		}
		select {
		case l.refills <- t:
		default:
			t.pending.Store(false) // the next message asks again
		}
	})
}
