package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
)

// Mask replaces a secret in printed configuration.
const Mask = "****"

// KV is one printed setting.
type KV struct {
	Key   string
	Value string
}

// Redacted returns every variable with its effective value, in the order of
// the variables table, with secrets masked: SMPP_PASSWORD, HLR_API_KEY and
// HLR_API_SECRET become Mask when set, and REDIS_URL and HLR_BASE_URL keep
// everything but their passwords.
func (c Config) Redacted() []KV {
	vars := variables()
	out := make([]KV, 0, len(vars))
	for _, v := range vars {
		val := v.get(&c)
		switch {
		case v.name == "REDIS_URL" || v.name == "HLR_BASE_URL":
			val = redisconn.Redact(val)
		case v.secret && val != "":
			val = Mask
		}
		out = append(out, KV{Key: v.name, Value: val})
	}
	return out
}

// Print writes the effective configuration for check-config: one
// NAME=value line per variable (secrets masked, as Redacted), then one
// comment line per account with its password masked.
func (c Config) Print(w io.Writer) error {
	var b strings.Builder
	for _, kv := range c.Redacted() {
		fmt.Fprintf(&b, "%s=%s\n", kv.Key, kv.Value)
	}
	if c.Cache.TemporaryTTL > c.Cache.TTL {
		fmt.Fprintf(&b, "# HLR_CACHE_TTL_TEMPORARY_SECONDS is capped at HLR_CACHE_TTL_SECONDS: temporary answers are kept %s\n",
			strconv.FormatFloat(c.Cache.TTL.Seconds(), 'f', -1, 64)+" s")
	}
	if c.Runtime.GCFromEnv && c.Runtime.GCHeadroomMB > 0 {
		b.WriteString("# GC_HEADROOM_MB is not applied: GOGC or GOMEMLIMIT is set in the environment\n")
	}
	source := "SMPP_SYSTEM_ID/SMPP_PASSWORD"
	if c.SMPP.AccountsFile != "" {
		source = "SMPP_ACCOUNTS_FILE"
	}
	accounts := c.Accounts()
	fmt.Fprintf(&b, "# %d account(s) from %s\n", len(accounts), source)
	for _, a := range accounts {
		nets := make([]string, len(a.AllowedNetworks))
		for i, p := range a.AllowedNetworks {
			nets[i] = p.String()
		}
		allowed := strings.Join(nets, ",")
		if allowed == "" {
			allowed = "any"
		}
		fmt.Fprintf(&b, "# account system_id=%s password=%s max_binds=%d throughput=%s allowed_networks=%s\n",
			a.SystemID, Mask, a.MaxBinds, strconv.FormatFloat(a.Throughput, 'f', -1, 64), allowed)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("config: print: %w", err)
	}
	return nil
}
