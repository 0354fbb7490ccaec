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
// closed them, kept every health check and scrape out.
type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused prometheus.Counter
	evicted prometheus.Counter

	mu   sync.Mutex
	idle map[*limitConn]time.Time // connections between requests or before their first, since when
}

func newLimitListener(ln net.Listener, max int, refused, evicted prometheus.Counter) *limitListener {
	return &limitListener{Listener: ln, max: int64(max), refused: refused, evicted: evicted, idle: make(map[*limitConn]time.Time)}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		// One Accept at a time (http.Server's loop); closes elsewhere
		// only lower open.
		if l.open.Add(1) > l.max && !l.closeIdlest() {
			l.open.Add(-1)
			l.refused.Inc()
			_ = c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
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
	if oldest == nil {
		return false
	}
	_ = oldest.Close() // gives its place back
	if l.evicted != nil {
		l.evicted.Inc()
	}
	return true
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

// limitConn gives its place back once, on its first Close.
type limitConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *limitConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// maxConnections is Options.MaxConnections, or its default.
func (s *Server) maxConnections() int {
	if s.opts.MaxConnections > 0 {
		return s.opts.MaxConnections
	}
	return DefaultMaxConnections
}
