// Package cache provides the small key/value caches the gateway puts in front
// of expensive lookups.
//
// [Cache] is a generic interface with two implementations:
//
//   - [Memory], an in-process, bounded, TTL cache built on
//     github.com/maypok86/otter/v2. It stores values as they are (no
//     serialisation), so a hit costs no allocation beyond what V itself needs.
//     Create it with [NewMemory]. Its TTLs are measured on a [CoarseClock],
//     which reads the time every few milliseconds so that a hit does not:
//     an entry lives its TTL give or take that much.
//   - [Redis], a shared cache on github.com/redis/go-redis/v9 that stores
//     []byte values under a configurable key prefix (default "hlr:"). Every
//     operation has a short timeout, and the cache fails open: while Redis is
//     unreachable or slow, calls return an error wrapping [ErrUnavailable]
//     quickly (without touching the network between probes) so callers can
//     treat it as a miss. State changes (up→down, down→up) are logged once,
//     not per request. Create it with [NewRedis]; readiness can ask
//     [Redis.Healthy] or [Redis.Up]. On a Redis full at maxmemory it gives
//     way to the receipts sharing it ([Redis.GiveWay], giveway.go): the
//     receipt queue's outage buffer calls it when Redis refuses receipts
//     for lack of memory, and the cache stops writing and removes its own
//     keys.
//
// A miss is (zero, false, nil). Errors are reserved for a cache that could not
// answer.
package cache
