package redisconn

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestParseCluster(t *testing.T) {
	tests := []struct {
		name, url string
		addrs     []string
		password  string
		tls       bool
	}{
		{"one seed", "redis-cluster://10.0.0.1:7000", []string{"10.0.0.1:7000"}, "", false},
		{"seed list", "redis-cluster://:pw@10.0.0.1:7000,10.0.0.2:7001,10.0.0.3:7002",
			[]string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:7002"}, "pw", false},
		{"go-redis addr form", "redis-cluster://:pw@a:7000?addr=b:7000&addr=c:7000",
			[]string{"a:7000", "b:7000", "c:7000"}, "pw", false},
		{"both forms", "redis-cluster://a:7000,b:7000?addr=c:7000", []string{"a:7000", "b:7000", "c:7000"}, "", false},
		{"addr only", "redis-cluster://?addr=a:7000&addr=b:7000", []string{"a:7000", "b:7000"}, "", false},
		{"tls", "rediss-cluster://u:pw@a:7000,b:7000/0", []string{"a:7000", "b:7000"}, "pw", true},
		{"ipv6", "redis-cluster://[::1]:7000?addr=[::1]:7001", []string{"[::1]:7000", "[::1]:7001"}, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if tg.Topology != Cluster {
				t.Fatalf("topology %v, want cluster", tg.Topology)
			}
			o := tg.Cluster
			if !slices.Equal(o.Addrs, tt.addrs) {
				t.Errorf("seeds %v, want %v", o.Addrs, tt.addrs)
			}
			if o.Password != tt.password {
				t.Errorf("password %q, want %q", o.Password, tt.password)
			}
			if (o.TLSConfig != nil) != tt.tls {
				t.Errorf("TLS %v, want %v", o.TLSConfig != nil, tt.tls)
			}
		})
	}
}

func TestParseSentinel(t *testing.T) {
	tests := []struct {
		name, url                        string
		sentinels                        []string
		master, user, pass, sUser, sPass string
		db                               int
	}{
		{"master password", "redis-sentinel://:mpw@s1:26379,s2:26379/2?master=gw",
			[]string{"s1:26379", "s2:26379"}, "gw", "", "mpw", "", "", 2},
		{"sentinel password", "redis-sentinel://:mpw@s1:26379?master=gw&sentinel_password=spw&addr=s2:26379",
			[]string{"s1:26379", "s2:26379"}, "gw", "", "mpw", "", "spw", 0},
		{"ACL users", "redis-sentinel://app:mpw@s1:26379?master_name=gw&sentinel_username=watch&sentinel_password=spw",
			[]string{"s1:26379"}, "gw", "app", "mpw", "watch", "spw", 0},
		{"master credentials as parameters", "redis-sentinel://s1:26379?master=gw&password=mpw",
			[]string{"s1:26379"}, "gw", "", "mpw", "", "", 0},
		{"no passwords", "redis-sentinel://s1:26379,s2:26379,s3:26379/0?master=mymaster",
			[]string{"s1:26379", "s2:26379", "s3:26379"}, "mymaster", "", "", "", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			o := tg.Sentinel
			if tg.Topology != Sentinel || o == nil {
				t.Fatalf("topology %v, want sentinel", tg.Topology)
			}
			if !slices.Equal(o.SentinelAddrs, tt.sentinels) {
				t.Errorf("sentinels %v, want %v", o.SentinelAddrs, tt.sentinels)
			}
			got := []string{o.MasterName, o.Username, o.Password, o.SentinelUsername, o.SentinelPassword}
			want := []string{tt.master, tt.user, tt.pass, tt.sUser, tt.sPass}
			if !slices.Equal(got, want) {
				t.Errorf("master, user, password, sentinel user, sentinel password = %q, want %q", got, want)
			}
			if o.DB != tt.db {
				t.Errorf("db %d, want %d", o.DB, tt.db)
			}
		})
	}
}

func TestParseStandalone(t *testing.T) {
	for _, u := range []string{"redis://:pw@h:6379/3", "rediss://u:pw@h:6380", "unix:///run/redis.sock?db=2"} {
		tg, err := Parse(u)
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		if tg.Topology != Standalone || tg.Standalone == nil {
			t.Fatalf("%s: topology %v", u, tg.Topology)
		}
	}
}

func TestParseErrorsNeverShowSecrets(t *testing.T) {
	tests := []struct{ url, reason string }{
		{"http://:hunter2@h:6379", "scheme must be"},
		{"redis://:hunter2@[bad", "not a URL"},
		{"redis://u:hunter2%ZZw@h:1/0", "not a URL"},
		{"redis://:hunter2@h:6379/x", "invalid database number"},
		{"redis://:hunter2@h:6379?addr=b:1", "unexpected option: addr"},
		{"redis-cluster://:hunter2@a:1,:2", `":2" is not host:port`},
		{"redis-cluster://:hunter2@", "no host"},
		{"redis-cluster://:hunter2@a:1/2", "only database 0"},
		{"redis-cluster://:hunter2@a:1?addr=nonsense", "unable to parse addr param"},
		{"redis-sentinel://:hunter2@a:1", "needs ?master=name"},
		{"redis-sentinel://:hunter2@a:1?master=m&password=hunter3", "either before the host"},
		{"redis-sentinel://a:1?master=m&sentinel_password=hunter2&dial_timeout=soon", "dial_timeout"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.url)
		var ue *URLError
		if !errors.As(err, &ue) {
			t.Errorf("%s: error %v, want a *URLError", tt.url, err)
			continue
		}
		if !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("%s: error %q does not say %q", tt.url, err, tt.reason)
		}
		if strings.Contains(err.Error(), "hunter") {
			t.Errorf("%s: error %q shows a password", tt.url, err)
		}
	}
}

