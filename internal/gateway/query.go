package gateway

import (
	"context"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// query answers query_sm from the receipt dispatcher: ENROUTE until the
// receipt is delivered, DELIVERED after; an unknown id, or one of another
// account, is ESME_RQUERYFAIL.
func (h *Handler) query(r *smpp.Request, q *pdu.QuerySM) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if !h.owns(ctx, r, q.MessageID) {
		r.Respond(pdu.StatusQueryFail, nil)
		return
	}
	state, final, ok := h.opts.Receipts.State(ctx, q.MessageID)
	if !ok {
		r.Respond(pdu.StatusQueryFail, nil)
		return
	}
	resp := &pdu.QuerySMResp{MessageID: q.MessageID, MessageState: state}
	if !final.IsZero() {
		resp.FinalDate = smppTime(final)
	}
	r.Respond(pdu.StatusOK, resp)
}

// cancelSM removes a pending receipt of the caller's account; anything
// else is ESME_RCANCELFAIL.
func (h *Handler) cancelSM(r *smpp.Request, c *pdu.CancelSM) {
	if c.MessageID == "" {
		r.Respond(pdu.StatusCancelFail, nil)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if !h.owns(ctx, r, c.MessageID) {
		r.Respond(pdu.StatusCancelFail, nil)
		return
	}
	ok, err := h.opts.Receipts.Cancel(ctx, c.MessageID)
	if err != nil || !ok {
		r.Respond(pdu.StatusCancelFail, nil)
		return
	}
	r.Respond(pdu.StatusOK, &pdu.CancelSMResp{})
}

// owns reports whether the message belongs to the requesting account:
// message ids are predictable, so one account must not query or cancel
// another's.
func (h *Handler) owns(ctx context.Context, r *smpp.Request, messageID string) bool {
	sys, ok := h.opts.Receipts.Owner(ctx, messageID)
	return ok && sys == r.Session.SystemID()
}

// smppTime formats an absolute time as YYMMDDhhmmsstnnp (UTC).
func smppTime(t time.Time) string {
	return t.UTC().Format("060102150405") + "000+"
}
