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
// next one; when none can take it dlr.ErrBusy or dlr.ErrNoReceiver is
// returned at once and done is not called.
func (r Router) Deliver(systemID string, sm *pdu.DeliverSM, done func(pdu.PDU, error)) error {
	// The usual case costs one lookup: the next receiver takes it. Only
	// when it cannot are the others counted and tried.
	s := r.Server.NextReceiver(systemID)
	if s == nil {
		return dlr.ErrNoReceiver
	}
	if s.Send(sm, done) == nil { // Send encodes sm before it returns
		return nil
	}
	for range r.Server.Receivers(systemID) - 1 {
		if s = r.Server.NextReceiver(systemID); s == nil {
			return dlr.ErrNoReceiver
		}
		if s.Send(sm, done) == nil {
			return nil
		}
	}
	return dlr.ErrBusy
}

// Capacity is how many more requests the account's receivers can take.
func (r Router) Capacity(systemID string) int {
	return r.Server.ReceiverCapacity(systemID)
}
