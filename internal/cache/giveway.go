package cache

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Making room for receipts on a full Redis. With maxmemory and
// noeviction (what the receipts need: evicting their keys would lose
// them silently) the HLR cache competes with the receipt queue for the
// same memory: memory that delivered receipts free is taken by the next
// lookups' answers, and answers kept for a day hold it once the load
// stops, so receipts buffered in memory could wait for hours. A cached
// answer only saves a billed lookup; a receipt is a promise. So when the
// receipt queue is refused for lack of memory the cache gives way.
const (
	// giveWayFor is how long the cache stops writing after the last
	// GiveWay: reads still answer from what it holds.
	giveWayFor = 30 * time.Second
	// shedBatch bounds the keys one shed pass removes (on a Cluster, per
	// master), shedEvery how often a pass may start, shedTimeout how
	// long one may take.
	shedBatch   = 1000
	shedEvery   = time.Second
	shedTimeout = 2 * time.Second
	// shedScanCount is the COUNT hint of each SCAN of a pass.
	shedScanCount = 256
)

// ErrGivingWay is returned by Set while the cache gives way to the
// receipts (GiveWay): nothing is written.
var ErrGivingWay = errors.New("cache: not writing, Redis is full and receipts come first")

// GiveWay is called when Redis refused to store receipts for lack of
// memory. For giveWayFor from now the cache writes nothing, and at most
// once per shedEvery it removes up to shedBatch of its own keys (on a
// Cluster, per master) in the background. It does not block.
func (r *Redis) GiveWay() {
	now := r.now().UnixNano()
	if old := r.yieldUntil.Swap(now + int64(giveWayFor)); old < now {
		r.log.Warn("redis.cache.giving_way", slog.Duration("for", giveWayFor),
			slog.String("detail", "Redis refused receipts for lack of memory: the HLR cache stops writing and removes its own keys"))
	}
	last := r.lastShed.Load()
	if now-last < int64(shedEvery) || !r.lastShed.CompareAndSwap(last, now) {
		return
	}
	if !r.shedding.CompareAndSwap(false, true) {
		return
	}
	r.background.Add(1)
	go r.shedKeys()
}

// Shed is how many keys the cache removed to make room for receipts
// (hlr_cache_redis_shed_total).
func (r *Redis) Shed() uint64 { return r.shed.Load() }

// givingWay reports whether Set must not write now; the first Set after
// the period logs its end.
func (r *Redis) givingWay() bool {
	until := r.yieldUntil.Load()
	if until == 0 {
		return false
	}
	if r.now().UnixNano() < until {
		return true
	}
	if r.yieldUntil.CompareAndSwap(until, 0) {
		r.log.Info("redis.cache.writing_again")
	}
	return false
}

// shedKeys is one shed pass.
func (r *Redis) shedKeys() {
	defer r.background.Done()
	defer r.shedding.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), shedTimeout)
	defer cancel()
	pattern := globEscape(r.prefix) + "*"
	var n int
	if r.cluster != nil {
		var mu sync.Mutex
		err := r.cluster.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			k := shedFrom(ctx, c, pattern, shedBatch)
			mu.Lock()
			n += k
			mu.Unlock()
			return nil
		})
		if err != nil {
			r.log.Debug("redis.cache.shed_failed", slog.String("error", err.Error()))
		}
	} else {
		n = shedFrom(ctx, r.client, pattern, shedBatch)
	}
	r.shed.Add(uint64(n))
	r.log.Info("redis.cache.keys_removed_for_receipts", slog.Int("keys", n))
}

// shedFrom removes up to max keys matching pattern from one server (SCAN
// from the start: the keys a pass removed are gone for the next). DEL and
// UNLINK are allowed above maxmemory. One key per UNLINK: a Cluster node
// refuses keys of several slots in one command.
func shedFrom(ctx context.Context, c redis.Cmdable, pattern string, max int) int {
	var cursor uint64
	removed := 0
	for removed < max {
		keys, next, err := c.Scan(ctx, cursor, pattern, shedScanCount).Result()
		if err != nil {
			return removed
		}
		if len(keys) > max-removed {
			keys = keys[:max-removed]
		}
		if len(keys) > 0 {
			cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, k := range keys {
					p.Unlink(ctx, k)
				}
				return nil
			})
			for _, cmd := range cmds {
				if ic, ok := cmd.(*redis.IntCmd); ok && ic.Err() == nil {
					removed += int(ic.Val())
				}
			}
		}
		if cursor = next; cursor == 0 {
			return removed
		}
	}
	return removed
}

// globEscape quotes the characters SCAN's MATCH treats as a pattern.
func globEscape(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
