package app

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

// NewRedisClient opens the Redis of REDIS_URL (the forms are those of
// package redisconn) with REDIS_MAX_CONNECTIONS and REDIS_TIMEOUT_SECONDS.
func NewRedisClient(c config.Redis) (redis.UniversalClient, error) {
	rdb, err := redisconn.New(redisconn.Settings{URL: c.URL, PoolSize: c.MaxConnections, Timeout: c.Timeout})
	if err != nil {
		return nil, fmt.Errorf("app: REDIS_URL: %w", err)
	}
	return rdb, nil
}

// BuildProvider returns the HLR provider of the configuration.
func BuildProvider(c config.Config, logger *slog.Logger) (hlr.Lookuper, hlr.ErrCodes, error) {
	codes, err := hlr.ParseErrCodes(c.HLR.ErrCodes)
	if err != nil {
		return nil, codes, fmt.Errorf("config: HLR_ERR_CODES: %w", err)
	}
	if c.HLR.Provider == config.ProviderSimulator {
		return simulator.New(simulator.Options{Latency: c.HLR.SimulatorLatency, ErrCodes: codes}), codes, nil
	}
	p, err := tmt.New(tmt.Options{
		BaseURL: c.HLR.BaseURL, APIKey: c.HLR.APIKey, APISecret: c.HLR.APISecret,
		Timeout: c.HLR.Timeout, MaxConns: c.HLR.MaxConcurrency, ErrCodes: codes, Logger: logger,
	})
	return p, codes, err
}

// BuildLookuper composes the lookup chain: memory → Redis → coalescing →
// limit → breaker → provider. rdb may be nil.
func BuildLookuper(c config.Config, provider hlr.Lookuper, rdb redis.UniversalClient, m *hlr.Metrics, logger *slog.Logger) (*hlr.Chain, *cache.Redis, error) {
	opts := hlr.ChainOptions{
		TTL:            c.Cache.TTL,
		TemporaryTTL:   c.Cache.TemporaryTTL,
		Timeout:        c.HLR.Timeout,
		SlotWait:       c.HLR.SlotWait,
		MaxConcurrency: c.HLR.MaxConcurrency,
		Breaker: hlr.BreakerSettings{
			ConsecutiveFailures: uint32(c.HLR.BreakerFailures),
			OpenTimeout:         c.HLR.BreakerOpen,
		},
		Metrics: m,
		Logger:  logger,
	}
	var rc *cache.Redis
	if c.Cache.Enabled() {
		mem, err := cache.NewMemory[hlr.Result](c.Cache.MemoryEntries, cache.MemoryOptions{})
		if err != nil {
			return nil, nil, err
		}
		opts.Memory = mem
		if rdb != nil {
			rc = cache.NewRedis(rdb, cache.RedisOptions{Prefix: c.Redis.KeyPrefix + cache.DefaultRedisPrefix, OpTimeout: c.Redis.Timeout, Logger: logger})
			opts.Redis = rc
		}
	}
	chain, err := hlr.NewChain(provider, opts)
	return chain, rc, err
}

// BuildResolver puts the numbering rules (HLR_DEFAULT_REGION, the
// accounts' default_region, HLR_PRECHECK) and the prefix rules
// (HLR_RULES_FILE) in front of the lookup chain.
func BuildResolver(c config.Config, chain hlr.Lookuper, codes hlr.ErrCodes, m *hlr.Metrics) (*hlr.Resolver, error) {
	rules, err := hlr.NewRulesHolder(c.HLR.RulesFile, codes)
	if err != nil {
		return nil, fmt.Errorf("config: HLR_RULES_FILE: %w", err)
	}
	return hlr.NewResolver(chain, hlr.ResolverOptions{
		DefaultRegion:  c.HLR.DefaultRegion,
		AccountRegions: AccountRegions(c.Accounts()),
		Precheck:       c.HLR.PrecheckMode(),
		Rules:          rules,
		ErrCodes:       codes,
		Metrics:        m,
	}), nil
}

// AccountRegions maps each account with a default_region to it.
func AccountRegions(accounts []config.Account) map[string]string {
	out := make(map[string]string, len(accounts))
	for _, a := range accounts {
		if a.DefaultRegion != "" {
			out[a.SystemID] = a.DefaultRegion
		}
	}
	return out
}

// Accounts converts the configured accounts for the SMPP server.
func Accounts(c config.Config) []smpp.Account {
	return convertAccounts(c.Accounts(), c.DLR.MaxPendingPerAccount)
}

// convertAccounts converts accounts read at start or on a reload; an
// account without max_pending_receipts gets defaultPending
// (DLR_MAX_PENDING_PER_ACCOUNT, read only at start).
func convertAccounts(accounts []config.Account, defaultPending int) []smpp.Account {
	out := make([]smpp.Account, 0, len(accounts))
	for _, a := range accounts {
		maxPending := a.MaxPendingReceipts
		if maxPending <= 0 {
			maxPending = defaultPending
		}
		out = append(out, smpp.Account{
			SystemID: a.SystemID, Password: a.Password, MaxBinds: a.MaxBinds,
			Throughput: a.Throughput, AllowedNetworks: a.AllowedNetworks, MaxPending: maxPending,
		})
	}
	return out
}
