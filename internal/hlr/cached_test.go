package hlr_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// fakeClock is the chain's clock and the memory tier's (otter): it moves
// only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Unix(1_800_000_000, 0).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time                      { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) NowNano() int64                      { return c.ns.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) Advance(d time.Duration)             { c.ns.Add(int64(d)) }

// mapStore is a memory tier that cannot lend its values (only
// cache.Cache), as any store other than cache.Memory.
type mapStore struct {
	mu sync.Mutex
	m  map[string]hlr.Result
}

func (s *mapStore) Get(_ context.Context, key string) (hlr.Result, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.m[key]
	return r, ok, nil
}

func (s *mapStore) Set(_ context.Context, key string, r hlr.Result, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]hlr.Result{}
	}
	if ttl <= 0 {
		delete(s.m, key)
		return nil
	}
	s.m[key] = r
	return nil
}

// TestCachedAnswersFromMemory: the reader's path (Chain.Cached,
// Resolver.Cached) answers what Lookup cached, says it comes from memory,
// with the Expires Lookup returned, whether the tier lends its values
// (cache.Memory) or not, and whoever stored the answer.
func TestCachedAnswersFromMemory(t *testing.T) {
	const n = "40722570240"
	tests := []struct {
		name  string
		store func(t *testing.T) cache.Cache[hlr.Result]
		// direct stores the answer in the tier itself, not through a
		// Lookup (as the provider gave it).
		direct bool
	}{
		{"cache.Memory", func(t *testing.T) cache.Cache[hlr.Result] { return newMemory(t) }, false},
		{"cache.Memory, stored directly", func(t *testing.T) cache.Cache[hlr.Result] { return newMemory(t) }, true},
		{"a store that cannot lend", func(*testing.T) cache.Cache[hlr.Result] { return &mapStore{} }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := tt.store(t)
			c := newChain(t, &fakeProvider{}, hlr.ChainOptions{Memory: store, TTL: time.Hour})
			ctx := context.Background()
			if p, ok := c.Cached(n); ok {
				t.Fatalf("Cached before any lookup = %+v", *p)
			}
			var want hlr.Result
			if tt.direct {
				want = validResult()
				want.Source = hlr.SourceProvider
				want.Expires = time.Now().Add(time.Hour)
				if err := store.Set(ctx, n, want, time.Hour); err != nil {
					t.Fatal(err)
				}
			} else {
				var err error
				if want, err = c.Lookup(ctx, n); err != nil || want.Source != hlr.SourceProvider {
					t.Fatalf("first lookup: %+v, %v", want, err)
				}
			}
			p, ok := c.Cached(n)
			if !ok || p.Source != hlr.SourceMemory || p.Class != want.Class || p.Reason != want.Reason ||
				p.ErrCode != want.ErrCode || !p.Expires.Equal(want.Expires) || string(p.Raw) != string(want.Raw) {
				t.Fatalf("Chain.Cached = %+v, %v; want %+v from memory", p, ok, want)
			}
			r := hlr.NewResolver(c, hlr.ResolverOptions{})
			got, ok := r.Cached(hlr.Destination{Addr: n, TON: 1})
			if !ok || got.Source != hlr.SourceMemory || !got.Expires.Equal(want.Expires) {
				t.Fatalf("Resolver.Cached = %+v, %v", got, ok)
			}
			if got, err := c.Lookup(ctx, n); err != nil || got.Source != hlr.SourceMemory || !got.Expires.Equal(want.Expires) {
				t.Fatalf("Lookup hit = %+v, %v", got, err)
			}
		})
	}
}

