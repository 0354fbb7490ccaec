package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
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
	// RetryAfter is how long the cache stays "down" before one request
	// starts a probe of Redis (in the background: the request itself fails
	// fast as the others do); in between, calls fail fast without network
	// I/O (default 1 s).
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

	// whole is the up/down state of a single server or Sentinel set (and
	// of a Cluster whose slot map is not known). On a Cluster each master
	// has its own (nodes, by address): a master that hangs or dies makes
	// only its own keys cache misses, and only they wait for its probes;
	// one state for all masters let the hung one's timeouts take the
	// healthy ones' keys down with it, and then every request for the
	// hung one's keys in flight waited out OpTimeout after each probe
	// that a healthy master answered.
	whole   nodeState
	cluster *redis.ClusterClient
	nodesMu sync.Mutex
	nodes   map[string]*nodeState // the masters that are down
	// refusing is set while Redis answers writes with an error (a full
	// maxmemory with noeviction, a replica): it still answers reads.
	refusing atomic.Bool
	// probes are the probes running (admit): one per down server at
	// most, each bounded by OpTimeout.
	probes sync.WaitGroup
	// Giving way to receipts on a full Redis (giveway.go): no writes
	// before yieldUntil (unix nanos, 0: none); one shed pass at a time
	// (shedding), started at most once per shedEvery (lastShed); shed
	// counts the keys removed; background is the passes running.
	yieldUntil atomic.Int64
	lastShed   atomic.Int64
	shedding   atomic.Bool
	shed       atomic.Uint64
	background sync.WaitGroup
}

// nodeState is whether a Redis server (or all of them) is taken to be
// down, and when a request may probe it next.
type nodeState struct {
	name      string // the master's address; "" for the whole
	down      atomic.Bool
	nextProbe atomic.Int64 // unix nanos; meaningful while down
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
	r.cluster, _ = client.(*redis.ClusterClient)
	return r
}

// stateOf returns the state of the server holding key: the master of its
// slot on a Cluster (the whole state while the slot map is not known),
// else the whole. A Cluster master that is up has no state (nil, its
// address in addr: failed gives it one), so a lookup allocates none.
func (r *Redis) stateOf(ctx context.Context, key string) (st *nodeState, addr string) {
	if r.cluster == nil || r.whole.down.Load() {
		return &r.whole, ""
	}
	node, err := r.cluster.MasterForKey(ctx, key)
	if err != nil {
		return &r.whole, ""
	}
	addr = node.Options().Addr
	r.nodesMu.Lock()
	st = r.nodes[addr]
	r.nodesMu.Unlock()
	return st, addr
}

// failed is fail for a call to st, or, st nil, to the master at addr.
func (r *Redis) failed(parent context.Context, st *nodeState, addr, op string, err error) error {
	if st == nil {
		st = &nodeState{name: addr} // kept by fail (track)
	}
	return r.fail(parent, st, op, err)
}

// track returns the state kept for st's master, keeping st if there is
// none: only masters that are down are kept (at most the Cluster's), so
// addresses of former masters do not pile up.
func (r *Redis) track(st *nodeState) *nodeState {
	if st.name == "" {
		return st
	}
	r.nodesMu.Lock()
	defer r.nodesMu.Unlock()
	if kept := r.nodes[st.name]; kept != nil {
		return kept
	}
	if r.nodes == nil {
		r.nodes = make(map[string]*nodeState)
	}
	r.nodes[st.name] = st
	return st
}

// Key returns the Redis key used for key (prefix + key).
func (r *Redis) Key(key string) string { return r.prefix + key }

// Get returns the bytes stored under key. While Redis (on a Cluster, the
// master of key's slot) is down it returns an error wrapping
// ErrUnavailable without waiting for network I/O; one call per RetryAfter
// starts a probe in the background.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	k := r.prefix + key
	st, addr := r.stateOf(ctx, k)
	if err := r.admit(st, k); err != nil {
		return nil, false, err
	}
	opCtx, cancel := context.WithTimeout(ctx, r.opTimeout)
	defer cancel()
	b, err := r.client.Get(opCtx, k).Bytes()
	if errors.Is(err, redis.Nil) {
		r.markUp(st)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.failed(ctx, st, addr, "get", err)
	}
	r.markUp(st)
	return b, true, nil
}

