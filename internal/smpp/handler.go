package smpp

import (
	"sync/atomic"

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

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(r *Request)

// ServeSMPP calls f(r).
func (f HandlerFunc) ServeSMPP(r *Request) { f(r) }

// Request is one client request and the way to answer it.
type Request struct {
	Session *Session
	PDU     pdu.PDU
	done    atomic.Bool
}

// Respond answers the request. A non-zero status sends the bare header.
// Calls after the first are ignored.
func (r *Request) Respond(status pdu.Status, body pdu.Body) {
	if !r.done.CompareAndSwap(false, true) {
		return
	}
	s := r.Session
	s.submitAnswered(r.PDU.Command, status)
	h := pdu.Header{Command: r.PDU.Command.Response(), Status: status, Sequence: r.PDU.Sequence}
	if body == nil || status != pdu.StatusOK {
		s.writeHeader(h.Command, status, h.Sequence)
	} else {
		s.writePDU(pdu.PDU{Header: h, Body: s.forPeer(body)})
	}
	s.requestDone()
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
