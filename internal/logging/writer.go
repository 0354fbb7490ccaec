package logging

import (
	"bytes"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultFlushInterval is how long a line may wait in a Writer's buffer
// before it is written out.
const DefaultFlushInterval = 100 * time.Millisecond

// WriterOptions configure NewWriter.
type WriterOptions struct {
	// Bytes bounds the lines waiting to be written (one more buffer of at
	// most this size may be in the middle of a write). A line that does
	// not fit is dropped and counted. 0 or less: no buffering, every
	// line is written at once by its caller (who then waits for it).
	Bytes int
	// FlushInterval is the longest a line waits in the buffer;
	// DefaultFlushInterval when 0.
	FlushInterval time.Duration
	// Dropped formats the line reporting that n lines were dropped since
	// the last write; it is written after the lines that were kept. A
	// plain line when nil.
	Dropped func(n uint64) []byte
}

// Writer is a bounded, buffered io.Writer for log lines. Write appends the
// line to a buffer and returns; one goroutine writes the buffer out (one
// write(2) for many lines) when it holds a chunk, at least every
// FlushInterval, on Flush and on Close. Lines keep the order of their Write
// calls. Each Write must be whole lines (one, or a Batch's): a line is
// kept or dropped whole.
//
// When the output blocks (a pipe whose reader is slow) the buffer fills up;
// the lines that no longer fit are dropped rather than blocking their
// callers (the gateway logs on the goroutines that read the SMPP
// sessions), counted in Dropped, and reported by a line written after the
// lines that were kept, once the output takes writes again.
type Writer struct {
	out     io.Writer
	limit   int
	chunk   int
	report  func(n uint64) []byte
	dropped atomic.Uint64

	mu     sync.Mutex // guards buf, drops, closed and kicked
	buf    []byte     // lines waiting to be written
	drops  uint64     // lines dropped since the last write
	closed bool
	kicked bool // a flush is requested and not yet started

	outMu    sync.Mutex // held while writing to out, so writes keep their order
	spare    []byte     // the buffer being written; guarded by outMu
	kick     chan struct{}
	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// maxChunk is the size of buffer that triggers a write before the
// interval: large enough for hundreds of lines per write(2), small enough
// to stay in cache.
const maxChunk = 64 << 10

// NewWriter returns a Writer over out; Close stops its goroutine.
func NewWriter(out io.Writer, o WriterOptions) *Writer {
	w := &Writer{out: out, limit: o.Bytes, report: o.Dropped}
	if w.report == nil {
		w.report = plainDropReport
	}
	if w.limit <= 0 {
		return w
	}
	w.chunk = min(maxChunk, max(w.limit/2, 1))
	every := o.FlushInterval
	if every <= 0 {
		every = DefaultFlushInterval
	}
	w.buf = make([]byte, 0, min(w.limit, maxChunk))
	w.spare = make([]byte, 0, min(w.limit, maxChunk))
	w.kick = make(chan struct{}, 1)
	w.stop = make(chan struct{})
	w.stopped = make(chan struct{})
	go w.run(every)
	return w
}

// Write queues one line, or several (a Batch's); it never blocks on the
// output while buffering. It returns len(p) even when lines are dropped: a
// log call has nothing better to do with the error, and the drop is
// counted and reported. Of several lines that do not all fit, those that
// do are kept.
func (w *Writer) Write(p []byte) (int, error) {
	if w.limit <= 0 {
		return w.writeOut(p)
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return w.writeOut(p)
	}
	if len(w.buf)+len(p) > w.limit {
		// The lines that fit are kept, the rest dropped whole.
		keep := 0
		if room := w.limit - len(w.buf); room > 0 {
			keep = bytes.LastIndexByte(p[:room], '\n') + 1
		}
		n := linesIn(p[keep:])
		w.buf = append(w.buf, p[:keep]...)
		w.drops += n
		w.mu.Unlock()
		w.dropped.Add(n)
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	kick := len(w.buf) >= w.chunk && !w.kicked
	if kick {
		w.kicked = true
	}
	w.mu.Unlock()
	if kick {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
	return len(p), nil
}

// linesIn counts the lines in p, the last one whether or not it ends in a
// newline.
func linesIn(p []byte) uint64 {
	n := uint64(bytes.Count(p, []byte{'\n'}))
	if len(p) > 0 && p[len(p)-1] != '\n' {
		n++
	}
	return n
}

// writeOut writes p at once, after whatever is being written.
func (w *Writer) writeOut(p []byte) (int, error) {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return w.out.Write(p)
}

// Dropped is the number of lines dropped since the Writer was made.
func (w *Writer) Dropped() uint64 { return w.dropped.Load() }

// Flush writes out every line queued before it and returns once written.
func (w *Writer) Flush() error {
	if w.limit <= 0 {
		return nil
	}
	return w.flush()
}

// Close writes out every queued line and stops the Writer's goroutine.
// Lines written after Close go straight to the output, so nothing logged
// while the process stops is lost. It does not close the output.
func (w *Writer) Close() error {
	if w.limit <= 0 {
		return nil
	}
	w.stopOnce.Do(func() { close(w.stop) })
	<-w.stopped
	// Take the output before marking the Writer closed, so a line written
	// straight out after Close cannot overtake the last buffer.
	w.outMu.Lock()
	defer w.outMu.Unlock()
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) run(every time.Duration) {
	defer close(w.stopped)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.kick:
		case <-t.C:
		case <-w.stop:
			return
		}
		_ = w.flush() // a failed write is counted as dropped lines
	}
}

func (w *Writer) flush() error {
	w.outMu.Lock()
	defer w.outMu.Unlock()
	return w.flushLocked()
}

// flushLocked swaps the buffers and writes out the full one; outMu held.
func (w *Writer) flushLocked() error {
	w.mu.Lock()
	b := w.buf
	w.buf = w.spare[:0]
	drops := w.drops
	w.drops = 0
	w.kicked = false
	w.mu.Unlock()
	kept := len(b)
	if drops > 0 {
		b = append(b, w.report(drops)...)
	}
	var err error
	if len(b) > 0 {
		if _, err = w.out.Write(b); err != nil {
			// The output refused them: they are lost, counted, and
			// reported (with the drops not reported yet) by the next
			// write that succeeds.
			lost := uint64(bytes.Count(b[:kept], []byte{'\n'}))
			w.dropped.Add(lost)
			w.mu.Lock()
			w.drops += lost + drops
			w.mu.Unlock()
		}
	}
	w.spare = b[:0]
	return err
}

func plainDropReport(n uint64) []byte {
	return []byte("log.lines_dropped dropped=" + strconv.FormatUint(n, 10) + "\n")
}
