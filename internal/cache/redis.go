package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis defaults.
const (
	DefaultRedisPrefix     = "hlr:"
	DefaultRedisOpTimeout  = 100 * time.Millisecond
	DefaultRedisRetryAfter = time.Second
)

// RedisOptions tunes a [Redis] cache. The zero value gives the defaults.
type RedisOptions struct {
	// Prefix is prepended to every key (default "hlr:"). Tests use a unique
	// prefix per test.
	Prefix string
	// OpTimeout bounds every Redis operation (default 100 ms).
	OpTimeout time.Duration
	// RetryAfter is how long the cache stays "down" before one request probes
	// Redis again; in between, calls fail fast without network I/O (default 1 s).
	RetryAfter time.Duration
	// Logger receives the up→down and down→up transitions (nil: discard).
	Logger *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Redis is a shared []byte cache on Redis that fails open. It is safe for
// concurrent use.
type Redis struct {
	client     redis.UniversalClient
	prefix     string
	opTimeout  time.Duration
	retryAfter time.Duration
	log        *slog.Logger
	now        func() time.Time

	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanos; meaningful while down
	// refusing is set while Redis answers writes with an error (a full
	// maxmemory with noeviction, a replica): it still answers reads.
	refusing atomic.Bool
}

var _ Cache[[]byte] = (*Redis)(nil)

// NewRedis returns a cache on client. The client is not closed by the cache.
func NewRedis(client redis.UniversalClient, opts RedisOptions) *Redis {
	r := &Redis{
		client:     client,
		prefix:     opts.Prefix,
		opTimeout:  opts.OpTimeout,
		retryAfter: opts.RetryAfter,
		log:        opts.Logger,
		now:        opts.Now,
	}
	if r.prefix == "" {
		r.prefix = DefaultRedisPrefix
	}
	if r.opTimeout <= 0 {
		r.opTimeout = DefaultRedisOpTimeout
	}
	if r.retryAfter <= 0 {
		r.retryAfter = DefaultRedisRetryAfter
	}
	if r.log == nil {
		r.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if r.now == nil {
		r.now = time.Now
	}
	return r
}

// Key returns the Redis key used for key (prefix + key).
func (r *Redis) Key(key string) string { return r.prefix + key }

// Get returns the bytes stored under key. While Redis is down it returns an
// error wrapping ErrUnavailable without network I/O, except for one probe per
// RetryAfter.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := r.admit(); err != nil {
		return nil, false, err
	}
	opCtx, cancel := context.WithTimeout(ctx, r.opTimeout)
	defer cancel()
	b, err := r.client.Get(opCtx, r.prefix+key).Bytes()
	if errors.Is(err, redis.Nil) {
		r.markUp()
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.fail(ctx, "get", err)
	}
	r.markUp()
	return b, true, nil
}

// Set stores value under key for ttl (nothing when ttl <= 0).
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	if err := r.admit(); err != nil {
		return err
	}
	opCtx, cancel := context.WithTimeout(ctx, r.opTimeout)
	defer cancel()
	if err := r.client.Set(opCtx, r.prefix+key, value, ttl).Err(); err != nil {
		if writeRefused(err) {
			// Redis answered and refused the write: it is up, and its
			// reads still save billed lookups. Only the transitions are
			// logged (a refused write per lookup would flood the log).
			r.markUp()
			if r.refusing.CompareAndSwap(false, true) {
				r.log.Warn("redis.cache.writes_refused", slog.String("error", err.Error()))
			}
			return fmt.Errorf("cache: redis set refused: %w", err)
		}
		return r.fail(ctx, "set", err)
	}
	r.markUp()
	if r.refusing.CompareAndSwap(true, false) {
		r.log.Info("redis.cache.writes_accepted")
	}
	return nil
}

// Healthy pings Redis (bounded by the op timeout) and updates the up/down
// state. It returns nil when Redis answered.
func (r *Redis) Healthy(ctx context.Context) error {
	opCtx, cancel := context.WithTimeout(ctx, r.opTimeout)
	defer cancel()
	if err := r.client.Ping(opCtx).Err(); err != nil {
		return r.fail(ctx, "ping", err)
	}
	r.markUp()
	return nil
}

// Up reports whether the last operation reached Redis. It does no I/O.
func (r *Redis) Up() bool { return !r.down.Load() }

// admit lets a call through unless Redis is down and it is not yet time for
// the next probe. Exactly one caller wins each probe slot.
func (r *Redis) admit() error {
	if !r.down.Load() {
		return nil
	}
	now := r.now().UnixNano()
	next := r.nextProbe.Load()
	if now < next || !r.nextProbe.CompareAndSwap(next, now+int64(r.retryAfter)) {
		return fmt.Errorf("%w: redis down, next probe pending", ErrUnavailable)
	}
	return nil
}

// writeRefusals are the replies of a Redis that answers reads but refuses
// writes: maxmemory with noeviction, a replica, a failed snapshot
// (stop-writes-on-bgsave-error), min-replicas not met.
var writeRefusals = []string{"OOM ", "READONLY ", "MISCONF ", "NOREPLICAS "}

// writeRefused reports whether err is Redis refusing a write it would
// have read: any other reply (LOADING, too many clients, a failed
// authentication, CLUSTERDOWN) says reads fail too.
func writeRefused(err error) bool {
	var reply redis.Error
	if !errors.As(err, &reply) {
		return false
	}
	msg := reply.Error()
	for _, p := range writeRefusals {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

func (r *Redis) fail(parent context.Context, op string, err error) error {
	if parent.Err() != nil {
		// The caller gave up; that says nothing about Redis.
		return fmt.Errorf("cache: redis %s: %w", op, err)
	}
	r.nextProbe.Store(r.now().Add(r.retryAfter).UnixNano())
	if r.down.CompareAndSwap(false, true) {
		r.log.Warn("redis.cache.down",
			slog.String("op", op),
			slog.String("error", err.Error()),
			slog.Duration("retry_after", r.retryAfter))
	}
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

func (r *Redis) markUp() {
	if r.down.CompareAndSwap(true, false) {
		r.log.Info("redis.cache.up")
	}
}
