package config

import (
	"net"
	"strconv"
	"time"
)

// Config is the gateway's effective configuration.
type Config struct {
	SMPP     SMPP
	TLS      TLS
	HLR      HLR
	Cache    Cache
	Redis    Redis
	DLR      DLR
	Log      Log
	Metrics  Metrics
	Shutdown Shutdown
	Instance Instance
	Runtime  Runtime
}

// SMPP configures the plain SMPP listener, sessions and the default account.
type SMPP struct {
	Host     string // SMPP_HOST
	Port     int    // SMPP_PORT; 0 picks a free port
	SystemID string // SMPP_SYSTEM_ID, the default account
	Password string // SMPP_PASSWORD, the default account

	// AccountsFile is SMPP_ACCOUNTS_FILE; when set, FileAccounts holds the
	// accounts read from it by Load and the default account is not used.
	AccountsFile string
	FileAccounts []Account

	Window              int           // SMPP_WINDOW: requests in flight per session
	MaxConnections      int           // SMPP_MAX_CONNECTIONS
	MaxPDUSize          int           // SMPP_MAX_PDU_SIZE: largest accepted command_length
	BindTimeout         time.Duration // SMPP_BIND_TIMEOUT_SECONDS
	EnquireLinkInterval time.Duration // SMPP_ENQUIRE_LINK_SECONDS; 0 disables
	EnquireLinkTimeout  time.Duration // SMPP_ENQUIRE_LINK_TIMEOUT_SECONDS
	InactivityTimeout   time.Duration // SMPP_INACTIVITY_TIMEOUT_SECONDS; 0 disables
	ResponseTimeout     time.Duration // SMPP_RESPONSE_TIMEOUT_SECONDS
	SystemName          string        // SMPP_SYSTEM_NAME: system_id in bind responses
	UnbindTimeout       time.Duration // SMPP_UNBIND_TIMEOUT_SECONDS: graceful stop's wait for unbind_resp

	// Limits against clients that misbehave (README "Limits and abuse").
	MaxConnectionsPerIP   int           // SMPP_MAX_CONNECTIONS_PER_IP; 0 = no cap
	MaxUnboundConnections int           // SMPP_MAX_UNBOUND_CONNECTIONS; 0 = no cap
	MaxBindsPerAccount    int           // SMPP_MAX_BINDS_PER_ACCOUNT: binds per instance of an account without max_binds; 0 = no cap
	MaxOutputBytes        int           // SMPP_MAX_OUTPUT_BYTES: output buffer per session
	MaxOutputBytesTotal   int           // SMPP_MAX_OUTPUT_BYTES_TOTAL: all sessions' output beyond 64 KiB each; 0 = no cap
	SlowConsumerTimeout   time.Duration // SMPP_SLOW_CONSUMER_TIMEOUT_SECONDS
	MaxPrebindRequests    int           // SMPP_MAX_PREBIND_REQUESTS
	FailedBindDelay       time.Duration // SMPP_FAILED_BIND_DELAY_SECONDS: first slow-down step
	MaxFailedBinds        int           // SMPP_MAX_FAILED_BINDS: failures before the address is blocked; 0 = never
	FailedBindBlock       time.Duration // SMPP_FAILED_BIND_BLOCK_SECONDS
	BindGuardEntries      int           // SMPP_BIND_GUARD_ENTRIES: size of the failed-bind tables
	MaxIdlePDUsPerSecond  int           // SMPP_MAX_IDLE_PDUS_PER_SECOND: PDUs that do no work, per session and second; 0 = no cap
}

// Addr is the plain listener's host:port.
func (s SMPP) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// TLS configures the optional TLS listener; it shares SMPP.Host.
type TLS struct {
	Port     int    // SMPP_TLS_PORT; 0 (empty) means no TLS listener
	CertFile string // SMPP_TLS_CERT_FILE
	KeyFile  string // SMPP_TLS_KEY_FILE
}

