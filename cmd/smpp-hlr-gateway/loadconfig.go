package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// loadConfig is the one validation of the configuration: serve and
// check-config both call it, so check-config accepts exactly what serve
// starts with. Beyond config.Load it builds (and releases) what serve
// builds from the configuration alone, without touching the network: the
// logger, the HLR provider (credentials, HLR_BASE_URL, HLR_ERR_CODES), the
// destination resolver (HLR_RULES_FILE, regions) and the Redis client
// (REDIS_URL's form). An error here means exit 2.
func loadConfig(env func(string) string) (config.Config, error) {
	cfg, err := config.Load(env)
	if err != nil {
		return cfg, err
	}
	if _, err := logging.New(io.Discard, cfg.Log.Level, cfg.Log.Format); err != nil {
		return cfg, fmt.Errorf("config: LOG_LEVEL/LOG_FORMAT: %w", err)
	}
	provider, codes, err := app.BuildProvider(cfg, logging.Discard())
	if err != nil {
		return cfg, err
	}
	if c, ok := provider.(io.Closer); ok {
		defer c.Close()
	}
	if _, err := app.BuildResolver(cfg, provider, codes, nil); err != nil {
		return cfg, err
	}
	if cfg.Redis.Enabled() {
		rdb, err := app.NewRedisClient(cfg.Redis)
		if err != nil {
			return cfg, err
		}
		_ = rdb.Close()
	}
	return cfg, nil
}

// rulesFileWarnings names the accounts HLR_RULES_FILE has lists for but
// the configuration does not know (app.RulesFileWarnings). loadConfig has
// read the file already; errors here are its.
func rulesFileWarnings(cfg config.Config) []string {
	if cfg.HLR.RulesFile == "" {
		return nil
	}
	codes, err := hlr.ParseErrCodes(cfg.HLR.ErrCodes)
	if err != nil {
		return nil
	}
	rules, err := hlr.ReadRulesFile(cfg.HLR.RulesFile, codes)
	if err != nil {
		return nil
	}
	return app.RulesFileWarnings(cfg.HLR.RulesFile, rules, cfg.Accounts())
}

// accountsFileWarning says when the accounts file (it holds passwords) can
// be read by every user of the machine; "" otherwise.
func accountsFileWarning(cfg config.Config) string {
	path := cfg.SMPP.AccountsFile
	if path == "" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm()&0o004 == 0 {
		return ""
	}
	return fmt.Sprintf("SMPP_ACCOUNTS_FILE %s is readable by every user (mode %04o) and holds passwords: chmod o-r it", path, st.Mode().Perm())
}

// listenHostWarnings says which of the hosts serve listens on do not
// resolve here (serve would exit at its start naming the listener).
// Resolution depends on where the gateway runs (a container's own names),
// so check-config warns rather than refusing the configuration. lookup
// is net.Resolver.LookupHost in production.
func listenHostWarnings(ctx context.Context, cfg config.Config, lookup func(context.Context, string) ([]string, error)) []string {
	hosts := []struct{ name, host string }{{"SMPP_HOST", cfg.SMPP.Host}}
	if cfg.Metrics.Enabled {
		hosts = append(hosts, struct{ name, host string }{"METRICS_HOST", cfg.Metrics.Host})
	}
	var out []string
	for _, h := range hosts {
		if net.ParseIP(h.host) != nil {
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, hostLookupTimeout)
		_, err := lookup(ctx, h.host)
		cancel()
		if err != nil {
			out = append(out, fmt.Sprintf("%s %q does not resolve here (%v): serve would fail to listen", h.name, h.host, err))
		}
	}
	return out
}

// hostLookupTimeout bounds each name lookup of check-config.
const hostLookupTimeout = 3 * time.Second
