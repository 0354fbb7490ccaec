package gateway

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// tryInline decides a submit_sm on the reader goroutine when the answer
// is already in memory and no receipt has to be stored (a rejection), or
// the receipt store never blocks. It reports whether it answered.
func (h *Handler) tryInline(r *smpp.Request, sm *pdu.SM, start time.Time) bool {
	res, ok := h.cachedDest(r.Session.SystemID(), sm.Dest)
	if !ok {
		return false
	}
	d := h.decide(res, nil)
	if d.status != pdu.StatusOK {
		h.dests.Answered(res)
		h.finishInline(r, sm, d, "", start)
		return true
	}
	if !h.opts.InlineReceipts {
		return false // storing the receipt may block: leave it to a worker
	}
	h.dests.Answered(res)
	h.accept(context.Background(), r, sm, d, start, true)
	return true
}

func (h *Handler) submit(ctx context.Context, r *smpp.Request, sm *pdu.SM, start time.Time) {
	d := h.lookupDest(ctx, r.Session.SystemID(), sm.Dest)
	if d.status != pdu.StatusOK {
		h.finishSubmit(r, sm, d, "", start)
		return
	}
	h.accept(ctx, r, sm, d, start, false)
}

// accept stores the receipt, then answers with the message id from the
// store's completion: the caller (an HLR worker) does not wait for it.
// inline says the caller is the session's reader (a cache hit): an answer
// given before accept returns is then the reader's.
func (h *Handler) accept(_ context.Context, r *smpp.Request, sm *pdu.SM, d decision, start time.Time, inline bool) {
	id := h.opts.IDs.NextAt(start)
	rc, want := h.receiptFor(r, sm.Source, sm.Dest, sm.RegisteredDelivery, id, d, start)
	if !want && inline {
		h.acceptRecordedInline(r, sm, d, id, start, rc)
		return
	}
	if want && h.storeNow != nil && h.accepting.add() {
		handled, err := h.storeNow.ScheduleNow(rc)
		if handled {
			d, id = acceptedOrFailed(d, id, err)
			if inline {
				h.finishInline(r, sm, d, id, start)
			} else {
				h.finishSubmit(r, sm, d, id, start)
			}
			h.accepting.done()
			return
		}
		h.accepting.done()
	}
	h.acceptAsync(r, sm, d, id, start, rc, want)
}

// acceptRecordedInline is accept for a message that asked for no receipt,
// on the session's reader: answered once its outcome is recorded, here
// (inline) when the queue records it at once, else from the record's
// completion.
func (h *Handler) acceptRecordedInline(r *smpp.Request, sm *pdu.SM, d decision, id string, start time.Time, rc dlr.Receipt) {
	if !h.accepting.add() {
		h.finishInline(r, sm, decision{status: pdu.StatusSysErr, detail: errClosing.Error()}, "", start)
		return
	}
	// 0: recording; 1: recorded before Accepted returned (answered
	// below); 2: Accepted returned first (answered by the callback).
	var state atomic.Int32
	h.opts.Receipts.Accepted(rc, func() {
		if state.CompareAndSwap(0, 1) {
			return
		}
		h.finishSubmit(r, sm, d, id, start)
		h.accepting.done()
	})
	if !state.CompareAndSwap(0, 2) {
		h.finishInline(r, sm, d, id, start)
		h.accepting.done()
	}
}

// acceptAsync stores rc and answers from the store's callback. It is apart
// from accept so that the callback's captures stay off the path that
// stores at once.
func (h *Handler) acceptAsync(r *smpp.Request, sm *pdu.SM, d decision, id string, start time.Time, rc dlr.Receipt, want bool) {
	h.storeReceipt(rc, want, func(err error) {
		h.answerAccepted(r, sm, d, id, start, err)
	})
}

// answerAccepted answers an accepted submit once its receipt is stored, or
// with ESME_RSYSERR when it could not be.
func (h *Handler) answerAccepted(r *smpp.Request, sm *pdu.SM, d decision, id string, start time.Time, err error) {
	d, id = acceptedOrFailed(d, id, err)
	h.finishSubmit(r, sm, d, id, start)
}

// acceptedOrFailed is the answer of an accepted submit whose receipt was
// stored with err: d and id, or ESME_RSYSERR without an id.
func acceptedOrFailed(d decision, id string, err error) (decision, string) {
	if err != nil {
		return decision{status: pdu.StatusSysErr, detail: "receipt not stored: " + err.Error()}, ""
	}
	return d, id
}

