package hlr

import "testing"

// plainAllDigits is allDigits a byte at a time.
func plainAllDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func TestAllDigits(t *testing.T) {
	base := "12345678901234567890"
	var tests []string
	for n := 0; n <= len(base); n++ {
		tests = append(tests, base[:n])
		// One byte that is not a digit, at every place: the bytes
		// around '0'–'9' and one with the high bit set.
		for i := 0; i < n; i++ {
			for _, c := range []byte{'/', ':', ' ', '+', 0x00, 0xb0, 0xb9, '?', 'A'} {
				b := []byte(base[:n])
				b[i] = c
				tests = append(tests, string(b))
			}
		}
	}
	for _, s := range tests {
		if got, want := allDigits(s), plainAllDigits(s); got != want {
			t.Errorf("allDigits(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzAllDigits(f *testing.F) {
	for _, s := range []string{"", "7", "447400123456", "44740012345:", "+447400123456", "1234567/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := allDigits(s), plainAllDigits(s); got != want {
			t.Fatalf("allDigits(%q) = %v, want %v", s, got, want)
		}
	})
}
