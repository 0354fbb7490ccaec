package cache

import (
	"context"
	"fmt"
	"hash/maphash"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/smpp-hlr-gateway/gateway/internal/digits"
)

// DefaultMemoryEntries is the default bound of a [Memory] cache
// (HLR_CACHE_MEMORY_ENTRIES).
const DefaultMemoryEntries = 1_000_000

// Memory is a bounded in-process cache with per-entry TTL. It is safe for
// concurrent use. Call Close to stop its maintenance goroutine.
//
// otter holds the entries under a uint64 made from the key, its slot: a
// key of 1 to 15 decimal digits (an E.164 number, the gateway's only key)
// maps to a number of its own, so such keys never collide; any other key maps to a seeded hash, and its entry keeps the
// key to tell it from another key with the same hash. A number key costs
// a hit no string hashing and no string compare, and the entry keeps no
// string alive (a key cut from a larger string would keep all of it).
type Memory[V any] struct {
	c     *otter.Cache[uint64, *memEntry[V]]
	seed  maphash.Seed // of the hashed slots
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
	key string // the key of a hashed slot; "" for a number key
}

// Slots. A number key of n digits (1 ≤ n ≤ 15) keeps n in bits 0–3, so
// "7" and "007" differ. Up to 7 digits, bits 4 and up are its value;
// from 8 on, the value of its first 8 digits (below 10^8 < 2^27) is in
// bits 31–57 and that of its last 8 (they overlap below 16) in bits 4–30,
// which together give every digit. A hashed slot has bit 63 set: the two
// ranges do not meet.
const (
	maxDigitKey = 15
	hashedSlot  = uint64(1) << 63
)

// digitSlot returns the slot of a key of 1 to 15 decimal digits. From 8
// digits on it reads them 8 at a time (package digits): ~70 instructions
// for 14 digits, where a loop over the digits took ~170.
func digitSlot(key string) (uint64, bool) {
	n := len(key)
	switch {
	case n == 0 || n > maxDigitKey:
		return 0, false
	case n < 8:
		var v uint64
		for i := 0; i < n; i++ {
			d := key[i] - '0'
			if d > 9 {
				return 0, false
			}
			v = v*10 + uint64(d)
		}
		return v<<4 | uint64(n), true
	}
	hi, ok := digits.Value8(digits.Load8(key))
	if !ok {
		return 0, false
	}
	lo, ok := digits.Value8(digits.Load8(key[n-8:]))
	if !ok {
		return 0, false
	}
	return hi<<31 | lo<<4 | uint64(n), true
}

// slot returns the slot of key and whether it is a hashed one, whose entry
// must be checked for the key.
func (m *Memory[V]) slot(key string) (uint64, bool) {
	if s, ok := digitSlot(key); ok {
		return s, false
	}
	return maphash.String(m.seed, key) | hashedSlot, true
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
	c, err := otter.New(&otter.Options[uint64, *memEntry[V]]{
		MaximumSize:     maxEntries,
		InitialCapacity: initial,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[uint64, *memEntry[V]]) time.Duration {
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
	return &Memory[V]{c: c, seed: maphash.MakeSeed(), clock: coarse}, nil
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
	if s, ok := digitSlot(key); ok {
		if e, ok := m.c.GetIfPresent(s); ok {
			return &e.v, true
		}
		return nil, false
	}
	return m.refHashed(key)
}

// refHashed is Ref of a key that is not a number.
func (m *Memory[V]) refHashed(key string) (*V, bool) {
	e, ok := m.c.GetIfPresent(maphash.String(m.seed, key) | hashedSlot)
	if !ok || e.key != key {
		return nil, false
	}
	return &e.v, true
}

// Set stores value under key for ttl. A ttl <= 0 removes any stored value.
//
// Two keys that are not numbers and share a hash (about one chance in
// 2^63 for a pair) share a slot: storing or removing one removes the
// other, as an eviction would.
func (m *Memory[V]) Set(_ context.Context, key string, value V, ttl time.Duration) error {
	s, hashed := m.slot(key)
	if ttl <= 0 {
		m.c.Invalidate(s)
		return nil
	}
	e := &memEntry[V]{v: value, ttl: ttl}
	if hashed {
		e.key = key
	}
	m.c.Set(s, e)
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
