package app

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/dlr"
)

// newRedisQueue is the durable receipt queue; until the Redis queue lands
// it falls back to memory.
func newRedisQueue(_ context.Context, _ config.Config, _ redis.UniversalClient, _ prometheus.Registerer, log *slog.Logger) (dlr.Queue, error) {
	log.Warn("dlr.queue.memory", "detail", "pending receipts live in memory and do not survive a restart")
	return dlr.NewMemoryQueue(dlr.MemoryOptions{}), nil
}
