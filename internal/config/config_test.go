package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// env builds a getenv from pairs, with HLR credentials unless overridden.
func env(kv ...string) func(string) string {
	m := map[string]string{"HLR_API_KEY": "k3y", "HLR_API_SECRET": "s3cret"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(env())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Instance.ID == "" {
		t.Fatal("INSTANCE_ID was not generated")
	}
	want := Default()
	want.HLR.APIKey, want.HLR.APISecret = "k3y", "s3cret"
	want.Instance.ID = got.Instance.ID
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load() = %+v\nwant %+v", got, want)
	}
	if got.SMPP.Addr() != "0.0.0.0:2776" || got.Metrics.Addr() != "0.0.0.0:9091" {
		t.Fatalf("addresses %q %q", got.SMPP.Addr(), got.Metrics.Addr())
	}
	if got.TLS.Enabled() || got.Redis.Enabled() || !got.Cache.Enabled() {
		t.Fatal("unexpected Enabled() values for defaults")
	}
}

// TestDefaultInstanceID: the default id is stable across restarts of one
// instance (same host, same SMPP port), differs between ports, and is
// random when the port is chosen at start.
func TestDefaultInstanceID(t *testing.T) {
	tests := []struct {
		name     string
		a, b     int
		wantSame bool
	}{
		{"restart on one port", 2775, 2775, true},
		{"two ports on one host", 2775, 2776, false},
		{"free port chosen at start", 0, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := defaultInstanceID(tt.a), defaultInstanceID(tt.b)
			if (a == b) != tt.wantSame || !instanceIDPattern.MatchString(a) || !instanceIDPattern.MatchString(b) {
				t.Fatalf("instance ids %q %q, want same: %v", a, b, tt.wantSame)
			}
		})
	}
}

