package redisconn

import (
	"context"
	"fmt"
	"log/slog"
)

// Logger routes go-redis's own log lines (dial failures, Sentinel
// switches, pool warnings) into slog as "redis.client" events, with the
// secrets of the URL masked. go-redis keeps its logger in a package
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

// Printf implements go-redis's logging interface.
func (l Logger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, "redis.client", slog.String("detail", maskSecrets(fmt.Sprintf(format, v...), l.secrets)))
}
