package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// lastMaster lets a Sentinel client open connections while every Sentinel
// is unreachable. go-redis asks the Sentinels for the master's address on
// every dial and has no fallback: with the Sentinels down, a healthy master
// got no new connection, so once anything closed the pooled ones (a
// command timeout, a short stall of the master, the idle reaper) every
// command failed until a Sentinel came back, although the master answered
// all along. The hook remembers the address each dial reached (the master
// the Sentinels named) and, when a dial fails because no Sentinel answers,
// dials that address directly. No failover can happen without the
// Sentinels, so it is still the master, unless it was demoted just before
// they all went away; then writes fail with READONLY (a failure, not a
// silent write) until a Sentinel answers again.
type lastMaster struct {
	mu   sync.Mutex
	addr string
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// newLastMaster dials as go-redis's Sentinel dialer does: DialTimeout,
// and TLS when configured.
func newLastMaster(o *redis.FailoverOptions) *lastMaster {
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 5 * time.Minute}
	tc := o.TLSConfig
	return &lastMaster{dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if tc == nil {
			return d.DialContext(ctx, network, addr)
		}
		return (&tls.Dialer{NetDialer: d, Config: tc}).DialContext(ctx, network, addr)
	}}
}

func (m *lastMaster) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err == nil {
			m.mu.Lock()
			m.addr = c.RemoteAddr().String()
			m.mu.Unlock()
			return c, nil
		}
		if !sentinelsUnreachable(err) {
			return nil, err
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

// sentinelsUnreachable reports whether err is go-redis's failure to reach
// any Sentinel (v9: "redis: all sentinels specified in configuration are
// unreachable: …"; it has no error value of its own).
func sentinelsUnreachable(err error) bool {
	return strings.Contains(err.Error(), "all sentinels specified in configuration are unreachable")
}
