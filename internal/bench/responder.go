package bench

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// ResponderConfig configures the minimal SMSC used as the benchmark ceiling.
type ResponderConfig struct {
	SystemID string // account allowed to bind; default "testuser", as the gateway
	Password string // default "testpass"

	// Receipts sends a DELIVRD deliver_sm for every accepted submit_sm
	// right after its response, in the gateway's format: on the same
	// session when it is a transceiver, else on a receiver of the account.
	Receipts bool

	// Window is the smpp server's window. It also bounds the responder's
	// own deliver_sm in flight, so it is large by default (65536): the
	// ceiling should never refuse a receipt for want of window.
	Window int

	Logger *slog.Logger // nil discards
}

// ResponderStats counts what the responder did.
type ResponderStats struct {
	Submits        int64 // submit_sm answered ESME_ROK
	Receipts       int64 // deliver_sm answered ESME_ROK
	ReceiptsFailed int64 // deliver_sm refused, unanswered or not sent
	Other          int64 // other requests, answered ESME_RINVCMDID
}

// Responder answers every submit_sm at once with a unique id and nothing
// else. It runs on internal/smpp, the server the gateway runs on, so the
// gateway/responder ratio measures the gateway's own work (lookup, cache,
// decision, receipt scheduling, metrics, logging) rather than framing and
// socket I/O, which both share.
type Responder struct {
	cfg    ResponderConfig
	srv    *smpp.Server
	idHigh uint64 // random per responder, so ids differ across restarts
	ids    atomic.Uint64

	submits, receipts, receiptsFailed, other atomic.Int64
}

// NewResponder builds a responder; Serve starts it.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if cfg.SystemID == "" {
		cfg.SystemID = "testuser"
	}
	if cfg.Password == "" {
		cfg.Password = "testpass"
	}
	if cfg.Window <= 0 {
		cfg.Window = 1 << 16
	}
	var seed [4]byte
	_, _ = rand.Read(seed[:])
	r := &Responder{cfg: cfg, idHigh: uint64(binary.BigEndian.Uint32(seed[:])) << 32}
	srv, err := smpp.NewServer(smpp.Options{
		Handler:  smpp.HandlerFunc(r.serve),
		Auth:     smpp.NewAccounts([]smpp.Account{{SystemID: cfg.SystemID, Password: cfg.Password}}),
		SystemID: "bench-responder",
		Window:   cfg.Window,
		Logger:   cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	r.srv = srv
	return r, nil
}

// Serve accepts connections on ln until Shutdown.
func (r *Responder) Serve(ln net.Listener) error { return r.srv.Serve(ln) }

// Shutdown unbinds every session and stops.
func (r *Responder) Shutdown(ctx context.Context) error { return r.srv.Shutdown(ctx) }

// Stats returns the counters so far.
func (r *Responder) Stats() ResponderStats {
	return ResponderStats{
		Submits: r.submits.Load(), Receipts: r.receipts.Load(),
		ReceiptsFailed: r.receiptsFailed.Load(), Other: r.other.Load(),
	}
}

const hexDigits = "0123456789ABCDEF"

// nextID is 16 uppercase hex digits, the gateway's id format.
func (r *Responder) nextID() string {
	n := r.idHigh | (r.ids.Add(1) & 0xFFFFFFFF)
	var b [16]byte
	for i := 15; i >= 0; i-- {
		b[i] = hexDigits[n&0xF]
		n >>= 4
	}
	return string(b[:])
}

func (r *Responder) serve(req *smpp.Request) {
	sm, ok := req.PDU.Body.(*pdu.SubmitSM)
	if !ok {
		r.other.Add(1)
		req.Respond(pdu.StatusInvCmdID, nil)
		return
	}
	id := r.nextID()
	req.RespondSubmitSM(pdu.StatusOK, id)
	r.submits.Add(1)
	if !r.cfg.Receipts {
		return
	}
	to := req.Session
	if !to.State().CanReceive() {
		// A transmitter's receipts go to a receiver of the same account,
		// as the gateway routes them.
		if to = r.srv.NextReceiver(to.SystemID()); to == nil {
			r.receiptsFailed.Add(1)
			return
		}
	}
	err := to.Send(receiptFor(sm, id, time.Now()), func(p pdu.PDU, err error) {
		if err != nil || p.Status != pdu.StatusOK {
			r.receiptsFailed.Add(1)
			return
		}
		r.receipts.Add(1)
	})
	if err != nil {
		r.receiptsFailed.Add(1)
	}
}

// receiptFor builds the DESIGN §3 receipt (err 000) for sm accepted as id.
func receiptFor(sm *pdu.SubmitSM, id string, now time.Time) *pdu.DeliverSM {
	const layout = "0601021504"
	b := make([]byte, 0, 112)
	b = append(b, "id:"...)
	b = append(b, id...)
	b = append(b, " sub:001 dlvrd:000 submit date:"...)
	b = now.UTC().AppendFormat(b, layout)
	b = append(b, " done date:"...)
	b = now.UTC().AppendFormat(b, layout)
	b = append(b, " stat:DELIVRD err:000 text:"...)
	return &pdu.DeliverSM{SM: pdu.SM{
		Source:       sm.Dest,
		Dest:         sm.Source,
		ESMClass:     0x04, // SMSC delivery receipt
		ShortMessage: string(b),
		TLVs: pdu.TLVs("").
			WithCString(pdu.TagReceiptedMessageID, id).
			WithUint8(pdu.TagMessageState, uint8(pdu.StateDelivered)),
	}}
}
