package hlr_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// TestBreakerRemembersWhatOpenedIt: the error of a refused call matches
// ErrTimeout exactly when timeouts opened the breaker, so the timeout
// policy keeps deciding while a slow HLR is cut off.
func TestBreakerRemembersWhatOpenedIt(t *testing.T) {
	tests := []struct {
		name        string
		failures    []error
		wantTimeout bool
	}{
		{"timeouts", []error{hlr.ErrTimeout, hlr.ErrTimeout, hlr.ErrTimeout}, true},
		{"provider errors", []error{hlr.ErrProvider, hlr.ErrProvider, hlr.ErrProvider}, false},
		{"mostly timeouts", []error{hlr.ErrProvider, hlr.ErrTimeout, hlr.ErrTimeout}, true},
		{"mostly errors", []error{hlr.ErrTimeout, hlr.ErrProvider, hlr.ErrProvider}, false},
		// Not most: the error policy decides (it used to be the timeout's).
		{"as many of each", []error{hlr.ErrProvider, hlr.ErrTimeout, hlr.ErrProvider, hlr.ErrTimeout}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i := 0
			p := &fakeProvider{fn: func(context.Context, string) (hlr.Result, error) {
				err := tt.failures[i%len(tt.failures)]
				i++
				return hlr.Result{}, err
			}}
			b := hlr.NewBreaker(p, hlr.BreakerSettings{ConsecutiveFailures: uint32(len(tt.failures)), OpenTimeout: time.Hour}, nil, nil)
			for range tt.failures {
				_, _ = b.Lookup(context.Background(), "1")
			}
			_, err := b.Lookup(context.Background(), "1")
			if !errors.Is(err, hlr.ErrCircuitOpen) {
				t.Fatalf("err = %v, want ErrCircuitOpen", err)
			}
			if got := errors.Is(err, hlr.ErrTimeout); got != tt.wantTimeout {
				t.Fatalf("errors.Is(%v, ErrTimeout) = %v, want %v", err, got, tt.wantTimeout)
			}
		})
	}
}

// TestBreakerStateMetricFollowsTheBreaker: hlr_breaker_state turns
// half-open when the open period ends, without waiting for a lookup.
func TestBreakerStateMetricFollowsTheBreaker(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		m, err := hlr.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		p := &fakeProvider{fn: func(context.Context, string) (hlr.Result, error) { return hlr.Result{}, hlr.ErrTimeout }}
		b := hlr.NewBreaker(p, hlr.BreakerSettings{ConsecutiveFailures: 2, OpenTimeout: 10 * time.Second}, m, nil)
		for range 2 {
			_, _ = b.Lookup(context.Background(), "1")
		}
		if got := metricValue(t, reg, "hlr_breaker_state", nil); got != 2 {
			t.Fatalf("hlr_breaker_state = %v, want 2 (open)", got)
		}
		time.Sleep(11 * time.Second) // fake time
		synctest.Wait()
		if got := metricValue(t, reg, "hlr_breaker_state", nil); got != 1 {
			t.Fatalf("hlr_breaker_state = %v after the open period, want 1 (half-open)", got)
		}
	})
}

// TestBreakerReopensWithTheProbesCause: an outage that changes kind while
// the breaker is open (provider errors, then a hanging HLR, and back) is
// decided by what the half-open probe met, so HLR_TIMEOUT_POLICY decides
// a timeout outage even when errors opened the breaker first.
func TestBreakerReopensWithTheProbesCause(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var failWith error = hlr.ErrProvider
		p := &fakeProvider{fn: func(context.Context, string) (hlr.Result, error) { return hlr.Result{}, failWith }}
		b := hlr.NewBreaker(p, hlr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: 10 * time.Second}, nil, nil)
		for range 3 {
			_, _ = b.Lookup(context.Background(), "1")
		}
		for i, kind := range []error{hlr.ErrProvider, hlr.ErrTimeout, hlr.ErrTimeout, hlr.ErrProvider} {
			_, err := b.Lookup(context.Background(), "1")
			if !errors.Is(err, hlr.ErrCircuitOpen) {
				t.Fatalf("cycle %d: err = %v, want ErrCircuitOpen", i, err)
			}
			wantTimeout := i > 0 && errors.Is(failWith, hlr.ErrTimeout)
			if got := errors.Is(err, hlr.ErrTimeout); got != wantTimeout {
				t.Fatalf("cycle %d: errors.Is(%v, ErrTimeout) = %v, want %v", i, err, got, wantTimeout)
			}
			failWith = kind
			time.Sleep(11 * time.Second) // fake time: half-open
			if _, err := b.Lookup(context.Background(), "1"); !errors.Is(err, kind) || errors.Is(err, hlr.ErrCircuitOpen) {
				t.Fatalf("cycle %d: the probe's error = %v, want the provider's %v", i, err, kind)
			}
		}
	})
}

// TestBreakerOneAccountsRunCutsOffThatAccount: a run of failures from one
// account while another asks cuts that account off, not everyone: one
// client sending numbers that time out at the provider used to open the
// breaker and fail every account's lookups for the open period. A run
// from several accounts, or from the only account asking, still opens it.
func TestBreakerOneAccountsRunCutsOffThatAccount(t *testing.T) {
	p := &fakeProvider{fn: func(_ context.Context, msisdn string) (hlr.Result, error) {
		if msisdn == "bad" {
			return hlr.Result{}, hlr.ErrTimeout
		}
		return hlr.Result{Class: hlr.ClassValid}, nil
	}}
	alice, bob := hlr.WithAccount(context.Background(), "alice"), hlr.WithAccount(context.Background(), "bob")
	newBreaker := func() *hlr.Breaker {
		return hlr.NewBreaker(p, hlr.BreakerSettings{ConsecutiveFailures: 3, OpenTimeout: time.Hour}, nil, nil)
	}

	t.Run("one account while another asks", func(t *testing.T) {
		b := newBreaker()
		if _, err := b.Lookup(bob, "good"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			_, _ = b.Lookup(alice, "bad")
		}
		if _, err := b.Lookup(alice, "good"); !errors.Is(err, hlr.ErrCircuitOpen) || !errors.Is(err, hlr.ErrTimeout) {
			t.Fatalf("alice after her own run: %v, want ErrCircuitOpen by timeouts", err)
		}
		if _, err := b.Lookup(bob, "good"); err != nil {
			t.Fatalf("bob after alice's run: %v, want his lookup made", err)
		}
		if b.Open() {
			t.Fatal("the breaker opened for everyone")
		}
	})
	t.Run("the only account asking", func(t *testing.T) {
		b := newBreaker()
		for range 3 {
			_, _ = b.Lookup(alice, "bad")
		}
		if !b.Open() {
			t.Fatal("a run from the only account asking did not open the breaker")
		}
	})
	t.Run("several accounts", func(t *testing.T) {
		b := newBreaker()
		_, _ = b.Lookup(alice, "bad")
		_, _ = b.Lookup(bob, "bad")
		_, _ = b.Lookup(alice, "bad")
		if !b.Open() {
			t.Fatal("a run from two accounts did not open the breaker")
		}
		if _, err := b.Lookup(bob, "good"); !errors.Is(err, hlr.ErrCircuitOpen) {
			t.Fatalf("bob with the breaker open: %v", err)
		}
	})
}
