package smpp

import (
	"errors"
	"net"
)

// The output buffer of a session holds the encoded PDUs the writer has not
// written yet. Past Options.MaxOutputBytes the reader stops reading: a
// client that sends requests without reading their responses stalls its
// own connection instead of growing the server's memory. When the buffer
// stays full (or a write stays blocked) for SlowConsumerTimeout, the
// session is closed as slow_consumer, as nats-server does with clients
// that do not drain their socket.
//
// What can still be appended while reading is paused is bounded too:
// responses to requests already in flight (at most the window) and the
// server's own requests (at most the window of deliver_sm).

// appended records the buffer size after an append; s.wmu is held.
func (s *Session) appended() {
	s.outBytes.Store(int64(len(s.out) + s.writing))
}

// outputFull reports whether the reader must pause.
func (s *Session) outputFull() bool {
	return s.outBytes.Load() >= int64(s.srv.opts.MaxOutputBytes)
}

// waitOutputRoom is called by the reader between PDUs. It returns at once
// while the buffer has room; otherwise it waits for the writer to drain it
// and reports false when the session closed, or was closed as
// slow_consumer because the buffer stayed full.
func (s *Session) waitOutputRoom() bool {
	if !s.outputFull() {
		return true
	}
	s.srv.metrics.readPauses.Inc()
	s.endRead() // the reader waits: what its handler holds must not
	t := s.srv.opts.Clock.NewTimer(s.srv.opts.SlowConsumerTimeout)
	defer t.Stop()
	for s.outputFull() {
		select {
		case <-s.drained:
		case <-t.C():
			s.closeSlowConsumer()
			return false
		case <-s.done:
			return false
		}
	}
	return true
}

func (s *Session) closeSlowConsumer() {
	s.log().Warn("smpp.session.slow_consumer", "session", s.id, "remote", s.remote.String(),
		"system_id", s.SystemID(), "output_bytes", s.outBytes.Load())
	s.close(CloseSlowConsumer)
}

// writeFailed closes the session after a failed write: a write that timed
// out means the client stopped reading.
func (s *Session) writeFailed(err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.closeSlowConsumer()
		return
	}
	s.close(CloseWriteError)
}
