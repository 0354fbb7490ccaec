package admin

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DefaultMaxConnections is the default of Options.MaxConnections
// (METRICS_MAX_CONNECTIONS), which bounds the connections the admin server (metrics, health,
// the API, pprof) holds open at once. Nothing else did: a client could
// open connections until the process ran out of descriptors, each with a
// goroutine and buffers, on a port that is often reachable by more than
// the operators. Prometheus, a load balancer's health checks and an
// operator need a handful.
const DefaultMaxConnections = 256

// stalledWrite is how long a response write must have been blocked, its
// client reading nothing, before the connection may be closed to make
// room at the bound (see limitListener).
const stalledWrite = time.Second

// limitListener holds at most max connections. At the bound, a new
// connection takes the place of the connection idle the longest: between
// two requests (a keep-alive connection: closing it is what its idle
// timeout would do later, and its client opens another when it needs
// one), or open without having sent a whole request header (net/http's
// StateNew: a client sends its request at once; one that has not is gone,
// hostile or dribbling its header), counted in
// admin_idle_connections_closed_total; with none idle it is closed at
// once (admin_connections_refused_total), so a flood neither queues
// behind the bound nor holds more than max. Without that, 256 clients
// each asking once a minute held the port shut for good, and one client
// holding 256 silent connections, opened again as the header timeout
// closed them, kept every health check and scrape out. With none idle, the
// connection whose response write has been blocked the longest, at least
// stalledWrite, takes the place instead (a slow consumer, counted in
// admin_slow_connections_closed_total): a client that pipelines requests
// and never reads their answers keeps its handler writing, never idle,
// and held the port shut for as long as it liked.
type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused prometheus.Counter
	evicted prometheus.Counter
	slow    prometheus.Counter
	now     func() time.Time // time.Now; a test's clock

	mu   sync.Mutex
	idle map[*limitConn]time.Time // connections between requests or before their first, since when
	all  map[*limitConn]struct{}  // every open connection, for the stalled writes
}

func newLimitListener(ln net.Listener, max int, refused, evicted, slow prometheus.Counter) *limitListener {
	return &limitListener{Listener: ln, max: int64(max), refused: refused, evicted: evicted, slow: slow, now: time.Now,
		idle: make(map[*limitConn]time.Time), all: make(map[*limitConn]struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		// One Accept at a time (http.Server's loop); closes elsewhere
		// only lower open.
		if l.open.Add(1) > l.max && !l.closeIdlest() && !l.closeStalled() {
			l.open.Add(-1)
			l.refused.Inc()
			_ = c.Close()
			continue
		}
		lc := &limitConn{Conn: c, l: l}
		l.mu.Lock()
		l.all[lc] = struct{}{}
		l.mu.Unlock()
		return lc, nil
	}
}

// closeStalled closes the connection whose response write has been
// blocked the longest, if one has been for stalledWrite.
func (l *limitListener) closeStalled() bool {
	limit := l.now().Add(-stalledWrite).UnixNano()
	l.mu.Lock()
	var oldest *limitConn
	var since int64
	for c := range l.all {
		if w := c.writing.Load(); w != 0 && w <= limit && (oldest == nil || w < since) {
			oldest, since = c, w
		}
	}
	l.mu.Unlock()
	return closeCounted(oldest, l.slow) // its Close leaves l.all
}

// closeCounted closes c (nil: none) to make room and counts it.
func closeCounted(c *limitConn, counter prometheus.Counter) bool {
	if c == nil {
		return false
	}
	_ = c.Close() // gives its place back (a blocked write fails)
	if counter != nil {
		counter.Inc()
	}
	return true
}

// closeIdlest closes the connection idle the longest, if any.
func (l *limitListener) closeIdlest() bool {
	l.mu.Lock()
	var oldest *limitConn
	var since time.Time
	for c, t := range l.idle {
		if oldest == nil || t.Before(since) {
			oldest, since = c, t
		}
	}
	if oldest != nil {
		delete(l.idle, oldest)
	}
	l.mu.Unlock()
	return closeCounted(oldest, l.evicted)
}

// connState is the http.Server's ConnState hook: it keeps the set of
// connections idle between requests or not sending their first.
func (l *limitListener) connState(c net.Conn, st http.ConnState) {
	lc, ok := c.(*limitConn)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st == http.StateIdle || st == http.StateNew {
		l.idle[lc] = time.Now()
	} else {
		delete(l.idle, lc)
	}
}

// idleCount is how many connections may make room for a new one.
func (l *limitListener) idleCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.idle)
}

// limitConn gives its place back once, on its first Close, and tells
// since when a write is under way (unix ns; 0: none).
type limitConn struct {
	net.Conn
	l       *limitListener
	once    sync.Once
	writing atomic.Int64
}

func (c *limitConn) Write(b []byte) (int, error) {
	c.writing.Store(c.l.now().UnixNano())
	n, err := c.Conn.Write(b)
	c.writing.Store(0)
	return n, err
}

func (c *limitConn) Close() error {
	c.once.Do(func() {
		c.l.open.Add(-1)
		c.l.mu.Lock()
		delete(c.l.all, c)
		delete(c.l.idle, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// maxConnections is Options.MaxConnections, or its default.
func (s *Server) maxConnections() int {
	if s.opts.MaxConnections > 0 {
		return s.opts.MaxConnections
	}
	return DefaultMaxConnections
}
