package dlr

import (
	"errors"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// refusalsBeforePause is how many deliver_sm in a row an account's
// receivers must refuse, with no ESME_ROK between them, before its
// receipts pause.
const refusalsBeforePause = 8

// refusalRun is an account whose receivers refuse its receipts: each
// refused receipt is retried with its own backoff, but while others are
// due there is always another one to send, and a receiver that refuses
// everything at once (a generic_nack for every deliver_sm) made the
// dispatcher send the account's whole backlog as fast as the answers came
// back (seen: ~130,000 deliver_sm a second with 1,000,000 pending, one
// core, other clients' receipts slowed). After refusalsBeforePause
// refusals in a row the account's receipts are not claimed for the
// retry backoff of the pause's number (RetryMin·2^(n-1), at most
// RetryMax); the refusals of the deliver_sm still in flight then do not
// count. One ESME_ROK ends the run and the next pause starts at RetryMin
// again; so does a new receiver bind of the account.
type refusalRun struct {
	inRow  int       // refusals since the last ESME_ROK or pause
	pauses int       // pauses since the last ESME_ROK
	until  time.Time // no claim before
}

// refusal reports whether x is the receiver's answer refusing a
// deliver_sm it understood to be one: an error status other than the
// permanent ones (which drop the receipt), a generic_nack, or another
// command's response in its place. Timeouts and lost connections are
// not: they say nothing about what the receiver does with receipts, and
// a receiver that does not answer holds its window, which bounds them.
func refusal(x *result) bool {
	if x.expired {
		return false
	}
	if x.err != nil {
		var a interface{ ReceiverAnswered() bool }
		return errors.As(x.err, &a) && a.ReceiverAnswered()
	}
	return x.status != pdu.StatusOK && x.status != pdu.StatusXPAppn && x.status != pdu.StatusXRAppn
}

// noteAnswerLocked updates the refusal run of x's account and reports
// whether a pause starts with x: the caller logs and counts it. s.mu is
// held (by the answer goroutine).
func (s *shard) noteAnswerLocked(x *result, now time.Time) (pause time.Duration, inRow int) {
	if !refusal(x) {
		if !x.expired && x.err == nil && x.status == pdu.StatusOK && len(s.refusing) > 0 {
			delete(s.refusing, x.r.SystemID)
		}
		return 0, 0
	}
	sys := x.r.SystemID
	run := s.refusing[sys]
	if run == nil {
		run = &refusalRun{}
		s.refusing[sys] = run
	}
	if now.Before(run.until) {
		return 0, 0 // sent before the pause began
	}
	run.inRow++
	if run.inRow < refusalsBeforePause {
		return 0, 0
	}
	inRow = run.inRow
	run.inRow = 0
	run.pauses++
	pause = s.d.o.backoff(run.pauses)
	run.until = now.Add(pause)
	return pause, inRow
}

// pausedLocked reports whether sys's receipts pause at now because its
// receivers refused them. s.mu is held.
func (s *shard) pausedLocked(sys string, now time.Time) bool {
	run := s.refusing[sys]
	return run != nil && now.Before(run.until)
}
