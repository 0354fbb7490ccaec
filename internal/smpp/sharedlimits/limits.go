package sharedlimits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// ErrDegraded is returned by Healthy while the limits hold per instance
// because Redis cannot be reached.
var ErrDegraded = errors.New("sharedlimits: Redis unreachable, limits hold per instance")

// Options configure New.
type Options struct {
	Prefix     string        // REDIS_KEY_PREFIX
	Instance   string        // this instance's name, part of its lease members
	LeaseTTL   time.Duration // a lease lives this long after its last heartbeat; default 30 s
	Timeout    time.Duration // one Redis call; default 500 ms
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Limits are the shared throughput limiters and bind leases of one
// instance. Run must be running for refills, heartbeats and releases.
type Limits struct {
	rdb   redis.UniversalClient
	rate  *redis_rate.Limiter
	epoch time.Time // for mono
	opts  Options
	log   *slog.Logger

	degraded   atomic.Bool
	answered   atomic.Bool // Redis has answered at least once
	degradedG  prometheus.Gauge
	redisCalls *prometheus.CounterVec

	refills  chan *throttle
	releases chan lease
	// flap decides which degraded/restored lines are logged at their
	// levels (a Redis answering near REDIS_TIMEOUT_SECONDS flips the
	// limits several times a second); since is when the current
	// degradation began.
	flap struct {
		sync.Mutex
		lines logging.Flaps
		since time.Time
	}
	// latency is a moving average of how long a reservation takes, in
	// nanoseconds: the throttles' batches grow with it (throttle.batch).
	latency atomic.Int64
	// lastLatency is the last reservation's duration: a slow spell grows
	// the batches at its first reservation, not after the average has
	// followed (a second of throttling at 400 ms round trips).
	lastLatency atomic.Int64

	// acquisitions numbers the leases taken here (member).
	acquisitions atomic.Uint64

	mu   sync.Mutex
	held map[string]map[uint64]string // system_id → session → member of the lease it holds here
	// beating: a heartbeat is writing the leases it copied from held;
	// releasedInBeat are the leases given back meanwhile, which it may
	// have written again after their release removed them: it removes
	// them once more when it is done.
	beating        bool
	releasedInBeat []lease
	// failedReleases failed in Redis; the next heartbeat Redis answers
	// hands them to the release worker again.
	failedReleases []lease
}

type lease struct {
	systemID string
	session  uint64
	member   string
}

// New builds the limits over rdb.
// Queues of the background Redis work. A refill request dropped on a full
// queue is asked again by the account's next submit; a dropped release is
// logged and its lease expires after LeaseTTL (SMPP_BIND_LEASE_SECONDS).
const (
	refillQueue  = 1024
	releaseQueue = 4096
	// refillWorkers reserve for several accounts at once: one account's
	// reservation waiting on a slow Redis does not hold the others'.
	refillWorkers = 4
)

func New(rdb redis.UniversalClient, o Options) *Limits {
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 30 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 500 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	l := &Limits{
		rdb: rdb, rate: redis_rate.NewLimiter(rdb), epoch: time.Now(), opts: o, log: o.Logger,
		degradedG: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "smpp_shared_limits_degraded",
			Help: "1 while Redis cannot be reached and per-account throughput and max_binds hold per instance.",
		}),
		redisCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smpp_shared_limits_redis_calls_total",
			Help: "Redis calls of the shared limits by kind (reserve, lease, heartbeat, release) and result (ok, error).",
		}, []string{"kind", "result"}),
		refills:  make(chan *throttle, refillQueue),
		releases: make(chan lease, releaseQueue),
		held:     make(map[string]map[uint64]string),
	}
	l.flap.lines = logging.NewFlaps(nil)
	for _, k := range []string{"reserve", "reset", "lease", "heartbeat", "release"} {
		for _, r := range []string{"ok", "error"} {
			l.redisCalls.WithLabelValues(k, r)
		}
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(l.degradedG, l.redisCalls)
	}
	return l
}

// Healthy returns ErrDegraded while the limits hold per instance, and
// until Redis has answered once: an instance that has not yet reached
// Redis does not know that its limits are shared.
func (l *Limits) Healthy(context.Context) error {
	if l.degraded.Load() {
		return ErrDegraded
	}
	if !l.answered.Load() {
		return fmt.Errorf("%w (no answer yet)", ErrDegraded)
	}
	return nil
}

// Run refills throttles, renews leases and releases them until ctx ends.
func (l *Limits) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for range refillWorkers {
		wg.Go(func() { l.refillLoop(ctx) })
	}
	wg.Go(func() { l.releaseLoop(ctx) })
	// The first heartbeat at once: an outage at start is reported as soon
	// as Redis fails to answer, not a heartbeat period later.
	l.heartbeat(ctx)
	beat := time.NewTicker(l.heartbeatEvery())
	defer beat.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-beat.C:
			l.heartbeat(ctx)
			if l.degraded.Load() {
				l.logLasting()
			}
		}
	}
}

