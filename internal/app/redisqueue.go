package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
)

// newRedisQueue is the durable receipt queue shared by every instance on
// the Redis, behind a bounded in-memory buffer that rides out an outage.
func newRedisQueue(_ context.Context, cfg config.Config, rdb redis.UniversalClient, reg prometheus.Registerer, log *slog.Logger) (dlr.Queue, error) {
	inner := dlr.NewRedisQueue(rdb, dlr.RedisOptions{Prefix: cfg.Redis.KeyPrefix + "dlr:"})
	return dlr.NewBufferedQueue(inner, dlr.BufferOptions{
		Size: cfg.DLR.BufferSize, PutTimeout: cfg.Redis.Timeout, Registerer: reg, Logger: log,
	}), nil
}
