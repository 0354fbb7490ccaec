package cache

import (
	"context"
	"fmt"
	"time"

	"github.com/maypok86/otter/v2"
)

// DefaultMemoryEntries is the default bound of a [Memory] cache
// (HLR_CACHE_MEMORY_ENTRIES).
const DefaultMemoryEntries = 1_000_000

// Memory is a bounded in-process cache with per-entry TTL. It is safe for
// concurrent use. Call Close to stop its maintenance goroutine.
type Memory[V any] struct {
	c     *otter.Cache[string, *memEntry[V]]
	clock *CoarseClock // the default clock, which Close stops; nil when one was given
}

// memEntry carries the TTL next to the value so one otter cache can hold
// entries with different lifetimes. otter keeps a pointer-shaped value in
// the node itself, so a hit loads one pointer and copies nothing (a struct
// value would be boxed by otter and copied out whole on every Get). An
// entry is never modified once stored: Set stores a new one.
type memEntry[V any] struct {
	v   V
	ttl time.Duration
}

// MemoryOptions tunes a [Memory] cache. The zero value is usable.
type MemoryOptions struct {
	// Clock is the time the entries' TTLs are measured on, read on every
	// hit and write (tests). nil: the system clock read once per
	// DefaultCoarseResolution by a [CoarseClock], so an entry lives its
	// TTL give or take a few milliseconds.
	Clock otter.Clock
}

// NewMemory returns an in-process cache holding at most maxEntries entries
// (DefaultMemoryEntries when maxEntries <= 0).
func NewMemory[V any](maxEntries int, opts MemoryOptions) (*Memory[V], error) {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryEntries
	}
	initial := maxEntries
	if initial > 4096 {
		initial = 4096
	}
	var coarse *CoarseClock
	clock := opts.Clock
	if clock == nil {
		coarse = NewCoarseClock(SystemClock{}, DefaultCoarseResolution)
		clock = coarse
	}
	c, err := otter.New(&otter.Options[string, *memEntry[V]]{
		MaximumSize:     maxEntries,
		InitialCapacity: initial,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[string, *memEntry[V]]) time.Duration {
			return e.Value.ttl
		}),
		Clock: clock,
	})
	if err != nil {
		if coarse != nil {
			coarse.Stop()
		}
		return nil, fmt.Errorf("cache: memory: %w", err)
	}
	return &Memory[V]{c: c, clock: coarse}, nil
}

// Get returns the value stored under key. It never returns an error.
func (m *Memory[V]) Get(_ context.Context, key string) (V, bool, error) {
	if p, ok := m.Ref(key); ok {
		return *p, true, nil
	}
	var zero V
	return zero, false, nil
}

// Ref returns the value stored under key without copying it: a hit costs
// a pointer however large V is. The value is shared with other readers and
// must not be modified; a later Set stores a new value and leaves the one
// returned as it was.
func (m *Memory[V]) Ref(key string) (*V, bool) {
	e, ok := m.c.GetIfPresent(key)
	if !ok {
		return nil, false
	}
	return &e.v, true
}

// Set stores value under key for ttl. A ttl <= 0 removes any stored value.
func (m *Memory[V]) Set(_ context.Context, key string, value V, ttl time.Duration) error {
	if ttl <= 0 {
		m.c.Invalidate(key)
		return nil
	}
	m.c.Set(key, &memEntry[V]{v: value, ttl: ttl})
	return nil
}

// Len returns the approximate number of entries.
func (m *Memory[V]) Len() int { return m.c.EstimatedSize() }

// Close stops the cache's background maintenance and its default clock's
// goroutine. The cache stays usable (its clock then reads the time on
// every call).
func (m *Memory[V]) Close() error {
	m.c.StopAllGoroutines()
	if m.clock != nil {
		m.clock.Stop()
	}
	return nil
}
