// Package redisconn turns REDIS_URL into a go-redis client for one of the
// three topologies the gateway supports, with the same rules everywhere:
//
//   - standalone: redis://[user:password@]host:port/db, rediss://… (TLS),
//     unix:///path/to/socket?db=N (go-redis's own URL forms);
//   - Sentinel: redis-sentinel://[user:password@]host:port[,host:port…]/db?master=name
//     (rediss-sentinel:// for TLS). The user information is the master's
//     credentials; the Sentinels' own are sentinel_username and
//     sentinel_password query parameters. More Sentinels may also be given as
//     addr=host:port parameters;
//   - Cluster: redis-cluster://[user:password@]host:port[,host:port…]
//     (rediss-cluster:// for TLS), seeds as a comma-separated list or as
//     go-redis's addr=host:port parameters, or both.
//
// Other query parameters are go-redis's (dial_timeout, max_retries, …) and
// win over the defaults set here. An unknown parameter is an error, and so
// is one that sends reads to replicas (read_only, route_by_latency,
// route_randomly; replica_only on Sentinel): the receipt queue reads what
// it has just written on the master, which a lagging replica may not show.
//
// [New] applies REDIS_TIMEOUT_SECONDS to the client's own dial, read, write
// and pool-wait timeouts and makes it honour context deadlines, so a
// paused Redis holds a caller for about one timeout, not go-redis's
// default of several seconds. A Cluster client reloads its slot map every
// second while commands flow (go-redis's default is a minute) and at once
// when a command fails on a node error, so a promoted replica is used
// within about a second of the promotion. A Sentinel client whose
// Sentinels are all unreachable dials the master they last named
// (sentinel.go) rather than failing every new connection.
//
// [Parse] is what configuration validation uses, so a URL that validates is
// one [New] accepts. [Redact] masks every secret of a URL; errors from this
// package never contain one. [Logger] routes go-redis's own log lines into
// slog with the URL's secrets masked.
package redisconn
