package config

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
)

// Limits applied by Validate.
const (
	MinPDUSize = 512
	MaxPDUSize = 16 << 20
	// minLogBufferBytes keeps a LOG_BUFFER_BYTES typo from dropping every
	// line (a line longer than the buffer is always dropped).
	minLogBufferBytes = 64 << 10
)

// Validate checks every value and the rules between them. It returns the
// first problem found as a *FieldError (one line, naming the variable).
func (c Config) Validate() error {
	checks := []func() error{
		c.validateSMPP,
		c.validateTLS,
		c.validateHLR,
		c.validateCacheRedis,
		c.validateDLR,
		c.validateLogMetrics,
		c.validatePorts,
		func() error { return validateAccounts(c.Accounts(), c.SMPP.AccountsFile) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (c Config) validateSMPP() error {
	s := c.SMPP
	if err := validHost("SMPP_HOST", s.Host); err != nil {
		return err
	}
	if s.SystemName == "" || len(s.SystemName) > MaxSystemIDLen {
		return fieldErr("SMPP_SYSTEM_NAME", "%q must be 1 to %d characters", s.SystemName, MaxSystemIDLen)
	}
	for _, v := range []struct {
		name string
		n    int
	}{
		{"SMPP_WINDOW", s.Window},
		{"SMPP_MAX_CONNECTIONS", s.MaxConnections},
		{"SMPP_MAX_PREBIND_REQUESTS", s.MaxPrebindRequests},
		{"SMPP_BIND_GUARD_ENTRIES", s.BindGuardEntries},
	} {
		if v.n < 1 {
			return fieldErr(v.name, "%d must be at least 1", v.n)
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{ // 0 turns these off
		{"SMPP_MAX_CONNECTIONS_PER_IP", s.MaxConnectionsPerIP},
		{"SMPP_MAX_UNBOUND_CONNECTIONS", s.MaxUnboundConnections},
		{"SMPP_MAX_BINDS_PER_ACCOUNT", s.MaxBindsPerAccount},
		{"SMPP_MAX_FAILED_BINDS", s.MaxFailedBinds},
		{"SMPP_MAX_OUTPUT_BYTES_TOTAL", s.MaxOutputBytesTotal},
		{"SMPP_MAX_IDLE_PDUS_PER_SECOND", s.MaxIdlePDUsPerSecond},
	} {
		if v.n < 0 {
			return fieldErr(v.name, "%d must be 0 (no limit) or more", v.n)
		}
	}
	if s.MaxPDUSize < MinPDUSize || s.MaxPDUSize > MaxPDUSize {
		return fieldErr("SMPP_MAX_PDU_SIZE", "%d is outside %d..%d", s.MaxPDUSize, MinPDUSize, MaxPDUSize)
	}
	if err := positive("SMPP_BIND_TIMEOUT_SECONDS", s.BindTimeout); err != nil {
		return err
	}
	if err := nonNegative("SMPP_ENQUIRE_LINK_SECONDS", s.EnquireLinkInterval); err != nil {
		return err
	}
	if err := positive("SMPP_ENQUIRE_LINK_TIMEOUT_SECONDS", s.EnquireLinkTimeout); err != nil {
		return err
	}
	if err := nonNegative("SMPP_INACTIVITY_TIMEOUT_SECONDS", s.InactivityTimeout); err != nil {
		return err
	}
	if err := positive("SMPP_RESPONSE_TIMEOUT_SECONDS", s.ResponseTimeout); err != nil {
		return err
	}
	if s.MaxOutputBytes < s.MaxPDUSize {
		return fieldErr("SMPP_MAX_OUTPUT_BYTES", "%d must be at least SMPP_MAX_PDU_SIZE (%d)", s.MaxOutputBytes, s.MaxPDUSize)
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{
		{"SMPP_UNBIND_TIMEOUT_SECONDS", s.UnbindTimeout},
		{"SMPP_SLOW_CONSUMER_TIMEOUT_SECONDS", s.SlowConsumerTimeout},
		{"SMPP_FAILED_BIND_DELAY_SECONDS", s.FailedBindDelay},
		{"SMPP_FAILED_BIND_BLOCK_SECONDS", s.FailedBindBlock},
	} {
		if err := positive(v.name, v.d); err != nil {
			return err
		}
	}
	if s.EnquireLinkInterval > 0 && s.InactivityTimeout > 0 && s.EnquireLinkInterval >= s.InactivityTimeout {
		return fieldErr("SMPP_ENQUIRE_LINK_SECONDS", "%s must be below SMPP_INACTIVITY_TIMEOUT_SECONDS (%s)",
			formatSeconds(s.EnquireLinkInterval), formatSeconds(s.InactivityTimeout))
	}
	return nil
}

func (c Config) validateTLS() error {
	t := c.TLS
	switch {
	case t.Port == 0 && t.CertFile == "" && t.KeyFile == "":
		return nil
	case t.Port == 0:
		return fieldErr("SMPP_TLS_PORT", "is empty but SMPP_TLS_CERT_FILE or SMPP_TLS_KEY_FILE is set; set all three or none")
	case t.CertFile == "":
		return fieldErr("SMPP_TLS_CERT_FILE", "is empty but SMPP_TLS_PORT is set")
	case t.KeyFile == "":
		return fieldErr("SMPP_TLS_KEY_FILE", "is empty but SMPP_TLS_PORT is set")
	}
	_, err := t.KeyPair()
	return err
}

func (c Config) validateHLR() error {
	h := c.HLR
	if err := oneOf("HLR_PROVIDER", h.Provider, ProviderTMT, ProviderSimulator); err != nil {
		return err
	}
	if h.Provider == ProviderTMT {
		if h.APIKey == "" {
			return fieldErr("HLR_API_KEY", "is required with HLR_PROVIDER=tmt (or use HLR_PROVIDER=simulator)")
		}
		if h.APISecret == "" {
			return fieldErr("HLR_API_SECRET", "is required with HLR_PROVIDER=tmt (or use HLR_PROVIDER=simulator)")
		}
	}
	u, err := url.Parse(h.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fieldErr("HLR_BASE_URL", "%q is not an http or https URL", h.BaseURL)
	}
	if p := u.Port(); p != "" {
		// url.Parse takes any digits; the dial would refuse them at the
		// first lookup, after the start passed.
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fieldErr("HLR_BASE_URL", "%q: port %q is not 1-65535", h.BaseURL, p)
		}
	}
	if err := positive("HLR_TIMEOUT_SECONDS", h.Timeout); err != nil {
		return err
	}
	if err := positive("HLR_SLOT_WAIT_SECONDS", h.SlotWait); err != nil {
		return err
	}
	if err := oneOf("HLR_TIMEOUT_POLICY", h.TimeoutPolicy, PolicyReject, PolicyAccept); err != nil {
		return err
	}
	if err := oneOf("HLR_ERROR_POLICY", h.ErrorPolicy, PolicyAccept, PolicyReject); err != nil {
		return err
	}
	if n := h.MaxConcurrency; n < 1 || n > maxHLRConcurrency {
		return fieldErr("HLR_MAX_CONCURRENCY", "%d must be 1 to %d", n, maxHLRConcurrency)
	}
	if _, err := hlr.ParseErrCodes(h.ErrCodes); err != nil {
		return fieldErrCause("HLR_ERR_CODES", err, "%v", err)
	}
	if h.BreakerFailures < 1 {
		return fieldErr("HLR_BREAKER_FAILURES", "%d must be at least 1", h.BreakerFailures)
	}
	if err := positive("HLR_BREAKER_OPEN_SECONDS", h.BreakerOpen); err != nil {
		return err
	}
	if h.SimulatorLatency < 0 {
		return fieldErr("SIMULATOR_LATENCY_MS", "%d must not be negative", h.SimulatorLatency.Milliseconds())
	}
	return c.validateNumbering()
}

// validateNumbering checks the region, the precheck mode and the rules
// file, with the parsers serve uses.
func (c Config) validateNumbering() error {
	h := c.HLR
	if err := hlr.CheckRegion(h.DefaultRegion); err != nil {
		return fieldErrCause("HLR_DEFAULT_REGION", err, "%q is not an ISO 3166-1 region code with a numbering plan (e.g. GB, DE, US)", h.DefaultRegion)
	}
	if !slices.Contains([]string{"", "auto", "true", "false"}, h.Precheck) {
		return fieldErr("HLR_PRECHECK", "%q is not one of auto (or empty), true, false", h.Precheck)
	}
	if h.RulesFile != "" {
		codes, _ := hlr.ParseErrCodes(h.ErrCodes) // checked above
		if _, err := hlr.ReadRulesFile(h.RulesFile, codes); err != nil {
			return fieldErrCause("HLR_RULES_FILE", err, "%v", err)
		}
	}
	return nil
}

// PrecheckMode is HLR_PRECHECK as the lookup layer reads it.
func (h HLR) PrecheckMode() hlr.Precheck {
	switch h.Precheck {
	case "true":
		return hlr.PrecheckOn
	case "false":
		return hlr.PrecheckOff
	default:
		return hlr.PrecheckAuto
	}
}

func (c Config) validateCacheRedis() error {
	if err := nonNegative("HLR_CACHE_TTL_SECONDS", c.Cache.TTL); err != nil {
		return err
	}
	if err := nonNegative("HLR_CACHE_TTL_TEMPORARY_SECONDS", c.Cache.TemporaryTTL); err != nil {
		return err
	}
	if c.Cache.MemoryEntries < 1 {
		return fieldErr("HLR_CACHE_MEMORY_ENTRIES", "%d must be at least 1", c.Cache.MemoryEntries)
	}
	if err := validRedisURL(c.Redis.URL); err != nil {
		return err
	}
	if n := c.Redis.MaxConnections; n < 1 || n > redisconn.MaxPoolSize {
		return fieldErr("REDIS_MAX_CONNECTIONS", "%d must be 1 to %d", n, redisconn.MaxPoolSize)
	}
	if c.Redis.WaitReplicas < 0 {
		return fieldErr("REDIS_WAIT_REPLICAS", "%d must not be negative", c.Redis.WaitReplicas)
	}
	if c.Redis.WaitReplicas > 0 && c.Redis.WaitTimeout <= 0 {
		return fieldErr("REDIS_WAIT_TIMEOUT_MS", "must be positive when REDIS_WAIT_REPLICAS is set (0 would wait forever)")
	}
	if err := positive("REDIS_TIMEOUT_SECONDS", c.Redis.Timeout); err != nil {
		return err
	}
	// 0 would leave every commit's share and every claim to run on
	// without waiting for it at all.
	if err := positive("REDIS_SLOW_MS", c.Redis.SlowAfter); err != nil {
		return err
	}
	// The WAIT ends a pipeline, whose replies the client reads with
	// REDIS_TIMEOUT_SECONDS as the read timeout: a longer WAIT would make
	// every commit time out.
	if c.Redis.WaitReplicas > 0 && c.Redis.WaitTimeout >= c.Redis.Timeout {
		return fieldErr("REDIS_WAIT_TIMEOUT_MS", "%d must be below REDIS_TIMEOUT_SECONDS (%v), the client's read timeout",
			c.Redis.WaitTimeout.Milliseconds(), c.Redis.Timeout)
	}
	return nil
}

func (c Config) validateDLR() error {
	d := c.DLR
	if err := nonNegative("DLR_DELAY_SECONDS", d.Delay); err != nil {
		return err
	}
	if err := oneOf("DLR_MODE", d.Mode, ModeAlways, ModeRequested); err != nil {
		return err
	}
	for _, v := range []struct {
		name string
		d    time.Duration
	}{
		{"DLR_TTL_SECONDS", d.TTL},
		{"DLR_RETRY_MIN_SECONDS", d.RetryMin},
		{"DLR_RETRY_MAX_SECONDS", d.RetryMax},
		{"DLR_VISIBILITY_TIMEOUT_SECONDS", d.VisibilityTimeout},
	} {
		if err := positive(v.name, v.d); err != nil {
			return err
		}
	}
	if d.RetryMax < d.RetryMin {
		return fieldErr("DLR_RETRY_MAX_SECONDS", "%s must not be below DLR_RETRY_MIN_SECONDS (%s)",
			formatSeconds(d.RetryMax), formatSeconds(d.RetryMin))
	}
	if d.VisibilityTimeout <= c.SMPP.ResponseTimeout {
		return fieldErr("DLR_VISIBILITY_TIMEOUT_SECONDS", "%s must be above SMPP_RESPONSE_TIMEOUT_SECONDS (%s)",
			formatSeconds(d.VisibilityTimeout), formatSeconds(c.SMPP.ResponseTimeout))
	}
	if d.BufferSize < 1 {
		return fieldErr("DLR_BUFFER_SIZE", "%d must be at least 1", d.BufferSize)
	}
	if d.MaxPendingPerAccount < 0 {
		return fieldErr("DLR_MAX_PENDING_PER_ACCOUNT", "%d must not be negative (0 = no cap)", d.MaxPendingPerAccount)
	}
	if d.DispatcherShards < 0 || d.DispatcherShards > maxDispatcherShards {
		return fieldErr("DLR_DISPATCHER_SHARDS", "%d must be 0 (GOMAXPROCS) to %d", d.DispatcherShards, maxDispatcherShards)
	}
	if d.MaxDeliverInflight < 1 || d.MaxDeliverInflight > maxDeliverInflight {
		return fieldErr("DLR_MAX_DELIVER_INFLIGHT", "%d must be 1 to %d", d.MaxDeliverInflight, maxDeliverInflight)
	}
	return nil
}

func (c Config) validateLogMetrics() error {
	if err := oneOf("LOG_LEVEL", c.Log.Level, LevelDebug, LevelInfo, LevelWarning, LevelError); err != nil {
		return err
	}
	if err := oneOf("LOG_FORMAT", c.Log.Format, FormatJSON, FormatConsole); err != nil {
		return err
	}
	if b := c.Log.BufferBytes; b != 0 && b < minLogBufferBytes {
		return fieldErr("LOG_BUFFER_BYTES", "%d must be 0 (no buffer) or at least %d", b, minLogBufferBytes)
	}
	if err := validHost("METRICS_HOST", c.Metrics.Host); err != nil {
		return err
	}
	if err := positive("SHUTDOWN_TIMEOUT_SECONDS", c.Shutdown.Timeout); err != nil {
		return err
	}
	if c.Instance.BindLease < 3*time.Second {
		return fieldErr("SMPP_BIND_LEASE_SECONDS", "%v must be at least 3", c.Instance.BindLease.Seconds())
	}
	if strings.TrimSpace(c.Metrics.AdminToken) != c.Metrics.AdminToken {
		return fieldErr("ADMIN_TOKEN", "must not begin or end with white space")
	}
	// Both are served on the metrics port: set with it off, they would
	// be silently absent.
	if c.Metrics.AdminToken != "" && !c.Metrics.Enabled {
		return fieldErr("ADMIN_TOKEN", "is set but METRICS_ENABLED=false: the admin API is served on the metrics port")
	}
	if c.Metrics.Pprof && !c.Metrics.Enabled {
		return fieldErr("PPROF_ENABLED", "is true but METRICS_ENABLED=false: /debug/pprof/ is served on the metrics port")
	}
	if m := c.Metrics.MaxConnections; m < 1 || m > maxMetricsConnections {
		return fieldErr("METRICS_MAX_CONNECTIONS", "%d must be 1 to %d", m, maxMetricsConnections)
	}
	if !instanceIDPattern.MatchString(c.Instance.ID) {
		return fieldErr("INSTANCE_ID", "%q must be 1 to 64 of A-Z a-z 0-9 . _ -", c.Instance.ID)
	}
	if h := c.Runtime.GCHeadroomMB; h < 0 || h > maxGCHeadroomMB {
		return fieldErr("GC_HEADROOM_MB", "%d must be 0 (off) to %d", h, maxGCHeadroomMB)
	}
	return nil
}

// maxDispatcherShards bounds DLR_DISPATCHER_SHARDS: each loop holds a
// goroutine, timers and tables, and more loops than cores only add
// wakeups (100,000 of them idled at 100 % of a core and 764 MB).
const maxDispatcherShards = 256

// maxDeliverInflight bounds DLR_MAX_DELIVER_INFLIGHT: each place holds a
// receipt and its answer's timer until the client answers or the response
// timeout ends.
const maxDeliverInflight = 1 << 20

// maxHLRConcurrency bounds HLR_MAX_CONCURRENCY: it starts that many
// workers, with a queue of four submits each, at start.
const maxHLRConcurrency = 65536

// maxMetricsConnections bounds METRICS_MAX_CONNECTIONS: each connection
// holds a descriptor and a goroutine.
const maxMetricsConnections = 65536

// maxGCHeadroomMB bounds GC_HEADROOM_MB: the garbage a process may hold
// between collections is at most this (and four times the live heap).
const maxGCHeadroomMB = 4096

// validatePorts checks ranges and that no two listeners share a port.
func (c Config) validatePorts() error {
	ports := []struct {
		name string
		port int
		on   bool
	}{
		{"SMPP_PORT", c.SMPP.Port, true},
		{"SMPP_TLS_PORT", c.TLS.Port, c.TLS.Enabled()},
		{"METRICS_PORT", c.Metrics.Port, c.Metrics.Enabled},
	}
	for i, p := range ports {
		if p.port < 0 || p.port > 65535 {
			return fieldErr(p.name, "%d is not a port number", p.port)
		}
		for _, q := range ports[:i] {
			if p.on && q.on && p.port != 0 && p.port == q.port {
				return fieldErr(p.name, "%d is already used by %s", p.port, q.name)
			}
		}
	}
	return nil
}

var instanceIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func validRedisURL(raw string) error {
	if raw == "" {
		return nil
	}
	if _, err := redisconn.Parse(raw); err != nil {
		return fieldErr("REDIS_URL", "%v", err)
	}
	return nil
}

func validHost(name, host string) error {
	if host == "" || strings.ContainsAny(host, " \t\r\n/[]") {
		return fieldErr(name, "%q is not a host name or address", host)
	}
	return nil
}

func oneOf(name, value string, allowed ...string) error {
	if slices.Contains(allowed, value) {
		return nil
	}
	return fieldErr(name, "%q is not one of %s", value, strings.Join(allowed, ", "))
}

func positive(name string, d time.Duration) error {
	if d <= 0 {
		return fieldErr(name, "%s must be above 0", formatSeconds(d))
	}
	return nil
}

func nonNegative(name string, d time.Duration) error {
	if d < 0 {
		return fieldErr(name, "%s must not be negative", formatSeconds(d))
	}
	return nil
}
