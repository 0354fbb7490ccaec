package gateway

import (
	"context"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// query answers query_sm from the receipt queue: ENROUTE until the
// receipt is delivered, DELIVERED after; an unknown id, one of another
// account, or a source_addr other than the message's is ESME_RQUERYFAIL.
func (h *Handler) query(ctx context.Context, r *smpp.Request, q *pdu.QuerySM) {
	o, ok, err := h.opts.Receipts.Lookup(ctx, r.Session.SystemID(), q.MessageID)
	if err != nil {
		h.log.Warn("query.failed", "message_id", q.MessageID, "system_id", r.Session.SystemID(), "err", err)
	}
	if err != nil || !ok || !addressMatches(q.Source.Addr, o.Source) {
		r.Respond(pdu.StatusQueryFail, nil)
		return
	}
	resp := &pdu.QuerySMResp{MessageID: q.MessageID, MessageState: o.State}
	if !o.At.IsZero() {
		resp.FinalDate = smppTime(o.At)
	}
	r.Respond(pdu.StatusOK, resp)
}

// cancelSM removes a pending receipt of the caller's account; anything
// else, or a source_addr or destination_addr other than the message's, is
// ESME_RCANCELFAIL.
func (h *Handler) cancelSM(ctx context.Context, r *smpp.Request, c *pdu.CancelSM) {
	if c.MessageID == "" {
		r.Respond(pdu.StatusCancelFail, nil)
		return
	}
	if c.Source.Addr != "" || c.Dest.Addr != "" {
		o, ok, err := h.opts.Receipts.Lookup(ctx, r.Session.SystemID(), c.MessageID)
		if err != nil || !ok || !addressMatches(c.Source.Addr, o.Source) || !addressMatches(c.Dest.Addr, o.Destination) {
			r.Respond(pdu.StatusCancelFail, nil)
			return
		}
	}
	ok, err := h.opts.Receipts.Cancel(ctx, r.Session.SystemID(), c.MessageID)
	if err != nil || !ok {
		r.Respond(pdu.StatusCancelFail, nil)
		return
	}
	r.Respond(pdu.StatusOK, &pdu.CancelSMResp{})
}

// addressMatches: an address a query_sm or cancel_sm names must be the one
// the message was submitted with (SMPP v3.4 4.8.1, 4.9.1). NULL names
// none; an address the queue no longer knows (a finished message) cannot
// be checked and is taken.
func addressMatches(given, known string) bool { return given == "" || known == "" || given == known }

// smppTime formats an absolute time as YYMMDDhhmmsstnnp (UTC).
func smppTime(t time.Time) string {
	return t.UTC().Format("060102150405") + "000+"
}
