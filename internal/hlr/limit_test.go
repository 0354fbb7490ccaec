package hlr_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// TestLimiterTakesTurnsBetweenAccounts: with every slot taken, a freed slot
// goes to the accounts in turn, so the one lookup of an account that
// queued last is served second, not after the burst of the account that
// queued first.
func TestLimiterTakesTurnsBetweenAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var mu sync.Mutex
		var order []string
		p := &fakeProvider{fn: func(_ context.Context, msisdn string) (hlr.Result, error) {
			if msisdn == "hold" {
				<-hold
				return validResult(), nil
			}
			mu.Lock()
			order = append(order, msisdn)
			mu.Unlock()
			return validResult(), nil
		}}
		l := hlr.NewLimiter(p, hlr.LimiterOptions{MaxConcurrency: 1})
		var wg sync.WaitGroup
		lookup := func(account, msisdn string) {
			wg.Go(func() { _, _ = l.Lookup(hlr.WithAccount(context.Background(), account), msisdn) })
			synctest.Wait() // queued before the next one
		}
		lookup("x", "hold")
		for _, n := range []string{"a1", "a2", "a3", "a4"} {
			lookup("a", n)
		}
		lookup("b", "b1")
		lookup("c", "c1")
		close(hold)
		wg.Wait()
		if want := []string{"a1", "b1", "c1", "a2", "a3", "a4"}; !slices.Equal(order, want) {
			t.Fatalf("served %v, want %v", order, want)
		}
	})
}

// TestLimiterKeepsSlotsForOtherAccounts: one account's burst of slow
// lookups takes at most fifteen sixteenths of the slots, so another
// account's lookup gets a slot at once while the burst holds the rest
// (where it would otherwise wait for one of the burst's calls to end);
// the burst's waiting lookups take the slots its finished calls free.
func TestLimiterKeepsSlotsForOtherAccounts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hold := make(chan struct{})
		var mu sync.Mutex
		started := map[string]int{}
		p := &fakeProvider{fn: func(ctx context.Context, msisdn string) (hlr.Result, error) {
			mu.Lock()
			started[msisdn[:1]]++
			mu.Unlock()
			if msisdn[0] == 'a' {
				<-hold
			}
			return validResult(), nil
		}}
		l := hlr.NewLimiter(p, hlr.LimiterOptions{MaxConcurrency: 16})
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { _, _ = l.Lookup(hlr.WithAccount(context.Background(), "a"), "a") })
		}
		synctest.Wait() // the burst holds what it may and waits for the rest
		mu.Lock()
		if started["a"] != 15 {
			t.Fatalf("the burst holds %d slots of 16, want 15", started["a"])
		}
		mu.Unlock()
		if _, err := l.Lookup(hlr.WithAccount(context.Background(), "b"), "b"); err != nil {
			t.Fatalf("another account's lookup during the burst: %v", err)
		}
		close(hold)
		wg.Wait()
		if started["a"] != 20 || started["b"] != 1 {
			t.Fatalf("calls %v, want 20 of a and 1 of b", started)
		}
	})
}

// TestSlotWaitIsNotAProviderTimeout: lookups queued behind a full limiter
// that cannot get a slot in time fail with ErrTimeout (the timeout policy)
// and are counted in hlr_slot_wait_timeouts_total, but the breaker, which
// opens after one provider failure here, stays closed: every call that
// reached the provider had its whole HLR_TIMEOUT and answered.
func TestSlotWaitIsNotAProviderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := hlr.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
			select {
			case <-time.After(900 * time.Millisecond): // slow, but within the timeout
				return validResult(), nil
			case <-ctx.Done():
				return hlr.Result{}, hlr.ContextError(ctx.Err())
			}
		}}
		c := newChain(t, p, hlr.ChainOptions{Timeout: time.Second, MaxConcurrency: 1, Metrics: m,
			Breaker: hlr.BreakerSettings{ConsecutiveFailures: 1, OpenTimeout: time.Hour}})
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				_, errs[i] = c.Lookup(context.Background(), string(rune('1'+i)))
			})
			synctest.Wait()
		}
		wg.Wait()
		var answered, timedOut int
		for _, err := range errs {
			switch {
			case err == nil:
				answered++
			case errors.Is(err, hlr.ErrTimeout) && !errors.Is(err, hlr.ErrCircuitOpen):
				timedOut++
			default:
				t.Errorf("lookup: %v, want an answer or a slot-wait timeout", err)
			}
		}
		// Each waits up to 1 s for the slot; calls take 0.9 s: the first
		// two are answered, the others find no slot in time.
		if answered != 2 || timedOut != n-2 {
			t.Fatalf("answered %d, timed out %d; want 2 and %d", answered, timedOut, n-2)
		}
		if got := metricValue(t, reg, "hlr_slot_wait_timeouts_total", nil); got != n-2 {
			t.Errorf("hlr_slot_wait_timeouts_total = %v, want %d", got, n-2)
		}
		if s := c.BreakerState(); s != "closed" {
			t.Errorf("breaker %s after slot-wait timeouts, want closed", s)
		}
	})
}

