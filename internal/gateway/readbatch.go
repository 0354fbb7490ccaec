package gateway

import (
	"time"

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
}

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
	var accepted, rejected, failed int
	for i := range b.answers {
		a := &b.answers[i]
		h.metrics.processing.Observe(now.Sub(a.received).Seconds())
		switch a.d.status {
		case pdu.StatusOK:
			accepted++
		case pdu.StatusInvDstAdr:
			rejected++
		default:
			failed++
		}
		h.logSubmit(&b.lines, now, a.d, b.s, pdu.CmdSubmitSM, a.id, a.src, a.dst, a.length)
		*a = inlineAnswer{} // let go of the request's strings
	}
	b.answers = b.answers[:0]
	b.lines.Flush()
	h.metrics.addOutcomes(accepted, rejected, failed)
}
