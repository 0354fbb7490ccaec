package smpp

import (
	"context"
	"math"
)

// BindLeases limit an account's binds across instances: a bind holds a
// lease until it ends. Without BindLeases, max_binds holds per instance.
type BindLeases interface {
	// Acquire takes one of the account's maxBinds leases for the session.
	// It answers false only when every lease is taken; when the shared
	// store cannot be reached it answers true and the per-instance limit
	// applies.
	Acquire(ctx context.Context, systemID string, session uint64, maxBinds int) bool
	// Release gives the session's lease back. It must not block.
	Release(systemID string, session uint64)
}

// admitBind takes a bind lease and records the bind; it fails when the limit
// is reached here or anywhere. Accounts without a limit take a lease too,
// so their binds are counted cluster-wide.
func (srv *Server) admitBind(ctx context.Context, s *Session, acc *AccountState, mode BindMode) bool {
	if leases := srv.opts.BindLeases; leases != nil {
		limit := acc.MaxBinds()
		if limit <= 0 {
			limit = math.MaxInt32
		}
		if !leases.Acquire(ctx, acc.SystemID, s.id, limit) {
			return false
		}
		s.stats.leased.Store(true)
	}
	if !srv.registerBind(s, acc, mode) {
		srv.releaseLease(s, acc.SystemID)
		return false
	}
	return true
}

// releaseLease gives back the session's bind lease, once.
func (srv *Server) releaseLease(s *Session, systemID string) {
	if s.stats.leased.CompareAndSwap(true, false) {
		srv.opts.BindLeases.Release(systemID, s.id)
	}
}