// heartbeatEvery is how often the leases held here are written again: a
// third of the lease TTL, at most a second. Redis restarted empty (or a
// failover to a replica that lagged) loses every lease without a failed
// call; until each instance writes its own again, binds on the others
// see too few and max_binds is exceeded: at most a second. The same call
// is the probe that reports an outage (readyz) and its end within a
// second, also on an instance with no sessions.
func (l *Limits) heartbeatEvery() time.Duration {
	return min(l.opts.LeaseTTL/3, time.Second)
}

// observe records the outcome of a Redis call and enters or leaves the
// per-instance fallback.
func (l *Limits) observe(kind string, err error) {
	if err != nil && errors.Is(err, context.Canceled) {
		return
	}
	if err != nil {
		l.redisCalls.WithLabelValues(kind, "error").Inc()
		if l.degraded.CompareAndSwap(false, true) {
			l.degradedG.Set(1)
			l.logDegraded(err)
		}
		return
	}
	l.redisCalls.WithLabelValues(kind, "ok").Inc()
	l.answered.Store(true)
	if l.degraded.CompareAndSwap(true, false) {
		l.degradedG.Set(0)
		l.logRestored()
	}
}

// logDegraded logs a degradation at WARNING, or at DEBUG within
// logging.FlapWindow of the last WARNING line, which the next one then
// counts (repeated).
func (l *Limits) logDegraded(err error) {
	l.flap.Lock()
	l.flap.since = l.flap.lines.Now()
	repeated, loud := l.flap.lines.Degraded("")
	l.flap.Unlock()
	level := slog.LevelWarn
	if !loud {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, "smpp.shared_limits.degraded", "error", err.Error(), "repeated", repeated,
		"detail", "Redis unreachable: throughput and max_binds hold per instance until it answers")
}

// logLasting logs at WARNING a degradation logged at DEBUG (a flap) that
// has lasted logging.FlapWindow: a blip followed by a real outage must not
// leave the outage at DEBUG only. Run calls it every second while
// degraded.
func (l *Limits) logLasting() {
	l.flap.Lock()
	since := l.flap.since
	repeated, loud := l.flap.lines.Lasting("", since)
	now := l.flap.lines.Now()
	l.flap.Unlock()
	if loud {
		l.log.Warn("smpp.shared_limits.degraded", "repeated", repeated, "degraded_for", now.Sub(since).Round(time.Millisecond),
			"detail", "Redis unreachable: throughput and max_binds hold per instance until it answers")
	}
}

// logRestored logs the end of a degradation at the level its start was.
func (l *Limits) logRestored() {
	l.flap.Lock()
	loud := l.flap.lines.Recovered("")
	l.flap.Unlock()
	level := slog.LevelInfo
	if !loud {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, "smpp.shared_limits.restored")
}

func (l *Limits) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.opts.Timeout)
}

// member names a new lease of session: the instance (unique per process),
// the session and the lease's number here. A session that binds again
// after giving its lease back takes another member, so the tombstone its
// release left never hides the new lease.
func (l *Limits) member(session uint64) string {
	return l.opts.Instance + ":" + strconv.FormatUint(session, 10) + ":" + strconv.FormatUint(l.acquisitions.Add(1), 10)
}

func (l *Limits) leaseKey(systemID string) string { return l.opts.Prefix + "gw:binds:" + systemID }

func (l *Limits) rateKey(systemID string) string { return l.opts.Prefix + "gw:throughput:" + systemID }

// ttlMillis is the lease lifetime for the scripts.
func (l *Limits) ttlMillis() int64 { return l.opts.LeaseTTL.Milliseconds() }

func wrap(what string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sharedlimits: %s: %w", what, err)
}

// mono is monotonic nanoseconds since New: wall-clock steps do not move
// the throttles' waits.
func (l *Limits) mono() int64 { return int64(time.Since(l.epoch)) }

// reserveTook adds the duration of one answered reservation to the moving
// average (a quarter weight: a slow spell shows within a few calls).
func (l *Limits) reserveTook(d time.Duration) {
	l.lastLatency.Store(int64(d))
	for {
		old := l.latency.Load()
		next := int64(d)
		if old > 0 {
			next = old + (int64(d)-old)/4
		}
		if l.latency.CompareAndSwap(old, next) {
			return
		}
	}
}

// reserveLatency is what a reservation takes: the moving average, or the
// last one when that was longer.
func (l *Limits) reserveLatency() time.Duration {
	return time.Duration(max(l.latency.Load(), l.lastLatency.Load()))
}
