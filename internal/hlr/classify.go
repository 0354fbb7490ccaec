package hlr

import (
	"encoding/json"
	"fmt"
)

// TMT request-level statuses.
const (
	StatusOK            = 0
	StatusInvalidNumber = 1
	StatusNotAuthorised = 2
	StatusCongestion    = 3
)

// Answer is the TMT-shaped set of fields a provider extracted from its
// response. Classify turns it into a Result.
type Answer struct {
	Status        int
	StatusMessage string
	Error         int
	Present       string // "yes", "no", "na"
	LineType      string // "mobile", "fixed"
	Network       string
	MCC, MNC      string
	Ported        *bool
	Raw           json.RawMessage
}

// Classify applies the README's decision rules and the err codes of
// docs/hlr.md to a provider answer:
//
//   - status 0, error 0, present "yes" → ClassValid, reason "valid".
//   - status 1 → ClassInvalid, "invalid_number", codes.InvalidNumber.
//   - status 2 (not authorised), 3 (congestion) or any other status →
//     an error wrapping ErrProvider: no usable answer.
//   - status 0 and error 33 or 34 (network congestion / system failure) →
//     an error wrapping ErrNetworkFailure (and so ErrProvider): the
//     subscriber's state is unknown, so it must not be cached for a day, and
//     HLR_ERROR_POLICY decides; the breaker does not count it.
//   - status 0 otherwise → ClassInvalid with, in this order:
//     error 1 → "unknown_subscriber", codes.UnknownSubscriber;
//     error 2 → "unreachable", codes.Unreachable;
//     error 191/192 → "network_not_supported", codes.NotSupported;
//     error 193 → "landline", codes.NotSupported;
//     error 27 → "absent", codes.UnknownSubscriber (present is "no");
//     another non-zero error → "subscriber_error", codes.UnknownSubscriber
//     when present is "no", else codes.Other;
//     error 0, present "no" → "unknown_subscriber", codes.UnknownSubscriber;
//     error 0, present "na" or anything else → "presence_unknown", codes.Other.
//
// Empty fields of codes take their defaults. The Result's Source is
// SourceProvider.
func Classify(a Answer, codes ErrCodes) (Result, error) {
	codes = codes.withDefaults()
	r := Result{
		Status:   a.Status,
		Error:    a.Error,
		Present:  a.Present,
		Network:  a.Network,
		MCC:      a.MCC,
		MNC:      a.MNC,
		LineType: a.LineType,
		Ported:   a.Ported,
		Raw:      a.Raw,
		Source:   SourceProvider,
		Class:    ClassInvalid,
	}
	switch a.Status {
	case StatusOK:
	case StatusInvalidNumber:
		r.Reason, r.ErrCode = ReasonInvalidNumber, codes.InvalidNumber
		return r, nil
	case StatusNotAuthorised:
		return Result{}, fmt.Errorf("%w: status 2 (not authorised: %s)", ErrProvider, a.StatusMessage)
	case StatusCongestion:
		return Result{}, fmt.Errorf("%w: status 3 (congestion: %s)", ErrProvider, a.StatusMessage)
	default:
		return Result{}, fmt.Errorf("%w: unknown status %d", ErrProvider, a.Status)
	}
	switch a.Error {
	case 0:
		switch a.Present {
		case "yes":
			r.Class, r.Reason, r.ErrCode = ClassValid, ReasonValid, codes.Other
		case "no":
			r.Reason, r.ErrCode = ReasonUnknownSubscriber, codes.UnknownSubscriber
		default:
			r.Reason, r.ErrCode = ReasonPresenceUnknown, codes.Other
		}
	case 1:
		r.Reason, r.ErrCode = ReasonUnknownSubscriber, codes.UnknownSubscriber
	case 2:
		r.Reason, r.ErrCode = ReasonUnreachable, codes.Unreachable
	case 191, 192:
		r.Reason, r.ErrCode = ReasonNetworkNotSupported, codes.NotSupported
	case 193:
		r.Reason, r.ErrCode = ReasonLandline, codes.NotSupported
	case 33, 34:
		return Result{}, fmt.Errorf("%w (error %d)", ErrNetworkFailure, a.Error)
	case 27:
		r.Reason, r.ErrCode = ReasonAbsent, codes.UnknownSubscriber
	default:
		r.Reason, r.ErrCode = ReasonSubscriberError, codes.Other
		if a.Present == "no" {
			r.ErrCode = codes.UnknownSubscriber
		}
	}
	return r, nil
}
