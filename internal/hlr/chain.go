package hlr

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// DefaultTimeout is the default bound on one provider call
// (HLR_TIMEOUT_SECONDS).
const DefaultTimeout = 5 * time.Second

// DefaultSlotWait is the default of the longest a lookup waits for a
// provider slot (HLR_MAX_CONCURRENCY) before HLR_TIMEOUT_POLICY decides it
// (HLR_SLOT_WAIT_SECONDS): the time a submit's deadline adds to
// HLR_TIMEOUT_SECONDS, so that a lookup that gets a slot still has its
// whole timeout before the submit gives up (and its billed answer is not
// thrown away).
const DefaultSlotWait = time.Second

// ChainOptions configures NewChain. The zero value is a chain without
// caches, with the default timeout, concurrency and breaker, and no metrics.
type ChainOptions struct {
	// Memory is the in-process tier (nil: none).
	Memory cache.Cache[Result]
	// Redis is the shared tier (nil: none).
	Redis cache.Cache[[]byte]
	// TTL of cached permanent answers (HLR_CACHE_TTL_SECONDS); 0 disables
	// both tiers.
	TTL time.Duration
	// TemporaryTTL of cached temporary answers (absent, unreachable, ...;
	// HLR_CACHE_TTL_TEMPORARY_SECONDS); 0 does not cache them. At most TTL.
	TemporaryTTL time.Duration
	// Timeout bounds one provider call (default DefaultTimeout).
	Timeout time.Duration
	// SlotWait bounds a lookup's wait for a provider slot (default
	// DefaultSlotWait). A caller's deadline should be Timeout + SlotWait.
	SlotWait time.Duration
	// MaxConcurrency bounds provider calls in flight (default 256).
	MaxConcurrency int
	// Breaker configures the circuit breaker.
	Breaker BreakerSettings
	// Registerer receives the metrics (nil: no metrics). Ignored when
	// Metrics is set.
	Registerer prometheus.Registerer
	// Metrics, if set, is used instead of registering new collectors.
	Metrics *Metrics
	// Logger (nil: discard).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Chain is the composed lookup layer:
// memory cache → Redis cache → coalescing → concurrency limit → circuit
// breaker → (metrics) → provider.
type Chain struct {
	outer   Lookuper
	breaker *Breaker
	memory  *MemoryCache
	redis   *RedisCache
	bound   time.Duration // the coalesced call's: SlotWait + Timeout
}

// LookupTimeout is the longest a lookup through the chain takes: the wait
// for a provider slot, then the provider call. A caller's deadline should
// be this, so the chain reports its own timeout first.
func (c *Chain) LookupTimeout() time.Duration { return c.bound }

// NewChain composes the decorators around provider. It fails only when the
// metrics cannot be registered.
func NewChain(provider Lookuper, o ChainOptions) (*Chain, error) {
	m := o.Metrics
	if m == nil {
		var err error
		if m, err = NewMetrics(o.Registerer); err != nil {
			return nil, err
		}
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SlotWait <= 0 {
		o.SlotWait = DefaultSlotWait
	}
	ch := &Chain{}
	l := NewInstrumented(provider, m, o.Now)
	if !o.Breaker.Disabled {
		ch.breaker = NewBreaker(l, o.Breaker, m, logger)
		l = ch.breaker
	}
	l = NewLimiter(l, LimiterOptions{MaxConcurrency: o.MaxConcurrency, CallTimeout: o.Timeout, Metrics: m})

	// The shared call may wait up to SlotWait for a provider slot, then
	// has Timeout for the provider (the limiter's CallTimeout).
	ch.bound = o.SlotWait + o.Timeout
	co := CoalesceOptions{Timeout: ch.bound, Metrics: m}
	// The decorators are built inside out, but the coalescer needs the cache
	// tiers for its recheck/store hooks, so build them first with a
	// placeholder next and fill it in afterwards.
	caching := o.TTL > 0
	ttl := Lifetimes{Permanent: o.TTL, Temporary: o.TemporaryTTL}
	if caching && o.Memory != nil {
		ch.memory = NewMemoryCache(nil, o.Memory, ttl, m, o.Now)
	}
	if caching && o.Redis != nil {
		ch.redis = NewRedisCache(nil, o.Redis, ttl, m, logger, o.Now)
	}
	switch {
	case ch.memory != nil:
		co.Recheck = ch.memory.Peek
	case ch.redis != nil:
		co.Recheck = ch.redis.Peek
	}
	if ch.memory != nil || ch.redis != nil {
		co.Store = func(ctx context.Context, msisdn string, r Result) Result {
			if ch.redis != nil && r.Source == SourceProvider {
				r = ch.redis.Store(ctx, msisdn, r)
			}
			if ch.memory != nil {
				r = ch.memory.Store(ctx, msisdn, r)
			}
			return r
		}
	}
	l = NewCoalescing(l, co)
	if ch.redis != nil {
		ch.redis.next = l
		l = ch.redis
	}
	if ch.memory != nil {
		ch.memory.next = l
		l = ch.memory
	}
	ch.outer = l
	return ch, nil
}

// Lookup implements Lookuper.
func (c *Chain) Lookup(ctx context.Context, msisdn string) (Result, error) {
	return c.outer.Lookup(ctx, msisdn)
}

// BreakerOpen reports whether the circuit breaker is failing fast (false
// when the breaker is disabled).
func (c *Chain) BreakerOpen() bool { return c.breaker != nil && c.breaker.Open() }

// BreakerState returns "closed", "half-open", "open" or "disabled".
func (c *Chain) BreakerState() string {
	if c.breaker == nil {
		return "disabled"
	}
	return c.breaker.State()
}

// Cached answers from the in-process tier only, without blocking, and
// counts nothing: the caller counts the hit ([Resolver.Answered]) when it
// uses the answer, or does the full Lookup, which counts. It lets the SMPP
// reader decide cache hits without a hand-off. The answer is the cached
// one, shared: it must not be modified.
func (c *Chain) Cached(msisdn string) (*Result, bool) {
	if c.memory == nil {
		return nil, false
	}
	return c.memory.Ref(context.Background(), msisdn)
}
