package redisconn

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// SlotMapInterval is how often a Cluster client reloads its slot map while
// commands flow. go-redis's default is a minute, far longer than a
// failover: until the reload the client keeps sending a dead master's
// slots to the dead master.
const SlotMapInterval = time.Second

// Settings are the client-wide limits from the configuration.
type Settings struct {
	// URL is REDIS_URL.
	URL string
	// PoolSize is REDIS_MAX_CONNECTIONS (per node on a Cluster).
	PoolSize int
	// Timeout is REDIS_TIMEOUT_SECONDS: the client's dial, read, write and
	// pool-wait timeouts, unless the URL sets them.
	Timeout time.Duration
}

// New builds the client of s.URL (see the package documentation).
func New(s Settings) (redis.UniversalClient, error) {
	t, err := Parse(s.URL)
	if err != nil {
		return nil, err
	}
	return t.Client(s), nil
}

// Client builds the client of the target with the limits of s.
func (t Target) Client(s Settings) redis.UniversalClient {
	l := limits{s}
	switch t.Topology {
	case Sentinel:
		o := *t.Sentinel
		l.applyFailover(&o)
		m := newLastMaster(&o) // sets o.Dialer
		c := redis.NewFailoverClient(&o)
		c.AddHook(m)
		return c
	case Cluster:
		o := *t.Cluster
		l.applyCluster(&o)
		if o.ClusterStateReloadInterval == 0 {
			o.ClusterStateReloadInterval = SlotMapInterval
		}
		c := redis.NewClusterClient(&o)
		c.AddHook(reloadOnNodeError{c})
		return c
	}
	o := *t.Standalone
	l.applyStandalone(&o)
	return redis.NewClient(&o)
}

// limits fills the timeouts and pool size the URL left unset. Dials are
// tried once per command attempt (go-redis tries five times by default, so
// a refused connection cost half a second before the command's own
// retries), and context deadlines bound every command.
type limits struct{ Settings }

func (l limits) set(pool, dialRetries *int, dial, read, write, poolWait *time.Duration, ctxTimeout *bool) {
	if *pool == 0 && l.PoolSize > 0 {
		*pool = l.PoolSize
	}
	if *dialRetries == 0 {
		*dialRetries = 1
	}
	if l.Timeout > 0 {
		for _, d := range []*time.Duration{dial, read, write, poolWait} {
			if *d == 0 {
				*d = l.Timeout
			}
		}
	}
	*ctxTimeout = true
}

func (l limits) applyStandalone(o *redis.Options) {
	l.set(&o.PoolSize, &o.DialerRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ContextTimeoutEnabled)
}

func (l limits) applyFailover(o *redis.FailoverOptions) {
	l.set(&o.PoolSize, &o.DialerRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ContextTimeoutEnabled)
}

func (l limits) applyCluster(o *redis.ClusterOptions) {
	l.set(&o.PoolSize, &o.DialerRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.PoolTimeout, &o.ContextTimeoutEnabled)
}

// reloadOnNodeError asks the Cluster client for a new slot map as soon as a
// command fails in a way that says the node is gone, failing over or not
// yet serving: go-redis reloads on MOVED and READONLY by itself, not on a
// refused connection or a timeout. Reloads are coalesced by go-redis (one
// at a time, at most one every 200 ms).
type reloadOnNodeError struct{ c *redis.ClusterClient }

func (h reloadOnNodeError) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h reloadOnNodeError) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if IsNodeError(err) {
			h.c.ReloadState(ctx)
		}
		return err
	}
}

func (h reloadOnNodeError) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		if err == nil {
			return nil
		}
		for _, cmd := range cmds {
			if IsNodeError(cmd.Err()) {
				h.c.ReloadState(ctx)
				break
			}
		}
		return err
	}
}

// nodeErrorPrefixes are the Redis replies of a node that cannot serve its
// slots now.
var nodeErrorPrefixes = []string{"CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN", "READONLY", "MOVED", "ASK"}

// NotRun reports whether err is a Redis reply refusing the command
// before it ran: a Cluster or replica in transition (TRYAGAIN, MOVED,
// CLUSTERDOWN, …). Connection errors and timeouts are not: the command
// may have run.
func NotRun(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	return inTransition(re.Error())
}

// IsNodeError reports whether err says the Redis node did not answer or
// cannot serve now (as opposed to a reply about the command itself, such
// as a script error): connection errors, timeouts, and the replies of a
// Cluster or replica in transition.
func IsNodeError(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return false
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) {
		return true
	}
	if NotRun(err) { // a reply, also wrapped
		return true
	}
	return inTransition(err.Error())
}

// inTransition reports whether msg starts with one of nodeErrorPrefixes.
func inTransition(msg string) bool {
	for _, p := range nodeErrorPrefixes {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
