package hlr

import (
	"errors"
	"fmt"
	"strings"
)

// ErrCodes maps HLR answers to the three-digit receipt err codes
// (the table in docs/hlr.md).
type ErrCodes struct {
	InvalidNumber     string // status 1, or a destination that is not a number
	UnknownSubscriber string // error 1, or present "no"
	Unreachable       string // error 2
	NotSupported      string // error 191, 192, 193 (landline)
	Other             string // anything else
}

// DefaultErrCodes returns the seed mapping: 003, 001, 002, 000, 000.
func DefaultErrCodes() ErrCodes {
	return ErrCodes{
		InvalidNumber:     "003",
		UnknownSubscriber: "001",
		Unreachable:       "002",
		NotSupported:      "000",
		Other:             "000",
	}
}

// withDefaults fills empty fields from DefaultErrCodes.
func (c ErrCodes) withDefaults() ErrCodes {
	d := DefaultErrCodes()
	for _, p := range []struct {
		dst *string
		def string
	}{
		{&c.InvalidNumber, d.InvalidNumber},
		{&c.UnknownSubscriber, d.UnknownSubscriber},
		{&c.Unreachable, d.Unreachable},
		{&c.NotSupported, d.NotSupported},
		{&c.Other, d.Other},
	} {
		if *p.dst == "" {
			*p.dst = p.def
		}
	}
	return c
}

// ErrBadErrCodes is wrapped by ParseErrCodes errors.
var ErrBadErrCodes = errors.New("hlr: bad err code mapping")

// ParseErrCodes parses a mapping such as
// "invalid_number=003,unknown_subscriber=001,unreachable=002,not_supported=000,other=000".
// Keys not given keep their defaults; "network_not_supported" is accepted for
// not_supported. Values must be exactly three digits; no key may be given
// twice. An empty string gives the defaults.
//
// It is the one parser of HLR_ERR_CODES: check-config (config.Validate) and
// serve both call it.
func ParseErrCodes(s string) (ErrCodes, error) {
	c := DefaultErrCodes()
	seen := make(map[string]bool, 5)
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok {
			return ErrCodes{}, fmt.Errorf("%w: %q is not key=code", ErrBadErrCodes, part)
		}
		if len(v) != 3 || strings.Trim(v, "0123456789") != "" {
			return ErrCodes{}, fmt.Errorf("%w: %s=%q: want three digits", ErrBadErrCodes, k, v)
		}
		if !c.set(k, v) {
			return ErrCodes{}, fmt.Errorf("%w: unknown key %q (want invalid_number, unknown_subscriber, unreachable, not_supported, other)", ErrBadErrCodes, k)
		}
		if k == "network_not_supported" {
			k = "not_supported"
		}
		if seen[k] {
			return ErrCodes{}, fmt.Errorf("%w: %s is given twice", ErrBadErrCodes, k)
		}
		seen[k] = true
	}
	return c, nil
}

// String renders c in the form ParseErrCodes reads.
func (c ErrCodes) String() string {
	return "invalid_number=" + c.InvalidNumber +
		",unknown_subscriber=" + c.UnknownSubscriber +
		",unreachable=" + c.Unreachable +
		",not_supported=" + c.NotSupported +
		",other=" + c.Other
}

// set assigns the code of one named answer; false for an unknown name.
func (c *ErrCodes) set(name, code string) bool {
	switch name {
	case "invalid_number":
		c.InvalidNumber = code
	case "unknown_subscriber":
		c.UnknownSubscriber = code
	case "unreachable":
		c.Unreachable = code
	case "not_supported", "network_not_supported":
		c.NotSupported = code
	case "other":
		c.Other = code
	default:
		return false
	}
	return true
}
