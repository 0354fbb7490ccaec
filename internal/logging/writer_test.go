package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// gateWriter hands every Write's bytes to the test on entered, then waits
// for release: the test decides when the output unblocks.
type gateWriter struct {
	entered chan []byte
	release chan struct{}
	mu      sync.Mutex
	got     bytes.Buffer
}

func newGateWriter() *gateWriter {
	return &gateWriter{entered: make(chan []byte), release: make(chan struct{})}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	g.entered <- bytes.Clone(p)
	<-g.release
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.got.Write(p)
}

// lockedBuffer is a bytes.Buffer safe for the Writer's goroutine and the
// test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestWriterKeepsOrderAndFlushesOnClose(t *testing.T) {
	var out lockedBuffer
	w := NewWriter(&out, WriterOptions{Bytes: 1 << 20, FlushInterval: time.Hour})
	const producers, lines = 8, 500
	var wg sync.WaitGroup
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range lines {
				fmt.Fprintf(w, "p%d line %04d %s\n", p, i, strings.Repeat("x", 20))
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, producers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != producers*lines {
		t.Fatalf("%d lines, want %d", len(got), producers*lines)
	}
	for _, line := range got {
		var p, i int
		if _, err := fmt.Sscanf(line, "p%d line %d", &p, &i); err != nil || !strings.HasSuffix(line, strings.Repeat("x", 20)) {
			t.Fatalf("torn line %q", line)
		}
		if i != next[p] {
			t.Fatalf("producer %d: line %d after %d", p, i, next[p]-1)
		}
		next[p]++
	}
	if w.Dropped() != 0 {
		t.Fatalf("dropped %d", w.Dropped())
	}
}

