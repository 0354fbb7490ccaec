package gateway

import (
	"context"
	"errors"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// Receipt reasons, the label values of delivrd_total{reason}.
const (
	ReasonInvalidNumber = "invalid_number"
	ReasonTimeout       = "timeout"
	ReasonHLRError      = "hlr_error"
	// While the circuit breaker is open (or refuses a call in half-open),
	// the policy of the failures that opened it decides, and the reason
	// says so.
	ReasonTimeoutCircuitOpen  = "timeout_circuit_open"
	ReasonHLRErrorCircuitOpen = "hlr_error_circuit_open"
)

// decision is the outcome for one destination.
type decision struct {
	status pdu.Status // ESME_ROK: accept and send a receipt
	err    string     // receipt err when accepted
	reason string     // delivrd_total reason when accepted
	detail string     // why, for the log: the provider's reason or the error
}

// lookupDest normalises a destination and asks the HLR. It is the one
// place where an HLR outcome becomes an SMPP status (DESIGN §1).
func (h *Handler) lookupDest(ctx context.Context, dest string) decision {
	if dest == "" {
		return decision{status: pdu.StatusInvDstAdr, detail: "empty destination"}
	}
	msisdn, ok := hlr.NormalizeMSISDN(dest)
	if !ok {
		return decision{err: h.opts.InvalidNumberErr, reason: ReasonInvalidNumber, detail: "not a phone number"}
	}
	res, err := h.opts.Lookuper.Lookup(ctx, msisdn)
	return h.decide(res, err)
}

// decide applies the reverse filter and the policies. An open circuit
// breaker's error matches ErrTimeout when timeouts opened it, so the
// timeout policy keeps deciding through an outage of a slow HLR.
func (h *Handler) decide(res hlr.Result, err error) decision {
	open := errors.Is(err, hlr.ErrCircuitOpen)
	switch {
	case err == nil && res.Valid():
		return decision{status: pdu.StatusInvDstAdr, detail: res.Reason}
	case err == nil:
		return decision{err: res.ErrCode, reason: ReasonInvalidNumber, detail: res.Reason}
	case open && errors.Is(err, hlr.ErrTimeout):
		return h.noAnswer(h.opts.TimeoutPolicy, ReasonTimeoutCircuitOpen, err)
	case open:
		return h.noAnswer(h.opts.ErrorPolicy, ReasonHLRErrorCircuitOpen, err)
	case errors.Is(err, hlr.ErrTimeout) || errors.Is(err, context.DeadlineExceeded):
		return h.noAnswer(h.opts.TimeoutPolicy, ReasonTimeout, err)
	case errors.Is(err, context.Canceled):
		return decision{status: pdu.StatusSysErr, detail: "shutting down"}
	default:
		return h.noAnswer(h.opts.ErrorPolicy, ReasonHLRError, err)
	}
}

func (h *Handler) noAnswer(p Policy, reason string, err error) decision {
	if p == Accept {
		return decision{err: h.opts.OtherErr, reason: reason, detail: err.Error()}
	}
	return decision{status: pdu.StatusSysErr, reason: reason, detail: err.Error()}
}
