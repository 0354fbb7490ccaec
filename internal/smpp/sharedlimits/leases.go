package sharedlimits

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// The leases of an account are one sorted set scored by expiry in Redis's
// own clock (instances need not agree on time). A lease given back stays
// in it for the lease TTL as a tombstone, scored by minus its expiry: a
// renew or an acquire of the same member that Redis executes after the
// release (sent before it on another connection, timed out on the client
// while Redis hung, executed when it resumed) finds the tombstone and
// writes nothing, whatever order Redis runs them in. Every member names
// one acquisition (Limits.member), so a tombstone never hides a live
// lease. Tombstones have negative scores: counts of live leases (scores
// after now) never see them, and one ZREMRANGEBYSCORE from -now to now
// drops the expired leases and the expired tombstones together.

// acquireScript takes a lease when fewer than ARGV[2] live ones exist.
// Expired leases (an instance that died) are dropped first. A member given
// back already (a stale acquire) is not taken again: answered 1, unwritten.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], -now, now)
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
if s and tonumber(s) < 0 then
  return 1
end
if not s and redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf') >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

// renewScript pushes the expiry of the leases ARGV[2..] to now+ARGV[1],
// writing again those Redis lost (restarted empty, a failover) and
// skipping those given back (a tombstone): a stale renew cannot bring a
// released lease back.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], -now, now)
local n = 0
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if not s or tonumber(s) > 0 then
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
    n = n + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ttl)
return n
`)

// releaseScript gives the lease ARGV[1] back: it leaves a tombstone for
// ARGV[2] ms (the lease TTL) in its place, and keeps the set that long.
var releaseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], -now, now)
redis.call('ZADD', KEYS[1], -(now + ttl), ARGV[1])
if redis.call('PTTL', KEYS[1]) < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1
`)

