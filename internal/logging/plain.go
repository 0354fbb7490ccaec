package logging

// The tests below look at 8 bytes of a string at a time (as one uint64):
// the fields of a per-message line are plain ASCII, and a word's test
// costs about what one byte's table lookup does.

const (
	lowBits  = 0x0101010101010101 // 0x01 in every byte of a word
	highBits = 0x8080808080808080 // 0x80 in every byte of a word
	low7Bits = 0x7f7f7f7f7f7f7f7f // 0x7f in every byte of a word
)

// The tests below take w7, a word with the high bit of every byte
// cleared, and set the high bit of exactly the bytes they report: every
// byte of w7 is at most 0x7f and what is added to it at most 0x7f, so no
// carry crosses from one byte into the next.

// bytesEqual7 marks the bytes of w7 equal to b (b < 0x80): x+0x7f reaches
// 0x80 for every byte x but 0.
func bytesEqual7(w7 uint64, b byte) uint64 {
	return ^((w7 ^ uint64(b)*lowBits) + low7Bits) & highBits
}

// bytesBelow7 marks the bytes of w7 below b (0 < b <= 0x80): x+0x80-b
// reaches 0x80 for every byte x from b on.
func bytesBelow7(w7 uint64, b byte) uint64 {
	return ^(w7 + uint64(0x80-b)*lowBits) & highBits
}

// jsonSpecial marks the bytes of w that appendEscapedJSON does not copy
// as they are: control characters, quotes, backslashes, and the bytes of
// multi-byte UTF-8 sequences (or invalid UTF-8), which it must decode.
func jsonSpecial(w uint64) uint64 {
	w7 := w & low7Bits
	return w&highBits | bytesBelow7(w7, 0x20) | bytesEqual7(w7, '"') | bytesEqual7(w7, '\\')
}

// consoleSpecial marks the bytes of w that are not printable ASCII other
// than '=', '"' and '\\' (what needsQuote must look at closer):
// jsonSpecial's, the space, '=' and DEL.
func consoleSpecial(w uint64) uint64 {
	w7 := w & low7Bits
	return w&highBits | bytesBelow7(w7, 0x21) | bytesEqual7(w7, '"') | bytesEqual7(w7, '\\') |
		bytesEqual7(w7, '=') | bytesEqual7(w7, 0x7f)
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
