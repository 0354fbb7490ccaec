package smpp

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
)

// admission caps connections per remote address and connections that have
// not bound yet, so that one address, or a crowd of connections that never
// bind, can never take every slot. A connection over a cap is refused at
// once, before a session exists. Its tables hold only open connections, so
// they are bounded by the connection cap.
type admission struct {
	perAddr int // 0 = unlimited
	unbound int // 0 = unlimited

	mu       sync.Mutex
	byAddr   map[netip.Addr]int
	unboundN int
}

func newAdmission(perAddr, unbound int) *admission {
	return &admission{perAddr: perAddr, unbound: unbound, byAddr: make(map[netip.Addr]int)}
}

// admit counts a new connection from addr, or returns why it is refused.
// An admitted connection counts as unbound until bound or released.
func (a *admission) admit(addr netip.Addr) CloseReason {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perAddr > 0 && a.byAddr[addr] >= a.perAddr {
		return CloseTooManyFromAddress
	}
	if a.unbound > 0 && a.unboundN >= a.unbound {
		return CloseTooManyUnbound
	}
	a.byAddr[addr]++
	a.unboundN++
	return CloseNone
}

// bound moves an admitted connection out of the unbound count.
func (a *admission) bound() {
	a.mu.Lock()
	a.unboundN--
	a.mu.Unlock()
}

// release forgets an admitted connection; unbound says whether it still
// counted as unbound.
func (a *admission) release(addr netip.Addr, unbound bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if n := a.byAddr[addr]; n <= 1 {
		delete(a.byAddr, addr)
	} else {
		a.byAddr[addr] = n - 1
	}
	if unbound {
		a.unboundN--
	}
}

// admit decides whether a new connection is served; srv.mu is held. It
// counts an admitted connection as unbound.
func (srv *Server) admit(s *Session) CloseReason {
	switch {
	case srv.closing:
		return CloseShutdown
	case srv.opts.MaxConnections > 0 && len(srv.sessions) >= srv.opts.MaxConnections:
		return CloseTooManyConnections
	case srv.guard.blocked(s.remote):
		return CloseAddressBlocked
	}
	if reason := srv.adm.admit(s.remote); reason != CloseNone {
		return reason
	}
	s.countedUnbound.Store(true)
	return CloseNone
}

// refuse closes a connection that was not admitted and counts it. Only
// the global cap and shutdown are logged at WARNING: the per-address
// refusals come in floods, and are visible in the metric.
func (srv *Server) refuse(conn net.Conn, remote netip.Addr, reason CloseReason) {
	_ = conn.Close()
	srv.metrics.refused.WithLabelValues(reason.String()).Inc()
	srv.metrics.closed.WithLabelValues(reason.String()).Inc()
	level := slog.LevelDebug
	if reason == CloseTooManyConnections || reason == CloseShutdown {
		level = slog.LevelWarn
	}
	srv.log.Log(context.Background(), level, "smpp.connection.refused", "remote", remote.String(), "reason", reason.String())
}
