package redisconn

import (
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Topology is the kind of Redis deployment a URL names.
type Topology int

const (
	// Standalone is one Redis server (redis://, rediss://, unix://).
	Standalone Topology = iota
	// Sentinel is a master watched by Sentinels (redis-sentinel://).
	Sentinel
	// Cluster is a Redis Cluster (redis-cluster://).
	Cluster
)

func (t Topology) String() string {
	switch t {
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	}
	return "standalone"
}

// Target is a parsed REDIS_URL: exactly one of the option sets is non-nil,
// the one of its Topology.
type Target struct {
	Topology   Topology
	Standalone *redis.Options
	Sentinel   *redis.FailoverOptions
	Cluster    *redis.ClusterOptions
}

// URLError is every error of Parse: the URL with its secrets masked and
// why it was refused.
type URLError struct {
	Shown  string // the URL as Redact shows it
	Reason string
}

func (e *URLError) Error() string { return fmt.Sprintf("%q: %s", e.Shown, e.Reason) }

// Parse checks raw and returns the client options it names.
func Parse(raw string) (Target, error) {
	shown := Redact(raw)
	fail := func(format string, args ...any) (Target, error) {
		return Target{}, &URLError{Shown: shown, Reason: fmt.Sprintf(format, args...)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fail("%s", notAURL(err))
	}
	switch u.Scheme {
	case "redis", "rediss", "unix":
		o, err := redis.ParseURL(raw)
		if err != nil {
			return fail("%s", goRedisReason(err))
		}
		if u.Scheme != "unix" && u.Host == "" {
			return fail("no host")
		}
		var addrs []string
		if u.Scheme != "unix" {
			addrs = []string{o.Addr}
		}
		if err := checkDialed(o.DB, addrs...); err != nil {
			return fail("%v", err)
		}
		if reason := poolNumbers(o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns, o.MaxRetries, o.Protocol); reason != "" {
			return fail("%s", reason)
		}
		return Target{Topology: Standalone, Standalone: o}, nil
	case "redis-cluster", "rediss-cluster":
		return parseCluster(u, fail)
	case "redis-sentinel", "rediss-sentinel":
		return parseSentinel(u, fail)
	}
	return fail("scheme must be redis, rediss, unix, redis-sentinel, rediss-sentinel, redis-cluster or rediss-cluster")
}

// notAURL says why raw does not parse without quoting any of it: a URL
// that does not parse is masked whole (a password typed without its @
// reads as a host and port), and the parser's own reason quotes the text
// it choked on.
func notAURL(err error) string {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "invalid port"):
		return "not a URL: a port is not a number (want host:port, several separated by commas)"
	case strings.Contains(msg, "invalid URL escape"):
		return "not a URL: an invalid %-escape (write % as %25)"
	case strings.Contains(msg, "invalid character") && strings.Contains(msg, "host"):
		return "not a URL: a character not allowed in a host name"
	}
	return "not a URL"
}

// parseCluster hands go-redis a URL of its own form: the first seed as the
// host, the others as addr parameters.
func parseCluster(u *url.URL, fail func(string, ...any) (Target, error)) (Target, error) {
	seeds, err := splitHosts(u.Host)
	if err != nil {
		return fail("%v", err)
	}
	q := u.Query()
	if len(seeds) == 0 {
		extra := q["addr"]
		if len(extra) == 0 {
			return fail("no host")
		}
		seeds, q["addr"] = extra[:1], extra[1:]
	}
	if db := strings.Trim(u.Path, "/"); db != "" && db != "0" {
		return fail("a Cluster has only database 0, not %q", db)
	}
	q["addr"] = append(slices.Clone(seeds[1:]), q["addr"]...)
	g := url.URL{Scheme: strings.TrimSuffix(u.Scheme, "-cluster"), User: u.User, Host: seeds[0], RawQuery: q.Encode()}
	o, err := redis.ParseClusterURL(g.String())
	if err != nil {
		return fail("%s", goRedisReason(err))
	}
	if err := checkDialed(0, o.Addrs...); err != nil {
		return fail("%v", err)
	}
	if reason := poolNumbers(o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns, o.MaxRetries, o.Protocol); reason != "" {
		return fail("%s", reason)
	}
	if reason := replicaReads(readOption{"read_only", o.ReadOnly}, readOption{"route_by_latency", o.RouteByLatency},
		readOption{"route_randomly", o.RouteRandomly}); reason != "" {
		return fail("%s", reason)
	}
	return Target{Topology: Cluster, Cluster: o}, nil
}

