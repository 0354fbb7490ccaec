package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
)

type value struct {
	A string
	B int
}

func TestMemory(t *testing.T) {
	m, err := cache.NewMemory[value](10, cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	tests := []struct {
		name    string
		key     string
		set     *value
		ttl     time.Duration
		wantHit bool
	}{
		{"miss", "a", nil, 0, false},
		{"set then hit", "b", &value{"x", 1}, time.Hour, true},
		{"ttl zero stores nothing", "c", &value{"y", 2}, 0, false},
		{"negative ttl stores nothing", "d", &value{"z", 3}, -time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.set != nil {
				if err := m.Set(ctx, tt.key, *tt.set, tt.ttl); err != nil {
					t.Fatal(err)
				}
			}
			got, ok, err := m.Get(ctx, tt.key)
			if err != nil || ok != tt.wantHit {
				t.Fatalf("Get = %v, %v, %v", got, ok, err)
			}
			if ok && got != *tt.set {
				t.Fatalf("got %v, want %v", got, *tt.set)
			}
		})
	}
	// Setting with ttl 0 removes an existing entry.
	_ = m.Set(ctx, "b", value{}, 0)
	if _, ok, _ := m.Get(ctx, "b"); ok {
		t.Fatal("entry survived a ttl-0 Set")
	}
}

func TestMemoryDefaultSize(t *testing.T) {
	m, err := cache.NewMemory[int](0, cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Set(context.Background(), "k", 1, time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := m.Get(context.Background(), "k"); !ok || v != 1 {
		t.Fatalf("got %v %v", v, ok)
	}
}

// fakeClock is otter's clock in tests: it moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) NowNano() int64                      { return c.ns.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }

// TestMemoryRef: Ref lends the stored value; a later Set stores a new one
// and leaves the lent one as it was; the TTL applies as it does to Get.
func TestMemoryRef(t *testing.T) {
	clk := &fakeClock{}
	clk.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
	m, err := cache.NewMemory[value](10, cache.MemoryOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	if p, ok := m.Ref("a"); ok || p != nil {
		t.Fatalf("Ref of a missing key = %v, %v", p, ok)
	}
	_ = m.Set(ctx, "a", value{"x", 1}, time.Minute)
	p, ok := m.Ref("a")
	if !ok || *p != (value{"x", 1}) {
		t.Fatalf("Ref = %v, %v", p, ok)
	}
	_ = m.Set(ctx, "a", value{"y", 2}, time.Minute)
	if *p != (value{"x", 1}) {
		t.Fatalf("a Set changed a lent value: %v", *p)
	}
	if q, ok := m.Ref("a"); !ok || *q != (value{"y", 2}) {
		t.Fatalf("Ref after Set = %v, %v", q, ok)
	}
	clk.ns.Add(int64(time.Minute))
	if q, ok := m.Ref("a"); ok {
		t.Fatalf("Ref of an expired entry = %v", *q)
	}
	if _, ok, _ := m.Get(ctx, "a"); ok {
		t.Fatal("Get of an expired entry hit")
	}
}
