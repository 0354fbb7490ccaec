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
// the Redis, behind a bounded in-memory buffer that rides out the outage
// of the whole Redis or of one account's shard. A group commit is bounded
// by REDIS_TIMEOUT_SECONDS plus, with REDIS_WAIT_REPLICAS, the WAIT.
// outOfMemory, when not nil, hears of receipts Redis refused for lack of
// memory (the HLR cache giving way).
func newRedisQueue(_ context.Context, cfg config.Config, rdb redis.UniversalClient, lost *dlr.LossCounter, reg prometheus.Registerer, log *slog.Logger, outOfMemory func()) (*dlr.BufferedQueue, *dlr.RedisQueue) {
	commit := cfg.Redis.Timeout
	if cfg.Redis.WaitReplicas > 0 {
		commit += cfg.Redis.WaitTimeout
	}
	inner := dlr.NewRedisQueue(rdb, dlr.RedisOptions{
		Prefix:        cfg.Redis.KeyPrefix + "dlr:",
		CommitTimeout: commit,
		WaitReplicas:  cfg.Redis.WaitReplicas,
		WaitTimeout:   cfg.Redis.WaitTimeout,
		SlowAfter:     cfg.Redis.SlowAfter,
		Lost:          lost,
		Logger:        log,
		InstanceID:    cfg.Instance.ID,
		Registerer:    reg,
	})
	return dlr.NewBufferedQueue(inner, dlr.BufferOptions{
		Size: cfg.DLR.BufferSize, PutTimeout: cfg.Redis.Timeout, Lost: lost, Registerer: reg, Logger: log,
		OutOfMemory: outOfMemory,
	}), inner
}
