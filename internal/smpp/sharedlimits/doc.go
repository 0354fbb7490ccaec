// Package sharedlimits makes the per-account limits of the SMPP server hold
// across every instance that shares one Redis:
//
//   - throughput is a GCRA rate limiter in Redis (redis_rate), drawn in
//     small batches into a local pool refilled in the background, so that
//     a session's reader goroutine never waits for Redis (an empty pool
//     means throttled);
//   - max_binds is a set of bind leases per account (a sorted set scored by
//     expiry), renewed by a heartbeat every second (so that a Redis that
//     lost them has them back within a second), released on unbind or
//     close (a tombstone that stale renews, run by a Redis that hung,
//     cannot overwrite; a failed release is sent again), and expiring on
//     their own when an instance dies.
//
// When Redis cannot be reached the limits fall back to each instance's own
// (a token bucket per account, the local bind count): the gateway keeps
// serving, Healthy reports the fallback for /readyz and the gauge
// smpp_shared_limits_degraded is 1.
package sharedlimits
