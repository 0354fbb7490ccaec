package hlr_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
)

// fakeProvider counts calls and answers with fn (default: valid).
type fakeProvider struct {
	calls atomic.Int64
	fn    func(ctx context.Context, msisdn string) (hlr.Result, error)
}

func (f *fakeProvider) Lookup(ctx context.Context, msisdn string) (hlr.Result, error) {
	f.calls.Add(1)
	if f.fn != nil {
		return f.fn(ctx, msisdn)
	}
	return validResult(), nil
}

func validResult() hlr.Result {
	r, err := hlr.Classify(hlr.Answer{Present: "yes", LineType: "mobile", Raw: []byte(`{"status":0}`)}, hlr.DefaultErrCodes())
	if err != nil {
		panic(err)
	}
	return r
}

func invalidResult() hlr.Result {
	r, err := hlr.Classify(hlr.Answer{Status: 1}, hlr.DefaultErrCodes())
	if err != nil {
		panic(err)
	}
	return r
}

func newMemory(t testing.TB) *cache.Memory[hlr.Result] {
	t.Helper()
	m, err := cache.NewMemory[hlr.Result](1000, cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func newChain(t testing.TB, p hlr.Lookuper, o hlr.ChainOptions) *hlr.Chain {
	t.Helper()
	c, err := hlr.NewChain(p, o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// metricValue returns the value of a counter or gauge with the given labels.
func metricValue(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue next
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func num(i int) string { return fmt.Sprintf("1999%07d", i) }