// Enabled reports whether the TLS listener is configured.
func (t TLS) Enabled() bool { return t.Port != 0 }

// HLR configures the lookup provider and its protection.
type HLR struct {
	Provider         string        // HLR_PROVIDER: ProviderTMT or ProviderSimulator
	APIKey           string        // HLR_API_KEY (secret)
	APISecret        string        // HLR_API_SECRET (secret)
	BaseURL          string        // HLR_BASE_URL
	Timeout          time.Duration // HLR_TIMEOUT_SECONDS
	SlotWait         time.Duration // HLR_SLOT_WAIT_SECONDS: longest wait for a provider slot
	TimeoutPolicy    string        // HLR_TIMEOUT_POLICY: PolicyReject or PolicyAccept
	ErrorPolicy      string        // HLR_ERROR_POLICY: PolicyAccept or PolicyReject
	MaxConcurrency   int           // HLR_MAX_CONCURRENCY
	ErrCodes         string        // HLR_ERR_CODES: "name=DDD,..." overrides; empty = built-in table
	BreakerFailures  int           // HLR_BREAKER_FAILURES: consecutive failures that open the breaker
	BreakerOpen      time.Duration // HLR_BREAKER_OPEN_SECONDS: open time before a probe
	DefaultRegion    string        // HLR_DEFAULT_REGION: ISO 3166-1 code for national numbers; "" = none
	Precheck         string        // HLR_PRECHECK: "" (auto: on when a region applies), "true", "false"
	RulesFile        string        // HLR_RULES_FILE: prefix rules and per-account allow/deny lists; "" = none
	SimulatorLatency time.Duration // SIMULATOR_LATENCY_MS
}

// Cache configures the HLR result cache (both tiers).
type Cache struct {
	TTL           time.Duration // HLR_CACHE_TTL_SECONDS; 0 disables caching
	TemporaryTTL  time.Duration // HLR_CACHE_TTL_TEMPORARY_SECONDS: absent, unreachable, ...; 0 = not cached
	MemoryEntries int           // HLR_CACHE_MEMORY_ENTRIES
}

// Enabled reports whether HLR results are cached at all.
func (c Cache) Enabled() bool { return c.TTL > 0 }

// Redis configures the shared Redis (cache tier and durable receipts).
type Redis struct {
	URL            string        // REDIS_URL (may hold a password); empty = in-process only
	MaxConnections int           // REDIS_MAX_CONNECTIONS
	Timeout        time.Duration // REDIS_TIMEOUT_SECONDS: per-command timeout
	KeyPrefix      string        // REDIS_KEY_PREFIX: put before every key, so deployments can share a Redis
	// WaitReplicas (REDIS_WAIT_REPLICAS) > 0: a receipt counts as stored in
	// Redis only after WAIT saw that many replicas acknowledge it within
	// WaitTimeout (REDIS_WAIT_TIMEOUT_MS); until then it is also kept in
	// the memory buffer, and the submit is answered ESME_ROK either way.
	WaitReplicas int
	WaitTimeout  time.Duration
	// SlowAfter (REDIS_SLOW_MS): how long a group commit waits for one
	// Cluster master's share of its receipts, and a receipt dispatcher
	// loop for one claim, before going on without it (the call runs on,
	// bounded by Timeout).
	SlowAfter time.Duration
}

// Enabled reports whether a Redis is configured.
func (r Redis) Enabled() bool { return r.URL != "" }

