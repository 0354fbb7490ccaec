package smpp

import (
	"context"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

func (s *Session) kickWriter() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Session) writePDU(p pdu.PDU) {
	s.wmu.Lock()
	s.out = pdu.Append(s.out, p)
	s.appended()
	s.wmu.Unlock()
	s.kickWriter()
}

func (s *Session) writeHeader(cmd pdu.CommandID, status pdu.Status, seq uint32) {
	s.wmu.Lock()
	s.out = pdu.AppendHeader(s.out, cmd, status, seq)
	s.appended()
	s.wmu.Unlock()
	s.kickWriter()
}

// closeAfterFlush closes the session once everything queued so far has
// been written: after unbind_resp, or after a generic_nack for a frame
// that broke the stream.
func (s *Session) closeAfterFlush(reason CloseReason) {
	s.wmu.Lock()
	if s.closeAfter == CloseNone {
		s.closeAfter = reason
	}
	s.wmu.Unlock()
	s.kickWriter()
}

// writeLoop is the session's only writer. It swaps the shared output
// buffer for an empty one and writes the whole batch with one call, and
// it runs the session's timers.
func (s *Session) writeLoop() {
	defer s.recoverPanic()
	ticker := s.srv.opts.Clock.NewTicker(s.srv.opts.tick())
	defer ticker.Stop()
	spare := make([]byte, 0, 4096)
	for {
		select {
		case <-s.kick:
		case <-ticker.C():
			s.onTick(s.srv.opts.Clock.Now())
			continue
		case <-s.done:
			return
		}
		s.wmu.Lock()
		batch := s.out
		s.out = spare[:0]
		s.writing = len(batch)
		closeAfter := s.closeAfter
		s.wmu.Unlock()
		if len(batch) > 0 {
			// The deadline is the network's (wall clock): a client that
			// does not read for this long is a slow consumer.
			_ = s.conn.SetWriteDeadline(time.Now().Add(s.srv.opts.SlowConsumerTimeout))
			if _, err := s.conn.Write(batch); err != nil {
				s.writeFailed(err)
				return
			}
			s.wmu.Lock()
			s.writing = 0
			s.appended()
			s.wmu.Unlock()
			select {
			case s.drained <- struct{}{}:
			default:
			}
		}
		if cap(batch) <= 1<<20 {
			spare = batch
		} else {
			spare = make([]byte, 0, 4096)
		}
		if closeAfter != CloseNone {
			s.wmu.Lock()
			empty := len(s.out) == 0
			s.wmu.Unlock()
			if empty {
				s.close(closeAfter)
				return
			}
			s.kickWriter()
		}
	}
}

// onTick runs the session timers: session-init, inactivity, keepalive and
// the response timeout of our own requests.
func (s *Session) onTick(now time.Time) {
	o := &s.srv.opts
	st := s.State()
	// A bind being checked (perhaps slowed down by the bind guard) gets
	// its answer; the guard's delay is below the bind timeout.
	if st == StateOpen && s.sinceOpened(now) > o.BindTimeout && !s.binding.Load() {
		s.log().Info("smpp.session.bind_timeout", "session", s.id, "remote", s.remote.String())
		s.closeAfterFlush(CloseBindTimeout) // a bind answered just now still gets its answer
		return
	}
	// Any PDU counts as activity: a receiver that only answers deliver_sm
	// and enquire_link is alive.
	if st.Bound() && o.InactivityTimeout > 0 && s.idleFor(now) > o.InactivityTimeout && s.selfUnbinding.CompareAndSwap(false, true) {
		// Unbound as the README says, not cut: the client gets unbind
		// and the connection closes when it answers or after the unbind
		// timeout (once: selfUnbinding).
		s.log().Info("smpp.session.inactive", "session", s.id, "remote", s.remote.String(),
			"system_id", s.SystemID(), "idle_seconds", s.idleFor(now).Seconds())
		s.srv.wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), o.ResponseTimeout)
			defer cancel()
			s.unbindAndClose(ctx, CloseInactivity)
		})
		return
	}
	s.expirePending(now)
	if st.Bound() && o.EnquireLinkInterval > 0 && s.idleFor(now) >= o.EnquireLinkInterval {
		s.ping()
	}
}

// ping sends enquire_link unless one is outstanding; no answer within
// EnquireLinkTimeout closes the session.
func (s *Session) ping() {
	s.pmu.Lock()
	if s.pinging {
		s.pmu.Unlock()
		return
	}
	s.pinging = true
	s.pmu.Unlock()
	err := s.send(&pdu.EnquireLink{}, s.srv.opts.EnquireLinkTimeout, func(_ pdu.PDU, err error) {
		s.pmu.Lock()
		s.pinging = false
		s.pmu.Unlock()
		if err == ErrTimeout {
			s.close(CloseEnquireLinkTimeout)
		}
	})
	if err != nil {
		s.pmu.Lock()
		s.pinging = false
		s.pmu.Unlock()
	}
}
