package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger routes go-redis's own log lines (dial failures, Sentinel
// switches, pool warnings) into slog as "redis.client" events, with the
// secrets of the URL masked where they could occur. go-redis keeps its logger in a package
// variable: install one with redis.SetLogger once, where the process
// starts, never from a library.
type Logger struct {
	log     *slog.Logger
	secrets []string
}

// NewLogger returns a Logger writing to log that masks the passwords of
// redisURL.
func NewLogger(log *slog.Logger, redisURL string) Logger {
	return Logger{log: log, secrets: secrets(redisURL)}
}

// Printf implements go-redis's logging interface. Secrets are masked
// where they could occur: an argument that is a password, or a URL
// argument (its passwords). The text around them is never searched, so a
// short password cannot mangle ordinary words ("s" in "sentinel").
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	args := make([]any, len(v))
	for i, a := range v {
		args[i] = l.maskArg(a)
	}
	l.log.WarnContext(ctx, "redis.client", slog.String("detail", fmt.Sprintf(format, args...)))
}

func (l Logger) maskArg(a any) any {
	s, ok := a.(string)
	if !ok {
		return a
	}
	for _, secret := range l.secrets {
		if s == secret {
			return Mask
		}
	}
	if strings.Contains(s, "://") {
		return Redact(s)
	}
	return s
}
