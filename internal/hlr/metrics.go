package hlr

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the lookup layer's Prometheus collectors. A nil *Metrics is
// valid and records nothing.
type Metrics struct {
	requests     *prometheus.CounterVec
	reqValid     prometheus.Counter
	reqInvalid   prometheus.Counter
	reqTimeout   prometheus.Counter
	reqError     prometheus.Counter
	hitsMemory   prometheus.Counter
	hitsRedis    prometheus.Counter
	missesMemory prometheus.Counter
	missesRedis  prometheus.Counter
	latency      prometheus.Histogram
	breakerState prometheus.Gauge
	inflight     prometheus.Gauge
	rejected     prometheus.Counter
}

// NewMetrics registers the collectors on reg. A nil reg returns a nil
// *Metrics (no metrics) and no error.
//
// Names: hlr_requests_total{result=valid|invalid|timeout|error} (provider
// calls only), hlr_cache_hits_total{tier}, hlr_cache_misses_total{tier}
// (tier = memory|redis), hlr_latency_seconds (provider call latency),
// hlr_breaker_state (0 closed, 1 half-open, 2 open), hlr_inflight_requests
// (provider calls in flight), hlr_breaker_rejections_total.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	if reg == nil {
		return nil, nil
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hlr_requests_total",
		Help: "HLR provider calls by result.",
	}, []string{"result"})
	hits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hlr_cache_hits_total",
		Help: "HLR cache hits by tier.",
	}, []string{"tier"})
	misses := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hlr_cache_misses_total",
		Help: "HLR cache misses by tier (an unreachable Redis counts as a miss).",
	}, []string{"tier"})
	m := &Metrics{
		requests: requests,
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "hlr_latency_seconds",
			Help:    "HLR provider call latency.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		breakerState: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hlr_breaker_state",
			Help: "HLR circuit breaker state: 0 closed, 1 half-open, 2 open.",
		}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hlr_inflight_requests",
			Help: "HLR provider calls in flight.",
		}),
		rejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlr_breaker_rejections_total",
			Help: "Lookups failed fast by the open circuit breaker.",
		}),
	}
	for _, c := range []prometheus.Collector{requests, hits, misses, m.latency, m.breakerState, m.inflight, m.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("hlr: register metrics: %w", err)
		}
	}
	m.reqValid = requests.WithLabelValues("valid")
	m.reqInvalid = requests.WithLabelValues("invalid")
	m.reqTimeout = requests.WithLabelValues("timeout")
	m.reqError = requests.WithLabelValues("error")
	m.hitsMemory = hits.WithLabelValues("memory")
	m.hitsRedis = hits.WithLabelValues("redis")
	m.missesMemory = misses.WithLabelValues("memory")
	m.missesRedis = misses.WithLabelValues("redis")
	return m, nil
}

func (m *Metrics) providerCall(res Result, err error, seconds float64) {
	if m == nil {
		return
	}
	m.latency.Observe(seconds)
	switch {
	case err == nil && res.Class == ClassValid:
		m.reqValid.Inc()
	case err == nil:
		m.reqInvalid.Inc()
	case errors.Is(err, ErrTimeout):
		m.reqTimeout.Inc()
	default:
		m.reqError.Inc()
	}
}

func (m *Metrics) cache(src Source, hit bool) {
	if m == nil {
		return
	}
	switch {
	case src == SourceMemory && hit:
		m.hitsMemory.Inc()
	case src == SourceMemory:
		m.missesMemory.Inc()
	case hit:
		m.hitsRedis.Inc()
	default:
		m.missesRedis.Inc()
	}
}

func (m *Metrics) inflightAdd(d float64) {
	if m != nil {
		m.inflight.Add(d)
	}
}

func (m *Metrics) setBreakerState(v float64) {
	if m != nil {
		m.breakerState.Set(v)
	}
}

func (m *Metrics) breakerRejected() {
	if m != nil {
		m.rejected.Inc()
	}
}
