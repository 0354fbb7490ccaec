package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/gateway"
	"github.com/smpp-hlr-gateway/gateway/internal/gctune"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp/sharedlimits"
)

// App is one running gateway.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	registry *prometheus.Registry

	rdb        redis.UniversalClient
	redisCache *cache.Redis
	chain      *hlr.Chain
	resolver   *hlr.Resolver
	queue      dlr.Queue
	buffer     *dlr.BufferedQueue // the queue with Redis
	redisQ     *dlr.RedisQueue
	tagLease   *tagLease
	lost       *dlr.LossCounter
	dispatcher *dlr.Dispatcher
	handler    *gateway.Handler
	server     *smpp.Server
	accounts   *smpp.Accounts
	limits     *sharedlimits.Limits // nil without Redis
	reloads    *reloads
	admin      *admin.Server

	smppLn, tlsLn net.Listener
	ready         atomic.Bool
	runCtx        context.Context
	runCancel     context.CancelFunc
	wg            sync.WaitGroup
	serveErr      chan error
}

// Options adjust New for tests and embedded use.
type Options struct {
	// Provider replaces the configured HLR provider.
	Provider hlr.Lookuper
	// LogLinesDropped reports the log lines the logger's buffered writer
	// dropped (log_lines_dropped_total); nil: none.
	LogLinesDropped func() uint64
}

// New builds the gateway from cfg; nothing listens until Start.
func New(ctx context.Context, cfg config.Config, logger *slog.Logger, o Options) (*App, error) {
	a := &App{cfg: cfg, log: logger, registry: admin.NewRegistry(), serveErr: make(chan error, 2)}
	a.runCtx, a.runCancel = context.WithCancel(context.WithoutCancel(ctx))
	a.reloads = newReloads(a.registry)
	if err := a.build(ctx, o); err != nil {
		a.runCancel()
		a.closeRedis()
		return nil, err
	}
	return a, nil
}

