package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Endpoint paths.
const (
	PathMetrics = "/metrics"
	PathHealthz = "/healthz"
	PathReadyz  = "/readyz"
	PathPprof   = "/debug/pprof/"
)

// DefaultCheckTimeout bounds all readiness checks of one /readyz request.
const DefaultCheckTimeout = 2 * time.Second

// Sentinel errors of the package.
var (
	// ErrDegraded marks a readiness check result "degraded" rather than
	// "failed": the component is impaired but the gateway keeps serving
	// (e.g. Redis unreachable, served from memory). Wrap it with %w.
	ErrDegraded = errors.New("admin: degraded")
	// ErrUnhealthy is matched by Healthcheck errors for a non-200 answer.
	ErrUnhealthy = errors.New("admin: unhealthy")
)

// Check is one readiness check. Fn returns nil when ready, an error
// wrapping ErrDegraded when degraded, any other error when failed. It must
// honour ctx.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Options configures a Server.
type Options struct {
	Addr         string              // listen address for Start, e.g. "0.0.0.0:9091"
	Gatherer     prometheus.Gatherer // served on /metrics; nil serves no /metrics
	Checks       []Check             // readiness checks, reported in this order
	Pprof        bool                // serve /debug/pprof/
	Logger       *slog.Logger        // nil discards
	CheckTimeout time.Duration       // 0 means DefaultCheckTimeout
	// API serves /api/v1/ when set (ADMIN_TOKEN); nil serves no API.
	API *API
	// Registerer takes the server's own metric
	// (admin_connections_refused_total); nil registers none.
	Registerer prometheus.Registerer
	// MaxConnections bounds the connections open at once (limit.go); 0
	// means DefaultMaxConnections.
	MaxConnections int
}

// Server is the admin HTTP server.
type Server struct {
	opts   Options
	srv    *http.Server
	logger *slog.Logger

	refused prometheus.Counter // admin_connections_refused_total
	evicted prometheus.Counter // admin_idle_connections_closed_total
	slow    prometheus.Counter // admin_slow_connections_closed_total

	mu     sync.Mutex
	checks []Check
	ln     net.Listener
	limit  *limitListener // ln with METRICS_MAX_CONNECTIONS, once Serve runs
	done   chan struct{}  // closed when the Start goroutine's Serve returns
}

// New builds a Server; nothing listens until Start or Serve.
func New(opts Options) *Server {
	if opts.CheckTimeout <= 0 {
		opts.CheckTimeout = DefaultCheckTimeout
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opts: opts, logger: logger, checks: append([]Check(nil), opts.Checks...)}
	s.refused = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "admin_connections_refused_total",
		Help: "Connections to the metrics and admin port closed at once because METRICS_MAX_CONNECTIONS were open, each with a request being served.",
	})
	s.evicted = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "admin_idle_connections_closed_total",
		Help: "Connections to the metrics and admin port closed while idle (between two requests, or before sending a whole request header) to make room for a new connection at METRICS_MAX_CONNECTIONS.",
	})
	s.slow = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "admin_slow_connections_closed_total",
		Help: "Connections to the metrics and admin port closed to make room at METRICS_MAX_CONNECTIONS, none being idle, because their client had read nothing of a response for 1 s (a pipelining client that never reads).",
	})
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.refused, s.evicted, s.slow} {
			if err := opts.Registerer.Register(c); err != nil {
				logger.Error("admin.metric_not_registered", "err", err)
			}
		}
	}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 5 * time.Second,
		// A request body (the API's JSON) read within this, so a client
		// cannot hold a connection by sending one slowly; responses
		// (a 30 s CPU profile) are not bounded.
		ReadTimeout: 30 * time.Second,
		IdleTimeout: 60 * time.Second,
		ErrorLog:    slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return s
}

// AddCheck appends a readiness check, e.g. once the component it watches
// exists. Safe to call while serving.
func (s *Server) AddCheck(c Check) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checks = append(s.checks, c)
}

// Handler returns the server's routes, for tests and embedding.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	if s.opts.Gatherer != nil {
		mux.Handle("GET "+PathMetrics, promhttp.HandlerFor(s.opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      promErrorLog{s.logger},
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	mux.HandleFunc("GET "+PathHealthz, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET "+PathReadyz, s.readyz)
	if s.opts.Pprof {
		mux.HandleFunc(PathPprof, pprof.Index)
		mux.HandleFunc(PathPprof+"cmdline", pprof.Cmdline)
		mux.HandleFunc(PathPprof+"profile", pprof.Profile)
		mux.HandleFunc(PathPprof+"symbol", pprof.Symbol)
		mux.HandleFunc(PathPprof+"trace", pprof.Trace)
	}
	if s.opts.API != nil && s.opts.API.Token != "" {
		return unreadBody(apiFirst(s.apiHandler(s.opts.API), mux))
	}
	return unreadBody(mux)
}

// Start listens on Options.Addr and serves in the background until
// Shutdown. It returns once the listener is open, so Addr is valid.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", s.opts.Addr, err)
	}
	done := make(chan struct{})
	s.mu.Lock()
	s.done = done
	s.mu.Unlock()
	// The listener is wrapped before Start returns, so everything Start
	// promises (Addr, the connection bound) holds from its return.
	ll := s.limited(ln)
	go func() {
		defer close(done)
		if err := s.serve(ll); err != nil {
			s.logger.Error("admin.serve_failed", "addr", ln.Addr().String(), "error", err)
		}
	}()
	return nil
}

// Serve serves on ln until Shutdown; it returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	return s.serve(s.limited(ln))
}

// limited records ln as the server's listener and wraps it with the
// METRICS_MAX_CONNECTIONS bound.
func (s *Server) limited(ln net.Listener) *limitListener {
	ll := newLimitListener(ln, s.maxConnections(), s.refused, s.evicted, s.slow)
	s.mu.Lock()
	s.ln = ln
	s.limit = ll
	s.mu.Unlock()
	s.srv.ConnState = ll.connState
	return ll
}

func (s *Server) serve(ll *limitListener) error {
	s.logger.Info("admin.listening", "addr", ll.Addr().String(), "pprof", s.opts.Pprof)
	if err := s.srv.Serve(ll); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serve: %w", err)
	}
	return nil
}

// Addr is the address being served ("" before Start or Serve).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Shutdown stops listening and waits (bounded by ctx) for requests in
// progress and the Start goroutine.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done != nil {
		select {
		case <-done:
		case <-ctx.Done():
			if err == nil {
				err = ctx.Err()
			}
		}
	}
	if err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	return nil
}

// NewRegistry returns a registry with the Go runtime and process
// collectors registered, ready for the application's own metrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// promErrorLog forwards promhttp's errors to the logger. A scraper that
// went away (gave up on a slow scrape) fails the write of every metric
// family left, one error each: those are DEBUG, the others ERROR.
type promErrorLog struct{ logger *slog.Logger }

func (l promErrorLog) Println(v ...any) {
	msg := fmt.Sprint(v...)
	if scraperGone(msg) {
		l.logger.Debug("admin.metrics_failed", "error", msg)
		return
	}
	l.logger.Error("admin.metrics_failed", "error", msg)
}

// scraperGone reports whether a promhttp error says the client closed
// the connection (promhttp passes the error as text).
func scraperGone(msg string) bool {
	for _, s := range []string{"broken pipe", "connection reset by peer", "use of closed network connection", "i/o timeout"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
