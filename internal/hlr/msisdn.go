package hlr

import "strings"

// NormalizeMSISDN strips '+', spaces and dashes from s and reports whether
// what is left is 1–15 ASCII digits (E.164 without '+').
func NormalizeMSISDN(s string) (string, bool) {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			clean = false
			break
		}
	}
	if !clean {
		var b strings.Builder
		b.Grow(len(s))
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == '+' || c == ' ' || c == '-':
			case c >= '0' && c <= '9':
				b.WriteByte(c)
			default:
				return "", false
			}
		}
		s = b.String()
	}
	if len(s) < 1 || len(s) > 15 {
		return "", false
	}
	return s, true
}
