package dlr

import (
	"encoding/binary"
	"fmt"
	"time"
)

// encodingVersion is the first octet of an encoded receipt.
const encodingVersion = 1

// MarshalBinary encodes r compactly: a version octet, then the message id,
// system id, source and destination (TON, NPI, address), err and reason as
// length-prefixed strings, the three times as varint Unix nanoseconds (0 for
// a zero time) and the attempt count. The message id comes first, right after
// the version and its one-octet length, so it can be read without decoding the
// rest (see receiptID). Times decode in UTC without a monotonic reading.
func (r Receipt) MarshalBinary() ([]byte, error) {
	return r.appendBinary(make([]byte, 0, r.encodedSizeHint())), nil
}

func (r Receipt) encodedSizeHint() int {
	return 1 + 6*2 + 4 + 3*binary.MaxVarintLen64 + 2 +
		len(r.MessageID) + len(r.SystemID) + len(r.Source.Addr) + len(r.Dest.Addr) + len(r.Err) + len(r.Reason)
}

func (r Receipt) appendBinary(b []byte) []byte {
	b = append(b, encodingVersion)
	b = appendString(b, r.MessageID)
	b = appendString(b, r.SystemID)
	b = append(b, r.Source.TON, r.Source.NPI)
	b = appendString(b, r.Source.Addr)
	b = append(b, r.Dest.TON, r.Dest.NPI)
	b = appendString(b, r.Dest.Addr)
	b = appendString(b, r.Err)
	b = appendString(b, r.Reason)
	b = binary.AppendVarint(b, unixNano(r.SubmittedAt))
	b = binary.AppendVarint(b, unixNano(r.DueAt))
	b = binary.AppendVarint(b, unixNano(r.ExpiresAt))
	b = binary.AppendUvarint(b, uint64(max(r.Attempts, 0)))
	return b
}

// UnmarshalBinary decodes what MarshalBinary produced. Errors wrap
// ErrCorrupt.
func (r *Receipt) UnmarshalBinary(data []byte) error {
	d := decoder{s: string(data)}
	*r = d.receipt()
	if d.err != nil {
		return fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return nil
}

// decodeReceipt decodes an encoded receipt held in a string. The strings of
// the result share memory with s.
func decodeReceipt(s string) (Receipt, error) {
	d := decoder{s: s}
	r := d.receipt()
	if d.err != nil {
		return Receipt{}, fmt.Errorf("%w: %v", ErrCorrupt, d.err)
	}
	return r, nil
}

// receiptID returns the message id of an encoded receipt without decoding
// the rest (the result shares memory with s).
func receiptID(s string) string {
	d := decoder{s: s}
	if v := d.byte(); v != encodingVersion {
		return ""
	}
	return d.string()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

type decoder struct {
	s   string
	err error
}

func (d *decoder) receipt() Receipt {
	var r Receipt
	if v := d.byte(); v != encodingVersion && d.err == nil {
		d.err = fmt.Errorf("unknown version %d", v)
		return r
	}
	r.MessageID = d.string()
	r.SystemID = d.string()
	r.Source.TON, r.Source.NPI = d.byte(), d.byte()
	r.Source.Addr = d.string()
	r.Dest.TON, r.Dest.NPI = d.byte(), d.byte()
	r.Dest.Addr = d.string()
	r.Err = d.string()
	r.Reason = d.string()
	r.SubmittedAt = d.time()
	r.DueAt = d.time()
	r.ExpiresAt = d.time()
	r.Attempts = int(d.uvarint())
	if d.err == nil && len(d.s) != 0 {
		d.err = fmt.Errorf("%d trailing octets", len(d.s))
	}
	return r
}

func (d *decoder) byte() uint8 {
	if d.err != nil {
		return 0
	}
	if len(d.s) < 1 {
		d.err = fmt.Errorf("truncated")
		return 0
	}
	c := d.s[0]
	d.s = d.s[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var x uint64
	var s uint
	for i := 0; i < len(d.s) && i < binary.MaxVarintLen64; i++ {
		c := d.s[i]
		if c < 0x80 {
			d.s = d.s[i+1:]
			return x | uint64(c)<<s
		}
		x |= uint64(c&0x7f) << s
		s += 7
	}
	d.err = fmt.Errorf("bad varint")
	return 0
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)) {
		d.err = fmt.Errorf("string of %d octets truncated", n)
		return ""
	}
	v := d.s[:n]
	d.s = d.s[n:]
	return v
}

func (d *decoder) time() time.Time {
	u := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	n := int64(u>>1) ^ -int64(u&1) // zig-zag, as binary.AppendVarint
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