func (a *App) build(ctx context.Context, o Options) error {
	cfg := a.cfg
	if cfg.Redis.Enabled() {
		rdb, err := NewRedisClient(cfg.Redis)
		if err != nil {
			return err
		}
		a.rdb = rdb
	}
	a.registerRedisPoolGauge()
	a.registerLogDrops(o.LogLinesDropped)

	provider, codes, err := BuildProvider(cfg, a.log)
	if err != nil {
		return err
	}
	if o.Provider != nil {
		provider = o.Provider
	}
	hm, err := hlr.NewMetrics(a.registry)
	if err != nil {
		return err
	}
	a.chain, a.redisCache, err = BuildLookuper(cfg, provider, a.rdb, hm, a.log)
	if err != nil {
		return err
	}
	if a.resolver, err = BuildResolver(cfg, a.chain, codes, hm); err != nil {
		return err
	}
	a.AddReloader(numberingReloader{cfg: cfg, resolver: a.resolver, codes: codes, log: a.log})

	a.queue, err = a.buildQueue(ctx)
	if err != nil {
		return err
	}
	tagCtx, cancel := context.WithTimeout(ctx, max(cfg.Redis.Timeout, time.Second))
	tag, lease, err := leaseTag(tagCtx, a.rdb, cfg.Redis.KeyPrefix, cfg.Instance.ID, a.log)
	a.tagLease = lease
	cancel()
	if err != nil {
		a.log.Warn("gateway.instance_tag.random", "tag", tag, "error", err.Error())
	}
	ids := gateway.NewIDs(tag, nil)
	if lease != nil {
		lease.setTag = ids.SetTag // before its run starts (Start)
	}
	var router gateway.Router
	a.dispatcher = dlr.NewDispatcher(dlr.Options{
		Queue: a.queue, Sender: &router,
		RetryMin: cfg.DLR.RetryMin, RetryMax: cfg.DLR.RetryMax, Lease: cfg.DLR.VisibilityTimeout,
		Shards: cfg.DLR.DispatcherShards, MaxInFlight: cfg.DLR.MaxDeliverInflight,
		ClaimTimeout: claimTimeout(cfg), ClaimWait: claimWait(cfg),
		Registerer: a.registry, Logger: a.log,
	})
	errPolicy, timeoutPolicy := gateway.Reject, gateway.Reject
	if cfg.HLR.ErrorPolicy == config.PolicyAccept {
		errPolicy = gateway.Accept
	}
	if cfg.HLR.TimeoutPolicy == config.PolicyAccept {
		timeoutPolicy = gateway.Accept
	}
	a.handler, err = gateway.New(gateway.Options{
		Lookuper: a.chain, Resolver: a.resolver, Receipts: a.dispatcher, IDs: ids,
		TimeoutPolicy: timeoutPolicy, ErrorPolicy: errPolicy,
		// The chain's own bound (slot wait, then the call), so the chain
		// reports its timeout rather than the handler's deadline.
		LookupTimeout:         a.chain.LookupTimeout(),
		DLRDelay:              cfg.DLR.Delay,
		DLRTTL:                cfg.DLR.TTL,
		ReceiptsRequestedOnly: cfg.DLR.Mode == config.ModeRequested,
		InvalidNumberErr:      codes.InvalidNumber,
		OtherErr:              codes.Other,
		Workers:               cfg.HLR.MaxConcurrency,
		QueueQueries:          queueQueries(cfg),
		// Every queue stores without blocking (PutAsync): a cache hit is
		// decided and its receipt handed over on the reader goroutine.
		InlineReceipts: true,
		Logger:         a.log,
		Registerer:     a.registry,
	})
	if err != nil {
		return err
	}
	a.buildAccounts()
	a.server, err = smpp.NewServer(smpp.Options{
		Handler:             a.handler,
		Auth:                a.accounts,
		BindLeases:          a.bindLeases(),
		SystemID:            cfg.SMPP.SystemName,
		Window:              cfg.SMPP.Window,
		MaxConnections:      cfg.SMPP.MaxConnections,
		MaxPDULength:        uint32(cfg.SMPP.MaxPDUSize),
		BindTimeout:         cfg.SMPP.BindTimeout,
		EnquireLinkInterval: disabledIfZero(cfg.SMPP.EnquireLinkInterval),
		InactivityTimeout:   disabledIfZero(cfg.SMPP.InactivityTimeout),
		EnquireLinkTimeout:  cfg.SMPP.EnquireLinkTimeout,
		ResponseTimeout:     cfg.SMPP.ResponseTimeout,
		UnbindTimeout:       cfg.SMPP.UnbindTimeout,

		MaxOutputBytes:        cfg.SMPP.MaxOutputBytes,
		MaxOutputBytesTotal:   neverIfZero(cfg.SMPP.MaxOutputBytesTotal),
		SlowConsumerTimeout:   cfg.SMPP.SlowConsumerTimeout,
		MaxPrebindRequests:    cfg.SMPP.MaxPrebindRequests,
		MaxConnectionsPerIP:   cfg.SMPP.MaxConnectionsPerIP,
		MaxUnboundConnections: cfg.SMPP.MaxUnboundConnections,
		MaxBindsPerAccount:    cfg.SMPP.MaxBindsPerAccount,
		FailedBindDelay:       cfg.SMPP.FailedBindDelay,
		MaxFailedBinds:        neverIfZero(cfg.SMPP.MaxFailedBinds),
		FailedBindBlock:       cfg.SMPP.FailedBindBlock,
		BindGuardEntries:      cfg.SMPP.BindGuardEntries,
		MaxIdlePDUsPerSecond:  neverIfZero(cfg.SMPP.MaxIdlePDUsPerSecond),

		OnReceiversChanged: a.dispatcher.ReceiversChanged,
		Logger:             a.log,
		Registerer:         a.registry,
	})
	if err != nil {
		return err
	}
	router.Server = a.server
	return nil
}

