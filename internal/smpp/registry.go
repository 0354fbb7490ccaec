package smpp

import (
	"context"
	"sort"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// sessionStats are a session's counters for the admin API.
type sessionStats struct {
	submits      atomic.Uint64 // submit_sm, data_sm and submit_multi answered
	receiptsSent atomic.Uint64 // deliver_sm written
	ifVersion    atomic.Uint32 // interface_version of the bind
	leased       atomic.Bool   // the session holds a bind lease
}

// SessionInfo describes one bound session.
type SessionInfo struct {
	ID                 uint64
	SystemID           string
	Bind               BindMode
	State              State
	RemoteAddr         string // host:port
	TLS                bool
	InterfaceVersion   uint8
	BoundAt            time.Time
	InFlight           int    // client requests not answered yet
	Submits            uint64 // submit_sm, data_sm and submit_multi answered
	ReceiptsSent       uint64 // deliver_sm sent
	ReceiptsPendingAck int    // deliver_sm awaiting deliver_sm_resp
}

// SessionInfos lists the bound (and unbinding) sessions, by id.
func (srv *Server) SessionInfos() []SessionInfo {
	srv.mu.Lock()
	sessions := make([]*Session, 0, len(srv.sessions))
	for s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	out := make([]SessionInfo, 0, len(sessions))
	for _, s := range sessions {
		if info, ok := s.info(); ok {
			out = append(out, info)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Session) info() (SessionInfo, bool) {
	b := s.bind.Load()
	st := s.State()
	if b == nil || st == StateClosed {
		return SessionInfo{}, false
	}
	return SessionInfo{
		ID:                 s.id,
		SystemID:           b.account.SystemID,
		Bind:               b.mode,
		State:              st,
		RemoteAddr:         s.conn.RemoteAddr().String(),
		TLS:                s.tlsConn,
		InterfaceVersion:   uint8(s.stats.ifVersion.Load()),
		BoundAt:            b.boundAt,
		InFlight:           int(s.inflight.Load()),
		Submits:            s.stats.submits.Load(),
		ReceiptsSent:       s.stats.receiptsSent.Load(),
		ReceiptsPendingAck: s.receiptsAwaitingAck(),
	}, true
}

func (s *Session) receiptsAwaitingAck() int {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	n := 0
	for _, ob := range s.pending {
		if ob.receipt {
			n++
		}
	}
	return n
}

// UnbindSession ends the session with the given id that SessionInfos
// lists: it answers the requests already read, sends unbind (when still
// bound), waits for unbind_resp (at most until ctx ends) and closes. It
// reports whether such a session was listed.
func (srv *Server) UnbindSession(ctx context.Context, id uint64) bool {
	var found *Session
	srv.mu.Lock()
	for s := range srv.sessions {
		if s.id == id {
			found = s
			break
		}
	}
	srv.mu.Unlock()
	// The sessions SessionInfos lists only (bound, or unbinding after a
	// bind): a connection that has not bound (or whose bind is being
	// checked) is no session to an operator, and closing it would leave
	// its bind unanswered.
	if found == nil {
		return false
	}
	if _, listed := found.info(); !listed {
		return false
	}
	found.unbindAndClose(ctx, CloseAdminUnbind)
	return true
}

// unbindAndClose ends one session gracefully within ctx: no more messages
// are accepted, the requests read are answered, a bound session gets
// unbind, and the connection closes with reason once that is answered.
func (s *Session) unbindAndClose(ctx context.Context, reason CloseReason) {
	// The state left decides: a bind that completed just before must get
	// its unbind too.
	prev := s.beginUnbinding()
	if prev == StateUnbinding || prev == StateClosed {
		// Another unbind is under way (the client's own, or one of the
		// gateway's: a second admin request, an account removed while
		// the session was unbound as unanswered): it decides when the
		// session closes. Closing here cut it short, with answers to
		// receipts still on their way.
		select {
		case <-s.done:
		case <-ctx.Done():
		}
		return
	}
	s.unbindReason.CompareAndSwap(int32(CloseNone), int32(reason))
	wasBound := prev.Bound()
	if !s.waitIdle(ctx) {
		s.close(reason)
		return
	}
	if !wasBound {
		// A bind being checked (waiting out its delay, say) is answered
		// first: every request read gets its answer.
		s.waitBindAnswered(ctx)
		s.closeAfterFlush(reason)
		return
	}
	answered := make(chan struct{})
	err := s.Send(&pdu.Unbind{}, func(pdu.PDU, error) { close(answered) })
	if err != nil {
		s.close(reason)
		return
	}
	// Some clients never answer unbind: wait UnbindTimeout, not the
	// whole response timeout.
	t := s.srv.opts.Clock.NewTimer(s.srv.opts.UnbindTimeout)
	defer t.Stop()
	select {
	case <-answered:
		// The answers to receipts sent before the unbind may still be
		// on their way: wait for them within the same UnbindTimeout, as
		// after the client's own unbind (handleUnbind). Closing at once
		// had each of them sent again after the visibility timeout.
		s.waitNoPending(ctx, t)
		s.closeAfterFlush(reason)
	case <-t.C():
		s.closeAfterFlush(reason)
	case <-ctx.Done():
		s.close(reason)
	case <-s.done:
	}
}

// submitAnswered counts the answer to a client request for the account
// and the session; only submit_sm, data_sm and submit_multi count.
func (s *Session) submitAnswered(cmd pdu.CommandID, status pdu.Status) {
	switch cmd {
	case pdu.CmdSubmitSM, pdu.CmdDataSM, pdu.CmdSubmitMulti:
	default:
		return
	}
	s.stats.submits.Add(1)
	acc := s.Account()
	if acc == nil {
		return
	}
	switch status {
	case pdu.StatusOK:
		acc.accepted.Add(1)
	case pdu.StatusThrottled:
		acc.throttled.Add(1)
	default:
		acc.rejected.Add(1)
	}
}
