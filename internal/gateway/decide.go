package gateway

import (
	"context"
	"errors"
	"fmt"

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

// lookupDest normalises a destination and answers it from the rules, the
// precheck or the HLR. It is the one place where an HLR outcome becomes an
// SMPP status (the README's decision table).
func (h *Handler) lookupDest(ctx context.Context, account string, dest pdu.Address) decision {
	if dest.Addr == "" {
		return decision{status: pdu.StatusInvDstAdr, detail: "empty destination"}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The whole lookup timeout went by in the workers' queue
		// (lookupContext): no HLR slot is spent on an answer that
		// could only come too late.
		h.metrics.queueTimeouts.Inc()
		return h.decide(hlr.Result{}, fmt.Errorf("%w: waited for an HLR worker", context.DeadlineExceeded))
	}
	_, res, err := h.dests.Resolve(ctx, destination(account, dest))
	return h.decide(res, err)
}

// cachedDest answers a destination without blocking, when it can (see
// hlr.Resolver.Cached); the caller reports an answer it uses with
// h.dests.Answered.
func (h *Handler) cachedDest(account string, dest pdu.Address) (hlr.Result, bool) {
	if dest.Addr == "" {
		return hlr.Result{}, false
	}
	return h.dests.Cached(destination(account, dest))
}

func destination(account string, a pdu.Address) hlr.Destination {
	return hlr.Destination{Account: account, Addr: a.Addr, TON: a.TON}
}

// Receipt reasons of answers given without the HLR.
const (
	ReasonPrecheck = "precheck" // the numbering plan says the number cannot exist
	ReasonRule     = "rule"     // HLR_RULES_FILE: a prefix rule or the account's allow list
)

// answeredReason is the receipt reason of an accepted answer.
func answeredReason(res hlr.Result) (reason, detail string) {
	switch res.Source {
	case hlr.SourcePrecheck:
		return ReasonPrecheck, "impossible number for its numbering plan"
	case hlr.SourceRule:
		return ReasonRule, res.Reason
	case hlr.SourceNotANumber:
		return ReasonInvalidNumber, "not a phone number"
	default:
		return ReasonInvalidNumber, res.Reason
	}
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
		reason, detail := answeredReason(res)
		return decision{err: res.ErrCode, reason: reason, detail: detail}
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
