package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// ErrLevel and ErrFormat are matched by errors from ParseLevel and New.
var (
	ErrLevel  = errors.New("logging: unknown level")
	ErrFormat = errors.New("logging: unknown format")
)

// Formats accepted by New.
const (
	FormatJSON    = "json"
	FormatConsole = "console"
)

// TimeFormat is the timestamp layout of both formats (always UTC).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// ParseLevel accepts DEBUG, INFO, WARNING, WARN and ERROR in any case.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "DEBUG":
		return slog.LevelDebug, nil
	case "INFO":
		return slog.LevelInfo, nil
	case "WARNING", "WARN":
		return slog.LevelWarn, nil
	case "ERROR":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%w: %q (want DEBUG, INFO, WARNING or ERROR)", ErrLevel, s)
}

// New returns a logger writing to w at the given level in the given format
// (json or console, any case).
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	lvl, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	switch strings.ToLower(strings.TrimSpace(format)) {
	case FormatJSON:
		return slog.New(newLineJSONHandler(w, lvl)), nil
	case FormatConsole:
		return slog.New(newConsoleHandler(w, lvl)), nil
	}
	return nil, fmt.Errorf("%w: %q (want json or console)", ErrFormat, format)
}

// Discard returns a logger that writes nothing.
func Discard() *slog.Logger {
	return slog.New(slog.DiscardHandler)
}

// levelName is the lower-case level name of the JSON format.
func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warning"
	}
	return "error"
}

// formatTime renders t as RFC 3339 with milliseconds in UTC.
func formatTime(t time.Time) string {
	return t.UTC().Format(TimeFormat)
}

func newJSONHandler(w io.Writer, lvl slog.Level) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: lvl,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				// "500ms", as the console format writes it, rather than
				// slog's integer nanoseconds.
				return slog.String(a.Key, a.Value.Duration().String())
			}
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				if t, ok := a.Value.Any().(time.Time); ok && a.Value.Kind() == slog.KindTime {
					return slog.String("timestamp", formatTime(t))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("level", levelName(l))
				}
			case slog.MessageKey:
				return slog.Attr{Key: "event", Value: a.Value}
			}
			return a
		},
	})
}
