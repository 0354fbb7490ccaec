package cache_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

// modelKeys are keys whose slots are easy to get wrong: numbers equal but
// for leading zeros, of every length around the 8-digit reads, sharing
// their first or last 8 digits, and keys that are not numbers (16 digits,
// '+', letters, the empty key), which are hashed.
var modelKeys = []string{
	"7", "07", "007", "0", "00",
	"1234567", "01234567", "12345678", "123456789", "1234567890",
	"123456781234567", "12345678234567", "1234567812345678",
	"447400123456", "447400123457", "447400123465", "0447400123456",
	"999999999999999", "000000000000000",
	"+447400123456", "4474001234a", "a", "", "1999 5550000",
}

type modelEntry struct {
	v       value
	expires int64
}

// TestMemoryModel runs random Set, Get and Ref calls and clock moves
// against a map that keeps what the documentation promises: a value lives
// its TTL (an entry set at t with ttl d is a hit before t+d and a miss
// from then on), a later Set replaces it, a Set with ttl <= 0 removes it,
// and a key is never answered with another key's value. The bound is
// above the keys' number, so that nothing is evicted.
func TestMemoryModel(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			clk := &fakeClock{}
			clk.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
			m, err := cache.NewMemory[value](1000, cache.MemoryOptions{Clock: clk})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			model := map[string]modelEntry{}
			rng := rand.New(rand.NewPCG(seed, 99))
			ttls := []time.Duration{-time.Second, 0, time.Second, time.Minute, time.Hour}
			for op := range 3000 {
				key := modelKeys[rng.IntN(len(modelKeys))]
				now := clk.ns.Load()
				switch r := rng.IntN(10); {
				case r < 4:
					v := value{A: key, B: op}
					ttl := ttls[rng.IntN(len(ttls))]
					if err := m.Set(ctx, key, v, ttl); err != nil {
						t.Fatal(err)
					}
					if ttl <= 0 {
						delete(model, key)
					} else {
						model[key] = modelEntry{v: v, expires: now + int64(ttl)}
					}
				case r < 9:
					want, ok := model[key]
					ok = ok && now < want.expires
					got, hit, err := m.Get(ctx, key)
					if err != nil || hit != ok || (ok && got != want.v) {
						t.Fatalf("op %d: Get(%q) = %v, %v, %v; want %v, %v", op, key, got, hit, err, want.v, ok)
					}
					p, hit := m.Ref(key)
					if hit != ok || (ok && *p != want.v) {
						t.Fatalf("op %d: Ref(%q) = %v, %v; want %v, %v", op, key, p, hit, want.v, ok)
					}
				default:
					clk.ns.Add(int64([]time.Duration{time.Millisecond, time.Second, 30 * time.Second}[rng.IntN(3)]))
				}
			}
		})
	}
}

// TestMemoryBound: number keys and hashed keys alike count towards the
// bound (HLR_CACHE_MEMORY_ENTRIES), and what is kept still answers right.
func TestMemoryBound(t *testing.T) {
	tests := []struct {
		name string
		key  func(i int) string
	}{
		{"numbers", func(i int) string { return fmt.Sprintf("1999%08d", i) }},
		{"hashed", func(i int) string { return fmt.Sprintf("k%d", i) }},
		{"both", func(i int) string {
			if i%2 == 0 {
				return fmt.Sprintf("+1999%08d", i)
			}
			return fmt.Sprintf("1999%08d", i)
		}},
	}
	const bound = 100
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := cache.NewMemory[int](bound, cache.MemoryOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			for i := range 10 * bound {
				if err := m.Set(ctx, tt.key(i), i, time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			m.CleanUp()
			if n := m.Len(); n > bound {
				t.Fatalf("Len = %d after %d keys, bound %d", n, 10*bound, bound)
			}
			kept := 0
			for i := range 10 * bound {
				if v, ok, _ := m.Get(ctx, tt.key(i)); ok {
					kept++
					if v != i {
						t.Fatalf("%q answered %d", tt.key(i), v)
					}
				}
			}
			if kept == 0 || kept > bound {
				t.Fatalf("%d keys answered, bound %d", kept, bound)
			}
		})
	}
}