// storeReceipt stores rc when the client gets one (else records the
// accepted message) and calls answer from the store's completion, so an
// HLR worker never waits for the commit. Once Close is waiting for the
// stores in flight, answer gets errClosing at once.
func (h *Handler) storeReceipt(rc dlr.Receipt, want bool, answer func(error)) {
	if !want {
		if !h.accepting.add() {
			answer(errClosing)
			return
		}
		h.opts.Receipts.Accepted(rc, func() {
			defer h.accepting.done()
			answer(nil) // a record that failed is counted; the message is accepted
		})
		return
	}
	if !h.accepting.add() {
		answer(errClosing)
		return
	}
	h.opts.Receipts.ScheduleAsync(rc, func(err error) {
		defer h.accepting.done()
		answer(err)
	})
}

// overPendingCap answers a submit of an account that has reached its cap
// of pending receipts with ESME_RMSGQFUL. It runs on the reader goroutine:
// the count is the dispatcher's local one, no queue round trip.
func (h *Handler) overPendingCap(r *smpp.Request) bool {
	acc := r.Session.Account()
	if acc == nil {
		return false
	}
	limit := acc.MaxPending() // the account's settings: a reload applies at once
	if limit <= 0 {
		return false
	}
	sys := acc.SystemID
	var n int
	var err error
	if b := h.readBatchOf(r); b != nil {
		n, err = b.pending(sys) // the count looked up once per session
	} else {
		n, err = h.opts.Receipts.PendingCount(context.Background(), sys)
	}
	if err != nil || n < limit {
		return false
	}
	r.Respond(pdu.StatusMsgQFul, nil)
	h.metrics.pendingCap.WithLabelValues(sys).Inc()
	if h.log.Enabled(context.Background(), slog.LevelDebug) {
		h.log.LogAttrs(context.Background(), slog.LevelDebug, "submit.refused_pending_cap",
			slog.String("system_id", sys), slog.Int("pending", n), slog.Int("cap", limit))
	}
	return true
}

func (h *Handler) finishSubmit(r *smpp.Request, sm *pdu.SM, d decision, id string, start time.Time) {
	r.RespondSubmitSM(d.status, id)
	h.observe(r, d, id, sm.Source.Addr, sm.Dest.Addr, messageLength(sm.ShortMessage, sm.TLVs), start)
}

// finishInline is finishSubmit on the session's reader goroutine: the
// answer is written at once, its observation and log line wait for the
// end of the read (readBatch.EndRead).
func (h *Handler) finishInline(r *smpp.Request, sm *pdu.SM, d decision, id string, start time.Time) {
	b := h.readBatchOf(r)
	if b == nil {
		h.finishSubmit(r, sm, d, id, start)
		return
	}
	r.RespondSubmitSM(d.status, id)
	b.add(sm, d, id, start)
}

// scheduleReceipt stores the receipt the response is about to promise.
func (h *Handler) scheduleReceipt(ctx context.Context, r *smpp.Request, src, dst pdu.Address, registered uint8, id string, d decision, start time.Time) error {
	rc, want := h.receiptFor(r, src, dst, registered, id, d, start)
	if !want {
		recorded := make(chan struct{})
		h.opts.Receipts.Accepted(rc, func() { close(recorded) })
		select {
		case <-recorded:
		case <-ctx.Done(): // the record goes on; the answer does not wait for it
		}
		return nil
	}
	return h.opts.Receipts.Schedule(ctx, rc)
}

// receiptFor builds the receipt of an accepted message and reports whether
// one is to be sent (DLR_MODE=requested: only when registered_delivery
// asks for it).
func (h *Handler) receiptFor(r *smpp.Request, src, dst pdu.Address, registered uint8, id string, d decision, start time.Time) (dlr.Receipt, bool) {
	want := !h.opts.ReceiptsRequestedOnly || registered&0x03 == 0x01
	return dlr.Receipt{
		MessageID:   id,
		SystemID:    r.Session.SystemID(),
		Source:      src,
		Dest:        dst,
		SubmittedAt: start,
		Err:         d.err,
		Reason:      d.reason,
		DueAt:       start.Add(h.opts.DLRDelay),
		ExpiresAt:   start.Add(h.opts.DLRTTL),
	}, want
}