// Set stores value under key for ttl (nothing when ttl <= 0).
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return nil
	}
	if r.givingWay() {
		return ErrGivingWay
	}
	k := r.prefix + key
	st, addr := r.stateOf(ctx, k)
	if err := r.admit(st, k); err != nil {
		return err
	}
	opCtx, cancel := context.WithTimeout(ctx, r.opTimeout)
	defer cancel()
	if err := r.client.Set(opCtx, k, value, ttl).Err(); err != nil {
		if writeRefused(err) {
			// Redis answered and refused the write: it is up, and its
			// reads still save billed lookups. Only the transitions are
			// logged (a refused write per lookup would flood the log).
			r.markUp(st)
			if r.refusing.CompareAndSwap(false, true) {
				r.log.Warn("redis.cache.writes_refused", slog.String("error", err.Error()))
			}
			return fmt.Errorf("cache: redis set refused: %w", err)
		}
		return r.failed(ctx, st, addr, "set", err)
	}
	r.markUp(st)
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
		return r.fail(ctx, &r.whole, "ping", err)
	}
	r.markUp(&r.whole)
	return nil
}

// Up reports whether the last operation reached Redis: every master of a
// Cluster. It does no I/O.
func (r *Redis) Up() bool {
	if r.whole.down.Load() {
		return false
	}
	r.nodesMu.Lock()
	defer r.nodesMu.Unlock()
	for _, st := range r.nodes {
		if st.down.Load() {
			return false
		}
	}
	return true
}

// DownServers is how many Redis servers the cache takes to be down: 0
// or 1 (the whole) on a single server or Sentinel, on a Cluster the
// masters down, each probed once per RetryAfter (hlr_cache_redis_down).
// It does no I/O.
func (r *Redis) DownServers() int {
	if r.whole.down.Load() {
		return 1
	}
	r.nodesMu.Lock()
	defer r.nodesMu.Unlock()
	n := 0
	for _, st := range r.nodes {
		if st.down.Load() {
			n++
		}
	}
	return n
}

// admit lets a call to st through unless it is down (nil: up). While it is, the
// call fails at once; the one caller per RetryAfter that wins the probe
// slot starts a probe of st (a GET of key, which goes where the call
// would have gone) on a goroutine of its own, and fails too: no request
// waits out OpTimeout on a server that may still hang.
func (r *Redis) admit(st *nodeState, key string) error {
	if st == nil || !st.down.Load() {
		return nil
	}
	now := r.now().UnixNano()
	next := st.nextProbe.Load()
	if now < next || !st.nextProbe.CompareAndSwap(next, now+int64(r.retryAfter)) {
		return fmt.Errorf("%w: redis down, next probe pending", ErrUnavailable)
	}
	r.probes.Add(1)
	go r.probe(st, key)
	return fmt.Errorf("%w: redis down, probing it", ErrUnavailable)
}

// probe asks st for key and marks it up when it answers.
func (r *Redis) probe(st *nodeState, key string) {
	defer r.probes.Done()
	ctx, cancel := context.WithTimeout(context.Background(), r.opTimeout)
	defer cancel()
	if err := r.client.Get(ctx, key).Err(); err != nil && !errors.Is(err, redis.Nil) {
		_ = r.fail(context.Background(), st, "probe", err)
		return
	}
	r.markUp(st)
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

func (r *Redis) fail(parent context.Context, st *nodeState, op string, err error) error {
	if parent.Err() != nil {
		// The caller gave up; that says nothing about Redis.
		return fmt.Errorf("cache: redis %s: %w", op, err)
	}
	st = r.track(st)
	st.nextProbe.Store(r.now().Add(r.retryAfter).UnixNano())
	if st.down.CompareAndSwap(false, true) {
		attrs := []any{slog.String("op", op), slog.String("error", err.Error()), slog.Duration("retry_after", r.retryAfter)}
		if st.name != "" {
			attrs = append(attrs, slog.String("node", st.name))
		}
		r.log.Warn("redis.cache.down", attrs...)
	}
	return fmt.Errorf("%w: redis %s: %w", ErrUnavailable, op, err)
}

func (r *Redis) markUp(st *nodeState) {
	if st != nil && st.down.CompareAndSwap(true, false) {
		if st.name != "" {
			r.nodesMu.Lock()
			if r.nodes[st.name] == st {
				delete(r.nodes, st.name)
			}
			r.nodesMu.Unlock()
			r.log.Info("redis.cache.up", slog.String("node", st.name))
			return
		}
		r.log.Info("redis.cache.up")
	}
}
