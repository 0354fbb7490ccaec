package hlr

import (
	"errors"
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/smpp-hlr-gateway/gateway/internal/digits"
)

// Types of number (dest_addr_ton, SMPP v3.4 §5.2.5) the numbering rules
// distinguish; every other value is read as TONUnknown.
const (
	TONUnknown       uint8 = 0
	TONInternational uint8 = 1
	TONNational      uint8 = 2
)

// Numbering turns SMPP destination addresses into E.164 digits (without
// '+') following the address's type of number and a default region, with
// libphonenumber's numbering plans (github.com/nyaruka/phonenumbers). It is
// immutable and safe for concurrent use.
//
// The rules, by dest_addr_ton (spaces, dashes, dots and parentheses are
// ignored everywhere):
//
//   - 1 (international): the digits are the E.164 number; a leading '+' or
//     "00" is dropped.
//   - 2 (national): the digits are a national number of the region (with or
//     without its trunk prefix) and are converted to E.164.
//   - 0 (unknown) and any other value: a leading '+' marks an international
//     number; a leading '0' (the international prefix "00" or the trunk
//     prefix "0" of most regions) or the region's own trunk prefix (e.g.
//     "1" in the NANP, "8" in Russia) lets the numbering plan of the region
//     read it; other digits are an international number.
//
// Without a region (no account default_region, no HLR_DEFAULT_REGION) the
// type of number is ignored and only '+', spaces and dashes are stripped,
// as before regions existed.
type Numbering struct {
	trunk map[string]string // region → its trunk (national) prefix
}

// NewNumbering loads the trunk prefixes of every region the library knows.
func NewNumbering() *Numbering {
	regions := phonenumbers.GetSupportedRegions()
	n := &Numbering{trunk: make(map[string]string, len(regions))}
	for r := range regions {
		n.trunk[r] = phonenumbers.GetNddPrefixForRegion(r, true)
	}
	return n
}

// ValidRegion reports whether region is an ISO 3166-1 alpha-2 code of a
// region with a numbering plan ("" is valid: no region). The code must be
// upper case.
func (n *Numbering) ValidRegion(region string) bool {
	if region == "" {
		return true
	}
	_, ok := n.trunk[region]
	return ok
}

// ErrRegion is wrapped by CheckRegion's errors.
var ErrRegion = errors.New("hlr: unknown region")

// CheckRegion returns an error wrapping ErrRegion unless region is "" or
// an upper-case ISO 3166-1 code of a region with a numbering plan.
func CheckRegion(region string) error {
	if region == "" || phonenumbers.GetSupportedRegions()[region] {
		return nil
	}
	return fmt.Errorf("%w: %q is not an upper-case ISO 3166-1 region code with a numbering plan (e.g. GB, DE, US)", ErrRegion, region)
}

// Normalize returns the E.164 digits of an SMPP destination address, or an
// error wrapping ErrInvalidMSISDN when it is not a phone number. region is
// the default region (upper case, "" for none).
//
// Plain digits with TON 1, and plain digits with TON 0 that do not start
// with '0' or the region's trunk prefix, are returned without allocating.
func (n *Numbering) Normalize(addr string, ton uint8, region string) (string, error) {
	msisdn, _, err := n.normalize(addr, ton, region, true)
	return msisdn, err
}

// NormalizeQuick is Normalize without the numbering plan: for a national
// spelling, which needs it (some microseconds and dozens of allocations),
// it returns needsPlan true and no number. It never allocates for plain
// digits. The SMPP reader goroutine uses it.
func (n *Numbering) NormalizeQuick(addr string, ton uint8, region string) (msisdn string, needsPlan bool, err error) {
	return n.normalize(addr, ton, region, false)
}

func (n *Numbering) normalize(addr string, ton uint8, region string, plan bool) (string, bool, error) {
	s, plus := addr, false
	if len(s) > 0 && s[0] == '+' {
		s, plus = s[1:], true
	}
	if !allDigits(s) {
		s = stripSeparators(s)
	}
	if s == "" {
		return "", false, fmt.Errorf("%w: %q", ErrInvalidMSISDN, addr)
	}
	switch {
	case region == "" || plus:
		// Today's reading: the digits as they are.
	case ton == TONInternational:
		s = strings.TrimPrefix(s, "00")
	case ton == TONNational || s[0] == '0' || n.hasTrunkPrefix(s, region):
		if !plan {
			return "", true, nil
		}
		msisdn, err := n.parseNational(addr, s, region)
		return msisdn, false, err
	}
	if len(s) < 1 || len(s) > 15 {
		return "", false, fmt.Errorf("%w: %q is not 1-15 digits", ErrInvalidMSISDN, addr)
	}
	return s, false, nil
}

func (n *Numbering) hasTrunkPrefix(s, region string) bool {
	p := n.trunk[region]
	return p != "" && strings.HasPrefix(s, p)
}

// parseNational reads digits with the numbering plan of region, which
// understands its international prefix ("00", "011", ...) and its trunk
// prefix.
func (n *Numbering) parseNational(addr, digits, region string) (string, error) {
	num, err := phonenumbers.Parse(digits, region)
	if err != nil {
		return "", fmt.Errorf("%w: %q in region %s: %w", ErrInvalidMSISDN, addr, region, err)
	}
	e164 := phonenumbers.Format(num, phonenumbers.E164)
	if len(e164) < 2 || len(e164) > 16 {
		return "", fmt.Errorf("%w: %q in region %s is not 1-15 digits", ErrInvalidMSISDN, addr, region)
	}
	return e164[1:], nil
}

// Impossible reports whether the numbering plan of msisdn's country code
// knows it cannot be assigned: a wrong length or a range no operator
// holds. Such a number is answered invalid_number without a billed lookup
// (HLR_PRECHECK). Country codes the library does not know are not judged.
func (n *Numbering) Impossible(msisdn string) bool {
	num, err := phonenumbers.Parse("+"+msisdn, "")
	if errors.Is(err, phonenumbers.ErrInvalidCountryCode) {
		return false
	}
	if err != nil {
		return true // too short or too long for any plan
	}
	if phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode())) == phonenumbers.UNKNOWN_REGION {
		return false
	}
	return !phonenumbers.IsValidNumber(num)
}

// allDigits reports whether s is only decimal digits ("" is). From 8
// bytes on it checks 8 at a time (package digits; the last 8 overlapping
// the others): every submit's destination goes through it on the reader.
func allDigits(s string) bool {
	n := len(s)
	if n < 8 {
		for i := 0; i < n; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	for i := 0; i+8 < n; i += 8 {
		if !digits.Are8(digits.Load8(s[i:])) {
			return false
		}
	}
	return digits.Are8(digits.Load8(s[n-8:]))
}

// stripSeparators drops the characters people put between digits. It
// returns "" when something else is in s.
func stripSeparators(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		default:
			return ""
		}
	}
	return b.String()
}
