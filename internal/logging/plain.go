package logging

import "encoding/binary"

// The tests below look at 8 bytes of a string at a time (as one uint64):
// the fields of a per-message line are plain ASCII, and a word's test
// costs about what one byte's table lookup does.

const (
	lowBits  = 0x0101010101010101 // 0x01 in every byte of a word
	highBits = 0x8080808080808080 // 0x80 in every byte of a word
)

// bytesEqual has at least one high bit set when a byte of w is b. (The
// usual "has a zero byte" test on w^b: exact in whether any byte matches;
// only bytes above a matching one may be marked wrongly.)
func bytesEqual(w uint64, b byte) uint64 {
	v := w ^ uint64(b)*lowBits
	return (v - lowBits) &^ v & highBits
}

// bytesBelow has at least one high bit set when a byte of w below 0x80 is
// below b (b <= 0x80; exact in the same sense as bytesEqual). Bytes from
// 0x80 on are left to the caller's w&highBits.
func bytesBelow(w uint64, b byte) uint64 {
	return (w - uint64(b)*lowBits) &^ w & highBits
}

// jsonSpecial is non-zero when a byte of w is one appendEscapedJSON does
// not copy as it is: a control character, a quote, a backslash, or a byte
// of a multi-byte UTF-8 sequence (or invalid UTF-8), which it must decode.
func jsonSpecial(w uint64) uint64 {
	return w&highBits | bytesBelow(w, 0x20) | bytesEqual(w, '"') | bytesEqual(w, '\\')
}

// consoleSpecial is non-zero when a byte of w is not printable ASCII
// other than '=', '"' and '\\' (what needsQuote must look at closer):
// jsonSpecial's bytes, the space, '=' and DEL.
func consoleSpecial(w uint64) uint64 {
	return jsonSpecial(w) | bytesEqual(w, ' ') | bytesEqual(w, '=') | bytesEqual(w, 0x7f)
}

// load64 is the 8 bytes of s from i as a little-endian word (the compiler
// makes it one load).
func load64(s string, i int) uint64 {
	_ = s[i+7]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
		uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
}

// load32 is the 4 bytes of s from i.
func load32(s string, i int) uint64 {
	_ = s[i+3]
	return uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24
}

// copyPlainJSON copies s into b, of its length, and reports whether s
// goes into a JSON string as it is: one pass, a word at a time, where a
// test then a copy would read s twice and call memmove.
func copyPlainJSON(b []byte, s string) bool {
	n := len(s)
	b = b[:n]
	switch {
	case n >= 8:
		var special uint64
		for i := 0; i < n-8; i += 8 {
			w := load64(s, i)
			special |= jsonSpecial(w)
			binary.LittleEndian.PutUint64(b[i:], w)
		}
		w := load64(s, n-8) // the last word, overlapping the one before
		binary.LittleEndian.PutUint64(b[n-8:], w)
		return special|jsonSpecial(w) == 0
	case n >= 4:
		lo, hi := load32(s, 0), load32(s, n-4)
		binary.LittleEndian.PutUint32(b, uint32(lo))
		binary.LittleEndian.PutUint32(b[n-4:], uint32(hi))
		return jsonSpecial(lo|hi<<32) == 0
	}
	plain := true
	for i := 0; i < n; i++ {
		b[i] = s[i]
		plain = plain && jsonPlain[s[i]]
	}
	return plain
}

// isPlainJSON reports whether s goes into a JSON string as it is.
func isPlainJSON(s string) bool {
	n := len(s)
	switch {
	case n >= 8:
		for i := 0; i < n-8; i += 8 {
			if jsonSpecial(load64(s, i)) != 0 {
				return false
			}
		}
		return jsonSpecial(load64(s, n-8)) == 0 // the last word, overlapping the one before
	case n >= 4:
		return jsonSpecial(load32(s, 0)|load32(s, n-4)<<32) == 0
	}
	for i := 0; i < n; i++ {
		if !jsonPlain[s[i]] {
			return false
		}
	}
	return true
}

// isPlainConsole reports whether s is non-empty printable ASCII without a
// space, '=', '"' or '\\': a console value written as it is. False does
// not mean it needs quoting (printable non-ASCII does not).
func isPlainConsole(s string) bool {
	n := len(s)
	switch {
	case n >= 8:
		for i := 0; i < n-8; i += 8 {
			if consoleSpecial(load64(s, i)) != 0 {
				return false
			}
		}
		return consoleSpecial(load64(s, n-8)) == 0
	case n >= 4:
		return consoleSpecial(load32(s, 0)|load32(s, n-4)<<32) == 0
	}
	for i := 0; i < n; i++ {
		if !consolePlain[s[i]] {
			return false
		}
	}
	return n > 0
}

// jsonPlain marks the bytes appendEscapedJSON copies as they are: ASCII
// from space on, except the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for b := 0x20; b < 0x80; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// consolePlain marks the bytes isPlainConsole accepts.
var consolePlain = func() (t [256]bool) {
	for b := 0x21; b < 0x7f; b++ {
		t[b] = b != '"' && b != '\\' && b != '='
	}
	return t
}()