// disabledIfZero maps the configuration's "0 disables" to the server's
// negative value (its zero means the default).
func disabledIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// neverIfZero maps the configuration's "0 turns it off" to the server's
// negative value (its zero means the default).
func neverIfZero(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

func (a *App) buildQueue(ctx context.Context) (dlr.Queue, error) {
	lost, err := dlr.NewLossCounter(a.registry)
	if err != nil {
		return nil, err
	}
	a.lost = lost
	if a.rdb == nil {
		a.log.Warn("dlr.queue.memory", "detail", "REDIS_URL is not set: pending receipts live in memory and do not survive a restart")
		return dlr.NewMemoryQueue(dlr.MemoryOptions{}), nil
	}
	var outOfMemory func()
	if a.redisCache != nil {
		outOfMemory = a.redisCache.GiveWay // receipts before cached answers
	}
	a.buffer, a.redisQ = newRedisQueue(ctx, a.cfg, a.rdb, lost, a.registry, a.log, outOfMemory)
	return a.buffer, nil
}

func (a *App) registerRedisPoolGauge() {
	a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "redis_connection_pool_size", Help: "Connections in the Redis client pool (0 without Redis).",
	}, func() float64 {
		if a.rdb == nil {
			return 0
		}
		return float64(a.rdb.PoolStats().TotalConns)
	}))
	a.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hlr_cache_redis_down",
		Help: "Redis servers (on a Cluster: masters) the HLR cache takes to be down: their keys are cache misses, each probed once per second in the background (0 without Redis).",
	}, func() float64 {
		if a.redisCache == nil {
			return 0
		}
		return float64(a.redisCache.DownServers())
	}))
	a.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "hlr_cache_redis_shed_total",
		Help: "HLR cache keys removed from Redis to make room for receipts Redis refused for lack of memory (maxmemory with noeviction).",
	}, func() float64 {
		if a.redisCache == nil {
			return 0
		}
		return float64(a.redisCache.Shed())
	}))
}

// Start opens the listeners and starts serving.
func (a *App) Start(ctx context.Context) error {
	cfg := a.cfg
	runCtx := a.runCtx
	var err error
	if a.smppLn, err = net.Listen("tcp", cfg.SMPP.Addr()); err != nil {
		return fmt.Errorf("app: SMPP listener (SMPP_HOST, SMPP_PORT): %w", err)
	}
	if cfg.TLS.Enabled() {
		cert, err := cfg.TLS.KeyPair()
		if err != nil {
			_ = a.smppLn.Close()
			return fmt.Errorf("app: %w", err)
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(cfg.SMPP.Host, strconv.Itoa(cfg.TLS.Port)))
		if err != nil {
			_ = a.smppLn.Close()
			return fmt.Errorf("app: SMPP TLS listener (SMPP_HOST, SMPP_TLS_PORT): %w", err)
		}
		a.tlsLn = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	if cfg.Metrics.Enabled {
		a.admin = admin.New(admin.Options{
			Addr: cfg.Metrics.Addr(), Gatherer: a.registry, Checks: a.checks(), Pprof: cfg.Metrics.Pprof, Logger: a.log,
			MaxConnections: cfg.Metrics.MaxConnections,
			API:            &admin.API{Token: cfg.Metrics.AdminToken, Backend: adminBackend{a}}, Registerer: a.registry,
		})
		if err := a.admin.Start(ctx); err != nil {
			a.closeListeners()
			return fmt.Errorf("app: metrics listener (METRICS_HOST, METRICS_PORT): %w", err)
		}
	}
	if a.redisQ != nil {
		// Receipts this instance (INSTANCE_ID) had leased before it
		// stopped are due again at once, not after the visibility timeout;
		// when Redis does not answer now, as soon as it does.
		before := time.Now().Add(cfg.DLR.VisibilityTimeout) // this process's own leases end later
		if !a.takeBackLeases(ctx, before, true) {
			a.wg.Add(1)
			go func() { defer a.wg.Done(); a.retryTakeBackLeases(runCtx, before) }()
		}
	}
	if a.tagLease != nil {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.tagLease.run(runCtx) }()
	}
	if a.limits != nil {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.limits.Run(runCtx) }()
	}
	if rt := cfg.Runtime; rt.GCHeadroomMB > 0 && !rt.GCFromEnv {
		tuner := gctune.New(gctune.Options{Headroom: uint64(rt.GCHeadroomMB) << 20})
		a.wg.Add(1)
		go func() { defer a.wg.Done(); tuner.Run(runCtx) }()
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := a.dispatcher.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Error("dlr.dispatcher.stopped", "error", err.Error())
		}
	}()
	for _, ln := range []net.Listener{a.smppLn, a.tlsLn} {
		if ln == nil {
			continue
		}
		go func() { a.serveErr <- a.server.Serve(ln) }()
	}
	a.ready.Store(true)
	attrs := []any{"smpp", a.smppLn.Addr().String(), "hlr_provider", cfg.HLR.Provider,
		"redis", cfg.Redis.Enabled(), "instance_id", cfg.Instance.ID}
	if a.tlsLn != nil {
		attrs = append(attrs, "smpp_tls", a.tlsLn.Addr().String())
	}
	if cfg.Redis.Enabled() {
		attrs = append(attrs, "redis_url", redisconn.Redact(cfg.Redis.URL))
	}
	if a.admin != nil {
		attrs = append(attrs, "metrics", a.admin.Addr())
	}
	a.log.Info("gateway.started", attrs...)
	return nil
}