// countScript counts the live leases.
var countScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`)

// Acquire takes one of the account's maxBinds leases cluster-wide; it
// implements smpp.BindLeases. When Redis cannot be reached it answers true
// (the server's own bind count still applies) and the heartbeat publishes
// the lease once Redis is back. While the limits are degraded it does not
// ask Redis at all: the bind runs on the session's reader, and the
// once-a-second probe finds out when Redis answers again.
func (l *Limits) Acquire(ctx context.Context, systemID string, session uint64, maxBinds int) bool {
	member := l.member(session)
	if !l.degraded.Load() {
		ctx, cancel := l.opCtx(ctx)
		n, err := acquireScript.Run(ctx, l.rdb, []string{l.leaseKey(systemID)}, member, maxBinds, l.ttlMillis()).Int()
		cancel()
		l.observe("lease", err)
		if err == nil && n == 0 {
			return false
		}
	}
	l.mu.Lock()
	s := l.held[systemID]
	if s == nil {
		s = make(map[uint64]string)
		l.held[systemID] = s
	}
	s[session] = member
	l.mu.Unlock()
	return true
}

// Release gives a lease back without blocking: a worker replaces it in
// Redis by a tombstone (releaseScript). Should that fail, the lease
// expires after the lease TTL.
func (l *Limits) Release(systemID string, session uint64) {
	l.mu.Lock()
	member, held := l.held[systemID][session]
	if !held {
		l.mu.Unlock()
		return
	}
	delete(l.held[systemID], session)
	if len(l.held[systemID]) == 0 {
		delete(l.held, systemID)
	}
	r := lease{systemID, session, member}
	if l.beating {
		l.releasedInBeat = append(l.releasedInBeat, r)
	}
	l.mu.Unlock()
	l.queueRelease(r)
}

// release runs releaseScript for r.
func (l *Limits) release(ctx context.Context, c redis.Scripter, r lease) *redis.Cmd {
	return releaseScript.Run(ctx, c, []string{l.leaseKey(r.systemID)}, r.member, l.ttlMillis())
}

// queueRelease hands r to the release worker without blocking.
func (l *Limits) queueRelease(r lease) {
	select {
	case l.releases <- r:
	default:
		l.log.Warn("smpp.shared_limits.release_dropped", "system_id", r.systemID, "session", r.session,
			"detail", "release queue full: the lease expires on its own")
	}
}

// Counts is the number of live leases of each of systemIDs on all
// instances (the binds cluster-wide): one pipeline within one
// REDIS_TIMEOUT_SECONDS, -1 for an account Redis did not count. While the
// limits are degraded it does not ask (every count -1): a listing of many
// accounts must not wait out the timeout once per account while Redis
// hangs.
func (l *Limits) Counts(ctx context.Context, systemIDs []string) []int {
	out := make([]int, len(systemIDs))
	for i := range out {
		out[i] = -1
	}
	if l.degraded.Load() || len(systemIDs) == 0 {
		return out
	}
	ctx, cancel := l.opCtx(ctx)
	defer cancel()
	cmds := make([]*redis.Cmd, len(systemIDs))
	_, err := l.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, sys := range systemIDs {
			// By text: in a pipeline EVALSHA's NOSCRIPT comes too late
			// for a second try, and the script is short.
			cmds[i] = countScript.Eval(ctx, p, []string{l.leaseKey(sys)})
		}
		return nil
	})
	if err != nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) {
		return out
	}
	for i, c := range cmds {
		if n, err := c.Int(); err == nil {
			out[i] = n
		}
	}
	return out
}

func (l *Limits) releaseLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			l.releaseRemaining()
			return
		case r := <-l.releases:
			// Not cut short by the stop: a lease left behind blocks a
			// bind elsewhere for the lease TTL.
			octx, cancel := l.opCtx(context.WithoutCancel(ctx))
			err := l.release(octx, l.rdb, r).Err()
			cancel()
			l.observe("release", err)
			if err != nil {
				l.keepFailedRelease(r)
			}
		}
	}
}

// keepFailedRelease keeps a release that failed (Redis hung or was
// unreachable: a connection opened meanwhile never even sends it) for the
// next heartbeat that Redis answers. Given up, the lease would block a
// bind elsewhere for the lease TTL after Redis is back. Sent again late,
// a release does no harm: it only marks its own member given back.
func (l *Limits) keepFailedRelease(r lease) {
	l.mu.Lock()
	kept := len(l.failedReleases) < releaseQueue
	if kept {
		l.failedReleases = append(l.failedReleases, r)
	}
	l.mu.Unlock()
	if !kept {
		l.log.Warn("smpp.shared_limits.release_dropped", "system_id", r.systemID, "session", r.session,
			"detail", "too many releases waiting for Redis: the lease expires on its own")
	}
}

// retryFailedReleases hands the failed releases to the worker again;
// a heartbeat calls it once Redis has answered.
func (l *Limits) retryFailedReleases() {
	l.mu.Lock()
	failed := l.failedReleases
	l.failedReleases = nil
	l.mu.Unlock()
	for _, r := range failed {
		l.queueRelease(r)
	}
}

// heartbeat renews every lease held here, one pipelined script per
// account. A lease released while it runs is given back once more at the
// end: its release's tombstone keeps the renew from writing it again
// whatever order Redis runs the two in (a Redis that hung executes both
// when it resumes), but one that hung longer than the lease TTL, or a
// release that failed, would leave none by the time the renew runs.
func (l *Limits) heartbeat(ctx context.Context) {
	l.mu.Lock()
	args := make(map[string][]any, len(l.held))
	for id, s := range l.held {
		a := make([]any, 0, len(s)+1)
		a = append(a, l.ttlMillis())
		for _, member := range s {
			a = append(a, member)
		}
		args[id] = a
	}
	l.beating = len(args) > 0
	l.mu.Unlock()
	if len(args) == 0 {
		// Nothing to renew; still find out whether Redis answers, so
		// that an instance without sessions reports an outage (readyz,
		// smpp_shared_limits_degraded) before a bind runs into it, and
		// its end.
		octx, cancel := l.opCtx(ctx)
		err := l.rdb.Ping(octx).Err()
		cancel()
		l.observe("heartbeat", err)
		if err == nil {
			l.retryFailedReleases()
		}
		return
	}
	octx, cancel := l.opCtx(ctx)
	defer cancel()
	defer l.removeReleasedInBeat()
	pipe := l.rdb.Pipeline()
	for id, a := range args {
		// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT.
		renewScript.Eval(octx, pipe, []string{l.leaseKey(id)}, a...)
	}
	_, err := pipe.Exec(octx)
	l.observe("heartbeat", err)
	if err == nil {
		l.retryFailedReleases()
	}
}

// removeReleasedInBeat ends a heartbeat: the leases released while it
// ran go to the release worker once more. A session that holds a lease
// again holds another member, which this does not touch.
func (l *Limits) removeReleasedInBeat() {
	l.mu.Lock()
	again := l.releasedInBeat
	l.beating, l.releasedInBeat = false, nil
	l.mu.Unlock()
	for _, r := range again {
		l.queueRelease(r)
	}
}

// releaseRemaining gives back, in one pipeline, the leases of the sessions
// that closed as the instance stopped (and those whose release failed), so that their clients can bind to
// another instance at once rather than after the lease TTL.
func (l *Limits) releaseRemaining() {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	pipe := l.rdb.Pipeline()
	l.mu.Lock()
	failed := l.failedReleases
	l.failedReleases = nil
	l.mu.Unlock()
	for _, r := range failed {
		releaseScript.Eval(ctx, pipe, []string{l.leaseKey(r.systemID)}, r.member, l.ttlMillis())
	}
	for {
		select {
		case r := <-l.releases:
			// By text: in a pipeline EVALSHA's NOSCRIPT comes too late.
			releaseScript.Eval(ctx, pipe, []string{l.leaseKey(r.systemID)}, r.member, l.ttlMillis())
			continue
		default:
		}
		break
	}
	if pipe.Len() > 0 {
		_, err := pipe.Exec(ctx)
		l.observe("release", err)
	}
}
