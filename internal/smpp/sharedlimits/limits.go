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
	degradedG  prometheus.Gauge
	redisCalls *prometheus.CounterVec

	refills  chan *throttle
	releases chan lease
	// flap follows the degraded log lines (logDegraded).
	flap struct {
		sync.Mutex
		warnedAt int64 // mono time of the last WARNING line (0: none)
		repeated int   // degradations logged at DEBUG since
		quiet    bool  // the current degradation was logged at DEBUG
		since    int64 // mono time the current degradation began
	}
	// latency is a moving average of how long a reservation takes, in
	// nanoseconds: the throttles' batches grow with it (throttle.batch).
	latency atomic.Int64
	// lastLatency is the last reservation's duration: a slow spell grows
	// the batches at its first reservation, not after the average has
	// followed (a second of throttling at 400 ms round trips).
	lastLatency atomic.Int64

	mu   sync.Mutex
	held map[string]map[uint64]struct{} // system_id → sessions holding a lease here
}

type lease struct {
	systemID string
	session  uint64
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
		held:     make(map[string]map[uint64]struct{}),
	}
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

// Healthy returns ErrDegraded while the limits hold per instance.
func (l *Limits) Healthy(context.Context) error {
	if l.degraded.Load() {
		return ErrDegraded
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
	beat := time.NewTicker(l.opts.LeaseTTL / 3)
	defer beat.Stop()
	probe := time.NewTicker(time.Second)
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-beat.C:
			l.heartbeat(ctx)
		case <-probe.C:
			// While falling back, find out soon that Redis is back.
			if l.degraded.Load() {
				l.heartbeat(ctx)
				l.logLasting()
			}
		}
	}
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
	if l.degraded.CompareAndSwap(true, false) {
		l.degradedG.Set(0)
		l.logRestored()
	}
}

// flapWindow is how long after a logged degradation another one is
// logged at DEBUG only: a Redis answering near REDIS_TIMEOUT_SECONDS
// flips the limits several times a second.
const flapWindow = 30 * time.Second

// logDegraded logs a degradation at WARNING, or at DEBUG within
// flapWindow of the last WARNING line, which the next one then counts
// (repeated).
func (l *Limits) logDegraded(err error) {
	l.flap.Lock()
	now := l.mono()
	quiet := l.flap.warnedAt != 0 && time.Duration(now-l.flap.warnedAt) < flapWindow
	repeated := l.flap.repeated
	if quiet {
		l.flap.repeated++
	} else {
		l.flap.warnedAt, l.flap.repeated = now, 0
	}
	l.flap.quiet, l.flap.since = quiet, now
	l.flap.Unlock()
	level := slog.LevelWarn
	if quiet {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, "smpp.shared_limits.degraded", "error", err.Error(), "repeated", repeated,
		"detail", "Redis unreachable: throughput and max_binds hold per instance until it answers")
}

// logLasting logs at WARNING a degradation logged at DEBUG (a flap) that
// has lasted flapWindow: a blip followed by a real outage must not leave
// the outage at DEBUG only. Run calls it every second while degraded.
func (l *Limits) logLasting() {
	l.flap.Lock()
	now := l.mono()
	lasting := l.flap.quiet && time.Duration(now-l.flap.since) >= flapWindow
	repeated, since := l.flap.repeated, l.flap.since
	if lasting {
		l.flap.quiet, l.flap.warnedAt, l.flap.repeated = false, now, 0
	}
	l.flap.Unlock()
	if lasting {
		l.log.Warn("smpp.shared_limits.degraded", "repeated", repeated, "degraded_for", time.Duration(now-since).Round(time.Millisecond),
			"detail", "Redis unreachable: throughput and max_binds hold per instance until it answers")
	}
}

// logRestored logs the end of a degradation at the level its start was.
func (l *Limits) logRestored() {
	l.flap.Lock()
	quiet := l.flap.quiet
	l.flap.Unlock()
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelDebug
	}
	l.log.Log(context.Background(), level, "smpp.shared_limits.restored")
}

func (l *Limits) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, l.opts.Timeout)
}

func (l *Limits) member(session uint64) string {
	return l.opts.Instance + ":" + strconv.FormatUint(session, 10)
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