// SMPPAddr is the plain listener's address once started.
func (a *App) SMPPAddr() string { return a.smppLn.Addr().String() }

// AdminAddr is the metrics and admin API address once started, or "".
func (a *App) AdminAddr() string {
	if a.admin == nil {
		return ""
	}
	return a.admin.Addr()
}

// ServeErr reports a listener that failed for a reason other than
// shutdown.
func (a *App) ServeErr() <-chan error { return a.serveErr }

func (a *App) checks() []admin.Check {
	checks := []admin.Check{{Name: "listeners", Fn: func(context.Context) error {
		if !a.ready.Load() {
			return errors.New("not serving")
		}
		return nil
	}}}
	if a.rdb != nil {
		checks = append(checks, admin.Check{Name: "redis", Fn: func(ctx context.Context) error {
			if err := a.rdb.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("%w: %v", admin.ErrDegraded, err)
			}
			return nil
		}})
	}
	if a.limits != nil {
		checks = append(checks, admin.Check{Name: "shared_limits", Fn: func(ctx context.Context) error {
			if err := a.limits.Healthy(ctx); err != nil {
				return fmt.Errorf("%w: %v", admin.ErrDegraded, err)
			}
			return nil
		}})
	}
	if h, ok := a.queue.(interface{ Healthy(context.Context) error }); ok {
		checks = append(checks, admin.Check{Name: "receipts", Fn: func(ctx context.Context) error {
			if err := h.Healthy(ctx); err != nil {
				return fmt.Errorf("%w: %v", admin.ErrDegraded, err)
			}
			return nil
		}})
	}
	checks = append(checks, admin.Check{Name: "hlr", Fn: func(context.Context) error {
		if a.chain.BreakerOpen() {
			return errors.New("circuit breaker open")
		}
		return nil
	}})
	return checks
}

// Shutdown stops the gateway within ctx: stop accepting, send receipts
// that fall due, answer what was read, unbind, close. It returns the
// number of receipts left pending.
func (a *App) Shutdown(ctx context.Context) int {
	a.ready.Store(false)
	a.log.Info("gateway.stopping")
	a.server.StopAccepting()
	// Half of the budget, while the receivers are still bound: let the
	// requests already read be answered (their receipts are scheduled
	// then), and send the receipts that fall due. The rest ends the
	// sessions.
	if deadline, ok := ctx.Deadline(); ok {
		dctx, cancel := context.WithDeadline(ctx, time.Now().Add(time.Until(deadline)/2))
		a.server.WaitIdle(dctx)
		a.dispatcher.Drain(dctx)
		cancel()
	}
	if err := a.server.Shutdown(ctx); err != nil {
		a.log.Warn("smpp.shutdown.forced", "error", err.Error())
	}
	a.handler.Close(ctx)
	a.runCancel()
	a.wg.Wait()
	a.giveBackLeases(ctx)
	unstored := 0
	if a.buffer != nil {
		// Keep writing the outage buffer back until the deadline; what is
		// left is logged with its exact count and counted as lost.
		unstored = a.buffer.Close(ctx)
	}
	pending := a.pendingAtStop(unstored)
	if a.admin != nil {
		_ = a.admin.Shutdown(ctx)
	}
	a.closeRedis()
	return pending
}

func (a *App) closeListeners() {
	for _, ln := range []net.Listener{a.smppLn, a.tlsLn} {
		if ln != nil {
			_ = ln.Close()
		}
	}
}

func (a *App) closeRedis() {
	if a.rdb != nil {
		_ = a.rdb.Close()
	}
}