func TestLoadOverrides(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		check func(c Config) bool
	}{
		{"port", []string{"SMPP_PORT", "2775"}, func(c Config) bool { return c.SMPP.Port == 2775 }},
		{"port zero picks a free one", []string{"SMPP_PORT", "0"}, func(c Config) bool { return c.SMPP.Port == 0 }},
		{"spaces trimmed", []string{"SMPP_WINDOW", " 64 "}, func(c Config) bool { return c.SMPP.Window == 64 }},
		{"fractional seconds", []string{"HLR_TIMEOUT_SECONDS", "2.5"}, func(c Config) bool { return c.HLR.Timeout == 2500*time.Millisecond }},
		{"slot wait", []string{"HLR_SLOT_WAIT_SECONDS", "0.25"}, func(c Config) bool { return c.HLR.SlotWait == 250*time.Millisecond }},
		{"gc headroom off", []string{"GC_HEADROOM_MB", "0"}, func(c Config) bool { return c.Runtime.GCHeadroomMB == 0 && !c.Runtime.GCFromEnv }},
		{"GOGC kept", []string{"GOGC", "200"}, func(c Config) bool { return c.Runtime.GCFromEnv && c.Runtime.GCHeadroomMB == 32 }},
		{"GOMEMLIMIT kept", []string{"GOMEMLIMIT", "1GiB"}, func(c Config) bool { return c.Runtime.GCFromEnv }},
		{"seed float default form", []string{"DLR_DELAY_SECONDS", "1.0"}, func(c Config) bool { return c.DLR.Delay == time.Second }},
		{"zero delay", []string{"DLR_DELAY_SECONDS", "0"}, func(c Config) bool { return c.DLR.Delay == 0 }},
		{"millis", []string{"SIMULATOR_LATENCY_MS", "50"}, func(c Config) bool { return c.HLR.SimulatorLatency == 50*time.Millisecond }},
		{"redis slow", []string{"REDIS_SLOW_MS", "200"}, func(c Config) bool { return c.Redis.SlowAfter == 200*time.Millisecond }},
		{"level lower case", []string{"LOG_LEVEL", "debug"}, func(c Config) bool { return c.Log.Level == LevelDebug }},
		{"level WARN", []string{"LOG_LEVEL", "Warn"}, func(c Config) bool { return c.Log.Level == LevelWarning }},
		{"level WARNING", []string{"LOG_LEVEL", "WARNING"}, func(c Config) bool { return c.Log.Level == LevelWarning }},
		{"format any case", []string{"LOG_FORMAT", "Console"}, func(c Config) bool { return c.Log.Format == FormatConsole }},
		{"log buffer default", nil, func(c Config) bool { return c.Log.BufferBytes == 4<<20 }},
		{"log buffer off", []string{"LOG_BUFFER_BYTES", "0"}, func(c Config) bool { return c.Log.BufferBytes == 0 }},
		{"policy any case", []string{"HLR_TIMEOUT_POLICY", "ACCEPT"}, func(c Config) bool { return c.HLR.TimeoutPolicy == PolicyAccept }},
		{"simulator needs no key", []string{"HLR_PROVIDER", "simulator", "HLR_API_KEY", "", "HLR_API_SECRET", ""},
			func(c Config) bool { return c.HLR.Provider == ProviderSimulator }},
		{"metrics off", []string{"METRICS_ENABLED", "false"}, func(c Config) bool { return !c.Metrics.Enabled }},
		{"metrics off frees port", []string{"METRICS_ENABLED", "no", "METRICS_PORT", "2776"}, func(c Config) bool { return c.Metrics.Port == 2776 }},
		{"pprof", []string{"PPROF_ENABLED", "1"}, func(c Config) bool { return c.Metrics.Pprof }},
		{"enquire link off", []string{"SMPP_ENQUIRE_LINK_SECONDS", "0"}, func(c Config) bool { return c.SMPP.EnquireLinkInterval == 0 }},
		{"inactivity off", []string{"SMPP_INACTIVITY_TIMEOUT_SECONDS", "0", "SMPP_ENQUIRE_LINK_SECONDS", "600"},
			func(c Config) bool { return c.SMPP.InactivityTimeout == 0 }},
		{"cache off", []string{"HLR_CACHE_TTL_SECONDS", "0"}, func(c Config) bool { return !c.Cache.Enabled() }},
		{"redis", []string{"REDIS_URL", "redis://:pw@redis:6379/0"}, func(c Config) bool { return c.Redis.Enabled() }},
		{"redis unix", []string{"REDIS_URL", "unix:///run/redis.sock"}, func(c Config) bool { return c.Redis.Enabled() }},
		{"redis cluster seeds", []string{"REDIS_URL", "redis-cluster://:pw@10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000"}, func(c Config) bool { return c.Redis.Enabled() }},
		{"redis cluster addr", []string{"REDIS_URL", "redis-cluster://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000"}, func(c Config) bool { return c.Redis.Enabled() }},
		{"redis sentinel passwords", []string{"REDIS_URL", "redis-sentinel://:pw@s1:26379,s2:26379/2?master=gw&sentinel_password=spw"}, func(c Config) bool { return c.Redis.Enabled() }},
		{"err codes", []string{"HLR_ERR_CODES", "invalid_number=003, other=000"}, func(c Config) bool { return c.HLR.ErrCodes != "" }},
		{"instance id", []string{"INSTANCE_ID", "gw-1"}, func(c Config) bool { return c.Instance.ID == "gw-1" }},
		{"integer underscores", []string{"HLR_CACHE_MEMORY_ENTRIES", "2_000"}, func(c Config) bool { return c.Cache.MemoryEntries == 2000 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env...))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.check(c) {
				t.Fatalf("unexpected config %+v", c)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"SMPP_PORT", "abc"}, `config: SMPP_PORT: "abc" is not a port number`},
		{[]string{"SMPP_PORT", "70000"}, `config: SMPP_PORT: "70000" is not a port number`},
		{[]string{"SMPP_PORT", "-1"}, `config: SMPP_PORT: "-1" is not a port number`},
		{[]string{"METRICS_PORT", "2776"}, `config: METRICS_PORT: 2776 is already used by SMPP_PORT`},
		{[]string{"SMPP_WINDOW", "many"}, `config: SMPP_WINDOW: "many" is not an integer`},
		{[]string{"SMPP_WINDOW", "0"}, `config: SMPP_WINDOW: 0 must be at least 1`},
		{[]string{"SMPP_MAX_CONNECTIONS", "-3"}, `config: SMPP_MAX_CONNECTIONS: -3 must be at least 1`},
		{[]string{"SMPP_MAX_CONNECTIONS_PER_IP", "-1"}, `config: SMPP_MAX_CONNECTIONS_PER_IP: -1 must be 0 (no limit) or more`},
		{[]string{"SMPP_MAX_OUTPUT_BYTES_TOTAL", "-1"}, `config: SMPP_MAX_OUTPUT_BYTES_TOTAL: -1 must be 0 (no limit) or more`},
		{[]string{"SMPP_MAX_UNBOUND_CONNECTIONS", "-2"}, `config: SMPP_MAX_UNBOUND_CONNECTIONS: -2 must be 0 (no limit) or more`},
		{[]string{"SMPP_MAX_PREBIND_REQUESTS", "0"}, `config: SMPP_MAX_PREBIND_REQUESTS: 0 must be at least 1`},
		{[]string{"SMPP_MAX_FAILED_BINDS", "-1"}, `config: SMPP_MAX_FAILED_BINDS: -1 must be 0 (no limit) or more`},
		{[]string{"SMPP_MAX_IDLE_PDUS_PER_SECOND", "-1"}, `config: SMPP_MAX_IDLE_PDUS_PER_SECOND: -1 must be 0 (no limit) or more`},
		{[]string{"DLR_MAX_DELIVER_INFLIGHT", "0"}, `config: DLR_MAX_DELIVER_INFLIGHT: 0 must be 1 to 1048576`},
		{[]string{"DLR_MAX_DELIVER_INFLIGHT", "1048577"}, `config: DLR_MAX_DELIVER_INFLIGHT: 1048577 must be 1 to 1048576`},
		{[]string{"METRICS_MAX_CONNECTIONS", "0"}, `config: METRICS_MAX_CONNECTIONS: 0 must be 1 to 65536`},
		{[]string{"SMPP_BIND_GUARD_ENTRIES", "0"}, `config: SMPP_BIND_GUARD_ENTRIES: 0 must be at least 1`},
		{[]string{"SMPP_MAX_OUTPUT_BYTES", "1000"}, `config: SMPP_MAX_OUTPUT_BYTES: 1000 must be at least SMPP_MAX_PDU_SIZE (65536)`},
		{[]string{"SMPP_SLOW_CONSUMER_TIMEOUT_SECONDS", "0"}, `config: SMPP_SLOW_CONSUMER_TIMEOUT_SECONDS: 0 must be above 0`},
		{[]string{"SMPP_UNBIND_TIMEOUT_SECONDS", "-1"}, `config: SMPP_UNBIND_TIMEOUT_SECONDS: -1 must be above 0`},
		{[]string{"SMPP_FAILED_BIND_BLOCK_SECONDS", "0"}, `config: SMPP_FAILED_BIND_BLOCK_SECONDS: 0 must be above 0`},
		{[]string{"SMPP_MAX_PDU_SIZE", "15"}, `config: SMPP_MAX_PDU_SIZE: 15 is outside 512..16777216`},
		{[]string{"SMPP_BIND_TIMEOUT_SECONDS", "soon"}, `config: SMPP_BIND_TIMEOUT_SECONDS: "soon" is not a number of seconds`},
		{[]string{"SMPP_BIND_TIMEOUT_SECONDS", "NaN"}, `config: SMPP_BIND_TIMEOUT_SECONDS: "NaN" is not a number of seconds`},
		{[]string{"SMPP_BIND_TIMEOUT_SECONDS", "0"}, `config: SMPP_BIND_TIMEOUT_SECONDS: 0 must be above 0`},
		{[]string{"SMPP_ENQUIRE_LINK_SECONDS", "-1"}, `config: SMPP_ENQUIRE_LINK_SECONDS: -1 must not be negative`},
		{[]string{"SMPP_ENQUIRE_LINK_SECONDS", "300"}, `config: SMPP_ENQUIRE_LINK_SECONDS: 300 must be below SMPP_INACTIVITY_TIMEOUT_SECONDS (300)`},
		{[]string{"SMPP_SYSTEM_NAME", "a-very-long-name-indeed"}, `config: SMPP_SYSTEM_NAME: "a-very-long-name-indeed" must be 1 to 15 characters`},
		{[]string{"SMPP_HOST", "bad host"}, `config: SMPP_HOST: "bad host" is not a host name or address`},
		{[]string{"SMPP_SYSTEM_ID", "sixteen-chars-xx"}, `config: SMPP_SYSTEM_ID: system_id "sixteen-chars-xx" is longer than 15 characters`},
		{[]string{"SMPP_PASSWORD", "ninechars"}, `config: SMPP_PASSWORD: password of "testuser" is longer than 8 characters`},
		{[]string{"SMPP_TLS_PORT", "2777"}, `config: SMPP_TLS_CERT_FILE: is empty but SMPP_TLS_PORT is set`},
		{[]string{"SMPP_TLS_CERT_FILE", "/x.pem"}, `config: SMPP_TLS_PORT: is empty but SMPP_TLS_CERT_FILE or SMPP_TLS_KEY_FILE is set; set all three or none`},
		{[]string{"SMPP_TLS_PORT", "2777", "SMPP_TLS_CERT_FILE", "/nonexistent/c.pem", "SMPP_TLS_KEY_FILE", "/nonexistent/k.pem"},
			`config: SMPP_TLS_CERT_FILE: cannot read "/nonexistent/c.pem": no such file or directory`},
		{[]string{"HLR_PROVIDER", "hlrlookup"}, `config: HLR_PROVIDER: "hlrlookup" is not one of tmt, simulator`},
		{[]string{"HLR_API_KEY", ""}, `config: HLR_API_KEY: is required with HLR_PROVIDER=tmt (or use HLR_PROVIDER=simulator)`},
		{[]string{"HLR_API_SECRET", ""}, `config: HLR_API_SECRET: is required with HLR_PROVIDER=tmt (or use HLR_PROVIDER=simulator)`},
		{[]string{"HLR_BASE_URL", "ftp://x"}, `config: HLR_BASE_URL: "ftp://x" is not an http or https URL`},
		{[]string{"HLR_TIMEOUT_SECONDS", "0"}, `config: HLR_TIMEOUT_SECONDS: 0 must be above 0`},
		{[]string{"HLR_SLOT_WAIT_SECONDS", "0"}, `config: HLR_SLOT_WAIT_SECONDS: 0 must be above 0`},
		{[]string{"GC_HEADROOM_MB", "-1"}, `config: GC_HEADROOM_MB: -1 must be 0 (off) to 4096`},
		{[]string{"HLR_TIMEOUT_POLICY", "rejct"}, `config: HLR_TIMEOUT_POLICY: "rejct" is not one of reject, accept`},
		{[]string{"HLR_ERROR_POLICY", "drop"}, `config: HLR_ERROR_POLICY: "drop" is not one of accept, reject`},
		{[]string{"HLR_BASE_URL", "http://127.0.0.1:99999/x"}, `config: HLR_BASE_URL: "http://127.0.0.1:99999/x": port "99999" is not 1-65535`},
		{[]string{"GOGC", "banana"}, `config: GOGC: "banana" is not a whole number (a percentage) or off`},
		{[]string{"HLR_MAX_CONCURRENCY", "0"}, `config: HLR_MAX_CONCURRENCY: 0 must be 1 to 65536`},
		// It starts that many workers: a huge one used to pass and then
		// overflow or exhaust memory in serve.
		{[]string{"HLR_MAX_CONCURRENCY", "9000000000000000000"}, `config: HLR_MAX_CONCURRENCY: 9000000000000000000 must be 1 to 65536`},
		{[]string{"HLR_ERR_CODES", "invalid_number=3"}, `config: HLR_ERR_CODES: hlr: bad err code mapping: invalid_number="3": want three digits`},
		{[]string{"HLR_ERR_CODES", "other"}, `config: HLR_ERR_CODES: hlr: bad err code mapping: "other" is not key=code`},
		{[]string{"HLR_ERR_CODES", "other=000,other=001"}, `config: HLR_ERR_CODES: hlr: bad err code mapping: other is given twice`},
		{[]string{"HLR_ERR_CODES", "foo=001"}, `config: HLR_ERR_CODES: hlr: bad err code mapping: unknown key "foo" (want invalid_number, unknown_subscriber, unreachable, not_supported, other)`},
		{[]string{"HLR_BREAKER_FAILURES", "0"}, `config: HLR_BREAKER_FAILURES: 0 must be at least 1`},
		{[]string{"HLR_CACHE_TTL_SECONDS", "-5"}, `config: HLR_CACHE_TTL_SECONDS: -5 must not be negative`},
		{[]string{"HLR_CACHE_MEMORY_ENTRIES", "0"}, `config: HLR_CACHE_MEMORY_ENTRIES: 0 must be at least 1`},
		{[]string{"SIMULATOR_LATENCY_MS", "-5"}, `config: SIMULATOR_LATENCY_MS: -5 must not be negative`},
		{[]string{"SIMULATOR_LATENCY_MS", "0.5"}, `config: SIMULATOR_LATENCY_MS: "0.5" is not a number of milliseconds`},
		{[]string{"REDIS_URL", "http://:hunter2@redis:6379"}, `config: REDIS_URL: "http://:****@redis:6379": scheme must be redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster`},
		{[]string{"REDIS_URL", "redis://:hunter2@redis:6379/x"}, `config: REDIS_URL: "redis://:****@redis:6379/x": invalid database number: "x"`},
		{[]string{"REDIS_URL", "redis:///0"}, `config: REDIS_URL: "redis:///0": no host`},
		{[]string{"REDIS_URL", "redis://:hunter2@[bad"}, `config: REDIS_URL: "redis://****": not a URL`},
		{[]string{"REDIS_URL", "redis-cluster://:hunter2@h1:7000,:7001"}, `config: REDIS_URL: "redis-cluster://:****@h1:7000,:7001": ":7001" is not host:port`},
		{[]string{"REDIS_URL", "redis-cluster://h1:7000/3"}, `config: REDIS_URL: "redis-cluster://h1:7000/3": a Cluster has only database 0, not "3"`},
		{[]string{"REDIS_URL", "redis-sentinel://:hunter2@s1:26379"}, `config: REDIS_URL: "redis-sentinel://:****@s1:26379": a Sentinel URL needs ?master=name`},
		{[]string{"REDIS_URL", "redis://h:6379?dial_timeot=1s"}, `config: REDIS_URL: "redis://h:6379?dial_timeot=1s": unexpected option: dial_timeot`},
		{[]string{"REDIS_URL", "redis-cluster://:hunter2@h1:7000?read_only=true"}, `config: REDIS_URL: "redis-cluster://:****@h1:7000?read_only=true": read_only would send reads to replicas, which lag the master: the gateway reads receipts it has just written and needs every command on the master; remove it`},
		{[]string{"REDIS_URL", "redis-sentinel://s1:26379?master=gw&route_randomly=true"}, `config: REDIS_URL: "redis-sentinel://s1:26379?master=gw&route_randomly=true": route_randomly would send reads to replicas, which lag the master: the gateway reads receipts it has just written and needs every command on the master; remove it`},
		{[]string{"REDIS_MAX_CONNECTIONS", "0"}, `config: REDIS_MAX_CONNECTIONS: 0 must be 1 to 65536`},
		{[]string{"REDIS_MAX_CONNECTIONS", "3000000000"}, `config: REDIS_MAX_CONNECTIONS: 3000000000 must be 1 to 65536`},
		{[]string{"REDIS_SLOW_MS", "0"}, `config: REDIS_SLOW_MS: 0 must be above 0`},
		{[]string{"REDIS_WAIT_REPLICAS", "1", "REDIS_WAIT_TIMEOUT_MS", "500"}, `config: REDIS_WAIT_TIMEOUT_MS: 500 must be below REDIS_TIMEOUT_SECONDS (500ms), the client's read timeout`},
		{[]string{"DLR_MODE", "never"}, `config: DLR_MODE: "never" is not one of always, requested`},
		{[]string{"DLR_TTL_SECONDS", "0"}, `config: DLR_TTL_SECONDS: 0 must be above 0`},
		{[]string{"DLR_RETRY_MIN_SECONDS", "10", "DLR_RETRY_MAX_SECONDS", "5"}, `config: DLR_RETRY_MAX_SECONDS: 5 must not be below DLR_RETRY_MIN_SECONDS (10)`},
		{[]string{"DLR_VISIBILITY_TIMEOUT_SECONDS", "5"}, `config: DLR_VISIBILITY_TIMEOUT_SECONDS: 5 must be above SMPP_RESPONSE_TIMEOUT_SECONDS (10)`},
		{[]string{"DLR_BUFFER_SIZE", "0"}, `config: DLR_BUFFER_SIZE: 0 must be at least 1`},
		{[]string{"LOG_LEVEL", "verbose"}, `config: LOG_LEVEL: "VERBOSE" is not one of DEBUG, INFO, WARNING, ERROR`},
		{[]string{"LOG_FORMAT", "xml"}, `config: LOG_FORMAT: "xml" is not one of json, console`},
		{[]string{"LOG_BUFFER_BYTES", "1000"}, `config: LOG_BUFFER_BYTES: 1000 must be 0 (no buffer) or at least 65536`},
		{[]string{"LOG_BUFFER_BYTES", "-1"}, `config: LOG_BUFFER_BYTES: -1 must be 0 (no buffer) or at least 65536`},
		{[]string{"METRICS_ENABLED", "maybe"}, `config: METRICS_ENABLED: "maybe" is not a boolean (true or false)`},
		{[]string{"METRICS_ENABLED", "no", "ADMIN_TOKEN", "t0ken"}, `config: ADMIN_TOKEN: is set but METRICS_ENABLED=false: the admin API is served on the metrics port`},
		{[]string{"METRICS_ENABLED", "false", "PPROF_ENABLED", "true"}, `config: PPROF_ENABLED: is true but METRICS_ENABLED=false: /debug/pprof/ is served on the metrics port`},
		{[]string{"DLR_DISPATCHER_SHARDS", "100000"}, `config: DLR_DISPATCHER_SHARDS: 100000 must be 0 (GOMAXPROCS) to 256`},
		{[]string{"DLR_DISPATCHER_SHARDS", "-1"}, `config: DLR_DISPATCHER_SHARDS: -1 must be 0 (GOMAXPROCS) to 256`},
		{[]string{"HLR_PRECHECK", "maybe"}, `config: HLR_PRECHECK: "maybe" is not one of auto (or empty), true, false`},
		{[]string{"REDIS_URL", "redis-cluster://h:p,h:p"}, `config: REDIS_URL: "redis-cluster://****": not a URL: a port is not a number (want host:port, several separated by commas)`},
		{[]string{"SHUTDOWN_TIMEOUT_SECONDS", "0"}, `config: SHUTDOWN_TIMEOUT_SECONDS: 0 must be above 0`},
		{[]string{"INSTANCE_ID", "a b"}, `config: INSTANCE_ID: "a b" must be 1 to 64 of A-Z a-z 0-9 . _ -`},
		{[]string{"SMPP_ACCOUNTS_FILE", "/nonexistent/accounts.yaml"}, `config: SMPP_ACCOUNTS_FILE: cannot read "/nonexistent/accounts.yaml": no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Load(env(tt.env...))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if err.Error() != tt.want {
				t.Fatalf("error\n got %s\nwant %s", err, tt.want)
			}
			assertFieldError(t, err)
		})
	}
}

func assertFieldError(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%v is not a *FieldError matching ErrInvalid", err)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("error is not one line: %q", err)
	}
	for _, secret := range []string{"hunter2", "s3cret", "k3y", "ninechars", "pw-alice"} {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error %q leaks a secret", err)
		}
	}
}

func TestValidateProgrammatic(t *testing.T) {
	base := Default()
	base.HLR.Provider = ProviderSimulator
	base.Instance.ID = "test"
	if err := base.Validate(); err != nil {
		t.Fatalf("Validate(default simulator): %v", err)
	}
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"missing instance id", func(c *Config) { c.Instance.ID = "" }, "INSTANCE_ID"},
		{"port out of range", func(c *Config) { c.Metrics.Port = 70000 }, "METRICS_PORT"},
		{"files without accounts", func(c *Config) { c.SMPP.AccountsFile = "x.yaml" }, "SMPP_ACCOUNTS_FILE: x.yaml: the file lists no accounts"},
		{"tls port clash", func(c *Config) { c.TLS.Port = 2776; c.TLS.CertFile, c.TLS.KeyFile = "c", "k" }, "SMPP_TLS_CERT_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want mention of %q", err, tt.want)
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	e := &FieldError{Var: "X", Msg: "yaml: unmarshal errors:\n  line 3: field foo not found\r\n  line 4: bad"}
	if got, want := e.Error(), "config: X: yaml: unmarshal errors:; line 3: field foo not found; line 4: bad"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

// writeFile writes a file under a test temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
