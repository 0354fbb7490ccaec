package redisconn

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
)

// Logger routes go-redis's own log lines (dial failures, Sentinel
// switches, pool warnings) into slog, with the secrets of the URL masked
// where they could occur. go-redis keeps its logger in a package
// variable: install one with redis.SetLogger once, where the process
// starts, never from a library.
//
// A Sentinel's choice of master ("sentinel: selected addr", "sentinel:
// new master") is the event "redis.sentinel_master" at INFO, every time:
// the line an operator looks for after a failover. Every other line is
// "redis.client" at WARNING, which the caller may throttle (one failed
// dial per attempt while Redis is down): throttled by event name
// together, the first line at start-up hid the failover's.
type Logger struct {
	log     *slog.Logger // "redis.client"
	changes *slog.Logger // "redis.sentinel_master"
	secrets []string
}

// NewLogger returns a Logger writing the master switches to log and the
// other lines to routine (log itself when nil), masking the passwords of
// redisURL.
func NewLogger(log, routine *slog.Logger, redisURL string) Logger {
	if routine == nil {
		routine = log
	}
	return Logger{log: routine, changes: log, secrets: secrets(redisURL)}
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
	detail := slog.String("detail", fmt.Sprintf(format, args...))
	if isMasterChange(format) {
		l.changes.InfoContext(ctx, "redis.sentinel_master", detail)
		return
	}
	l.log.WarnContext(ctx, "redis.client", detail)
}

// isMasterChange reports whether go-redis's format is one of its lines
// naming the master a Sentinel gave it.
func isMasterChange(format string) bool {
	return strings.HasPrefix(format, "sentinel: new master") || strings.HasPrefix(format, "sentinel: selected addr")
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