// pendingAtStop is the number of receipts left pending at shutdown: the
// queue's count, or when the queue cannot answer (Redis down), the last
// count it gave plus the receipts that could not be stored, never a
// false 0.
func (a *App) pendingAtStop(unstored int) int {
	wait := max(a.cfg.Redis.Timeout, 100*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	// The client's own retries and dials can outlast ctx on a Redis that
	// accepts connections and answers nothing: the count is not worth
	// more of the shutdown than its timeout.
	type count struct {
		n   int
		err error
	}
	got := make(chan count, 1)
	go func() {
		n, err := a.queue.Len(ctx)
		got <- count{n, err}
	}()
	var c count
	select {
	case c = <-got:
	case <-time.After(wait):
		c.err = fmt.Errorf("pending count: no answer within %v", wait)
	}
	n, err := c.n, c.err
	if err == nil {
		return n
	}
	last := a.dispatcher.LastPending()
	a.log.Warn("dlr.pending_count_unknown_at_stop", "err", err.Error(),
		"last_known_pending", last, "unstored_receipts", unstored)
	return last + unstored
}

// takeBackLeases takes back the leases this instance's former process
// held (those ending before before); it reports whether Redis answered,
// and logs when it did not and logFailure is set.
func (a *App) takeBackLeases(ctx context.Context, before time.Time, logFailure bool) bool {
	lctx, cancel := context.WithTimeout(ctx, max(a.cfg.Redis.Timeout, time.Second))
	defer cancel()
	if _, err := a.redisQ.TakeBackLeases(lctx, before); err != nil {
		if logFailure {
			a.log.Warn("dlr.leases_not_taken_back", "error", err.Error(),
				"detail", "tried again every 2 s until Redis answers")
		}
		return false
	}
	return true
}

// giveBackLeases makes the receipts this instance still leases due again
// at once, as it stops: nothing sends them any more (the dispatcher has
// stopped, the sessions are closed), and the other instances would wait
// for its heartbeat to expire (6 s, then 2 s) before taking them, or a
// restart with the same INSTANCE_ID. Those whose deliver_sm was out (its
// answer, if any came while the sessions closed, was not settled) may be
// sent twice: at least once, as always. Not when another process with the
// same INSTANCE_ID runs (RedisQueue.GiveBackLeases). One try within
// REDIS_TIMEOUT_SECONDS (at least a second) and the shutdown's deadline;
// should Redis not answer, the heartbeat's expiry frees them as before.
func (a *App) giveBackLeases(ctx context.Context) {
	if a.redisQ == nil || ctx.Err() != nil {
		return
	}
	// Every lease this process took ends before this.
	before := time.Now().Add(a.cfg.DLR.VisibilityTimeout + time.Second)
	lctx, cancel := context.WithTimeout(ctx, max(a.cfg.Redis.Timeout, time.Second))
	defer cancel()
	if _, err := a.redisQ.GiveBackLeases(lctx, before); err != nil {
		a.log.Warn("dlr.leases_not_given_back", "error", err.Error(),
			"detail", "other instances take them once this one's heartbeat has expired")
	}
}

// leaseTakeBackRetry is how often a take-back that found Redis
// unreachable at start is tried again.
const leaseTakeBackRetry = 2 * time.Second

// retryTakeBackLeases tries the take-back again until Redis answers or
// ctx ends: the heartbeat of this instance is live again, so no other
// instance takes those leases back, and without it they would wait for
// the visibility timeout.
func (a *App) retryTakeBackLeases(ctx context.Context, before time.Time) {
	t := time.NewTicker(leaseTakeBackRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if a.takeBackLeases(ctx, before, false) { // logged once, at start
			return
		}
	}
}

// queueQueries bounds the query_sm and cancel_sm asking the receipt
// queue at once: with Redis half of REDIS_MAX_CONNECTIONS (at least one),
// so that the receipts' commits always find connections; the memory queue
// answers them in microseconds and needs no bound.
func queueQueries(cfg config.Config) int {
	if cfg.Redis.URL == "" {
		return 0
	}
	return max(cfg.Redis.MaxConnections/2, 1)
}

// claimTimeout bounds the dispatcher's claims with Redis by
// REDIS_TIMEOUT_SECONDS, not the dispatcher's 2 s, in which the Redis
// client would try a timed-out claim again: a claim on a hung Cluster
// master ends then, and its account is set aside. Zero (the memory
// queue): the dispatcher's default.
func claimTimeout(cfg config.Config) time.Duration {
	if cfg.Redis.URL == "" {
		return 0
	}
	return cfg.Redis.Timeout
}

// claimWait is how long a dispatcher loop waits for a claim before it
// leaves the claim to finish and goes on with its other accounts: with
// Redis, so that a claim of an account whose Cluster master hangs holds
// the others of its loop no longer than that (after two such claims in a
// row the step waits for none of its other claims). The memory queue's
// claims do no I/O.
func claimWait(cfg config.Config) time.Duration {
	if cfg.Redis.URL == "" {
		return 0
	}
	return min(cfg.Redis.SlowAfter, cfg.Redis.Timeout)
}
