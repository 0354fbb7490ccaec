package admin

import (
	"net"
	"sync"
	"sync/atomic"

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

// limitListener closes at once a connection accepted while max are open
// (counted in admin_connections_refused_total), so a flood neither queues
// behind the limit nor holds more than max.
type limitListener struct {
	net.Listener
	max     int64
	open    atomic.Int64
	refused prometheus.Counter
}

func newLimitListener(ln net.Listener, max int, refused prometheus.Counter) *limitListener {
	return &limitListener{Listener: ln, max: int64(max), refused: refused}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) > l.max {
			l.open.Add(-1)
			l.refused.Inc()
			_ = c.Close()
			continue
		}
		return &limitConn{Conn: c, l: l}, nil
	}
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
