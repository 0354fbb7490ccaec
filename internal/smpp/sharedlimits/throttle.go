package sharedlimits

import (
	"context"
	"math"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// throttle is one account's share of a Redis GCRA limiter. Messages take
// tokens from a local pool; when the pool runs low a worker reserves the
// next small batch from Redis, so the session's reader waits for Redis
// only when the pool is empty. Reserved tokens are counted in Redis, so
// all instances together never exceed the limit; a pool holds at most
// about 1.5 batches (50 ms of the rate), so little is reserved unused.
type throttle struct {
	l       *Limits
	key     string
	perSec  atomic.Uint64 // math.Float64bits of the rate
	tokens  atomic.Int64
	pending atomic.Bool  // a refill is queued or running
	batchAt atomic.Int64 // Limits.mono time: Redis has no whole batch before then
	local   smpp.Throttle
}

// Throttle builds the shared throttle of an account; it is an
// smpp.ThrottleFactory.
func (l *Limits) Throttle(systemID string, perSecond float64) smpp.Throttle {
	t := &throttle{l: l, key: l.rateKey(systemID), local: smpp.LocalThrottle(systemID, perSecond)}
	t.perSec.Store(math.Float64bits(perSecond))
	return t
}

func (t *throttle) rate() float64 { return math.Float64frombits(t.perSec.Load()) }

// SetRate changes the limit at once on this instance; Redis holds the
// limit as arguments of each call, so the other instances follow as soon
// as they reload too.
func (t *throttle) SetRate(perSecond float64) {
	t.perSec.Store(math.Float64bits(perSecond))
	t.local.SetRate(perSecond)
	t.tokens.Store(0)
}

// batch is how many tokens one reservation asks for: 50 ms of the rate,
// 1 to 100.
func (t *throttle) batch() int {
	return min(max(int(t.rate()/20), 1), 100)
}

func (t *throttle) Allow() bool {
	if t.l.degraded.Load() {
		return t.local.Allow()
	}
	for {
		n := t.tokens.Load()
		if n <= 0 {
			break
		}
		if t.tokens.CompareAndSwap(n, n-1) {
			if n-1 <= int64(t.batch()/2) {
				t.refillSoon()
			}
			return true
		}
	}
	// The pool is empty. Unless Redis said when the next batch will be
	// there, ask for one now. At the limit this asks Redis about as often
	// as batches are granted (20 times a second per instance), however
	// many messages are offered.
	if t.l.mono() < t.batchAt.Load() {
		return false
	}
	n := t.batch()
	ok, err := t.reserve(context.Background(), n, &t.batchAt)
	if err != nil {
		return t.local.Allow()
	}
	if ok {
		t.tokens.Add(int64(n - 1))
	}
	return ok
}

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
	res, err := t.l.rate.AllowN(ctx, t.key, limit, n)
	t.l.observe("reserve", err)
	if err != nil {
		return false, wrap("reserve throughput", err)
	}
	if res.Allowed == 0 {
		retry.Store(t.l.mono() + int64(res.RetryAfter))
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
			if t.l.mono() >= t.batchAt.Load() {
				n := t.batch()
				if ok, err := t.reserve(ctx, n, &t.batchAt); ok && err == nil {
					t.tokens.Add(int64(n))
				}
			}
			t.pending.Store(false)
		}
	}
}
