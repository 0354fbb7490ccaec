package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// lastMaster lets a Sentinel client open connections while every Sentinel
// is unreachable or hangs. go-redis asks the Sentinels for the master's
// address on every dial and has no fallback: with the Sentinels down, a
// healthy master got no new connection, so once anything closed the
// pooled ones (a command timeout, a short stall of the master, the idle
// reaper) every command failed until a Sentinel came back, although the
// master answered all along.
//
// It remembers the address the Sentinels last named that a dial reached
// (the client's Dialer, which go-redis calls only once they answered),
// gives the Sentinels part of each dial's time (sentinelBudget), and when
// they did not answer within it dials that address directly. Without the
// Sentinels no failover happens, so it is still the master, unless this
// gateway alone is cut off from them while they promote another: then,
// as with the connections it already held, its writes go to the old
// master, which with the recommended min-replicas-to-write refuses them
// (the receipts wait in the outage buffer), and with REDIS_WAIT_REPLICAS
// none is acknowledged that no replica has.
type lastMaster struct {
	mu        sync.Mutex
	addr      string
	budget    time.Duration
	sentinels map[string]bool // go-redis dials them with the client's Dialer too
	dial      func(ctx context.Context, network, addr string) (net.Conn, error)
}

type (
	reachedKey struct{} // *bool: the Sentinels answered and the master was dialled
	parentKey  struct{} // the dial's own context, without the Sentinels' budget
)

// newLastMaster dials as go-redis's Sentinel dialer does (DialTimeout,
// and TLS when configured) and installs itself as o's Dialer; add it to
// the client as a hook too.
func newLastMaster(o *redis.FailoverOptions) *lastMaster {
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 5 * time.Minute}
	tc := o.TLSConfig
	m := &lastMaster{budget: sentinelBudget(o.DialTimeout), sentinels: make(map[string]bool), dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if tc == nil {
			return d.DialContext(ctx, network, addr)
		}
		return (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, network, addr)
	}}
	for _, a := range o.SentinelAddrs {
		m.sentinels[a] = true
	}
	o.Dialer = m.dialMaster
	return m
}

// sentinelBudget is the part of a dial the Sentinels get: half of it.
func sentinelBudget(dialTimeout time.Duration) time.Duration {
	if dialTimeout <= 0 {
		return time.Second
	}
	return dialTimeout / 2
}

// dialMaster dials the master the Sentinels named, with the dial's own
// time, and remembers its address once reached. A Sentinel (go-redis
// dials them with this Dialer too) is dialled within the Sentinels'
// budget and not remembered.
func (m *lastMaster) dialMaster(ctx context.Context, network, addr string) (net.Conn, error) {
	if m.sentinels[addr] {
		return m.dial(ctx, network, addr)
	}
	if p, ok := ctx.Value(reachedKey{}).(*bool); ok {
		*p = true
	}
	dctx := ctx
	if p, ok := ctx.Value(parentKey{}).(context.Context); ok {
		dctx = p
	}
	c, err := m.dial(dctx, network, addr)
	if err == nil {
		m.mu.Lock()
		m.addr = addr
		m.mu.Unlock()
	}
	return c, err
}

func (m *lastMaster) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		reached := new(bool)
		sctx, cancel := context.WithTimeout(context.WithValue(context.WithValue(ctx, reachedKey{}, reached), parentKey{}, ctx), m.budget)
		c, err := next(sctx, network, addr)
		cancel()
		if err == nil || *reached || ctx.Err() != nil {
			return c, err // the master itself answered or failed, or the caller gave up
		}
		m.mu.Lock()
		last := m.addr
		m.mu.Unlock()
		if last == "" {
			return nil, err
		}
		c, derr := m.dial(ctx, network, last)
		if derr != nil {
			return nil, errors.Join(err, fmt.Errorf("redis: the master the Sentinels last named, %s: %w", last, derr))
		}
		return c, nil
	}
}

func (m *lastMaster) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (m *lastMaster) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
