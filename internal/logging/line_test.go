package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"regexp"
	"testing"
	"time"
)

// leadingTimestamp matches the timestamp of either format, which differs
// between two calls.
var leadingTimestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`)

type lineField struct {
	key string
	str string
	n   int
	int bool
}

// TestLineWritesWhatSlogWrites: a Line's bytes are those of LogAttrs with
// the same fields, named by strings or by Keys, in both formats, with and
// without WithAttrs, and after WithGroup (where the Line goes through
// slog).
func TestLineWritesWhatSlogWrites(t *testing.T) {
	fields := [][]lineField{
		{{key: "message_id", str: "0A1B2C3D"}, {key: "message_length", n: 160, int: true}, {key: "destination", str: "40722570240999"}},
		{{key: "empty", str: ""}, {key: "neg", n: -5, int: true}},
		{{key: "quotes", str: `say "hi" \ there`}, {key: "ctl", str: "a\nb\tc\r\x01\x1f\x7f"}},
		{{key: "html", str: "<a href='x'>&amp;</a>"}, {key: "eq", str: "a=b"}, {key: "space", str: "two words"}},
		{{key: "unicode", str: "Ünïcödé ✓ \u2028\u2029 😀"}, {key: "bad_utf8", str: "a\xffb\xc3"}},
		{{key: "msg", str: "shadow"}, {key: "time", str: "shadow"}, {key: "level", str: "shadow"}},
		{{key: "k\"ey", str: "v"}},
		// Past the first 8 bytes, where strings are looked at a word at
		// a time, at word boundaries and in the last, overlapping word.
		{{key: "long_plain", str: "0123456789abcdefghijklmnopqrstuvwxyz"}, {key: "destination_number", str: "40722570240999"}},
		{{key: "quote9", str: `abcdefgh"ij`}, {key: "backslash15", str: `abcdefghijklmno\`}, {key: "quote_last", str: `abcdefghijkl"`}},
		{{key: "ctl", str: "abcdefgh\x00ijklmnop\x1f"}, {key: "tab", str: "abcdefghijklmn\tq"}, {key: "del", str: "abcdefghijk\x7fl"}},
		{{key: "bad_utf8_8", str: "abcdefgh\xffijk"}, {key: "cut_rune", str: "abcdefg\xe2\x80"}, {key: "u2028_at_7", str: "abcdefg\u2028hij"}},
		{{key: "u2029_last", str: "abcdefghijklm\u2029"}, {key: "accents", str: "abcdefgh-Ünïcödé-ijk"}, {key: "nbsp", str: "abcdefgh\u00a0ij"}},
		{{key: "eq_late", str: "abcdefghij=k"}, {key: "space_late", str: "abcdefghijklmnop q"}, {key: "short", str: "a b"}},
		{{key: "key with space", str: "abcdefghijkl"}, {key: "ünïcödé_key", str: "v"}, {key: "key\u2028", str: "v"}},
		{{key: "four", str: "a\"cd"}, {key: "seven", str: "abcdef\n"}, {key: "three", str: "a=c"}, {key: "one", str: "\x01"}},
	}
	withs := []struct {
		name string
		f    func(*slog.Logger) *slog.Logger
	}{
		{"plain", func(l *slog.Logger) *slog.Logger { return l }},
		{"with", func(l *slog.Logger) *slog.Logger {
			return l.With("system_id", "alice", "n", 3, "u", uint64(7), "ok", true)
		}},
		{"with twice", func(l *slog.Logger) *slog.Logger { return l.With("a", "x y").With("b", "<&>") }},
		{"with float", func(l *slog.Logger) *slog.Logger { return l.With("f", 1.5) }},
		{"group", func(l *slog.Logger) *slog.Logger { return l.With("a", 1).WithGroup("g").With("b", 2) }},
	}
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}
	// The output as given, or a Writer (unbuffered: it writes at once),
	// which the handlers call directly.
	outs := map[string]func(*bytes.Buffer) io.Writer{
		"buffer": func(b *bytes.Buffer) io.Writer { return b },
		"writer": func(b *bytes.Buffer) io.Writer { return NewWriter(b, WriterOptions{}) },
	}
	for _, format := range []string{"json", "console"} {
		for outName, out := range outs {
			for _, w := range withs {
				for _, fs := range fields {
					for _, lv := range levels {
						var viaSlog, viaLine, viaKeys bytes.Buffer
						ls, err := New(out(&viaSlog), "DEBUG", format)
						if err != nil {
							t.Fatal(err)
						}
						ll, _ := New(out(&viaLine), "DEBUG", format)
						lk, _ := New(out(&viaKeys), "DEBUG", format)
						attrs := make([]slog.Attr, 0, len(fs))
						x := Begin(w.f(ll), lv, "submit.accepted")
						xk := Begin(w.f(lk), lv, "submit.accepted")
						for _, f := range fs {
							k := NewKey(f.key)
							if f.int {
								attrs = append(attrs, slog.Int(f.key, f.n))
								x = x.Int(f.key, f.n)
								xk = xk.IntK(&k, f.n)
							} else {
								attrs = append(attrs, slog.String(f.key, f.str))
								x = x.Str(f.key, f.str)
								xk = xk.StrK(&k, f.str)
							}
						}
						x.End()
						xk.End()
						w.f(ls).LogAttrs(t.Context(), lv, "submit.accepted", attrs...)
						want := leadingTimestamp.ReplaceAllString(viaSlog.String(), "T")
						for via, b := range map[string]*bytes.Buffer{"Str": &viaLine, "Key": &viaKeys} {
							got := leadingTimestamp.ReplaceAllString(b.String(), "T")
							if got != want {
								t.Errorf("%s %s %s %v, fields by %s:\nline %s\nslog %s", format, outName, w.name, lv, via, got, want)
							}
						}
					}
				}
			}
		}
	}
}

func TestLineOfADisabledLevelIsNil(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		var buf bytes.Buffer
		l, _ := New(&buf, "WARNING", format)
		for _, logger := range []*slog.Logger{l, l.With("instance", "a")} {
			x := Begin(logger, slog.LevelInfo, "submit.accepted")
			if x != nil {
				t.Fatalf("%s: Begin returned a line for a disabled level", format)
			}
			x.Str("a", "b").Int("n", 1).End()
		}
		if buf.Len() != 0 {
			t.Fatalf("%s: wrote %q", format, buf.String())
		}
	}
}

func TestLineWithAForeignHandlerGoesThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, nil))
	Begin(l, slog.LevelInfo, "submit.accepted").Str("message_id", "X").Int("message_length", 3).End()
	if !regexp.MustCompile(`msg=submit.accepted message_id=X message_length=3\n$`).Match(buf.Bytes()) {
		t.Fatalf("output %q", buf.String())
	}
}

// TestLineAllocatesNothing: the per-message line costs no allocation in
// either format once the pool is warm.
func TestLineAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop Lines: allocation counts are meaningless")
	}
	for _, format := range []string{"json", "console"} {
		w := NewWriter(discardWriter{}, WriterOptions{Bytes: 1 << 20})
		l, _ := New(w, "INFO", format)
		byKeys := testing.AllocsPerRun(1000, func() { submitLine(l) })
		byNames := testing.AllocsPerRun(1000, func() { submitFieldsByName(Begin(l, slog.LevelInfo, "submit.rejected")) })
		_ = w.Close()
		if byKeys != 0 || byNames != 0 {
			t.Errorf("%s: %.1f allocations per line with Keys, %.1f with names", format, byKeys, byNames)
		}
	}
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// submitLine is the gateway's per-message line of a reject (see the
// gateway's writeSubmitLine): six fields, the empty ones left out.
func submitLine(l *slog.Logger) {
	submitFields(Begin(l, slog.LevelInfo, "submit.rejected"))
}

func submitLineAt(l *slog.Logger, now time.Time) {
	submitFields(BeginAt(l, now, slog.LevelInfo, "submit.rejected"))
}

// submitFields writes the fields with Keys, as the gateway does.
func submitFields(x *Line) {
	k := &submitKeys
	x.StrK(&k.messageID, "").StrK(&k.systemID, "bench").
		StrK(&k.source, "BenchSrc").StrK(&k.destination, "19990000042").IntK(&k.messageLength, 40).
		OptStrK(&k.receiptErr, "").OptStrK(&k.reason, "").OptStrK(&k.detail, "valid").
		End()
}

// submitFieldsByName is submitFields with the keys given as strings.
func submitFieldsByName(x *Line) {
	x.Str("message_id", "").Str("system_id", "bench").
		Str("source", "BenchSrc").Str("destination", "19990000042").Int("message_length", 40).
		OptStr("receipt_err", "").OptStr("reason", "").OptStr("detail", "valid").
		End()
}

var submitKeys = struct {
	messageID, systemID, source, destination, messageLength, receiptErr, reason, detail Key
}{
	NewKey("message_id"), NewKey("system_id"), NewKey("source"), NewKey("destination"),
	NewKey("message_length"), NewKey("receipt_err"), NewKey("reason"), NewKey("detail"),
}

// BenchmarkSubmitLine compares the per-message line through slog (as it
// was logged before Lines) and as a Line, into a buffered Writer whose
// output discards.
func BenchmarkSubmitLine(b *testing.B) {
	for _, format := range []string{"json", "console"} {
		// Each way of writing the submit line, at a time that moves 3 µs a
		// line (a new millisecond every 333 lines).
		for _, c := range []struct {
			name string
			line func(l *slog.Logger, now time.Time)
		}{
			{"line", func(l *slog.Logger, _ time.Time) { submitLine(l) }},
			// As the gateway logs: at the time it has already read for
			// the message (BeginAt), so the clock is not read again.
			{"line_at", submitLineAt},
			{"line_at_names", func(l *slog.Logger, now time.Time) {
				submitFieldsByName(BeginAt(l, now, slog.LevelInfo, "submit.rejected"))
			}},
			{"slog", func(l *slog.Logger, _ time.Time) {
				l.LogAttrs(context.Background(), slog.LevelInfo, "submit.rejected",
					slog.String("message_id", ""), slog.String("system_id", "bench"),
					slog.String("source", "BenchSrc"), slog.String("destination", "19990000042"), slog.Int("message_length", 40),
					slog.String("detail", "valid"))
			}},
		} {
			b.Run(format+"/"+c.name, func(b *testing.B) {
				w := NewWriter(discardWriter{}, WriterOptions{Bytes: 1 << 20})
				defer w.Close()
				l, _ := New(w, "INFO", format)
				b.ReportAllocs()
				now := time.Now()
				for b.Loop() {
					c.line(l, now)
					now = now.Add(3 * time.Microsecond)
				}
			})
		}
	}
}

func TestLineTimestampIsFormatTime(t *testing.T) {
	x := &Line{}
	base := time.Date(2026, 11, 25, 23, 59, 58, 0, time.FixedZone("X", 3*3600))
	for _, d := range []time.Duration{0, time.Millisecond, 999 * time.Millisecond, 999999999, time.Second, 1500 * time.Millisecond,
		2*time.Second + 7*time.Millisecond, 42 * time.Hour, -3 * time.Second, 10 * time.Millisecond, 100*time.Millisecond + 1} {
		tm := base.Add(d)
		if got, want := string(x.appendTime(nil, tm)), formatTime(tm); got != want {
			t.Errorf("%v: %s, want %s", tm, got, want)
		}
	}
}

// TestLineStartFollowsTimeAndKind: a line's start (timestamp, level,
// event, the handler's attributes), kept from the line before within a
// millisecond, is what slog writes for the same record through every
// change of millisecond, second, level, event and handler, forwards and
// backwards.
func TestLineStartFollowsTimeAndKind(t *testing.T) {
	// The last millisecond of a year in UTC, given in another zone.
	base := time.Date(2026, 12, 31, 23, 59, 59, 998_400_000, time.UTC).In(time.FixedZone("X", 3*3600))
	steps := []struct {
		at    time.Duration
		level slog.Level
		event string
		with  bool
	}{
		{0, slog.LevelInfo, "submit.rejected", false},
		{300 * time.Microsecond, slog.LevelInfo, "submit.rejected", false}, // the same millisecond
		{600 * time.Microsecond, slog.LevelInfo, "submit.rejected", false}, // the next
		{600 * time.Microsecond, slog.LevelWarn, "submit.rejected", false},
		{600 * time.Microsecond, slog.LevelWarn, "submit.failed", false},
		{600 * time.Microsecond, slog.LevelWarn, "submit.failed", true},
		{600 * time.Microsecond, slog.LevelInfo, "submit.rejected", false},
		{1700 * time.Microsecond, slog.LevelInfo, "submit.rejected", false}, // the next second, day and year
		{-time.Millisecond, slog.LevelInfo, "submit.rejected", false},       // back
		{1700*time.Microsecond + time.Second, slog.LevelInfo, "submit.rejected", false},
		{1700*time.Microsecond + time.Second + 999_999, slog.LevelInfo, "submit.rejected", false},
	}
	for _, format := range []string{"json", "console"} {
		var viaLine, viaSlog bytes.Buffer
		ll, _ := New(&viaLine, "DEBUG", format)
		ls, _ := New(&viaSlog, "DEBUG", format)
		lw, lsw := ll.With("instance", "a"), ls.With("instance", "a")
		for _, st := range steps {
			l, s := ll, ls
			if st.with {
				l, s = lw, lsw
			}
			at := base.Add(st.at)
			BeginAt(l, at, st.level, st.event).StrK(&submitKeys.detail, "valid").End()
			r := slog.NewRecord(at, st.level, st.event, 0)
			r.AddAttrs(slog.String("detail", "valid"))
			if err := s.Handler().Handle(t.Context(), r); err != nil {
				t.Fatal(err)
			}
			if got, want := viaLine.String(), viaSlog.String(); got != want {
				t.Fatalf("%s, %v %v %s: line\n%s\nslog\n%s", format, at, st.level, st.event, got, want)
			}
			viaLine.Reset()
			viaSlog.Reset()
		}
	}
}

// TestLineOptStrLeavesOutEmpty: OptStr writes what Str writes, or nothing
// for an empty value.
func TestLineOptStrLeavesOutEmpty(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		var opt, str bytes.Buffer
		lo, _ := New(&opt, "INFO", format)
		ls, _ := New(&str, "INFO", format)
		now := time.Now()
		BeginAt(lo, now, slog.LevelInfo, "submit.rejected").OptStr("receipt_err", "").OptStr("detail", "valid").OptStr("reason", "").End()
		BeginAt(ls, now, slog.LevelInfo, "submit.rejected").Str("detail", "valid").End()
		if opt.String() != str.String() {
			t.Errorf("%s: OptStr wrote %q, want %q", format, opt.String(), str.String())
		}
	}
}
