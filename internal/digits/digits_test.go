package digits

import (
	"strconv"
	"testing"
)

// plain is Value8 a byte at a time.
func plain(s string) (uint64, bool) {
	var v uint64
	for i := range 8 {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		v = v*10 + uint64(s[i]-'0')
	}
	return v, true
}

func TestValue8(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"00000000", 0, true},
		{"12345678", 12345678, true},
		{"99999999", 99999999, true},
		{"40991234", 40991234, true},
		{"1234567/", 0, false}, // '/' is just below '0'
		{"1234567:", 0, false}, // ':' just above '9'
		{"1234567?", 0, false}, // 0x3F: the top of '0'–'9''s nibble row
		{"+1234567", 0, false},
		{"1234 678", 0, false},
		{"\xb1" + "2345678", 0, false}, // '1' with the high bit set
	}
	for _, tt := range tests {
		got, ok := Value8(Load8(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("Value8(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
		if Are8(Load8(tt.in)) != tt.ok {
			t.Errorf("Are8(%q) = %v, want %v", tt.in, !tt.ok, tt.ok)
		}
	}
}

// TestValue8EveryByte changes one byte of a number to every value: the
// result must match the plain loop.
func TestValue8EveryByte(t *testing.T) {
	base := []byte("31415926")
	for pos := range 8 {
		for c := range 256 {
			b := append([]byte(nil), base...)
			b[pos] = byte(c)
			s := string(b)
			got, ok := Value8(Load8(s))
			want, wok := plain(s)
			if got != want || ok != wok {
				t.Fatalf("Value8(%q) = %d, %v; want %d, %v", s, got, ok, want, wok)
			}
		}
	}
}

func FuzzValue8(f *testing.F) {
	for _, s := range []string{"00000000", "12345678", "1234567:", strconv.Itoa(87654321)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) < 8 {
			return
		}
		got, ok := Value8(Load8(s))
		want, wok := plain(s)
		if got != want || ok != wok {
			t.Fatalf("Value8(%q) = %d, %v; want %d, %v", s, got, ok, want, wok)
		}
	})
}
