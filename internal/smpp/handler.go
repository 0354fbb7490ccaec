package smpp

import (
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Handler serves client requests that passed the state table, the window
// and the account's throughput limit: submit_sm, data_sm, submit_multi,
// query_sm, cancel_sm and replace_sm.
//
// ServeSMPP is called on the session's reader goroutine, so it must not
// block for long: slow work goes elsewhere and answers later. Every
// request must be answered exactly once with Respond (from any goroutine);
// the window slot is held until then.
type Handler interface {
	ServeSMPP(r *Request)
}

// ReadBatcher is an optional interface of a Handler: one that implements it
// learns where the requests of one read end, so that what it would do once
// per request (read the clock, take a lock shared with other sessions) it
// can do once per read, which under load brings tens of requests.
type ReadBatcher interface {
	// NewReadBatch returns the handler's state for the reader of session
	// s. It is called once, on that reader goroutine, before the reader
	// serves any request.
	NewReadBatch(s *Session) ReadBatch
}

// ReadBatch is a ReadBatcher's state for one session's reader; only that
// reader goroutine uses it (Session.ReadBatch from ServeSMPP, and the
// calls below).
type ReadBatch interface {
	// EndRead is called on the reader goroutine when requests were
	// handed to ServeSMPP since the last call (every one of those calls
	// has returned) and the reader is about to wait: before its next
	// read(2), before it waits for room in the output buffer, and once
	// when it stops, whyever it stops (a panic included), before the
	// server counts it as ended. The requests since the last call are
	// those of one read, unless a wait for output room came between.
	EndRead()
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// ServeSMPP calls f(r).
func (f HandlerFunc) ServeSMPP(r *Request) { f(r) }

// Request is one client request and the way to answer it.
type Request struct {
	Session *Session
	PDU     pdu.PDU
	// Received is the server clock's reading taken when the read that
	// completed the PDU's frame returned: the start of its processing,
	// read once for the session's inactivity timer and the handler alike.
	// The frames one read brings share it, so a latency measured from it
	// includes the wait behind the frames ahead of it in that read.
	Received time.Time
	done     atomic.Bool
}

// Respond answers the request. A non-zero status sends the bare header.
// Calls after the first are ignored.
func (r *Request) Respond(status pdu.Status, body pdu.Body) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	s := r.Session
	s.submitAnswered(r.PDU.Command, countedStatus(status, body))
	h := pdu.Header{Command: r.PDU.Command.Response(), Status: status, Sequence: r.PDU.Sequence}
	if body == nil || status != pdu.StatusOK {
		s.writeHeader(h.Command, status, h.Sequence)
	} else {
		s.writePDU(pdu.PDU{Header: h, Body: s.forPeer(body)})
	}
	s.requestDone()
}

// countedStatus is the status an answer counts as for the account: a
// submit_multi_resp is ESME_ROK even when no destination was accepted
// (each has its own status in unsuccess_sme); with no message id it counts
// as its first destination's refusal, not as accepted.
func countedStatus(status pdu.Status, body pdu.Body) pdu.Status {
	if m, ok := body.(*pdu.SubmitMultiResp); ok && status == pdu.StatusOK && m.MessageID == "" && len(m.Unsuccess) > 0 {
		return m.Unsuccess[0].Status
	}
	return status
}

// RespondSubmitSM answers a submit_sm without boxing a body: the hot path.
func (r *Request) RespondSubmitSM(status pdu.Status, messageID string) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	s := r.Session
	s.submitAnswered(r.PDU.Command, status)
	s.wmu.Lock()
	s.out = pdu.AppendSubmitSMResp(s.out, r.PDU.Sequence, status, messageID)
	s.appended()
	s.wmu.Unlock()
	s.kickWriter()
	s.requestDone()
}

// Responded reports whether the request was answered.
func (r *Request) Responded() bool { return r.done.Load() }
