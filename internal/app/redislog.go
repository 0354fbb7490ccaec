package app

import (
	"context"
	"fmt"
	"log/slog"
)

// RedisLogger routes the Redis client's own messages (dial failures, pool
// warnings) into the gateway's structured log, so stderr stays one JSON
// object per line. Install it with redis.SetLogger from main: the Redis
// client keeps its logger in a package variable.
type RedisLogger struct{ Log *slog.Logger }

// Printf implements the Redis client's logging interface.
func (l RedisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.Log.WarnContext(ctx, "redis.client", slog.String("detail", fmt.Sprintf(format, v...)))
}
