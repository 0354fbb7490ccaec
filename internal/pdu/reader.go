package pdu

import (
	"fmt"
	"strings"
)

// reader walks a body held in one string, so every field it returns is a
// substring of that string and costs no allocation. The first failure is
// kept and every later read is a no-op, which lets the body decoders read
// straight through and check once at the end.
type reader struct {
	s   string
	off int
	err *FieldError
}

func (r *reader) fail(field string, st Status, err error) {
	if r.err == nil {
		r.err = &FieldError{Field: field, Status: st, Err: err}
	}
}

func (r *reader) u8(field string) uint8 {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.s) {
		r.fail(field, StatusInvMsgLen, ErrTruncated)
		return 0
	}
	b := r.s[r.off]
	r.off++
	return b
}

func (r *reader) u32(field string) uint32 {
	if r.err != nil {
		return 0
	}
	if len(r.s)-r.off < 4 {
		r.fail(field, StatusInvMsgLen, ErrTruncated)
		return 0
	}
	s := r.s[r.off:]
	r.off += 4
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}

// cstring reads a C-octet string of at most max octets, NUL included. No
// NUL within max octets is an over-long field (answered with st); the body
// ending first is a truncated body.
func (r *reader) cstring(field string, max int, st Status) string {
	if r.err != nil {
		return ""
	}
	rest := r.s[r.off:]
	i := strings.IndexByte(rest[:min(max, len(rest))], 0)
	if i < 0 {
		if len(rest) >= max {
			r.fail(field, st, ErrFieldTooLong)
		} else {
			r.fail(field, StatusInvMsgLen, ErrTruncated)
		}
		return ""
	}
	r.off += i + 1
	return rest[:i]
}

// time reads schedule_delivery_time, validity_period or final_date: empty
// or a time in the format of SMPP v3.4 section 7.1.1 (ValidTime).
func (r *reader) time(field string, st Status) string {
	v := r.cstring(field, maxTime, st)
	if v != "" && !ValidTime(v) {
		r.fail(field, st, ErrInvalidField)
		return ""
	}
	return v
}

// addr reads TON, NPI and an address; the field names are built only on
// failure, which keeps the success path free of allocations.
func (r *reader) addr(prefix string, max int, st Status) Address {
	if r.err != nil {
		return Address{}
	}
	switch len(r.s) - r.off {
	case 0:
		r.fail(prefix+"_ton", StatusInvMsgLen, ErrTruncated)
		return Address{}
	case 1:
		r.fail(prefix+"_npi", StatusInvMsgLen, ErrTruncated)
		return Address{}
	}
	a := Address{TON: r.s[r.off], NPI: r.s[r.off+1]}
	r.off += 2
	a.Addr = r.cstring(prefix, max, st)
	return a
}

// shortMessage reads sm_length and short_message.
func (r *reader) shortMessage() string {
	n := int(r.u8("sm_length"))
	if r.err != nil {
		return ""
	}
	if n > MaxShortMessage {
		r.fail("sm_length", StatusInvMsgLen, ErrFieldTooLong)
		return ""
	}
	if n > len(r.s)-r.off {
		r.fail("short_message", StatusInvMsgLen, ErrTruncated)
		return ""
	}
	v := r.s[r.off : r.off+n]
	r.off += n
	return v
}

// tlvs takes the rest of the body as the optional parameters, after
// checking that it splits into whole parameters.
func (r *reader) tlvs() TLVs {
	if r.err != nil {
		return ""
	}
	rest := r.s[r.off:]
	for s := rest; len(s) > 0; {
		if len(s) < 4 {
			r.fail("optional parameters", StatusInvOptParStream, ErrTruncated)
			return ""
		}
		tag := Tag(uint16(s[0])<<8 | uint16(s[1]))
		n := int(uint16(s[2])<<8 | uint16(s[3]))
		if 4+n > len(s) {
			r.fail(tagField(tag), StatusInvOptParStream, ErrTruncated)
			return ""
		}
		if want := tlvFixedLen(tag); want >= 0 && n != want {
			r.fail(tagField(tag), StatusInvParLen, ErrInvalidField)
			return ""
		}
		s = s[4+n:]
	}
	r.off = len(r.s)
	return TLVs(rest)
}

// end reports data left after the last field of a body that has no
// optional parameters.
func (r *reader) end() {
	if r.err == nil && r.off != len(r.s) {
		r.fail("body", StatusInvMsgLen, ErrTrailingData)
	}
}

func tagField(t Tag) string { return fmt.Sprintf("optional parameter 0x%04X", uint16(t)) }
