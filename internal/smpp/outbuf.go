package smpp

import (
	"errors"
	"net"

	"github.com/prometheus/client_golang/prometheus"
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
//
// One connection's bound does not bound them all: a thousand connections
// that never read could each hold MaxOutputBytes. So the bytes every
// session has waiting beyond its first OutputFloorBytes are summed
// (Server.outOver); past Options.MaxOutputBytesTotal, every session
// holding more than its floor pauses its reading too, and is closed as
// slow_consumer when that lasts SlowConsumerTimeout. A client that reads
// drains below its floor at once and reads on; the floor is what a busy
// but healthy session holds (a window of deliver_sm and responses), so
// such sessions never touch the shared count, which costs the hot path
// nothing below the floor.

// OutputFloorBytes is what a session may always have waiting, whatever
// the others hold (see MaxOutputBytesTotal).
const OutputFloorBytes = 64 << 10

// appended records the buffer size after an append or a write; s.wmu is
// held. Once the session is closed its bytes leave the shared count.
func (s *Session) appended() {
	n := int64(len(s.out) + s.writing)
	s.outBytes.Store(n)
	over := max(n-OutputFloorBytes, 0)
	if s.outClosed {
		over = 0
	}
	if over != s.outOver {
		s.srv.outOver.Add(over - s.outOver)
		s.outOver = over
	}
}

// registerOutputMetrics exports the shared count (smpp_output_shared_bytes).
func (srv *Server) registerOutputMetrics(reg prometheus.Registerer) {
	if reg == nil {
		return
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "smpp_output_shared_bytes",
		Help: "Bytes all sessions have waiting to be written beyond the first 64 KiB of each; past SMPP_MAX_OUTPUT_BYTES_TOTAL every session above its 64 KiB stops being read.",
	}, func() float64 { return float64(srv.outOver.Load()) }))
}

// releaseOutput takes the session's bytes off the shared count when it
// closes: its buffers are dropped with it.
func (s *Session) releaseOutput() {
	s.wmu.Lock()
	s.outClosed = true
	s.appended()
	s.wmu.Unlock()
}

// outputFull reports whether the reader must pause: its own buffer is
// full, or it holds more than its floor while all sessions together hold
// more than MaxOutputBytesTotal beyond theirs.
func (s *Session) outputFull() bool {
	n := s.outBytes.Load()
	return s.ownFull(n) || s.sharedFull(n)
}

// ownFull reports whether n bytes fill the session's own buffer.
func (s *Session) ownFull(n int64) bool { return n >= int64(s.srv.opts.MaxOutputBytes) }

// sharedFull reports whether a session holding n bytes is above its floor
// while all sessions together are past MaxOutputBytesTotal.
func (s *Session) sharedFull(n int64) bool {
	total := s.srv.opts.MaxOutputBytesTotal
	return n > OutputFloorBytes && total > 0 && s.srv.outOver.Load() >= int64(total)
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
	s.readPaused.Store(true)
	defer s.readPaused.Store(false)
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

// closeSlowConsumer closes the session as slow_consumer and logs it once:
// the reader (output full too long) and the writer (a write timed out)
// may both get there.
func (s *Session) closeSlowConsumer() {
	out := s.outBytes.Load()
	if s.close(CloseSlowConsumer) {
		s.log().Warn("smpp.session.slow_consumer", "session", s.id, "remote", s.remote.String(),
			"system_id", s.SystemID(), "output_bytes", out)
	}
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