// DLR configures delivery receipts.
type DLR struct {
	Delay             time.Duration // DLR_DELAY_SECONDS
	Mode              string        // DLR_MODE: ModeAlways or ModeRequested
	TTL               time.Duration // DLR_TTL_SECONDS
	RetryMin          time.Duration // DLR_RETRY_MIN_SECONDS
	RetryMax          time.Duration // DLR_RETRY_MAX_SECONDS
	BufferSize        int           // DLR_BUFFER_SIZE: in-memory buffer while Redis is down
	VisibilityTimeout time.Duration // DLR_VISIBILITY_TIMEOUT_SECONDS: Redis re-delivery after a crash
	// MaxPendingPerAccount (DLR_MAX_PENDING_PER_ACCOUNT) caps the pending
	// receipts of an account without max_pending_receipts in the accounts
	// file; 0 = no cap.
	MaxPendingPerAccount int
	// DispatcherShards (DLR_DISPATCHER_SHARDS) is the number of receipt
	// scheduling loops, each owning the accounts whose system_id hashes to
	// it; 0 = GOMAXPROCS.
	DispatcherShards int
	// MaxDeliverInflight (DLR_MAX_DELIVER_INFLIGHT) bounds the receipts'
	// deliver_sm awaiting their answers, all accounts together.
	MaxDeliverInflight int
}

// Log configures logging.
type Log struct {
	Level  string // LOG_LEVEL, normalised: DEBUG, INFO, WARNING or ERROR
	Format string // LOG_FORMAT: FormatJSON or FormatConsole
	// BufferBytes (LOG_BUFFER_BYTES) bounds the lines waiting to be
	// written; lines that do not fit are dropped and counted. 0: no
	// buffer, every line is written by its caller.
	BufferBytes int
}

// Metrics configures the admin HTTP server (/metrics, /healthz, /readyz).
type Metrics struct {
	Enabled bool   // METRICS_ENABLED; false opens no port
	Host    string // METRICS_HOST
	Port    int    // METRICS_PORT; 0 picks a free port
	Pprof   bool   // PPROF_ENABLED: /debug/pprof/ on the same port
	// AdminToken is ADMIN_TOKEN: the bearer token of the admin API on the
	// same port; empty serves no API.
	AdminToken string
	// MaxConnections is METRICS_MAX_CONNECTIONS: connections the metrics
	// and admin port holds open at once.
	MaxConnections int
}

// Addr is the admin server's host:port.
func (m Metrics) Addr() string { return net.JoinHostPort(m.Host, strconv.Itoa(m.Port)) }

// Shutdown configures graceful shutdown.
type Shutdown struct {
	Timeout time.Duration // SHUTDOWN_TIMEOUT_SECONDS
}

// Instance identifies this gateway among several sharing one Redis.
type Instance struct {
	ID string // INSTANCE_ID; default host name + "-" + SMPP port
	// BindLease is SMPP_BIND_LEASE_SECONDS: with Redis, how long a bind
	// lease of a dead instance outlives its last heartbeat.
	BindLease time.Duration
}

// Runtime configures the Go runtime.
type Runtime struct {
	// GCHeadroomMB is GC_HEADROOM_MB: how far the heap may grow above
	// the live heap before a collection, within GOGC 100..400 (package
	// gctune); 0 leaves GOGC alone.
	GCHeadroomMB int
	// GCFromEnv is set when the environment sets GOGC or GOMEMLIMIT: the
	// operator's setting is kept and GC_HEADROOM_MB is not applied.
	GCFromEnv bool
}

// Allowed spellings of the enumerated settings.
const (
	ProviderTMT       = "tmt"
	ProviderSimulator = "simulator"

	PolicyReject = "reject"
	PolicyAccept = "accept"

	ModeAlways    = "always"
	ModeRequested = "requested"

	FormatJSON    = "json"
	FormatConsole = "console"

	LevelDebug   = "DEBUG"
	LevelInfo    = "INFO"
	LevelWarning = "WARNING"
	LevelError   = "ERROR"
)

// Field limits from SMPP v3.4 (C-octet strings including the NUL).
const (
	MaxSystemIDLen = 15
	MaxPasswordLen = 8
)

// The range of an account's throughput other than 0 (unlimited), in
// messages per second: the shared rate limiter counts in thousandths of a
// message per second, and a rate beyond any real account's (or +Inf)
// would overflow its arithmetic and throttle everything.
const (
	MinThroughput = 0.001
	MaxThroughput = 1_000_000
)