// parseSentinel reads the gateway's Sentinel form: user information is
// the master's; sentinel_username and sentinel_password are the
// Sentinels'; master (or go-redis's master_name) names the master.
func parseSentinel(u *url.URL, fail func(string, ...any) (Target, error)) (Target, error) {
	seeds, err := splitHosts(u.Host)
	if err != nil {
		return fail("%v", err)
	}
	q := u.Query()
	master := q.Get("master")
	if master == "" {
		master = q.Get("master_name")
	}
	if master == "" {
		return fail("a Sentinel URL needs ?master=name")
	}
	q.Del("master")
	q.Set("master_name", master)
	sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	if u.User != nil {
		if q.Has("username") || q.Has("password") {
			return fail("give the master's credentials either before the host or as username/password parameters, not both")
		}
		if name := u.User.Username(); name != "" {
			q.Set("username", name)
		}
		if p, ok := u.User.Password(); ok {
			q.Set("password", p)
		}
	}
	if len(seeds) == 0 {
		extra := q["addr"]
		if len(extra) == 0 {
			return fail("no host")
		}
		seeds, q["addr"] = extra[:1], extra[1:]
	}
	q["addr"] = append(slices.Clone(seeds[1:]), q["addr"]...)
	g := url.URL{Scheme: strings.TrimSuffix(u.Scheme, "-sentinel"), Host: seeds[0], Path: u.Path, RawQuery: q.Encode()}
	if sentinelUser != "" || sentinelPass != "" {
		g.User = url.UserPassword(sentinelUser, sentinelPass)
	}
	o, err := redis.ParseFailoverURL(g.String())
	if err != nil {
		return fail("%s", goRedisReason(err))
	}
	if err := checkDialed(o.DB, o.SentinelAddrs...); err != nil {
		return fail("%v", err)
	}
	if reason := poolNumbers(o.PoolSize, o.MinIdleConns, o.MaxIdleConns, o.MaxActiveConns, o.MaxRetries, o.Protocol); reason != "" {
		return fail("%s", reason)
	}
	if reason := replicaReads(readOption{"replica_only", o.ReplicaOnly}, readOption{"route_by_latency", o.RouteByLatency},
		readOption{"route_randomly", o.RouteRandomly}); reason != "" {
		return fail("%s", reason)
	}
	if sentinelUser == "" {
		o.SentinelUsername = ""
	}
	return Target{Topology: Sentinel, Sentinel: o}, nil
}

// readOption is a go-redis URL parameter that sends commands to replicas,
// and whether the URL sets it.
type readOption struct {
	name string
	set  bool
}

// replicaReads refuses the parameters that send reads to replicas. A
// replica lags its master, and the receipt queue reads what it has just
// written (the bodies of the receipts a claim just leased, a query_sm's
// receipt right after its submit): every command must go to the master.
// Returns why, or "" when none is set.
func replicaReads(opts ...readOption) string {
	var set []string
	for _, o := range opts {
		if o.set {
			set = append(set, o.name)
		}
	}
	if len(set) == 0 {
		return ""
	}
	return fmt.Sprintf("%s would send reads to replicas, which lag the master: the gateway reads receipts it has just written and needs every command on the master; remove it",
		strings.Join(set, " and "))
}

// splitHosts splits "h:p,h:p" and checks each is host:port.
func splitHosts(hosts string) ([]string, error) {
	if hosts == "" {
		return nil, nil
	}
	var out []string
	for _, h := range strings.Split(hosts, ",") {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("%q is not host:port", h)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}

// checkDialed refuses what go-redis parses but cannot use: a negative
// database number, or an address whose port is not 1–65535 (url.Parse
// and go-redis take any digits, ":99999", ":0"). Either would show only
// as dial errors at run time, after check-config passed. Seeds given as
// addr parameters are checked here too.
func checkDialed(db int, addrs ...string) error {
	if db < 0 {
		return fmt.Errorf("database number %d is negative", db)
	}
	for _, a := range addrs {
		_, port, err := net.SplitHostPort(a)
		if err != nil {
			return fmt.Errorf("%q is not host:port", a)
		}
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q of %q is not 1-65535", port, a)
		}
	}
	return nil
}

// MaxPoolSize bounds REDIS_MAX_CONNECTIONS and the URL's pool sizes: each
// connection is a socket and buffers, and go-redis itself refuses a pool
// past 2^31-1 by panicking when the client is built.
const MaxPoolSize = 65536

// poolNumbers refuses the numeric URL parameters go-redis parses but
// cannot use: a negative pool size panics when the client is built, and
// so does one past its maximum; negative idle or active counts, retries
// below -1 (which turns retries off) and a protocol other than 2 or 3 are
// as wrong. Returns why, or "" when they are usable.
func poolNumbers(pool, minIdle, maxIdle, maxActive, retries, protocol int) string {
	for _, n := range []struct {
		name string
		v    int
	}{{"pool_size", pool}, {"min_idle_conns", minIdle}, {"max_idle_conns", maxIdle}, {"max_active_conns", maxActive}} {
		if n.v < 0 || n.v > MaxPoolSize {
			return fmt.Sprintf("%s=%d is not 0 to %d", n.name, n.v, MaxPoolSize)
		}
	}
	if retries < -1 {
		return fmt.Sprintf("max_retries=%d is not -1 (none) or more", retries)
	}
	if protocol != 0 && protocol != 2 && protocol != 3 {
		return fmt.Sprintf("protocol=%d is not 2 or 3", protocol)
	}
	return ""
}

// goRedisReason is go-redis's parse error without its "redis: " prefix.
// go-redis's URL errors name parameters and values, never the password
// (the URL was already parsed once here, so url.Parse cannot fail there).
func goRedisReason(err error) string {
	return strings.TrimPrefix(err.Error(), "redis: ")
}
