package sharedlimits

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// acquireScript takes a lease when fewer than ARGV[2] live ones exist.
// Expired leases (an instance that died) are dropped first. The score is
// the expiry in Redis's own clock, so instances need not agree on time.
var acquireScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl)
return 1
`)

// renewScript pushes the expiry of the leases ARGV[2..] to now+ARGV[1].
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[1])
for i = 2, #ARGV do
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[i])
end
redis.call('PEXPIRE', KEYS[1], ttl)
return #ARGV - 1
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
	if !l.degraded.Load() {
		ctx, cancel := l.opCtx(ctx)
		n, err := acquireScript.Run(ctx, l.rdb, []string{l.leaseKey(systemID)}, l.member(session), maxBinds, l.ttlMillis()).Int()
		cancel()
		l.observe("lease", err)
		if err == nil && n == 0 {
			return false
		}
	}
	l.mu.Lock()
	s := l.held[systemID]
	if s == nil {
		s = make(map[uint64]struct{})
		l.held[systemID] = s
	}
	s[session] = struct{}{}
	l.mu.Unlock()
	return true
}

// Release gives a lease back without blocking: a worker removes it from
// Redis. Should that fail, the lease expires after the lease TTL.
func (l *Limits) Release(systemID string, session uint64) {
	l.mu.Lock()
	if s := l.held[systemID]; s != nil {
		delete(s, session)
		if len(s) == 0 {
			delete(l.held, systemID)
		}
	}
	if l.beating {
		l.releasedInBeat = append(l.releasedInBeat, lease{systemID, session})
	}
	l.mu.Unlock()
	l.queueRelease(lease{systemID, session})
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
			err := l.rdb.ZRem(octx, l.leaseKey(r.systemID), l.member(r.session)).Err()
			cancel()
			l.observe("release", err)
		}
	}
}

// heartbeat renews every lease held here, one pipelined script per
// account. A lease released while it runs may be written again after its
// release removed it (another connection): removed once more at the end,
// it would otherwise block a bind elsewhere for the lease TTL.
func (l *Limits) heartbeat(ctx context.Context) {
	l.mu.Lock()
	args := make(map[string][]any, len(l.held))
	for id, s := range l.held {
		a := make([]any, 0, len(s)+1)
		a = append(a, l.ttlMillis())
		for session := range s {
			a = append(a, l.member(session))
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
		l.observe("heartbeat", l.rdb.Ping(octx).Err())
		cancel()
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
}

// removeReleasedInBeat ends a heartbeat: the leases released while it
// ran, unless their session holds one again, go to the release worker
// once more, which removes them after the heartbeat's write.
func (l *Limits) removeReleasedInBeat() {
	l.mu.Lock()
	again := l.releasedInBeat[:0]
	for _, r := range l.releasedInBeat {
		if _, held := l.held[r.systemID][r.session]; !held {
			again = append(again, r)
		}
	}
	l.beating, l.releasedInBeat = false, nil
	l.mu.Unlock()
	for _, r := range again {
		l.queueRelease(r)
	}
}

// releaseRemaining gives back, in one pipeline, the leases of the sessions
// that closed as the instance stopped, so that their clients can bind to
// another instance at once rather than after the lease TTL.
func (l *Limits) releaseRemaining() {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.Timeout)
	defer cancel()
	pipe := l.rdb.Pipeline()
	for {
		select {
		case r := <-l.releases:
			pipe.ZRem(ctx, l.leaseKey(r.systemID), l.member(r.session))
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
