package config

import (
	"strconv"
	"strings"
	"time"
)

// variable describes one environment variable: how to parse it into a
// Config and how to print it back.
type variable struct {
	name   string
	secret bool
	get    func(c *Config) string
	set    func(c *Config, raw string) error
}

// variables lists every environment variable the gateway reads, in the
// order check-config prints them.
func variables() []variable {
	return []variable{
		strVar("SMPP_HOST", func(c *Config) *string { return &c.SMPP.Host }),
		portVar("SMPP_PORT", func(c *Config) *int { return &c.SMPP.Port }),
		strVar("SMPP_SYSTEM_ID", func(c *Config) *string { return &c.SMPP.SystemID }),
		secretVar("SMPP_PASSWORD", func(c *Config) *string { return &c.SMPP.Password }),
		strVar("SMPP_ACCOUNTS_FILE", func(c *Config) *string { return &c.SMPP.AccountsFile }),
		intVar("SMPP_WINDOW", func(c *Config) *int { return &c.SMPP.Window }),
		intVar("SMPP_MAX_CONNECTIONS", func(c *Config) *int { return &c.SMPP.MaxConnections }),
		intVar("SMPP_MAX_PDU_SIZE", func(c *Config) *int { return &c.SMPP.MaxPDUSize }),
		secondsVar("SMPP_BIND_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.BindTimeout }),
		secondsVar("SMPP_ENQUIRE_LINK_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.EnquireLinkInterval }),
		secondsVar("SMPP_ENQUIRE_LINK_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.EnquireLinkTimeout }),
		secondsVar("SMPP_INACTIVITY_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.InactivityTimeout }),
		secondsVar("SMPP_RESPONSE_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.ResponseTimeout }),
		strVar("SMPP_SYSTEM_NAME", func(c *Config) *string { return &c.SMPP.SystemName }),
		secondsVar("SMPP_UNBIND_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.UnbindTimeout }),
		intVar("SMPP_MAX_CONNECTIONS_PER_IP", func(c *Config) *int { return &c.SMPP.MaxConnectionsPerIP }),
		intVar("SMPP_MAX_UNBOUND_CONNECTIONS", func(c *Config) *int { return &c.SMPP.MaxUnboundConnections }),
		intVar("SMPP_MAX_BINDS_PER_ACCOUNT", func(c *Config) *int { return &c.SMPP.MaxBindsPerAccount }),
		intVar("SMPP_MAX_OUTPUT_BYTES", func(c *Config) *int { return &c.SMPP.MaxOutputBytes }),
		intVar("SMPP_MAX_OUTPUT_BYTES_TOTAL", func(c *Config) *int { return &c.SMPP.MaxOutputBytesTotal }),
		secondsVar("SMPP_SLOW_CONSUMER_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.SlowConsumerTimeout }),
		intVar("SMPP_MAX_PREBIND_REQUESTS", func(c *Config) *int { return &c.SMPP.MaxPrebindRequests }),
		secondsVar("SMPP_FAILED_BIND_DELAY_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.FailedBindDelay }),
		intVar("SMPP_MAX_FAILED_BINDS", func(c *Config) *int { return &c.SMPP.MaxFailedBinds }),
		secondsVar("SMPP_FAILED_BIND_BLOCK_SECONDS", func(c *Config) *time.Duration { return &c.SMPP.FailedBindBlock }),
		intVar("SMPP_BIND_GUARD_ENTRIES", func(c *Config) *int { return &c.SMPP.BindGuardEntries }),
		intVar("SMPP_MAX_IDLE_PDUS_PER_SECOND", func(c *Config) *int { return &c.SMPP.MaxIdlePDUsPerSecond }),

		portVar("SMPP_TLS_PORT", func(c *Config) *int { return &c.TLS.Port }),
		strVar("SMPP_TLS_CERT_FILE", func(c *Config) *string { return &c.TLS.CertFile }),
		strVar("SMPP_TLS_KEY_FILE", func(c *Config) *string { return &c.TLS.KeyFile }),

		lowerVar("HLR_PROVIDER", func(c *Config) *string { return &c.HLR.Provider }),
		secretVar("HLR_API_KEY", func(c *Config) *string { return &c.HLR.APIKey }),
		secretVar("HLR_API_SECRET", func(c *Config) *string { return &c.HLR.APISecret }),
		strVar("HLR_BASE_URL", func(c *Config) *string { return &c.HLR.BaseURL }),
		secondsVar("HLR_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.HLR.Timeout }),
		secondsVar("HLR_SLOT_WAIT_SECONDS", func(c *Config) *time.Duration { return &c.HLR.SlotWait }),
		lowerVar("HLR_TIMEOUT_POLICY", func(c *Config) *string { return &c.HLR.TimeoutPolicy }),
		lowerVar("HLR_ERROR_POLICY", func(c *Config) *string { return &c.HLR.ErrorPolicy }),
		intVar("HLR_MAX_CONCURRENCY", func(c *Config) *int { return &c.HLR.MaxConcurrency }),
		strVar("HLR_ERR_CODES", func(c *Config) *string { return &c.HLR.ErrCodes }),
		intVar("HLR_BREAKER_FAILURES", func(c *Config) *int { return &c.HLR.BreakerFailures }),
		secondsVar("HLR_BREAKER_OPEN_SECONDS", func(c *Config) *time.Duration { return &c.HLR.BreakerOpen }),
		{name: "HLR_DEFAULT_REGION",
			get: func(c *Config) string { return c.HLR.DefaultRegion },
			set: func(c *Config, raw string) error { c.HLR.DefaultRegion = strings.ToUpper(raw); return nil }},
		lowerVar("HLR_PRECHECK", func(c *Config) *string { return &c.HLR.Precheck }),
		strVar("HLR_RULES_FILE", func(c *Config) *string { return &c.HLR.RulesFile }),
		secondsVar("HLR_CACHE_TTL_SECONDS", func(c *Config) *time.Duration { return &c.Cache.TTL }),
		secondsVar("HLR_CACHE_TTL_TEMPORARY_SECONDS", func(c *Config) *time.Duration { return &c.Cache.TemporaryTTL }),
		intVar("HLR_CACHE_MEMORY_ENTRIES", func(c *Config) *int { return &c.Cache.MemoryEntries }),
		millisVar("SIMULATOR_LATENCY_MS", func(c *Config) *time.Duration { return &c.HLR.SimulatorLatency }),

		{name: "REDIS_URL", secret: true,
			get: func(c *Config) string { return c.Redis.URL },
			set: func(c *Config, raw string) error { c.Redis.URL = raw; return nil }},
		intVar("REDIS_MAX_CONNECTIONS", func(c *Config) *int { return &c.Redis.MaxConnections }),
		secondsVar("REDIS_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.Redis.Timeout }),
		strVar("REDIS_KEY_PREFIX", func(c *Config) *string { return &c.Redis.KeyPrefix }),
		intVar("REDIS_WAIT_REPLICAS", func(c *Config) *int { return &c.Redis.WaitReplicas }),
		millisVar("REDIS_WAIT_TIMEOUT_MS", func(c *Config) *time.Duration { return &c.Redis.WaitTimeout }),
		millisVar("REDIS_SLOW_MS", func(c *Config) *time.Duration { return &c.Redis.SlowAfter }),

		secondsVar("DLR_DELAY_SECONDS", func(c *Config) *time.Duration { return &c.DLR.Delay }),
		lowerVar("DLR_MODE", func(c *Config) *string { return &c.DLR.Mode }),
		secondsVar("DLR_TTL_SECONDS", func(c *Config) *time.Duration { return &c.DLR.TTL }),
		secondsVar("DLR_RETRY_MIN_SECONDS", func(c *Config) *time.Duration { return &c.DLR.RetryMin }),
		secondsVar("DLR_RETRY_MAX_SECONDS", func(c *Config) *time.Duration { return &c.DLR.RetryMax }),
		intVar("DLR_BUFFER_SIZE", func(c *Config) *int { return &c.DLR.BufferSize }),
		intVar("DLR_MAX_PENDING_PER_ACCOUNT", func(c *Config) *int { return &c.DLR.MaxPendingPerAccount }),
		intVar("DLR_DISPATCHER_SHARDS", func(c *Config) *int { return &c.DLR.DispatcherShards }),
		intVar("DLR_MAX_DELIVER_INFLIGHT", func(c *Config) *int { return &c.DLR.MaxDeliverInflight }),
		secondsVar("DLR_VISIBILITY_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.DLR.VisibilityTimeout }),

		{name: "LOG_LEVEL",
			get: func(c *Config) string { return c.Log.Level },
			set: func(c *Config, raw string) error { c.Log.Level = normalizeLevel(raw); return nil }},
		lowerVar("LOG_FORMAT", func(c *Config) *string { return &c.Log.Format }),
		// Bound of the log lines waiting for standard error. A full buffer
		// drops (and counts, and reports) lines rather than blocking the
		// session goroutines that log; 0 writes each line synchronously.
		intVar("LOG_BUFFER_BYTES", func(c *Config) *int { return &c.Log.BufferBytes }),

		boolVar("METRICS_ENABLED", func(c *Config) *bool { return &c.Metrics.Enabled }),
		strVar("METRICS_HOST", func(c *Config) *string { return &c.Metrics.Host }),
		portVar("METRICS_PORT", func(c *Config) *int { return &c.Metrics.Port }),
		boolVar("PPROF_ENABLED", func(c *Config) *bool { return &c.Metrics.Pprof }),
		secretVar("ADMIN_TOKEN", func(c *Config) *string { return &c.Metrics.AdminToken }),
		intVar("METRICS_MAX_CONNECTIONS", func(c *Config) *int { return &c.Metrics.MaxConnections }),

		secondsVar("SHUTDOWN_TIMEOUT_SECONDS", func(c *Config) *time.Duration { return &c.Shutdown.Timeout }),
		strVar("INSTANCE_ID", func(c *Config) *string { return &c.Instance.ID }),
		secondsVar("SMPP_BIND_LEASE_SECONDS", func(c *Config) *time.Duration { return &c.Instance.BindLease }),
		intVar("GC_HEADROOM_MB", func(c *Config) *int { return &c.Runtime.GCHeadroomMB }),
	}
}

// normalizeLevel upper-cases a level name and maps WARN to WARNING.
func normalizeLevel(s string) string {
	s = strings.ToUpper(s)
	if s == "WARN" {
		return LevelWarning
	}
	return s
}

func strVar(name string, p func(*Config) *string) variable {
	return variable{name: name,
		get: func(c *Config) string { return *p(c) },
		set: func(c *Config, raw string) error { *p(c) = raw; return nil }}
}

func secretVar(name string, p func(*Config) *string) variable {
	v := strVar(name, p)
	v.secret = true
	return v
}

func lowerVar(name string, p func(*Config) *string) variable {
	return variable{name: name,
		get: func(c *Config) string { return *p(c) },
		set: func(c *Config, raw string) error { *p(c) = strings.ToLower(raw); return nil }}
}

func intVar(name string, p func(*Config) *int) variable {
	return variable{name: name,
		get: func(c *Config) string { return strconv.Itoa(*p(c)) },
		set: func(c *Config, raw string) error {
			n, err := strconv.Atoi(strings.ReplaceAll(raw, "_", ""))
			if err != nil {
				return fieldErrCause(name, err, "%q is not an integer", raw)
			}
			*p(c) = n
			return nil
		}}
}

func portVar(name string, p func(*Config) *int) variable {
	return variable{name: name,
		get: func(c *Config) string {
			if *p(c) == 0 && name == "SMPP_TLS_PORT" {
				return ""
			}
			return strconv.Itoa(*p(c))
		},
		set: func(c *Config, raw string) error {
			n, err := strconv.ParseUint(raw, 10, 16)
			if err != nil {
				return fieldErrCause(name, err, "%q is not a port number", raw)
			}
			*p(c) = int(n)
			return nil
		}}
}

func secondsVar(name string, p func(*Config) *time.Duration) variable {
	return variable{name: name,
		get: func(c *Config) string { return formatSeconds(*p(c)) },
		set: func(c *Config, raw string) error {
			f, err := strconv.ParseFloat(raw, 64)
			if err != nil || f != f || f > 1e9 || f < -1e9 {
				return fieldErrCause(name, err, "%q is not a number of seconds", raw)
			}
			*p(c) = time.Duration(f * float64(time.Second))
			return nil
		}}
}

func millisVar(name string, p func(*Config) *time.Duration) variable {
	return variable{name: name,
		get: func(c *Config) string { return strconv.FormatInt(p(c).Milliseconds(), 10) },
		set: func(c *Config, raw string) error {
			n, err := strconv.ParseInt(raw, 10, 32)
			if err != nil {
				return fieldErrCause(name, err, "%q is not a number of milliseconds", raw)
			}
			*p(c) = time.Duration(n) * time.Millisecond
			return nil
		}}
}

func boolVar(name string, p func(*Config) *bool) variable {
	return variable{name: name,
		get: func(c *Config) string { return strconv.FormatBool(*p(c)) },
		set: func(c *Config, raw string) error {
			v, ok := ParseBool(raw)
			if !ok {
				return fieldErr(name, "%q is not a boolean (true or false)", raw)
			}
			*p(c) = v
			return nil
		}}
}

// ParseBool reads a boolean variable as the configuration does: 1, t,
// true, yes, y, on or 0, f, false, no, n, off, in any case. Commands that
// read a variable themselves use it, so they agree with serve.
func ParseBool(raw string) (v, ok bool) {
	switch strings.ToLower(raw) {
	case "1", "t", "true", "yes", "y", "on":
		return true, true
	case "0", "f", "false", "no", "n", "off":
		return false, true
	}
	return false, false
}

// formatSeconds prints a duration as seconds without trailing zeros.
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
