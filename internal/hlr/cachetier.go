package hlr

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// Lifetimes says how long an answer is cached, by what it means.
type Lifetimes struct {
	// Permanent answers (valid, invalid number, unknown subscriber,
	// landline, network not supported): HLR_CACHE_TTL_SECONDS.
	Permanent time.Duration
	// Temporary answers (absent, switched off, unreachable, busy, the other
	// present "no" states; see Result.Temporary):
	// HLR_CACHE_TTL_TEMPORARY_SECONDS. 0 does not cache them; it never
	// exceeds Permanent.
	Temporary time.Duration
}

// of returns the lifetime of r.
func (l Lifetimes) of(r Result) time.Duration {
	if r.Temporary() {
		return min(l.Temporary, l.Permanent)
	}
	return l.Permanent
}

// stamp gives an answer about to be cached its expiry: what remains of
// an expiry it already carries (a Redis hit keeps its Redis TTL in memory),
// else now+its lifetime. It returns the time left to cache it; not
// positive means do not cache.
func stamp(r Result, l Lifetimes, now time.Time) (Result, time.Duration) {
	ttl := l.of(r)
	if ttl <= 0 {
		return r, 0
	}
	if !r.Expires.IsZero() {
		if rem := r.Expires.Sub(now); rem < ttl {
			return r, rem
		}
		return r, ttl
	}
	r.Expires = now.Add(ttl)
	return r, ttl
}

// MemoryCache is the in-process cache decorator. It stores Result values
// (no serialisation) so a hit does not allocate.
type MemoryCache struct {
	next  Lookuper
	store cache.Cache[Result]
	mem   *cache.Memory[Result] // store, when it can lend its values; else nil
	ttl   Lifetimes
	m     *Metrics
	now   func() time.Time
}

// NewMemoryCache answers from store when it can and otherwise asks next,
// caching usable answers for their lifetime. now may be nil (time.Now).
func NewMemoryCache(next Lookuper, store cache.Cache[Result], ttl Lifetimes, m *Metrics, now func() time.Time) *MemoryCache {
	if now == nil {
		now = time.Now
	}
	// A [cache.Memory] lends its values without copying them. A Result is
	// ~200 bytes: the reader's hit path ([Chain.Cached]) passes a pointer
	// instead of copying it through every layer.
	mem, _ := store.(*cache.Memory[Result])
	return &MemoryCache{next: next, store: store, mem: mem, ttl: ttl, m: m, now: now}
}

// Lookup implements Lookuper.
func (c *MemoryCache) Lookup(ctx context.Context, msisdn string) (Result, error) {
	if r, ok := c.Peek(ctx, msisdn); ok {
		c.m.cache(SourceMemory, true)
		c.m.avoid(byMemory)
		return r, nil
	}
	c.m.cache(SourceMemory, false)
	r, err := c.next.Lookup(ctx, msisdn)
	if err != nil {
		return Result{}, err
	}
	if r.Source != SourceMemory {
		r = c.Store(ctx, msisdn, r)
	}
	return r, nil
}

// Peek returns a cached answer without asking next or counting metrics.
func (c *MemoryCache) Peek(ctx context.Context, msisdn string) (Result, bool) {
	p, ok := c.Ref(ctx, msisdn)
	if !ok {
		return Result{}, false
	}
	return *p, true
}

// Ref is Peek without the copy: the answer is the cached one, shared with
// every other reader, and must not be modified. A store that cannot lend
// its values (not [cache.Memory]) costs a copy per hit.
func (c *MemoryCache) Ref(ctx context.Context, msisdn string) (*Result, bool) {
	if c.mem == nil {
		r, ok, err := c.store.Get(ctx, msisdn)
		if !ok || err != nil {
			return nil, false
		}
		r.Source = SourceMemory
		return &r, true
	}
	return lent(c.mem.Ref(msisdn))
}

// lent returns a cached answer of a [cache.Memory] as a hit lends it: as
// it is when Store kept it (which marks it SourceMemory), else a copy so
// marked.
func lent(p *Result, ok bool) (*Result, bool) {
	if ok && p.Source != SourceMemory { // stored by someone other than Store
		r := *p
		r.Source = SourceMemory
		return &r, true
	}
	return p, ok
}

// Store caches a usable answer and returns it with Expires set. The copy
// kept already says it comes from memory, so that a hit can be lent as it
// is (Ref).
func (c *MemoryCache) Store(ctx context.Context, msisdn string, r Result) Result {
	r, ttl := stamp(r, c.ttl, c.now())
	if ttl <= 0 {
		return r
	}
	kept := r
	kept.Source = SourceMemory
	_ = c.store.Set(ctx, msisdn, kept, ttl) // the memory tier does not fail
	return r
}

// redisEntry is the stored form of a Result in the shared tier.
type redisEntry struct {
	V   int    `json:"v"`
	Exp int64  `json:"exp"` // unix milliseconds
	R   Result `json:"r"`
}

// RedisCache is the shared cache decorator. It fails open: a Redis error is
// a miss (counted in hlr_cache_misses_total{tier="redis"}); the Redis cache
// itself logs up/down transitions.
type RedisCache struct {
	next  Lookuper
	store cache.Cache[[]byte]
	ttl   Lifetimes
	m     *Metrics
	log   *slog.Logger
	now   func() time.Time
}

// NewRedisCache answers from store when it can and otherwise asks next,
// storing usable answers (JSON) for their lifetime. logger and now may be nil.
func NewRedisCache(next Lookuper, store cache.Cache[[]byte], ttl Lifetimes, m *Metrics, logger *slog.Logger, now func() time.Time) *RedisCache {
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &RedisCache{next: next, store: store, ttl: ttl, m: m, log: logger, now: now}
}

// Lookup implements Lookuper.
func (c *RedisCache) Lookup(ctx context.Context, msisdn string) (Result, error) {
	if r, ok := c.Peek(ctx, msisdn); ok {
		c.m.cache(SourceRedis, true)
		c.m.avoid(byRedis)
		return r, nil
	}
	c.m.cache(SourceRedis, false)
	r, err := c.next.Lookup(ctx, msisdn)
	if err != nil {
		return Result{}, err
	}
	if r.Source == SourceProvider {
		r = c.Store(ctx, msisdn, r)
	}
	return r, nil
}

// Peek returns a cached answer without asking next or counting metrics.
func (c *RedisCache) Peek(ctx context.Context, msisdn string) (Result, bool) {
	b, ok, err := c.store.Get(ctx, msisdn)
	if err != nil || !ok {
		return Result{}, false
	}
	var e redisEntry
	if err := json.Unmarshal(b, &e); err != nil || e.V != 1 || e.R.Class == ClassUnknown {
		c.log.Debug("hlr.cache.decode_error",
			slog.String("msisdn", msisdn))
		return Result{}, false
	}
	r := e.R
	r.Source = SourceRedis
	if e.Exp > 0 {
		r.Expires = time.UnixMilli(e.Exp)
	}
	return r, true
}

// Store writes a usable answer to Redis (ignoring failures: fail-open) and
// returns it with Expires set. The write is not abandoned when the caller's
// context ends; the Redis cache's own op timeout bounds it.
func (c *RedisCache) Store(ctx context.Context, msisdn string, r Result) Result {
	r, ttl := stamp(r, c.ttl, c.now())
	if ttl <= 0 {
		return r
	}
	b, err := json.Marshal(redisEntry{V: 1, Exp: r.Expires.UnixMilli(), R: r})
	if err != nil {
		return r
	}
	_ = c.store.Set(context.WithoutCancel(ctx), msisdn, b, ttl)
	return r
}
