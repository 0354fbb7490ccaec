package gateway

import (
	"context"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// readBatch is the Handler's smpp.ReadBatch: the submits a session's
// reader answered inline (cache hits) since the last read ended. Their
// answers are written at once; what is left of them, the processing-time
// histogram, the outcome counters and the log line, is done at EndRead
// with one clock reading for all of them and one Write of their lines to
// the shared log writer. Answers given on a worker (cache misses,
// submit_multi, a receipt stored asynchronously) do not go through it.
type readBatch struct {
	h       *Handler
	s       *smpp.Session // whose reader this is
	answers []inlineAnswer
	lines   logging.Batch

	// The count of pending receipts of the session's account, looked up
	// at the first submit that meets a cap (a session's account does not
	// change once bound; its cap may, on a reload, and is read from the
	// account's settings every time).
	pendingCount *dlr.AccountCount // nil: asked from Receipts.PendingCount
	pendingAsked bool              // pendingCount was looked up
}

// readBatchKeep is the most answers whose room a read batch keeps between
// reads (a window's worth, SMPP_WINDOW's default): one read may bring
// more, whose room is let go once they are done.
const readBatchKeep = 256

// inlineAnswer is an answered submit_sm waiting for its read to end.
type inlineAnswer struct {
	received time.Time // the request's start
	d        decision
	id       string
	src, dst string
	length   int
}

// NewReadBatch implements smpp.ReadBatcher.
func (h *Handler) NewReadBatch(s *smpp.Session) smpp.ReadBatch { return &readBatch{h: h, s: s} }

// readBatchOf is the batch of the reader r was read by, nil when it has
// none of h's (a session served by another handler).
func (h *Handler) readBatchOf(r *smpp.Request) *readBatch {
	if b, ok := r.Session.ReadBatch().(*readBatch); ok && b.h == h {
		return b
	}
	return nil
}

// pending returns the number of pending receipts of sys, the
// session's account, without a lookup by system_id per submit when the
// queue offers an AccountCount.
func (b *readBatch) pending(sys string) (int, error) {
	if !b.pendingAsked {
		if c, ok := b.h.opts.Receipts.(AccountCounter); ok {
			b.pendingCount = c.AccountCount(sys)
		}
		b.pendingAsked = true
	}
	if b.pendingCount != nil {
		return b.pendingCount.Load(), nil
	}
	return b.h.opts.Receipts.PendingCount(context.Background(), sys)
}

// add keeps a submit_sm answered on the reader for EndRead.
func (b *readBatch) add(sm *pdu.SM, d decision, id string, start time.Time) {
	b.answers = append(b.answers, inlineAnswer{
		received: start, d: d, id: id,
		src: sm.Source.Addr, dst: sm.Dest.Addr, length: messageLength(sm.ShortMessage, sm.TLVs),
	})
}

// EndRead implements smpp.ReadBatch: it observes and logs the answers of
// the read, timed by one clock reading taken now.
func (b *readBatch) EndRead() {
	if len(b.answers) == 0 {
		return
	}
	h := b.h
	now := h.opts.Now()
	var outcomes [outcomeCount]int
	for i := range b.answers {
		a := &b.answers[i]
		h.metrics.processing.Observe(now.Sub(a.received).Seconds())
		outcomes[outcomeOf(a.d.status)]++
		h.logSubmit(&b.lines, now, a.d, b.s, pdu.CmdSubmitSM, a.id, a.src, a.dst, a.length)
		*a = inlineAnswer{} // let go of the request's strings
	}
	if cap(b.answers) > readBatchKeep {
		b.answers = nil // a burst's worth is not kept for the session's life
	} else {
		b.answers = b.answers[:0]
	}
	b.lines.Flush()
	h.metrics.addOutcomes(outcomes)
}
