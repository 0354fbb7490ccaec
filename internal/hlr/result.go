package hlr

import (
	"context"
	"encoding/json"
	"time"
)

// Lookuper answers whether a number is a live mobile subscriber.
//
// msisdn is E.164 digits without '+' (see [Numbering.Normalize]). A nil error
// means Result is a usable HLR answer; otherwise the error wraps [ErrTimeout]
// or [ErrProvider] (errors.Is tells them apart).
type Lookuper interface {
	Lookup(ctx context.Context, msisdn string) (Result, error)
}

// Class is the gateway-level meaning of an HLR answer.
type Class uint8

// Classes. ClassUnknown is the zero value and never appears in a usable answer.
const (
	ClassUnknown Class = iota
	ClassValid         // live mobile subscriber: the gateway rejects the submit
	ClassInvalid       // anything else the HLR answered: accept and send a receipt
)

func (c Class) String() string {
	switch c {
	case ClassValid:
		return "valid"
	case ClassInvalid:
		return "invalid"
	default:
		return "unknown"
	}
}

// Source says which layer produced a Result.
type Source uint8

// Sources.
const (
	SourceUnknown    Source = iota
	SourceProvider          // a provider call (TMT, simulator)
	SourceMemory            // the in-process cache tier
	SourceRedis             // the shared Redis cache tier
	SourceRule              // a prefix rule or an account's allow/deny list (HLR_RULES_FILE)
	SourcePrecheck          // the numbering plan: a number that cannot exist (HLR_PRECHECK)
	SourceNotANumber        // the destination is not a phone number
)

func (s Source) String() string {
	switch s {
	case SourceProvider:
		return "provider"
	case SourceMemory:
		return "memory"
	case SourceRedis:
		return "redis"
	case SourceRule:
		return "rule"
	case SourcePrecheck:
		return "precheck"
	case SourceNotANumber:
		return "not_a_number"
	default:
		return "unknown"
	}
}

// Reasons (Result.Reason). Receipt policies outside this package add
// "timeout" and "hlr_error" for lookups that produced no usable answer.
const (
	ReasonValid               = "valid"
	ReasonInvalidNumber       = "invalid_number"
	ReasonUnknownSubscriber   = "unknown_subscriber"
	ReasonAbsent              = "absent"
	ReasonUnreachable         = "unreachable"
	ReasonNetworkNotSupported = "network_not_supported"
	ReasonLandline            = "landline"
	ReasonSubscriberError     = "subscriber_error"
	ReasonPresenceUnknown     = "presence_unknown"
)

// Result is a provider-neutral, usable HLR answer. Treat it as immutable:
// cached and coalesced lookups share the Ported pointer and the Raw bytes.
type Result struct {
	Class    Class  `json:"class"`
	ErrCode  string `json:"err_code"` // receipt err code, three digits
	Reason   string `json:"reason"`   // short machine reason, see Reason*
	Status   int    `json:"status"`   // provider request-level status
	Error    int    `json:"error"`    // provider network-level error
	Present  string `json:"present,omitempty"`
	Network  string `json:"network,omitempty"`
	MCC      string `json:"mcc,omitempty"`
	MNC      string `json:"mnc,omitempty"`
	LineType string `json:"line_type,omitempty"`
	Ported   *bool  `json:"ported,omitempty"`
	// Raw holds the provider's fields for logs (the TMT entry object). It
	// never contains credentials.
	Raw json.RawMessage `json:"raw,omitempty"`
	// Source is set by the layer that answered.
	Source Source `json:"-"`
	// Expires is when a cached copy of this answer stops being valid; zero
	// when it was not cached.
	Expires time.Time `json:"-"`
}

// Valid reports whether the number is a live mobile subscriber.
func (r Result) Valid() bool { return r.Class == ClassValid }

// Temporary reports whether the answer describes a passing state of the
// subscriber (absent or switched off, unreachable, busy, and the other
// present "no" network states) rather than a lasting fact about the
// number: such answers are cached for HLR_CACHE_TTL_TEMPORARY_SECONDS, so
// a phone that is switched back on is looked up again soon.
//
// Permanent: valid, invalid number, unknown subscriber (error 1),
// landline, network not supported, presence unknown.
func (r Result) Temporary() bool {
	switch {
	case r.Class != ClassInvalid:
		return false
	case r.Reason == ReasonAbsent || r.Reason == ReasonUnreachable:
		return true
	case r.Error == 1 || r.Error == 191 || r.Error == 192 || r.Error == 193:
		return false
	default:
		return r.Present == "no"
	}
}
