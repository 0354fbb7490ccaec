package logging

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// isPlainJSONByByte is isPlainJSON one byte at a time: the reference the
// word-at-a-time tests are checked against.
func isPlainJSONByByte(s string) bool {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b >= 0x80 || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// needsQuoteByRune is needsQuote without its ASCII fast path.
func needsQuoteByRune(s string) bool {
	if s == "" {
		return true
	}
	for _, r := range s {
		if r == utf8.RuneError || r == '=' || r == '"' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return true
		}
	}
	return false
}

// plainCases are strings of every length up to 20 with every byte value
// at every position (in a run of plain bytes, and after a special byte
// lower down, where a word test may mark bytes wrongly), and random ones.
func plainCases() []string {
	var cases []string
	for n := 0; n <= 20; n++ {
		base := strings.Repeat("a", n)
		cases = append(cases, base)
		for i := 0; i < n; i++ {
			for b := 0; b < 256; b++ {
				s := []byte(base)
				s[i] = byte(b)
				cases = append(cases, string(s))
				if i > 0 {
					s[0] = '"'
					cases = append(cases, string(s))
				}
			}
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aZ09 =\"\\\x00\x1f\x20\x21\x7e\x7f\x80\xbf\xc3\xe2\xff")
	for range 20000 {
		s := make([]byte, rnd.IntN(40))
		for i := range s {
			s[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		cases = append(cases, string(s))
	}
	return cases
}

func TestIsPlainJSONIsTheByteTest(t *testing.T) {
	for _, s := range plainCases() {
		want := isPlainJSONByByte(s)
		if got := isPlainJSON(s); got != want {
			t.Errorf("isPlainJSON(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestNeedsQuoteIsTheRuneTest(t *testing.T) {
	cases := append(plainCases(), "Ünïcödé", "✓", "a\u00a0b", "a\u0085b", "\u2028", "abcdefgh\u00a0", "😀😀😀")
	for _, s := range cases {
		if got, want := needsQuote(s), needsQuoteByRune(s); got != want {
			t.Errorf("needsQuote(%q) = %v, want %v", s, got, want)
		}
		if isPlainConsole(s) && needsQuoteByRune(s) {
			t.Errorf("isPlainConsole(%q) but it needs quoting", s)
		}
	}
}

// TestAppendEscapedJSONIsSlogs: the escaping (which skips plain bytes a
// word at a time) gives the bytes of slog's JSON handler for every case.
func TestAppendEscapedJSONIsSlogs(t *testing.T) {
	var out bytes.Buffer
	h := slog.NewJSONHandler(&out, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "k" {
			return a
		}
		return slog.Attr{} // only the field
	}})
	for _, s := range append(plainCases(), "\u2028\u2029 ✓ 😀 a\xffb\xc3", strings.Repeat("plain text, ", 10)+"\"") {
		out.Reset()
		r := slog.NewRecord(time.Time{}, slog.LevelInfo, "", 0)
		r.AddAttrs(slog.String("k", s))
		_ = h.Handle(t.Context(), r)
		want := strings.TrimSuffix(strings.TrimPrefix(out.String(), `{"k":"`), "\"}\n")
		if got := string(appendEscapedJSON(nil, s)); got != want {
			t.Fatalf("appendEscapedJSON(%q) = %s, want %s", s, got, want)
		}
	}
}

// TestAppendJSONStrFieldIsTheEscapingPath: the fast paths of a string
// field write what the escaping path writes, for every case as the key
// and as the value, and into a buffer with and without room.
func TestAppendJSONStrFieldIsTheEscapingPath(t *testing.T) {
	slow := func(key, val string) string {
		b := append(appendJSONKey([]byte("x"), key), '"')
		return string(append(appendEscapedJSON(b, val), '"'))
	}
	cases := append(plainCases(), "msg", "0123456789abcdef", "0123456789abcde\"", "\"123456789abcdef")
	for _, s := range cases {
		for _, kv := range [][2]string{{"k", s}, {s, "v"}, {s, s}} {
			want := slow(kv[0], kv[1])
			for _, c := range []int{1, 512} {
				buf := append(make([]byte, 0, c), 'x')
				if got := string(appendJSONStrField(buf, kv[0], kv[1])); got != want {
					t.Fatalf("appendJSONStrField(%q, %q) = %s, want %s", kv[0], kv[1], got, want)
				}
			}
		}
	}
}
