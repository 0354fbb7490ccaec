package app

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// adminBackend serves the admin API from the running gateway.
type adminBackend struct{ a *App }

var _ admin.Backend = adminBackend{}

func (b adminBackend) Sessions(context.Context) []admin.Session {
	infos := b.a.server.SessionInfos()
	out := make([]admin.Session, 0, len(infos))
	for _, in := range infos {
		out = append(out, admin.Session{
			ID:                 strconv.FormatUint(in.ID, 10),
			SystemID:           in.SystemID,
			Bind:               in.Bind.String(),
			RemoteAddr:         in.RemoteAddr,
			TLS:                in.TLS,
			InterfaceVersion:   fmt.Sprintf("0x%02x", in.InterfaceVersion),
			BoundAt:            in.BoundAt.UTC(),
			InFlight:           in.InFlight,
			Submits:            in.Submits,
			ReceiptsSent:       in.ReceiptsSent,
			ReceiptsPendingAck: in.ReceiptsPendingAck,
		})
	}
	return out
}

func (b adminBackend) UnbindSession(ctx context.Context, id string) bool {
	n, ok := sessionID(id)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, b.a.cfg.SMPP.ResponseTimeout)
	defer cancel()
	return b.a.server.UnbindSession(ctx, n)
}

// sessionID reads id as Sessions lists it: decimal, without a sign or
// leading zeros. Any other spelling (0052, +52) names no session, so that
// an id not listed is never one.
func sessionID(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil && strconv.FormatUint(n, 10) == id
}

func (b adminBackend) UnbindAccount(ctx context.Context, systemID string) (int, bool) {
	known := false
	for _, acc := range b.a.accounts.List() {
		if acc.SystemID == systemID {
			known = true
			break
		}
	}
	ctx, cancel := context.WithTimeout(ctx, b.a.cfg.SMPP.ResponseTimeout)
	defer cancel()
	n := b.a.server.UnbindAccountSessions(ctx, systemID)
	// Sessions still listed make the account known, also when a reload
	// removed it and they are being unbound.
	return n, known || n > 0
}

func (b adminBackend) Accounts(ctx context.Context) ([]admin.Account, error) {
	accs := b.a.accounts.List()
	out := make([]admin.Account, 0, len(accs))
	var cluster []int // the binds of each account across instances: its leases
	if b.a.limits != nil {
		ids := make([]string, len(accs))
		for i, acc := range accs {
			ids[i] = acc.SystemID
		}
		cluster = b.a.limits.Counts(ctx, ids)
	}
	for i, acc := range accs {
		set := acc.Settings()
		n := acc.Submits()
		pending, err := b.a.dispatcher.PendingCount(ctx, acc.SystemID)
		if err != nil {
			return nil, fmt.Errorf("app: pending receipts of %s: %w", acc.SystemID, err)
		}
		view := admin.Account{
			SystemID: acc.SystemID, MaxBinds: set.MaxBinds, Throughput: set.Throughput,
			Binds:           admin.Binds{Instance: b.a.server.AccountBinds(acc.SystemID)},
			PendingReceipts: pending,
			Submits:         admin.SubmitStats{Accepted: n.Accepted, Rejected: n.Rejected, Throttled: n.Throttled},
		}
		if cluster != nil && cluster[i] >= 0 {
			view.Binds.Cluster = &cluster[i]
		}
		out = append(out, view)
	}
	return out, nil
}

func (b adminBackend) Message(ctx context.Context, id string) (admin.Message, bool, error) {
	// Receipts are kept per account: ask each configured account, then
	// the accounts the queue holds receipts of that are configured no
	// more (a reload removed them; their receipts wait for them).
	configured := map[string]bool{}
	for _, acc := range b.a.accounts.List() {
		configured[acc.SystemID] = true
		if m, ok, err := b.message(ctx, acc.SystemID, id); ok || err != nil {
			return m, ok, err
		}
	}
	others, err := b.a.dispatcher.Accounts(ctx)
	for _, sys := range others {
		if configured[sys] {
			continue
		}
		if m, ok, err := b.message(ctx, sys, id); ok || err != nil {
			return m, ok, err
		}
	}
	if err != nil {
		return admin.Message{}, false, fmt.Errorf("%w: message %s: %w", admin.ErrUnavailable, id, err)
	}
	return admin.Message{}, false, nil
}

// message looks id up among the receipts of sys.
func (b adminBackend) message(ctx context.Context, sys, id string) (admin.Message, bool, error) {
	o, ok, err := b.a.dispatcher.Lookup(ctx, sys, id)
	if err != nil {
		return admin.Message{}, false, fmt.Errorf("%w: message %s: %w", admin.ErrUnavailable, id, err)
	}
	if !ok {
		return admin.Message{}, false, nil
	}
	m := admin.Message{MessageID: id, State: stateName(o.State), SystemID: sys, Destination: o.Destination,
		SubmittedAt: timePtr(o.SubmittedAt)}
	if o.State != pdu.StateEnroute {
		m.DoneAt = timePtr(o.At)
	}
	return m, true, nil
}

func (b adminBackend) Reload(ctx context.Context) (admin.ReloadResult, error) {
	res, err := b.a.Reload(ctx)
	return admin.ReloadResult(res), err
}

func stateName(s pdu.MessageState) string {
	switch s {
	case pdu.StateEnroute:
		return "ENROUTE"
	case pdu.StateDelivered:
		return "DELIVERED"
	case pdu.StateExpired:
		return "EXPIRED"
	case pdu.StateDeleted:
		return "DELETED"
	case pdu.StateUndeliverable:
		return "UNDELIVERABLE"
	case pdu.StateAccepted:
		return "ACCEPTED"
	case pdu.StateRejected:
		return "REJECTED"
	}
	return "UNKNOWN"
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}
