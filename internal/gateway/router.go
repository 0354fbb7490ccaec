package gateway

import (
	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// Router sends receipts to the receiver binds of an account, round-robin.
// It implements dlr.Sender over the SMPP server.
type Router struct {
	Server *smpp.Server
}

// Deliver sends sm to the next receiver or transceiver of systemID. A
// receiver whose window is full or that is closing is skipped for the
// next one; when none can take it the error is returned at once and
// done is not called.
func (r Router) Deliver(systemID string, sm *pdu.DeliverSM, done func(pdu.Status, error)) error {
	n := r.Server.Receivers(systemID)
	if n == 0 {
		return dlr.ErrNoReceiver
	}
	var err error
	for range n {
		s := r.Server.NextReceiver(systemID)
		if s == nil {
			return dlr.ErrNoReceiver
		}
		err = s.Send(sm, func(p pdu.PDU, err error) { done(p.Status, err) })
		if err == nil {
			return nil
		}
	}
	return err
}
