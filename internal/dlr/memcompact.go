package dlr

import (
	"math"
	"strings"
	"time"
)

// The memory queue keeps each receipt in a few dozen octets (memEntry)
// instead of a Receipt value with its seven strings and three time.Time.
// This file holds the pieces of that compact form that do not depend on
// the queue: message ids as integers, both addresses packed into one
// fixed array, times as integers and short texts as codes.

// parseCanonicalID reads a message id of the gateway's own form, 16
// uppercase hexadecimal digits (see gateway.IDs), as its 64-bit value. It
// reports false for any other id; those are kept as strings.
func parseCanonicalID(id string) (uint64, bool) {
	if len(id) != 16 {
		return 0, false
	}
	var v uint64
	var bad byte // the high bits of any octet that is not a digit
	for i := 0; i < 16; i++ {
		d := hexDigitValues[id[i]]
		bad |= d
		v = v<<4 | uint64(d&0xF)
	}
	if bad&0xF0 != 0 {
		return 0, false
	}
	return v, true
}

// hexDigitValues is the value of each octet as an uppercase hexadecimal
// digit, 0xFF for the octets that are not one: a table lookup per digit
// instead of two range tests.
const hexDigitValues = "" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\xff\xff\xff\xff\xff\xff" +
	"\xff\x0a\x0b\x0c\x0d\x0e\x0f\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff" +
	"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"

// appendCanonicalID appends v as 16 uppercase hexadecimal digits.
func appendCanonicalID(b []byte, v uint64) []byte {
	const digits = "0123456789ABCDEF"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[v>>uint(shift)&0xF])
	}
	return b
}

// memAddrsLen is the room for both addresses inside an entry. Each address
// is a header octet (its length; bit 7 set when it is all digits, packed
// two to an octet) and its octets: an 11-character alphanumeric source and
// a 15-digit destination take 21 octets. Longer pairs are kept aside as
// strings (memSpill).
const memAddrsLen = 22

const (
	addrDigits   = 0x80 // header bit: the address is decimal digits, packed
	addrMaxCount = 0x7F // longest address a header can describe
)

// packedAddrLen returns the octets addr takes in the packed form (header
// included) and whether it is all digits.
func packedAddrLen(addr string) (int, bool) {
	digits := len(addr) > 0
	for i := 0; i < len(addr); i++ {
		if addr[i] < '0' || addr[i] > '9' {
			digits = false
			break
		}
	}
	if digits {
		return 1 + (len(addr)+1)/2, true
	}
	return 1 + len(addr), false
}

// packAddrs writes src and dst into dst array a. It reports false (leaving
// a unspecified) when they do not fit.
func packAddrs(a *[memAddrsLen]byte, src, dst string) bool {
	if len(src) > addrMaxCount || len(dst) > addrMaxCount {
		return false
	}
	ns, sd := packedAddrLen(src)
	nd, dd := packedAddrLen(dst)
	if ns+nd > memAddrsLen {
		return false
	}
	n := packAddr(a[:], src, sd)
	packAddr(a[n:], dst, dd)
	clear(a[ns+nd:])
	return true
}

// packAddr writes one address at the start of b and returns the octets it took.
func packAddr(b []byte, addr string, digits bool) int {
	if !digits {
		b[0] = byte(len(addr))
		return 1 + copy(b[1:], addr)
	}
	b[0] = addrDigits | byte(len(addr))
	n := 1
	for i := 0; i < len(addr); i += 2 {
		hi := addr[i] - '0'
		var lo byte
		if i+1 < len(addr) {
			lo = addr[i+1] - '0'
		}
		b[n] = hi<<4 | lo
		n++
	}
	return n
}

// unpackAddrs appends the source then the destination address packed in a
// to b and returns b and the length of the source.
func unpackAddrs(b []byte, a *[memAddrsLen]byte) ([]byte, int) {
	start := len(b)
	b, n := unpackAddr(b, a[:])
	srcLen := len(b) - start
	b, _ = unpackAddr(b, a[n:])
	return b, srcLen
}

// unpackAddr appends the address at the start of p to b; it returns b and
// the octets of p it read.
func unpackAddr(b, p []byte) ([]byte, int) {
	h := p[0]
	count := int(h & addrMaxCount)
	if h&addrDigits == 0 {
		return append(b, p[1:1+count]...), 1 + count
	}
	for i := 0; i < count; i++ {
		v := p[1+i/2]
		if i%2 == 0 {
			v >>= 4
		}
		b = append(b, '0'+v&0xF)
	}
	return b, 1 + (count+1)/2
}

// unpackDest returns the destination address packed in a.
func unpackDest(a *[memAddrsLen]byte) string {
	_, dst := unpackAddrPair(a)
	return dst
}

// unpackAddrPair returns the source and destination addresses packed in a.
func unpackAddrPair(a *[memAddrsLen]byte) (src, dst string) {
	b, srcLen := unpackAddrs(make([]byte, 0, 2*addrMaxCount), a)
	both := string(b) // one copy of both
	return both[:srcLen], both[srcLen:]
}

// fromNanos is the inverse of unixNano, in UTC like a decoded receipt.
// Times are kept to the nanosecond (8 octets each): due and expiry need
// well under a second, and what comes back equals what was put.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// noExpiry is the expiry of a receipt that never expires.
const noExpiry = math.MaxInt64

func expiryFromNanos(n int64) time.Time {
	if n == noExpiry {
		return time.Time{}
	}
	return fromNanos(n)
}

// saturatingAttempts stores an attempt count in 16 bits: retries back off
// to DLR_RETRY_MAX_SECONDS long before 65535 attempts, and the count only
// feeds the backoff and the logs.
func saturatingAttempts(n int) uint16 {
	return uint16(min(max(n, 0), math.MaxUint16))
}

// internTable gives the short texts of receipts (err such as "003", reason
// such as "invalid_number") one-octet codes. Gateways use a handful; a
// provider or the rules file may add some, so the table takes up to
// internMax distinct texts and then reports a miss, and the caller keeps
// that text aside. Code 0 is the empty text.
type internTable struct {
	codes map[string]uint8
	texts []string // by code; texts[0] == ""
	// recent are the last two codes found: each receipt asks for its err
	// and its reason, mostly the same two as the receipt before, and
	// comparing a short text costs less than hashing it.
	recent [2]uint8
}

const internMax = math.MaxUint8

func newInternTable() internTable {
	return internTable{codes: map[string]uint8{"": 0}, texts: []string{""}}
}

// code returns s's code, adding s while there is room.
func (t *internTable) code(s string) (uint8, bool) {
	for _, c := range t.recent {
		if t.texts[c] == s {
			return c, true
		}
	}
	if c, ok := t.codes[s]; ok {
		t.recent[0], t.recent[1] = t.recent[1], c
		return c, true
	}
	if len(t.texts) > internMax {
		return 0, false
	}
	s = strings.Clone(s) // do not keep the caller's larger buffer alive
	c := uint8(len(t.texts))
	t.codes[s] = c
	t.texts = append(t.texts, s)
	t.recent[0], t.recent[1] = t.recent[1], c
	return c, true
}

func (t *internTable) text(c uint8) string { return t.texts[c] }
