package bench

import (
	"context"
	"sync"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// session is one submitting bind and, in Separate mode, its receiver.
type session struct {
	c  *esme.Client
	rx *esme.Client

	// slots is the window: a send takes a slot, the response gives it
	// back, so at most cap(slots) submit_sm are in flight.
	slots chan struct{}

	// mu guards what the response callback records; it is taken by this
	// session's reader goroutine and, once, by the final report.
	mu       sync.Mutex
	hist     histogram
	byStatus map[pdu.Status]int64
	failed   int64 // requests that ended with a connection error instead of a response
}

// sendLoop is the session's only sender: it submits while a window slot is
// free until stop ends, the count is reached or the connection closes.
func (r *runner) sendLoop(stop context.Context, s *session) {
	sm := pdu.SubmitSM{SM: pdu.SM{
		Source:             pdu.Address{TON: 5, NPI: 0, Addr: r.cfg.Source},
		Dest:               pdu.Address{TON: 1, NPI: 1},
		RegisteredDelivery: 1,
		ShortMessage:       r.cfg.Text,
	}}
	var buf []byte
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case s.slots <- struct{}{}:
		case <-stop.Done():
			return
		case <-s.c.Done():
			return
		}
		i := r.next.Add(1) - 1
		if r.cfg.Count > 0 && i >= uint64(r.cfg.Count) {
			<-s.slots
			return
		}
		if r.pace != nil && !r.pace.wait(stop, i, timer) {
			<-s.slots
			return
		}
		buf = r.dest.at(buf, i)
		sm.Dest.Addr = string(buf)
		r.inflight.Add(1)
		r.sent.Add(1)
		start := time.Now()
		// SendAsync encodes sm before it returns, so sm is reused; the
		// closure is the only per-message allocation of the loop.
		s.c.SendAsync(&sm, func(p pdu.PDU, err error) { r.onResponse(s, start, p, err) })
	}
}

// onResponse runs on the session's reader goroutine (or, with err set, on
// the goroutine closing the connection, or on sendLoop's own when the
// connection had closed before the send).
func (r *runner) onResponse(s *session, start time.Time, p pdu.PDU, err error) {
	now := time.Now()
	var id string
	s.mu.Lock()
	if err != nil {
		s.failed++
	} else {
		s.hist.record(now.Sub(start))
		s.byStatus[p.Status]++
		if resp, ok := p.Body.(*pdu.SubmitSMResp); ok && p.Status == pdu.StatusOK {
			id = resp.MessageID
		}
	}
	s.mu.Unlock()
	if err == nil {
		if r.tracker != nil && p.Status == pdu.StatusOK {
			r.tracker.accepted(id)
		}
		r.responses.Add(1)
		r.lastResponse.Store(now.UnixNano())
	}
	r.inflight.Add(-1)
	<-s.slots
}

// onDeliver answers every deliver_sm with ESME_ROK and counts it as a receipt.
func (r *runner) onDeliver(d *pdu.DeliverSM) pdu.Status {
	if r.tracker != nil {
		r.tracker.receipt(receiptID(d))
	}
	r.receipts.Add(1)
	r.lastReceipt.Store(time.Now().UnixNano())
	return pdu.StatusOK
}
