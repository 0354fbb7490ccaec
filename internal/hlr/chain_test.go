package hlr_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

func TestChainMemoryTier(t *testing.T) {
	reg := prometheus.NewRegistry()
	p := &fakeProvider{}
	c := newChain(t, p, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour, Registerer: reg})
	ctx := context.Background()

	r, err := c.Lookup(ctx, "40722570240")
	if err != nil || r.Source != hlr.SourceProvider || r.Class != hlr.ClassValid {
		t.Fatalf("first lookup: %+v, %v", r, err)
	}
	if r.Expires.IsZero() {
		t.Fatal("a cached answer should carry Expires")
	}
	r, err = c.Lookup(ctx, "40722570240")
	if err != nil || r.Source != hlr.SourceMemory || r.Class != hlr.ClassValid {
		t.Fatalf("second lookup: %+v, %v", r, err)
	}
	if got := p.calls.Load(); got != 1 {
		t.Fatalf("provider calls = %d, want 1", got)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"hlr_cache_hits_total", map[string]string{"tier": "memory"}, 1},
		{"hlr_cache_misses_total", map[string]string{"tier": "memory"}, 1},
		{"hlr_requests_total", map[string]string{"result": "valid"}, 1},
		{"hlr_latency_seconds", nil, 1},
	} {
		if got := metricValue(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

func TestChainDoesNotCacheErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
	}{
		{"timeout", hlr.ErrTimeout},
		{"provider", hlr.ErrProvider},
		{"network failure", hlr.ErrNetworkFailure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &fakeProvider{fn: func(context.Context, string) (hlr.Result, error) { return hlr.Result{}, tt.err }}
			c := newChain(t, p, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour})
			for i := 0; i < 2; i++ {
				if _, err := c.Lookup(context.Background(), "40722570240"); !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
			}
			if got := p.calls.Load(); got != 2 {
				t.Fatalf("provider calls = %d, want 2 (errors must not be cached)", got)
			}
		})
	}
}

func TestChainTTLZeroDisablesCaching(t *testing.T) {
	p := &fakeProvider{}
	c := newChain(t, p, hlr.ChainOptions{Memory: newMemory(t), TTL: 0})
	for i := 0; i < 3; i++ {
		r, err := c.Lookup(context.Background(), "40722570240")
		if err != nil || r.Source != hlr.SourceProvider {
			t.Fatalf("lookup %d: %+v, %v", i, r, err)
		}
	}
	if got := p.calls.Load(); got != 3 {
		t.Fatalf("provider calls = %d, want 3", got)
	}
}

func TestChainCoalescesConcurrentLookups(t *testing.T) {
	release := make(chan struct{})
	p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
		<-release
		return validResult(), nil
	}}
	reg := prometheus.NewRegistry()
	c := newChain(t, p, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour, Registerer: reg})
	const n = 1000
	var wg sync.WaitGroup
	errs := make(chan error, n)
	started := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			started <- struct{}{}
			r, err := c.Lookup(context.Background(), "40722570240")
			if err == nil && r.Class != hlr.ClassValid {
				err = errors.New("not valid")
			}
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		<-started
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := p.calls.Load(); got != 1 {
		t.Fatalf("provider calls = %d, want 1", got)
	}
	// Every lookup but the one that called the provider was answered
	// without a billed call, each counted once under one label.
	var avoided float64
	for _, by := range []string{"memory", "coalesced"} {
		avoided += metricValue(t, reg, "hlr_lookups_avoided_total", map[string]string{"by": by})
	}
	if avoided != n-1 {
		t.Fatalf("hlr_lookups_avoided_total{memory,coalesced} = %v, want %d", avoided, n-1)
	}
}

// TestCoalescedFailuresAreCounted: lookups that shared a provider call
// that failed made no request of their own either: every lookup is a
// provider call or a coalesced one (the failures were not counted).
func TestCoalescedFailuresAreCounted(t *testing.T) {
	release := make(chan struct{})
	p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
		<-release
		return hlr.Result{}, hlr.ErrProvider
	}}
	reg := prometheus.NewRegistry()
	// No breaker: a lookup that leads a call after ten failures would be
	// refused by it without a provider call.
	c := newChain(t, p, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour, Registerer: reg,
		Breaker: hlr.BreakerSettings{Disabled: true}})
	const n = 100
	var wg sync.WaitGroup
	started := make(chan struct{}, n)
	for range n {
		wg.Go(func() {
			started <- struct{}{}
			if _, err := c.Lookup(context.Background(), "40722570240"); !errors.Is(err, hlr.ErrProvider) {
				t.Errorf("lookup: %v, want the shared provider error", err)
			}
		})
	}
	for range n {
		<-started
	}
	close(release)
	wg.Wait()
	calls := float64(p.calls.Load())
	coalesced := metricValue(t, reg, "hlr_lookups_avoided_total", map[string]string{"by": "coalesced"})
	if calls+coalesced != n {
		t.Fatalf("%v provider calls and %v coalesced lookups for %d lookups", calls, coalesced, n)
	}
}

func TestCoalescingCallerCancelDoesNotCancelOthers(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	sharedErr := make(chan error, 2) // the shared call's context state when it ends
	p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
		entered <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		sharedErr <- ctx.Err()
		if ctx.Err() != nil {
			return hlr.Result{}, hlr.ContextError(ctx.Err())
		}
		return validResult(), nil
	}}
	c := newChain(t, p, hlr.ChainOptions{})
	ctx1, cancel1 := context.WithCancel(context.Background())
	done1 := make(chan error, 1)
	go func() { _, err := c.Lookup(ctx1, "1"); done1 <- err }()
	<-entered
	done2 := make(chan error, 1)
	go func() { _, err := c.Lookup(context.Background(), "1"); done2 <- err }()
	cancel1()
	if err := <-done1; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	close(release)
	if err := <-done2; err != nil {
		t.Fatalf("other caller: %v", err)
	}
	if err := <-sharedErr; err != nil {
		t.Fatalf("the shared call was cancelled with its first caller: %v", err)
	}
}

func TestChainTimeoutBecomesErrTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
			<-ctx.Done()
			return hlr.Result{}, errors.New("gave up") // a provider that forgets to map the deadline
		}}
		c := newChain(t, p, hlr.ChainOptions{Timeout: 2 * time.Second})
		_, err := c.Lookup(context.Background(), "1")
		if !errors.Is(err, hlr.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
	})
}

func TestLimiter(t *testing.T) {
	release := make(chan struct{})
	entered := make(chan struct{}, 2)
	p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
		entered <- struct{}{}
		<-release
		return validResult(), nil
	}}
	reg := prometheus.NewRegistry()
	m, err := hlr.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	l := hlr.NewLimiter(p, hlr.LimiterOptions{MaxConcurrency: 2, Metrics: m})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); _, _ = l.Lookup(context.Background(), "1") }()
	}
	<-entered
	<-entered
	if got := metricValue(t, reg, "hlr_inflight_requests", nil); got != 2 {
		t.Fatalf("inflight = %v, want 2", got)
	}
	tests := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithDeadline(context.Background(), time.Unix(0, 0))
		}, hlr.ErrTimeout},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for _, tt := range tests {
		ctx, cancel := tt.ctx()
		_, err := l.Lookup(ctx, "2")
		cancel()
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	close(release)
	wg.Wait()
	if got := p.calls.Load(); got != 2 {
		t.Fatalf("provider calls = %d, want 2", got)
	}
	if got := metricValue(t, reg, "hlr_inflight_requests", nil); got != 0 {
		t.Fatalf("inflight = %v, want 0", got)
	}
}

func TestBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var failing = true
		p := &fakeProvider{fn: func(context.Context, string) (hlr.Result, error) {
			if failing {
				return hlr.Result{}, hlr.ErrProvider
			}
			return invalidResult(), nil
		}}
		reg := prometheus.NewRegistry()
		c := newChain(t, p, hlr.ChainOptions{
			Breaker:    hlr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second},
			Registerer: reg,
		})
		ctx := context.Background()
		for i := 0; i < 3; i++ {
			if _, err := c.Lookup(ctx, "1"); !errors.Is(err, hlr.ErrProvider) || errors.Is(err, hlr.ErrCircuitOpen) {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if !c.BreakerOpen() || c.BreakerState() != "open" {
			t.Fatalf("breaker state %s, want open", c.BreakerState())
		}
		if got := metricValue(t, reg, "hlr_breaker_state", nil); got != 2 {
			t.Fatalf("hlr_breaker_state = %v, want 2", got)
		}
		_, err := c.Lookup(ctx, "1")
		if !errors.Is(err, hlr.ErrCircuitOpen) || !errors.Is(err, hlr.ErrProvider) {
			t.Fatalf("open breaker: err = %v", err)
		}
		if got := p.calls.Load(); got != 3 {
			t.Fatalf("provider calls = %d, want 3 (fail fast while open)", got)
		}
		failing = false
		time.Sleep(10*time.Second + time.Millisecond) // fake time: the open period ends
		if c.BreakerState() != "half-open" {
			t.Fatalf("state %s, want half-open", c.BreakerState())
		}
		if r, err := c.Lookup(ctx, "1"); err != nil || r.Class != hlr.ClassInvalid {
			t.Fatalf("probe: %+v, %v", r, err)
		}
		if c.BreakerOpen() || c.BreakerState() != "closed" {
			t.Fatalf("state %s, want closed", c.BreakerState())
		}
	})
}

func TestBreakerIgnoresAnswersAndNetworkFailures(t *testing.T) {
	tests := []struct {
		name string
		fn   func(context.Context, string) (hlr.Result, error)
	}{
		{"invalid answers", func(context.Context, string) (hlr.Result, error) { return invalidResult(), nil }},
		{"network failure", func(context.Context, string) (hlr.Result, error) { return hlr.Result{}, hlr.ErrNetworkFailure }},
		{"caller cancelled", func(context.Context, string) (hlr.Result, error) { return hlr.Result{}, context.Canceled }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := hlr.NewBreaker(&fakeProvider{fn: tt.fn}, hlr.BreakerSettings{ConsecutiveFailures: 2}, nil, nil)
			for i := 0; i < 10; i++ {
				_, _ = b.Lookup(context.Background(), "1")
			}
			if b.Open() {
				t.Fatal("breaker opened")
			}
		})
	}
}

func TestNilRegistererMeansNoMetrics(t *testing.T) {
	m, err := hlr.NewMetrics(nil)
	if m != nil || err != nil {
		t.Fatalf("NewMetrics(nil) = %v, %v", m, err)
	}
	c := newChain(t, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Minute})
	if _, err := c.Lookup(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
}

func TestDuplicateRegistrationFails(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := hlr.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := hlr.NewChain(&fakeProvider{}, hlr.ChainOptions{Registerer: reg}); err == nil {
		t.Fatal("second registration should fail")
	}
}

func TestMemoryHitDoesNotAllocate(t *testing.T) {
	c := newChain(t, &fakeProvider{}, hlr.ChainOptions{Memory: newMemory(t), TTL: time.Hour})
	ctx := context.Background()
	if _, err := c.Lookup(ctx, "40722570240"); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Lookup(ctx, "40722570240"); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("memory hit allocates %v times", allocs)
	}
}