// TestNoCallOutlivesItsCaller: a caller that comes to the chain with less
// than its whole deadline left (a submit that waited in the workers'
// queue) waits for a slot only while the call would still end before its
// deadline, and never starts a call with less than HLR_TIMEOUT left. An
// HLR slower than the offered load then answers every call it takes in
// time; before, each call started late outlived its submit (billed, its
// answer thrown away) and held the slot that a caller with time left
// needed, so an overloaded slow HLR answered almost no submit in time.
func TestNoCallOutlivesItsCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := hlr.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		var calls sync.WaitGroup
		var mu sync.Mutex
		completed := 0
		p := &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
			calls.Add(1)
			defer calls.Done()
			select {
			case <-time.After(900 * time.Millisecond): // slow, within the timeout
				mu.Lock()
				completed++
				mu.Unlock()
				return validResult(), nil
			case <-ctx.Done():
				return hlr.Result{}, hlr.ContextError(ctx.Err())
			}
		}}
		c := newChain(t, p, hlr.ChainOptions{Timeout: time.Second, SlotWait: time.Second, MaxConcurrency: 1, Metrics: m})
		// Each caller spent half a second queued before it came: 1.5 s
		// of its 2 s are left.
		const n = 4
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
				defer cancel()
				_, errs[i] = c.Lookup(ctx, string(rune('1'+i)))
			})
			synctest.Wait()
		}
		wg.Wait()
		calls.Wait()
		answered := 0
		for _, err := range errs {
			switch {
			case err == nil:
				answered++
			case !errors.Is(err, hlr.ErrTimeout):
				t.Errorf("lookup: %v, want an answer or a timeout", err)
			}
		}
		if answered != 1 || completed != answered {
			t.Fatalf("%d callers answered, %d provider calls completed; want 1 and 1 (no answer after its caller gave up)", answered, completed)
		}
		if got := metricValue(t, reg, "hlr_slot_wait_timeouts_total", nil); got != n-1 {
			t.Errorf("hlr_slot_wait_timeouts_total = %v, want %d", got, n-1)
		}
	})
}

func slowProvider(d time.Duration) *fakeProvider {
	return &fakeProvider{fn: func(ctx context.Context, _ string) (hlr.Result, error) {
		select {
		case <-time.After(d):
			return validResult(), nil
		case <-ctx.Done():
			return hlr.Result{}, hlr.ContextError(ctx.Err())
		}
	}}
}

// TestJoinerWithTimeLeftIsAnswered: a lookup that joins a shared call
// started by a caller with less time left (a submit that waited in the
// workers' queue) is not failed by that caller's deadline: it makes the
// call again with its own.
func TestJoinerWithTimeLeftIsAnswered(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChain(t, slowProvider(900*time.Millisecond), hlr.ChainOptions{Timeout: time.Second, SlotWait: time.Second})
		var wg sync.WaitGroup
		var errShort, errLong error
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, errShort = c.Lookup(ctx, "447700900001")
		})
		synctest.Wait()
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, errLong = c.Lookup(ctx, "447700900001")
		})
		wg.Wait()
		if !errors.Is(errShort, hlr.ErrTimeout) {
			t.Errorf("the caller with 500 ms left: %v, want a timeout (the HLR answers in 900 ms)", errShort)
		}
		if errLong != nil {
			t.Errorf("the caller with 2 s left that joined it: %v, want the answer", errLong)
		}
	})
}

// TestCallerDeadlineIsNotAProviderTimeout: callers that come with less
// than HLR_TIMEOUT left and find a slot free call with the time they
// have; when that runs out first, the breaker does not count it against
// the provider, which answers within its timeout.
func TestCallerDeadlineIsNotAProviderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := newChain(t, slowProvider(800*time.Millisecond), hlr.ChainOptions{Timeout: time.Second, SlotWait: time.Second,
			Breaker: hlr.BreakerSettings{ConsecutiveFailures: 3}})
		for i := range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
			if _, err := c.Lookup(ctx, string(rune('1'+i))+"4477009"); !errors.Is(err, hlr.ErrTimeout) {
				t.Errorf("caller with 700 ms left: %v, want a timeout", err)
			}
			cancel()
			synctest.Wait()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := c.Lookup(ctx, "999447700"); err != nil {
			t.Fatalf("a caller with its whole time after them: %v, want the answer (breaker %s)", err, c.BreakerState())
		}
	})
}

// TestLateCallerWaitsForNoSlowAnswer: a caller that comes with less than
// HLR_TIMEOUT left (it waited in the workers' queue) and finds a slot free
// calls only when more is left than the provider's answers lately took:
// with less, it would give up before the answer, billed for nothing, its
// slot taken from a fresher lookup. It is counted as a slot wait that ran
// out, not as the provider's failure.
func TestLateCallerWaitsForNoSlowAnswer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := hlr.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		p := slowProvider(800 * time.Millisecond)
		c := newChain(t, p, hlr.ChainOptions{Timeout: 2 * time.Second, SlotWait: time.Second, Metrics: m,
			Breaker: hlr.BreakerSettings{ConsecutiveFailures: 1}})
		lookup := func(number string, left time.Duration) error {
			ctx, cancel := context.WithTimeout(context.Background(), left)
			defer cancel()
			_, err := c.Lookup(ctx, number)
			return err
		}
		if err := lookup("447700900001", 3*time.Second); err != nil {
			t.Fatalf("a caller with its whole time: %v", err)
		}
		if err := lookup("447700900002", 700*time.Millisecond); !errors.Is(err, hlr.ErrTimeout) {
			t.Errorf("a caller with 700 ms left, answers taking 800 ms: %v, want a timeout", err)
		}
		if got := p.calls.Load(); got != 1 {
			t.Errorf("provider calls = %d, want 1: the late caller's would have been billed for nothing", got)
		}
		if got := metricValue(t, reg, "hlr_slot_wait_timeouts_total", nil); got != 1 {
			t.Errorf("hlr_slot_wait_timeouts_total = %v, want 1", got)
		}
		if err := lookup("447700900003", 1500*time.Millisecond); err != nil {
			t.Errorf("a caller with 1.5 s left (under HLR_TIMEOUT, over the answers' time): %v, want the answer (breaker %s)", err, c.BreakerState())
		}
	})
}
