package smpp_test

import (
	"net"
	"sync"
	"time"
)

// memConn is a client connection held in memory. Each Read returns what
// next gives (split over reads when the reader's buffer is smaller); once
// next gives nil, Read waits for Close. Writes go to written, which is
// called on the session's writer goroutine.
type memConn struct {
	next    func() []byte
	written func([]byte)
	rest    []byte // what the last Read did not fit
	closed  chan struct{}
	once    sync.Once
}

func newMemConn(next func() []byte, written func([]byte)) *memConn {
	return &memConn{next: next, written: written, closed: make(chan struct{})}
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(c.rest) == 0 {
		c.rest = c.next()
	}
	if c.rest == nil {
		<-c.closed // nothing more to send: wait like an idle client
		return 0, net.ErrClosed
	}
	n := copy(p, c.rest)
	c.rest = c.rest[n:]
	return n, nil
}

func (c *memConn) Write(p []byte) (int, error) {
	c.written(p)
	return len(p), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr  { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2775} }
func (c *memConn) RemoteAddr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }

func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// oneConnListener accepts its connection once, then waits until closed.
type oneConnListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newOneConnListener(c net.Conn) *oneConnListener {
	l := &oneConnListener{conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conns <- c
	return l
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *oneConnListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2775}
}