// TestParseRefusesReplicaReads: every parameter that sends reads to
// replicas is refused, named in the error; the same set to false, and
// Sentinel's parameters that only choose among Sentinels, are not.
func TestParseRefusesReplicaReads(t *testing.T) {
	tests := []struct {
		url  string
		refs string // the parameters named, "" when accepted
	}{
		{"redis-cluster://:hunter2@a:1?read_only=true", "read_only would send reads to replicas"},
		{"redis-cluster://a:1?route_by_latency=true", "route_by_latency would send"},
		{"redis-cluster://a:1?route_randomly=1", "route_randomly would send"},
		{"redis-cluster://a:1?read_only=true&route_randomly=true", "read_only and route_randomly would send"},
		{"redis-cluster://a:1?read_only=false&route_by_latency=false&route_randomly=false", ""},
		{"redis-cluster://a:1?route_by_latency_tolerance=5ms", ""},
		{"redis-sentinel://:hunter2@s:1?master=m&replica_only=true", "replica_only would send"},
		{"redis-sentinel://s:1?master=m&route_by_latency=true", "route_by_latency would send"},
		{"redis-sentinel://s:1?master=m&route_randomly=true", "route_randomly would send"},
		{"redis-sentinel://s:1?master=m&replica_only=false", ""},
	}
	for _, tt := range tests {
		_, err := Parse(tt.url)
		if tt.refs == "" {
			if err != nil {
				t.Errorf("%s: %v, want accepted", tt.url, err)
			}
			continue
		}
		var ue *URLError
		if !errors.As(err, &ue) || !strings.Contains(ue.Reason, tt.refs) || !strings.Contains(ue.Reason, "master") {
			t.Errorf("%s: error %v, want a *URLError saying %q", tt.url, err, tt.refs)
		}
		if err != nil && strings.Contains(err.Error(), "hunter") {
			t.Errorf("%s: error %q shows a password", tt.url, err)
		}
	}
}

