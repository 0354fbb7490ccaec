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
// bind, can never take every slot. A connection over the per-address cap
// is refused at once, before a session exists. At the unbound cap, a
// connection from an address holding at least two fewer unbound
// connections than the address holding the most takes the place of that
// address's oldest unbound connection (closed as unbound_evicted): a few
// addresses each within their own cap (two of 100 fill the default 200)
// cannot keep every other client from binding; an address that holds as
// many as any other is refused. Its tables hold only open connections, so
// they are bounded by the connection cap.
type admission struct {
	perAddr int // 0 = unlimited
	unbound int // 0 = unlimited

	mu       sync.Mutex
	byAddr   map[netip.Addr]int
	unboundN int
	// unboundBy counts the unbound connections of each address, those
	// being evicted left out; evicting counts those, still in unboundN
	// until they are released.
	unboundBy map[netip.Addr]int
	evicting  int
}

func newAdmission(perAddr, unbound int) *admission {
	return &admission{perAddr: perAddr, unbound: unbound, byAddr: make(map[netip.Addr]int), unboundBy: make(map[netip.Addr]int)}
}

// admit counts a new connection from addr, or returns why it is refused.
// An admitted connection counts as unbound until bound or released.
func (a *admission) admit(addr netip.Addr) CloseReason {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.perAddr > 0 && a.byAddr[addr] >= a.perAddr {
		return CloseTooManyFromAddress
	}
	if a.unbound > 0 && a.unboundN-a.evicting >= a.unbound {
		return CloseTooManyUnbound
	}
	a.addLocked(addr)
	return CloseNone
}

// fromAddrFull reports whether addr holds its cap of connections.
func (a *admission) fromAddrFull(addr netip.Addr) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.perAddr > 0 && a.byAddr[addr] >= a.perAddr
}

// evictingNow is how many admitted connections are being closed to make
// room.
func (a *admission) evictingNow() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.evicting
}

func (a *admission) addLocked(addr netip.Addr) {
	a.byAddr[addr]++
	a.unboundN++
	a.unboundBy[addr]++
}

// evictionFor returns the address whose oldest unbound connection should
// make room for a new one from addr: the one holding the most, when it
// holds at least two more than addr.
func (a *admission) evictionFor(addr netip.Addr) (netip.Addr, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var top netip.Addr
	most := 0
	for ad, n := range a.unboundBy {
		if n > most {
			top, most = ad, n
		}
	}
	return top, most >= a.unboundBy[addr]+2
}

// admitEvicting counts a new connection from addr in place of one of
// victim's, which is being closed.
func (a *admission) admitEvicting(addr, victim netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.evicting++
	a.decLocked(a.unboundBy, victim)
	a.addLocked(addr)
}

func (a *admission) decLocked(m map[netip.Addr]int, addr netip.Addr) {
	if n := m[addr]; n <= 1 {
		delete(m, addr)
	} else {
		m[addr] = n - 1
	}
}

// bound moves an admitted connection of addr out of the unbound count.
func (a *admission) bound(addr netip.Addr) {
	a.mu.Lock()
	a.unboundN--
	a.decLocked(a.unboundBy, addr)
	a.mu.Unlock()
}

// release forgets an admitted connection; unbound says whether it still
// counted as unbound, evicted whether it was closed to make room.
func (a *admission) release(addr netip.Addr, unbound, evicted bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.decLocked(a.byAddr, addr)
	if !unbound {
		return
	}
	a.unboundN--
	if evicted {
		a.evicting--
	} else {
		a.decLocked(a.unboundBy, addr)
	}
}

// admit decides whether a new connection is served; srv.mu is held. It
// counts an admitted connection as unbound. evict, when not nil, is an
// unbound session the new one takes the place of: the caller closes it
// once srv.mu is released (it can no longer bind).
//
// At the connection cap the same eviction applies: with
// SMPP_MAX_UNBOUND_CONNECTIONS not below SMPP_MAX_CONNECTIONS (or 0),
// unbound connections from two addresses could otherwise fill every place
// before the unbound cap was reached. Sessions being evicted still count
// in srv.sessions until they close, so the sockets open may pass the cap
// by those for the moment it takes.
func (srv *Server) admit(s *Session) (reason CloseReason, evict *Session) {
	switch {
	case srv.closing:
		return CloseShutdown, nil
	case srv.opts.MaxConnections > 0 && len(srv.sessions)-srv.adm.evictingNow() >= srv.opts.MaxConnections:
		return srv.admitAtCap(s)
	case srv.guard.blocked(s.remote):
		return CloseAddressBlocked, nil
	}
	reason = srv.adm.admit(s.remote)
	if reason == CloseTooManyUnbound {
		evict = srv.unboundVictim(s.remote)
		if evict == nil {
			return reason, nil
		}
		srv.adm.admitEvicting(s.remote, evict.remote)
	} else if reason != CloseNone {
		return reason, nil
	}
	s.countedUnbound.Store(true)
	return CloseNone, evict
}

// admitAtCap admits s at the connection cap in place of an unbound
// session (as at the unbound cap), or refuses it; srv.mu is held.
func (srv *Server) admitAtCap(s *Session) (CloseReason, *Session) {
	if srv.guard.blocked(s.remote) {
		return CloseAddressBlocked, nil
	}
	if srv.adm.fromAddrFull(s.remote) {
		return CloseTooManyFromAddress, nil
	}
	evict := srv.unboundVictim(s.remote)
	if evict == nil {
		return CloseTooManyConnections, nil
	}
	srv.adm.admitEvicting(s.remote, evict.remote)
	s.countedUnbound.Store(true)
	return CloseNone, evict
}

// unboundVictim picks the oldest unbound session of the address holding
// the most unbound connections, when a new connection from addr may take
// its place (admission.evictionFor), and marks it evicted; srv.mu is held.
func (srv *Server) unboundVictim(addr netip.Addr) *Session {
	top, ok := srv.adm.evictionFor(addr)
	if !ok {
		return nil
	}
	var victim *Session
	for s := range srv.sessions {
		if s.remote == top && s.countedUnbound.Load() && !s.evicted.Load() && (victim == nil || s.opened.Before(victim.opened)) {
			victim = s
		}
	}
	if victim != nil {
		victim.evicted.Store(true)
	}
	return victim
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
