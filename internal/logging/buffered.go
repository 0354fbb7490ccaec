package logging

import (
	"bytes"
	"io"
	"log/slog"
)

// NewBuffered returns a logger like New whose lines go through a Writer
// over out holding at most bufferBytes of lines (0: none, every line is
// written by its caller as with New). The caller closes the Writer when
// the process stops, after the last line it wants written out, and may
// export Writer.Dropped. When out is a pipe, its kernel buffer is made
// larger (up to 1 MiB) where the system allows it.
func NewBuffered(out io.Writer, level, format string, bufferBytes int) (*slog.Logger, *Writer, error) {
	// Checked first, so that the drop report below cannot fail.
	if _, err := New(io.Discard, level, format); err != nil {
		return nil, nil, err
	}
	growPipe(out)
	w := NewWriter(out, WriterOptions{Bytes: bufferBytes, Dropped: func(n uint64) []byte {
		return dropReport(format, n)
	}})
	logger, err := New(w, level, format)
	if err != nil {
		_ = w.Close()
		return nil, nil, err
	}
	return logger, w, nil
}

// dropReport is the line saying that n lines were dropped, in format. It
// is written whatever the level: it says the log is incomplete.
func dropReport(format string, n uint64) []byte {
	var b bytes.Buffer
	l, err := New(&b, "DEBUG", format)
	if err != nil {
		return plainDropReport(n)
	}
	l.Warn("log.lines_dropped", "dropped", n,
		"detail", "the log output did not keep up; lines that did not fit LOG_BUFFER_BYTES were dropped")
	return b.Bytes()
}