// TestParseSaysWhyAURLDoesNotParse: a URL that does not parse is refused
// with the kind of mistake, in words that quote none of it (the text a
// parser chokes on may be a password).
func TestParseSaysWhyAURLDoesNotParse(t *testing.T) {
	tests := []struct{ url, want string }{
		{"redis-cluster://h:p,h:p", `"redis-cluster://****": not a URL: a port is not a number (want host:port, several separated by commas)`},
		{"redis://default:S3cret#host:6379/0", `"redis://****": not a URL: a port is not a number (want host:port, several separated by commas)`},
		{"redis://u:hunter2%ZZw@h:1/0", `"redis://****": not a URL: an invalid %-escape (write % as %25)`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.url)
		if err == nil || err.Error() != tt.want {
			t.Errorf("Parse(%q): %v, want %s", tt.url, err, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"redis://redis:6379/0", "redis://redis:6379/0"},
		{"redis://:pw@redis:6379", "redis://:****@redis:6379"},
		{"rediss://user:p%40ss@redis:6380/1", "rediss://user:****@redis:6380/1"},
		{"redis://user@redis", "redis://user@redis"},
		{"redis-sentinel://:m@s1:1,s2:2/0?master=gw&sentinel_password=s", "redis-sentinel://:****@s1:1,s2:2/0?master=gw&sentinel_password=****"},
		{"redis-cluster://a:1?addr=b:2&password=x", "redis-cluster://a:1?addr=b:2&password=****"},
		{"redis://:pw@[bad", "redis://****"},
		{"::pw@[bad", "****"},
		// What does not parse is masked whole: a password typed without
		// its @ (or with # in it) reads as a host and port.
		{"redis-cluster://h:p,h:p", "redis-cluster://****"},
		{"redis://default:S3cret#host:6379/0", "redis://****"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestClientLimits: REDIS_TIMEOUT_SECONDS reaches the client's own dial,
// read, write and pool timeouts on every topology, and a URL parameter
// wins over it.
func TestClientLimits(t *testing.T) {
	const timeout = 500 * time.Millisecond
	type limits struct {
		pool, dialRetries       int
		dial, read, write, wait time.Duration
		ctx                     bool
	}
	want := limits{7, 1, timeout, timeout, timeout, timeout, true}
	for _, u := range []string{
		"redis://127.0.0.1:1/0",
		"redis-sentinel://127.0.0.1:1?master=m",
		"redis-cluster://127.0.0.1:1,127.0.0.1:2",
	} {
		c, err := New(Settings{URL: u, PoolSize: 7, Timeout: timeout})
		if err != nil {
			t.Fatal(err)
		}
		var got limits
		switch c := c.(type) {
		case *redis.Client:
			o := c.Options()
			got = limits{o.PoolSize, o.DialerRetries, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled}
		case *redis.ClusterClient:
			o := c.Options()
			got = limits{o.PoolSize, o.DialerRetries, o.DialTimeout, o.ReadTimeout, o.WriteTimeout, o.PoolTimeout, o.ContextTimeoutEnabled}
			if o.ClusterStateReloadInterval != SlotMapInterval {
				t.Errorf("%s: slot map reloaded every %v, want %v", u, o.ClusterStateReloadInterval, SlotMapInterval)
			}
		default:
			t.Fatalf("%s: client %T", u, c)
		}
		_ = c.Close()
		if got != want {
			t.Errorf("%s: limits %+v, want %+v", u, got, want)
		}
	}
	c, err := New(Settings{URL: "redis://127.0.0.1:1/0?read_timeout=3s", PoolSize: 7, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if rt := c.(*redis.Client).Options().ReadTimeout; rt != 3*time.Second {
		t.Errorf("read_timeout=3s in the URL gave %v", rt)
	}
}

// TestParseRefusesPortsOutOfRange: a port that is digits but no port
// (0, above 65535), or a negative database, is refused wherever it is
// given, not found at the first dial.
func TestParseRefusesPortsOutOfRange(t *testing.T) {
	tests := []struct{ url, want string }{
		{"redis://127.0.0.1:99999/0", `port "99999" of "127.0.0.1:99999" is not 1-65535`},
		{"redis://127.0.0.1:0/0", `port "0" of "127.0.0.1:0" is not 1-65535`},
		{"redis-cluster://a:7000,b:70000", `port "70000" of "b:70000" is not 1-65535`},
		{"redis-cluster://a:7000?addr=b:0", `port "0" of "b:0" is not 1-65535`},
		{"redis-sentinel://:pw@s1:26379,s2:123456?master=gw", `port "123456" of "s2:123456" is not 1-65535`},
		{"redis-sentinel://s1:26379?master=gw&addr=s2:65536", `port "65536" of "s2:65536" is not 1-65535`},
		{"redis://127.0.0.1:6379/-1", `database number -1 is negative`},
		{"redis-sentinel://s1:26379/-2?master=gw", `database number -2 is negative`},
	}
	for _, tt := range tests {
		_, err := Parse(tt.url)
		var ue *URLError
		if !errors.As(err, &ue) || ue.Reason != tt.want {
			t.Errorf("Parse(%q): %v, want reason %s", tt.url, err, tt.want)
		}
	}
	for _, ok := range []string{"redis://127.0.0.1:1/0", "redis://127.0.0.1:65535/0", "redis://h/0", "unix:///run/redis.sock",
		"redis-cluster://a:7000,b:7001?addr=c:7002", "redis-sentinel://s1:26379,s2:26380?master=gw"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v, want accepted", ok, err)
		}
	}
}

// TestParseRefusesUnusableNumbers: numeric parameters go-redis parses but
// cannot use are refused by Parse (so by check-config), wherever the
// topology. A negative or huge pool_size used to pass and then panic when
// the client was built.
func TestParseRefusesUnusableNumbers(t *testing.T) {
	tests := []struct{ url, want string }{
		{"redis://127.0.0.1:6379/0?pool_size=-1", "pool_size=-1 is not 0 to 65536"},
		{"redis://127.0.0.1:6379/0?pool_size=99999999999999", "pool_size=99999999999999 is not 0 to 65536"},
		{"unix:///run/redis.sock?pool_size=-1", "pool_size=-1 is not 0 to 65536"},
		{"redis-cluster://127.0.0.1:7000?pool_size=-1", "pool_size=-1 is not 0 to 65536"},
		{"redis-sentinel://s1:26379?master=m&pool_size=-1", "pool_size=-1 is not 0 to 65536"},
		{"redis://127.0.0.1:6379/0?min_idle_conns=-1", "min_idle_conns=-1 is not 0 to 65536"},
		{"redis://127.0.0.1:6379/0?max_retries=-5", "max_retries=-5 is not -1 (none) or more"},
		{"redis://127.0.0.1:6379/0?protocol=7", "protocol=7 is not 2 or 3"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.url)
		var ue *URLError
		if !errors.As(err, &ue) || ue.Reason != tt.want {
			t.Errorf("Parse(%q): %v, want reason %s", tt.url, err, tt.want)
		}
	}
	for _, ok := range []string{"redis://127.0.0.1:6379/0?pool_size=20&max_retries=-1&protocol=2", "redis-cluster://a:7000?protocol=3&pool_size=0"} {
		if _, err := Parse(ok); err != nil {
			t.Errorf("Parse(%q): %v, want accepted", ok, err)
		}
	}
}