func (h *Handler) dataSM(ctx context.Context, r *smpp.Request, b *pdu.DataSM, start time.Time) {
	d := h.lookupDest(ctx, r.Session.SystemID(), b.Dest)
	answer := func(d decision, id string) {
		if d.status == pdu.StatusOK {
			r.Respond(pdu.StatusOK, &pdu.DataSMResp{MessageID: id})
		} else {
			r.Respond(d.status, nil)
			id = ""
		}
		h.observe(r, d, id, b.Source.Addr, b.Dest.Addr, messageLength("", b.TLVs), start)
	}
	if d.status != pdu.StatusOK {
		answer(d, "")
		return
	}
	// As for submit_sm: answered from the receipt's commit, so the worker
	// does not wait for it.
	id := h.opts.IDs.NextAt(start)
	rc, want := h.receiptFor(r, b.Source, b.Dest, b.RegisteredDelivery, id, d, start)
	h.storeReceipt(rc, want, func(err error) {
		if err != nil {
			d = decision{status: pdu.StatusSysErr, detail: "receipt not stored: " + err.Error()}
		}
		answer(d, id)
	})
}

// submitMulti filters every destination on its own. Live numbers (and
// destinations that fail by policy) are listed as unsuccessful; each
// accepted destination gets its own message id and receipt, and the
// response carries the first accepted id. The destinations are looked up
// concurrently (at most multiLookups at once), each under its own
// LookupTimeout, and the response is sent once every one is decided: a
// slow HLR costs one lookup time, not one per destination.
func (h *Handler) submitMulti(r *smpp.Request, b *pdu.SubmitMulti, start time.Time) {
	type outcome struct {
		d  decision
		id string
	}
	outcomes := make([]outcome, len(b.Dests))
	sem := make(chan struct{}, multiLookups)
	var wg sync.WaitGroup
	for i, dest := range b.Dests {
		if dest.IsDistList {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() {
				if v := recover(); v != nil {
					h.log.Error("gateway.panic", "panic", v)
					outcomes[i] = outcome{d: decision{status: pdu.StatusSysErr, detail: "panic"}}
				}
				<-sem
				wg.Done()
			}()
			ctx, cancel := context.WithTimeout(h.ctx, h.opts.LookupTimeout)
			defer cancel()
			d := h.lookupDest(ctx, r.Session.SystemID(), dest.Address)
			var id string
			if d.status == pdu.StatusOK {
				id = h.opts.IDs.Next()
				if err := h.scheduleReceipt(ctx, r, b.Source, dest.Address, b.RegisteredDelivery, id, d, start); err != nil {
					d = decision{status: pdu.StatusSysErr, detail: "receipt not stored: " + err.Error()}
					id = ""
				}
			}
			outcomes[i] = outcome{d: d, id: id}
		}()
	}
	wg.Wait()
	resp := &pdu.SubmitMultiResp{}
	for i, dest := range b.Dests {
		if dest.IsDistList {
			resp.Unsuccess = append(resp.Unsuccess, pdu.UnsuccessSME{Address: pdu.Address{Addr: dest.DistList}, Status: pdu.StatusInvDLName})
			continue
		}
		o := outcomes[i]
		if o.d.status != pdu.StatusOK {
			resp.Unsuccess = append(resp.Unsuccess, pdu.UnsuccessSME{Address: dest.Address, Status: o.d.status})
		} else if resp.MessageID == "" {
			resp.MessageID = o.id
		}
		h.observe(r, o.d, o.id, b.Source.Addr, dest.Address.Addr, messageLength(b.ShortMessage, b.TLVs), start)
	}
	r.Respond(pdu.StatusOK, resp)
}

// multiLookups bounds the concurrent lookups of one submit_multi; the HLR
// client's own HLR_MAX_CONCURRENCY bounds them across all requests.
const multiLookups = 32

func messageLength(sm string, tlvs pdu.TLVs) int {
	if sm == "" {
		if p, ok := tlvs.Get(pdu.TagMessagePayload); ok {
			return len(p)
		}
	}
	return len(sm)
}

// observe counts and logs one answered destination.
func (h *Handler) observe(r *smpp.Request, d decision, id, src, dst string, length int, start time.Time) {
	now := h.opts.Now()
	h.metrics.processing.Observe(now.Sub(start).Seconds())
	h.metrics.outcomes[outcomeOf(d.status)].Inc()
	h.logSubmit(nil, now, d, r.Session, r.PDU.Command, id, src, dst, length)
}