func TestWriterWritesNothingBeforeFlushAndAfterCloseWritesThrough(t *testing.T) {
	var out lockedBuffer
	w := NewWriter(&out, WriterOptions{Bytes: 1 << 10, FlushInterval: time.Hour})
	_, _ = w.Write([]byte("a\n"))
	if out.String() != "" {
		t.Fatalf("written before a flush: %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\n" {
		t.Fatalf("after Flush: %q", out.String())
	}
	_, _ = w.Write([]byte("b\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("c\n")) // after Close: straight out
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "a\nb\nc\n" {
		t.Fatalf("output %q", out.String())
	}
}

func TestWriterWritesAChunkWithoutWaitingForTheInterval(t *testing.T) {
	g := newGateWriter()
	w := NewWriter(g, WriterOptions{Bytes: 100, FlushInterval: time.Hour}) // chunk 50
	line := strings.Repeat("y", 24) + "\n"
	_, _ = w.Write([]byte(line))
	_, _ = w.Write([]byte(line)) // 50 bytes: the writer goroutine is woken
	if got := <-g.entered; string(got) != line+line {
		t.Fatalf("write %q", got)
	}
	g.release <- struct{}{}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestWriterDropsWhatDoesNotFitWhileBlockedAndReportsIt(t *testing.T) {
	g := newGateWriter()
	w := NewWriter(g, WriterOptions{Bytes: 100, FlushInterval: time.Hour})
	_, _ = w.Write([]byte("first\n"))
	flushed := make(chan error)
	go func() { flushed <- w.Flush() }()
	if got := <-g.entered; string(got) != "first\n" {
		t.Fatalf("first write %q", got)
	}
	// The output is blocked in the middle of a write. 100 bytes fit; the
	// next three lines do not, and Write returns at once for each.
	line := strings.Repeat("z", 19) + "\n"
	for range 5 {
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	for range 3 {
		if n, err := w.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write of a dropped line = %d, %v", n, err)
		}
	}
	if got := w.Dropped(); got != 3 {
		t.Fatalf("Dropped = %d, want 3", got)
	}
	g.release <- struct{}{}
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	// The buffer was past its chunk: the writer goroutine writes it, and
	// the report after it.
	want := strings.Repeat(line, 5) + "log.lines_dropped dropped=3\n"
	if got := <-g.entered; string(got) != want {
		t.Fatalf("second write\n got %q\nwant %q", got, want)
	}
	g.release <- struct{}{}
	// Recovered: lines are kept again.
	_, _ = w.Write([]byte("after\n"))
	closed := make(chan error)
	go func() { closed <- w.Close() }()
	if got := <-g.entered; string(got) != "after\n" {
		t.Fatalf("third write %q", got)
	}
	g.release <- struct{}{}
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if got := w.Dropped(); got != 3 {
		t.Fatalf("Dropped = %d after recovery, want 3", got)
	}
	if got, want := g.got.String(), "first\n"+want+"after\n"; got != want {
		t.Fatalf("output\n got %q\nwant %q", got, want)
	}
}

// failWriter fails its first writes, then takes them.
type failWriter struct {
	fails int
	out   bytes.Buffer
}

func (f *failWriter) Write(p []byte) (int, error) {
	if f.fails > 0 {
		f.fails--
		return 0, errors.New("broken pipe")
	}
	return f.out.Write(p)
}

func TestWriterCountsLinesTheOutputRefused(t *testing.T) {
	f := &failWriter{fails: 1}
	w := NewWriter(f, WriterOptions{Bytes: 1 << 10, FlushInterval: time.Hour})
	_, _ = w.Write([]byte("a\n"))
	_, _ = w.Write([]byte("b\n"))
	if err := w.Flush(); err == nil {
		t.Fatal("Flush hid the write error")
	}
	if got := w.Dropped(); got != 2 {
		t.Fatalf("Dropped = %d, want 2", got)
	}
	_, _ = w.Write([]byte("c\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := f.out.String(); got != "c\nlog.lines_dropped dropped=2\n" {
		t.Fatalf("output %q", got)
	}
}

func TestWriterUnbufferedWritesThrough(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, WriterOptions{Bytes: 0})
	_, _ = w.Write([]byte("a\n"))
	if out.String() != "a\n" {
		t.Fatalf("output %q", out.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNewBufferedReportsDropsInTheLogFormat(t *testing.T) {
	for _, format := range []string{"json", "console"} {
		t.Run(format, func(t *testing.T) {
			line := dropReport(format, 7)
			if format == "json" {
				var m map[string]any
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("%q: %v", line, err)
				}
				if m["event"] != "log.lines_dropped" || m["level"] != "warning" || m["dropped"] != 7.0 {
					t.Fatalf("report %s", line)
				}
				return
			}
			if !strings.Contains(string(line), "WARN  log.lines_dropped ") || !strings.Contains(string(line), " dropped=7 ") {
				t.Fatalf("report %q", line)
			}
		})
	}
}

func TestNewBufferedFlushesOnClose(t *testing.T) {
	var out lockedBuffer
	l, w, err := NewBuffered(&out, "INFO", "json", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	l.Info("gateway.started")
	Begin(l, 0, "submit.accepted").Str("message_id", "1").End()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 2 {
		t.Fatalf("%d lines after Close: %q", n, out.String())
	}
	if _, _, err := NewBuffered(&out, "loud", "json", 1); !errors.Is(err, ErrLevel) {
		t.Fatalf("bad level: %v", err)
	}
	if _, _, err := NewBuffered(&out, "INFO", "xml", 1); !errors.Is(err, ErrFormat) {
		t.Fatalf("bad format: %v", err)
	}
}

// TestWriterKeepsTheLinesOfAWriteThatFit: of a Write of several lines (a
// Batch's) that does not fit, the whole lines that fit are kept, and
// every line dropped is counted.
func TestWriterKeepsTheLinesOfAWriteThatFit(t *testing.T) {
	const line = "0123456789abcdefghi\n" // 20 bytes
	for _, tc := range []struct {
		name    string
		queued  int    // 10-byte lines already waiting (limit 100)
		write   string // the Write
		kept    string
		dropped uint64
	}{
		{"all fit", 4, line + line + line, line + line + line, 0},
		{"exactly", 4, line + line + line, line + line + line, 0},
		{"two of three", 5, line + line + line, line + line, 1},
		{"room ends in a line", 6, line + line + line, line + line, 1},
		{"none", 9, line + line + line, "", 3},
		{"full", 10, line, "", 1},
		{"an unended last line", 6, line + line + "abc", line + line, 1},
		{"one long line", 0, strings.Repeat("y", 120) + "\n", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGateWriter()
			w := NewWriter(g, WriterOptions{Bytes: 100, FlushInterval: time.Hour})
			_, _ = w.Write([]byte("first\n"))
			flushed := make(chan error)
			go func() { flushed <- w.Flush() }()
			<-g.entered // the output is blocked: nothing leaves the buffer
			queued := strings.Repeat("012345678\n", tc.queued)
			for i := 0; i < len(queued); i += 10 {
				_, _ = w.Write([]byte(queued[i : i+10]))
			}
			if n, err := w.Write([]byte(tc.write)); n != len(tc.write) || err != nil {
				t.Fatalf("Write = %d, %v", n, err)
			}
			if got := w.Dropped(); got != tc.dropped {
				t.Errorf("Dropped = %d, want %d", got, tc.dropped)
			}
			g.release <- struct{}{}
			if err := <-flushed; err != nil {
				t.Fatal(err)
			}
			want := queued + tc.kept
			if tc.dropped > 0 {
				want += fmt.Sprintf("log.lines_dropped dropped=%d\n", tc.dropped)
			}
			closed := make(chan error)
			go func() { closed <- w.Close() }()
			if want != "" {
				// One write: the writer's goroutine's, or Close's.
				if got := <-g.entered; string(got) != want {
					t.Errorf("written\n got %q\nwant %q", got, want)
				}
				g.release <- struct{}{}
			}
			if err := <-closed; err != nil {
				t.Fatal(err)
			}
		})
	}
}
