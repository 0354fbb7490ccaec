package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"
)

// eventWidth is the column the attributes of console lines start at
// (after the event name); longer event names push them right.
const eventWidth = 24

// consoleHandler writes aligned human-readable lines.
type consoleHandler struct {
	out    io.Writer // a *Writer, or a *lockedWriter over any other output
	level  slog.Level
	attrs  string // pre-rendered " key=value" pairs from WithAttrs
	prefix string // group prefix, e.g. "session."
}

// lockedWriter serialises writes on an output that is not safe for
// concurrent use (the handlers' and Lines' when the output is not a
// Writer, which is).
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func newConsoleHandler(w io.Writer, lvl slog.Level) *consoleHandler {
	if _, ok := w.(*Writer); !ok {
		w = &lockedWriter{w: w}
	}
	return &consoleHandler{out: w, level: lvl}
}

func (h *consoleHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level
}

func (h *consoleHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	if !r.Time.IsZero() {
		b.WriteString(formatTime(r.Time))
		b.WriteByte(' ')
	}
	fmt.Fprintf(&b, "%-5s %-*s", consoleLevel(r.Level), eventWidth, r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendAttr(&b, h.prefix, a)
		return true
	})
	line := strings.TrimRight(b.String(), " ") + "\n"
	if _, err := io.WriteString(h.out, line); err != nil {
		return fmt.Errorf("logging: write: %w", err)
	}
	return nil
}

func (h *consoleHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendAttr(&b, h.prefix, a)
	}
	c := *h
	c.attrs = b.String()
	return &c
}

func (h *consoleHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	return &c
}

func consoleLevel(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARN"
	}
	return "ERROR"
}

// appendAttr writes " prefix.key=value", flattening groups.
func appendAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p = prefix + a.Key + "."
		}
		for _, g := range a.Value.Group() {
			appendAttr(b, p, g)
		}
		return
	}
	b.WriteByte(' ')
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteByte('=')
	b.WriteString(quoteIfNeeded(valueString(a.Value)))
}

func valueString(v slog.Value) string {
	switch v.Kind() {
	case slog.KindString:
		return v.String()
	case slog.KindTime:
		return formatTime(v.Time())
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return x.Error()
		case fmt.Stringer:
			return x.String()
		case []byte:
			return string(x)
		case time.Time:
			return formatTime(x)
		}
	}
	return v.String()
}

// quoteIfNeeded quotes empty values and values with spaces, quotes, '='
// or non-printable characters, so a line splits unambiguously.
func quoteIfNeeded(s string) string {
	if needsQuote(s) {
		return strconv.Quote(s)
	}
	return s
}
