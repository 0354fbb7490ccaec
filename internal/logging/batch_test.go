package logging

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// countingWriter counts the Writes on a buffer.
type countingWriter struct {
	bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes++
	return c.Buffer.Write(p)
}

// batchStep is one line: when, at which level and event, with which
// detail (a value to escape or quote takes the fields' slow path).
type batchStep struct {
	at     time.Duration
	level  slog.Level
	event  string
	detail string
}

var batchSteps = []batchStep{
	{0, slog.LevelInfo, "submit.rejected", "valid"},
	{200 * time.Microsecond, slog.LevelInfo, "submit.rejected", "valid"}, // the same millisecond
	{900 * time.Microsecond, slog.LevelInfo, "submit.accepted", ""},      // the next, another event
	{900 * time.Microsecond, slog.LevelWarn, "submit.failed", `say "no"`},
	{900 * time.Microsecond, slog.LevelDebug, "submit.received", "a b"},   // below INFO: no line
	{1900 * time.Microsecond, slog.LevelInfo, "submit.rejected", "valid"}, // the next second and year
	{-time.Millisecond, slog.LevelInfo, "submit.rejected", ""},            // back
}

// writeBatchStep writes step's line with the gateway's fields on x.
func writeBatchStep(x *Line, st batchStep) {
	k := &submitKeys
	x.StrK(&k.messageID, "").StrK(&k.systemID, "bench").StrK(&k.destination, "19990000042").
		IntK(&k.messageLength, 40).OptStrK(&k.detail, st.detail).End()
}

// TestBatchWritesWhatLinesWrite: a Batch's lines are byte for byte those
// of BeginAt's Lines, in their order, in one Write per Flush for this
// package's handlers; lines the handlers do not encode (WithGroup) go
// through slog one by one, as BeginAt's do.
func TestBatchWritesWhatLinesWrite(t *testing.T) {
	base := time.Date(2026, 12, 31, 23, 59, 59, 998_400_000, time.UTC)
	for _, tc := range []struct {
		name     string
		with     func(*slog.Logger) *slog.Logger
		slogJSON bool // the JSON lines go through slog
	}{
		{"plain", func(l *slog.Logger) *slog.Logger { return l }, false},
		{"with attrs", func(l *slog.Logger) *slog.Logger { return l.With("instance", "a b", "n", 3) }, false},
		{"group", func(l *slog.Logger) *slog.Logger { return l.WithGroup("g").With("a", 1) }, true},
	} {
		for _, format := range []string{"json", "console"} {
			viaSlog := tc.slogJSON && format == "json"
			for _, viaWriter := range []bool{false, true} {
				var perLine, batched countingWriter
				var perOut, batchOut io.Writer = &perLine, &batched
				if viaWriter { // unbuffered: the Writer writes each Write through
					perOut, batchOut = NewWriter(&perLine, WriterOptions{}), NewWriter(&batched, WriterOptions{})
				}
				lp, _ := New(perOut, "INFO", format)
				lb, _ := New(batchOut, "INFO", format)
				lp, lb = tc.with(lp), tc.with(lb)
				var b Batch
				lines := 0
				for _, st := range batchSteps {
					at := base.Add(st.at)
					x := BeginAt(lp, at, st.level, st.event)
					if x != nil {
						lines++
					}
					writeBatchStep(x, st)
					writeBatchStep(b.BeginAt(lb, at, st.level, st.event), st)
				}
				writes := 1
				if viaSlog {
					writes = lines
					if b.Len() != 0 {
						t.Errorf("%s %s: %d lines held for lines slog writes", tc.name, format, b.Len())
					}
				} else {
					if b.Len() != lines {
						t.Errorf("%s %s: Len %d, want %d", tc.name, format, b.Len(), lines)
					}
					if batched.Len() != 0 {
						t.Fatalf("%s %s: written before Flush: %q", tc.name, format, batched.String())
					}
				}
				b.Flush()
				b.Flush() // nothing left: no Write
				got, want := batched.String(), perLine.String()
				if viaSlog { // slog times a line when it is logged
					got, want = leadingTimestamp.ReplaceAllString(got, "T"), leadingTimestamp.ReplaceAllString(want, "T")
				}
				if got != want {
					t.Errorf("%s %s writer=%v: batch\n%s\nlines\n%s", tc.name, format, viaWriter, got, want)
				}
				if batched.writes != writes {
					t.Errorf("%s %s writer=%v: %d writes, want %d", tc.name, format, viaWriter, batched.writes, writes)
				}
				if b.Len() != 0 {
					t.Errorf("%s %s: Len %d after Flush", tc.name, format, b.Len())
				}
			}
		}
	}
}

// TestBatchFlushesBeforeAnotherOutputAndWhenLarge: the lines of one output
// are written before a line for another is begun, and a batch past
// batchFlushBytes is written at the end of the line that took it there.
func TestBatchFlushesBeforeAnotherOutputAndWhenLarge(t *testing.T) {
	var o1, o2 countingWriter
	l1, _ := New(&o1, "INFO", "json")
	l2, _ := New(&o2, "INFO", "console")
	now := time.Now()
	var b Batch
	writeBatchStep(b.BeginAt(l1, now, slog.LevelInfo, "a"), batchStep{})
	writeBatchStep(b.BeginAt(l1, now, slog.LevelInfo, "b"), batchStep{})
	writeBatchStep(b.BeginAt(l2, now, slog.LevelInfo, "c"), batchStep{})
	if o1.writes != 1 || strings.Count(o1.String(), "\n") != 2 || o2.writes != 0 || b.Len() != 1 {
		t.Fatalf("after a line to another output: %d writes of %q, %d writes, %d held", o1.writes, o1.String(), o2.writes, b.Len())
	}
	b.Flush()
	if o2.writes != 1 || strings.Count(o2.String(), "\n") != 1 {
		t.Fatalf("second output: %d writes of %q", o2.writes, o2.String())
	}

	o1.Reset()
	o1.writes = 0
	long := strings.Repeat("x", 1000)
	n := 0
	for o1.writes == 0 {
		writeBatchStep(b.BeginAt(l1, now, slog.LevelInfo, "a"), batchStep{detail: long})
		n++
		if n > batchFlushBytes/1000+1 {
			t.Fatalf("%d lines of over 1000 bytes held", n)
		}
	}
	if n < batchFlushBytes/1100 || b.Len() != 0 || strings.Count(o1.String(), "\n") != n {
		t.Fatalf("written after %d lines, %d held, %d lines written", n, b.Len(), strings.Count(o1.String(), "\n"))
	}
}

// TestBatchAllocatesNothing: once its buffer has grown, a batch of lines
// and its Flush into a Writer allocate nothing.
func TestBatchAllocatesNothing(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		w := NewWriter(discardWriter{}, WriterOptions{Bytes: 1 << 20})
		l, _ := New(w, "INFO", format)
		var b Batch
		now := time.Now()
		allocs := testing.AllocsPerRun(200, func() {
			for range 32 {
				submitFields(b.BeginAt(l, now, slog.LevelInfo, "submit.rejected"))
			}
			b.Flush()
		})
		_ = w.Close()
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per batch", format, allocs)
		}
	}
}
