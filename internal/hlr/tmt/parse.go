package tmt

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// entry is one TMT Live answer. Pointers tell an absent or null field from
// a zero one.
type entry struct {
	Number        json.RawMessage `json:"number"` // a JSON number (a string is tolerated)
	Status        *int            `json:"status"`
	StatusMessage string          `json:"status_message"`
	Error         *int            `json:"error"`
	IMSI          *string         `json:"imsi"`
	MCC           *string         `json:"mcc"`
	MNC           *string         `json:"mnc"`
	Network       *string         `json:"network"`
	Ported        *bool           `json:"ported"`
	Present       *string         `json:"present"`
	Type          *string         `json:"type"`
}

// Parse decodes a TMT Live response body into an hlr.Answer. The body is an
// object keyed by the number; its single entry is taken whatever its key. A
// body that is itself an entry (a top-level "status") is accepted too. Every
// malformed shape is an error wrapping hlr.ErrProvider.
func Parse(body []byte) (hlr.Answer, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return hlr.Answer{}, fmt.Errorf("%w: empty body", hlr.ErrProvider)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return hlr.Answer{}, fmt.Errorf("%w: body is not a JSON object: %s", hlr.ErrProvider, jsonErr(err))
	}
	var raw json.RawMessage
	if st, ok := top["status"]; ok && isNumber(st) {
		raw = body
	} else {
		switch len(top) {
		case 0:
			return hlr.Answer{}, fmt.Errorf("%w: empty object", hlr.ErrProvider)
		case 1:
			for _, v := range top {
				raw = v
			}
		default:
			return hlr.Answer{}, fmt.Errorf("%w: %d entries, want one", hlr.ErrProvider, len(top))
		}
	}
	var e entry
	if err := json.Unmarshal(raw, &e); err != nil {
		return hlr.Answer{}, fmt.Errorf("%w: bad entry: %s", hlr.ErrProvider, jsonErr(err))
	}
	if e.Status == nil {
		return hlr.Answer{}, fmt.Errorf("%w: entry has no status", hlr.ErrProvider)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return hlr.Answer{}, fmt.Errorf("%w: bad entry: %s", hlr.ErrProvider, jsonErr(err))
	}
	return hlr.Answer{
		Status:        *e.Status,
		StatusMessage: e.StatusMessage,
		Error:         deref(e.Error),
		Present:       deref(e.Present),
		LineType:      deref(e.Type),
		Network:       deref(e.Network),
		MCC:           deref(e.MCC),
		MNC:           deref(e.MNC),
		Ported:        e.Ported,
		Raw:           compact.Bytes(),
	}, nil
}

func isNumber(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9'))
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// jsonErr keeps decoder errors short; they never quote more than a type name
// and an offset.
func jsonErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
