package logging

import (
	"io"
	"log/slog"
	"time"
)

// Batch gathers the Lines of one goroutine and hands them to the output
// in one Write per Flush: with a Writer shared by many goroutines, one
// lock and one copy for many lines instead of one per line. The lines'
// bytes are those BeginAt's Lines write; they reach the output at Flush,
// in the order they were ended, so a line logged meanwhile without the
// Batch (slog's calls, Lines of other goroutines) may come before them.
//
// A Batch belongs to one goroutine, which must Flush it before it waits
// for anything and before it drops it: lines left in it are never
// written. Its zero value is ready to use. It reuses one Line, so a Line
// begun on it must be ended before the next is begun.
type Batch struct {
	line  Line      // the Line BeginAt returns, with the caches it keeps from line to line
	buf   []byte    // lines ended and not yet written
	out   io.Writer // where buf's lines go: their handler's output
	lines int       // lines in buf
}

// batchFlushBytes is the size of batch past which ending a line writes
// the batch out at once: a batch stays a few dozen lines, in cache, and
// well below any Writer's buffer.
const batchFlushBytes = 32 << 10

// batchKeepBytes bounds the buffer a Batch keeps after a Flush: a batch
// grown by a few huge lines does not hold their memory.
const batchKeepBytes = 2 * batchFlushBytes

// BeginAt is the package's BeginAt for a line that End adds to b instead
// of writing. A line that this package's handlers do not encode (another
// handler, a JSON handler after WithGroup) goes through slog at End, as
// with BeginAt.
func (b *Batch) BeginAt(logger *slog.Logger, t time.Time, level slog.Level, event string) *Line {
	switch h := logger.Handler().(type) {
	case *jsonHandler:
		if level < h.level {
			return nil
		}
		if h.fast {
			x := b.begin(h.out)
			x.json = h
			x.buf = x.appendJSONStart(b.buf, t, h, level, event)
			return x
		}
	case *consoleHandler:
		if level < h.level {
			return nil
		}
		x := b.begin(h.out)
		x.con = h
		x.buf = x.appendConsoleStart(b.buf, t, h, level, event)
		return x
	}
	return BeginAt(logger, t, level, event)
}

// begin returns b's Line for a line to out, after writing out the lines
// of another output.
func (b *Batch) begin(out io.Writer) *Line {
	if out != b.out {
		b.Flush()
		b.out = out
	}
	x := &b.line
	x.batch = b
	return x
}

// end takes x's finished line (x.buf is b.buf with the line appended).
func (b *Batch) end(x *Line) {
	if x.json != nil {
		b.buf = finishJSON(x.buf)
	} else {
		b.buf = finishConsole(x.buf)
	}
	b.lines++
	x.buf, x.json, x.con, x.batch = nil, nil, nil, nil
	if len(b.buf) >= batchFlushBytes {
		b.Flush()
	}
}

// Len is the number of lines waiting for Flush.
func (b *Batch) Len() int { return b.lines }

// Flush writes the lines ended since the last Flush in one Write. As with
// a line, a failed write has no one to be reported to (a Writer counts
// what it drops).
func (b *Batch) Flush() {
	if b.lines == 0 {
		return
	}
	if w, ok := b.out.(*Writer); ok {
		_, _ = w.Write(b.buf) // the usual output: a direct call
	} else {
		_, _ = b.out.Write(b.buf)
	}
	b.buf = b.buf[:0]
	if cap(b.buf) > batchKeepBytes {
		b.buf = nil
	}
	b.lines = 0
}