// TestCachedKeepsLifetimes: the reader's path honours each answer's
// lifetime (HLR_CACHE_TTL_SECONDS, HLR_CACHE_TTL_TEMPORARY_SECONDS).
func TestCachedKeepsLifetimes(t *testing.T) {
	clk := newFakeClock()
	mem, err := cache.NewMemory[hlr.Result](100, cache.MemoryOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mem.Close() })
	absent, err := hlr.Classify(hlr.Answer{Error: 27, Present: "no"}, hlr.DefaultErrCodes())
	if err != nil {
		t.Fatal(err)
	}
	const live, away = "40722570240", "40722570227"
	p := &fakeProvider{fn: func(_ context.Context, msisdn string) (hlr.Result, error) {
		if msisdn == away {
			return absent, nil
		}
		return validResult(), nil
	}}
	c := newChain(t, p, hlr.ChainOptions{Memory: mem, TTL: time.Hour, TemporaryTTL: time.Minute, Now: clk.Now})
	for _, n := range []string{live, away} {
		if _, err := c.Lookup(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		advance            time.Duration
		wantLive, wantAway bool
	}{
		{0, true, true},
		{time.Minute - time.Nanosecond, true, true},
		{time.Nanosecond, true, false},
		{time.Hour - time.Minute, false, false},
	} {
		clk.Advance(step.advance)
		if _, ok := c.Cached(live); ok != step.wantLive {
			t.Errorf("after +%v: permanent answer cached = %v, want %v", step.advance, ok, step.wantLive)
		}
		if _, ok := c.Cached(away); ok != step.wantAway {
			t.Errorf("after +%v: temporary answer cached = %v, want %v", step.advance, ok, step.wantAway)
		}
	}
}

// TestResolverCachedDoesNotAllocate: the reader's memory hit allocates
// nothing.
func TestResolverCachedDoesNotAllocate(t *testing.T) {
	c := newChain(t, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour})
	if _, err := c.Lookup(context.Background(), "40722570240"); err != nil {
		t.Fatal(err)
	}
	r := hlr.NewResolver(c, hlr.ResolverOptions{})
	d := hlr.Destination{Addr: "40722570240", TON: 1}
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := r.Cached(d); !ok {
			t.Fatal("not a memory hit")
		}
	})
	if allocs != 0 {
		t.Fatalf("a memory hit allocates %v times", allocs)
	}
}

func TestChainLookupTimeoutIsSlotWaitPlusCallTimeout(t *testing.T) {
	for _, c := range []struct {
		o    hlr.ChainOptions
		want time.Duration
	}{
		{hlr.ChainOptions{}, hlr.DefaultSlotWait + hlr.DefaultTimeout},
		{hlr.ChainOptions{Timeout: 2 * time.Second, SlotWait: 250 * time.Millisecond}, 2250 * time.Millisecond},
	} {
		if got := newChain(t, &fakeProvider{}, c.o).LookupTimeout(); got != c.want {
			t.Errorf("%+v: LookupTimeout() = %v, want %v", c.o, got, c.want)
		}
	}
}

// TestResolverAnsweredCounts: an answer of Cached that is used counts as
// what answered it; a memory hit is both a cache hit and an avoided
// lookup.
func TestResolverAnsweredCounts(t *testing.T) {
	tests := []struct {
		src     hlr.Source
		hit     float64 // hlr_cache_hits_total{tier="memory"}
		avoided string  // the hlr_lookups_avoided_total label counted, "" none
	}{
		{src: hlr.SourceMemory, hit: 1, avoided: "memory"},
		{src: hlr.SourceRedis, avoided: "redis"},
		{src: hlr.SourceRule, avoided: "rule"},
		{src: hlr.SourcePrecheck, avoided: "precheck"},
		{src: hlr.SourceNotANumber, avoided: "not_a_number"},
		{src: hlr.SourceProvider},
	}
	for _, tt := range tests {
		t.Run(tt.src.String(), func(t *testing.T) {
			reg := prometheus.NewRegistry()
			m, err := hlr.NewMetrics(reg)
			if err != nil {
				t.Fatal(err)
			}
			r := hlr.NewResolver(&fakeProvider{}, hlr.ResolverOptions{Metrics: m})
			r.Answered(hlr.Result{Class: hlr.ClassValid, Source: tt.src})
			if got := metricValue(t, reg, "hlr_cache_hits_total", map[string]string{"tier": "memory"}); got != tt.hit {
				t.Errorf("memory hits = %v, want %v", got, tt.hit)
			}
			for _, by := range []string{"memory", "redis", "coalesced", "precheck", "rule", "not_a_number"} {
				want := 0.0
				if by == tt.avoided {
					want = 1
				}
				if got := metricValue(t, reg, "hlr_lookups_avoided_total", map[string]string{"by": by}); got != want {
					t.Errorf("hlr_lookups_avoided_total{by=%q} = %v, want %v", by, got, want)
				}
			}
		})
	}
	hlr.NewResolver(&fakeProvider{}, hlr.ResolverOptions{}).Answered(hlr.Result{Source: hlr.SourceMemory}) // no metrics: no panic
}
