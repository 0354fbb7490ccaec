package smpp

import (
	"time"
)

// DefaultIdlePDUsPerSecond is the default of Options.MaxIdlePDUsPerSecond
// (SMPP_MAX_IDLE_PDUS_PER_SECOND), which bounds, per session, the PDUs a client may send each
// second that do no work for it: enquire_link, requests refused for what
// they are (a wrong state, a body that does not decode, an unknown command
// id) and responses to nothing the gateway sent. Refusals of the
// gateway's back-pressure (a full window, the account's throughput, a
// drain) are not counted: a client whose window is a little larger than
// the gateway's gets one per excess request and round trip. Each costs the gateway a read, a decode and most often an
// answer, and nothing else bounds them: four connections sending
// enquire_link as fast as they could (11 million a second) took both
// cores, and a well-behaved client's submits went from 0.4 ms to 19 ms
// (p50). Past the bound the gateway stops reading the connection until
// the second is over: the client is slowed by its own TCP window, every
// PDU is still read and answered. A client's keep-alives stay far below
// it.
const DefaultIdlePDUsPerSecond = 1000

// idleBudget counts a session's idle PDUs in the current second; the
// reader alone uses it.
type idleBudget struct {
	start time.Time
	n     int
}

// spend counts one idle PDU read at arrived against limit (negative: no
// limit) and returns how long reading must pause (0: none). The window
// never moves back: the PDUs of one read all carry that read's time, so
// those still buffered after a pause arrived before the window the pause
// opened, and they count in it. Restarted at their older time, the window
// ended soon after the pause and let up to twice the limit through in a
// second.
func (b *idleBudget) spend(arrived time.Time, limit int) time.Duration {
	now := arrived
	if now.Before(b.start) {
		now = b.start
	}
	if now.Sub(b.start) >= time.Second {
		b.start, b.n = now, 0
	}
	b.n++
	if limit < 0 || b.n <= limit {
		return 0
	}
	wait := b.start.Add(time.Second).Sub(now)
	b.start, b.n = b.start.Add(time.Second), 0
	return wait
}

// spendIdle counts one idle PDU read at arrived. Past
// Options.MaxIdlePDUsPerSecond it stops reading until the second is over and reports false if the
// session closed meanwhile.
func (s *Session) spendIdle(arrived time.Time) bool {
	limit := s.srv.opts.MaxIdlePDUsPerSecond
	wait := s.idleSpent.spend(arrived, limit)
	if wait <= 0 {
		return true
	}
	s.srv.metrics.idlePauses.Inc()
	if !s.idleLogged {
		s.idleLogged = true
		s.log().Info("smpp.session.idle_pdus_paused", "session", s.id, "remote", s.remote.String(),
			"system_id", s.SystemID(), "per_second", limit)
	}
	// Not marked readPaused: a pause is at most a second, far shorter
	// than the response timeout, and a receiver that answers nothing but
	// floods enquire_link must still be judged unanswered.
	s.endRead() // the reader waits: what its handler holds must not
	t := s.srv.opts.Clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-s.done:
		return false
	}
}
