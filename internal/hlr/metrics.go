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
	slotWaits    prometheus.Counter
	avoided      [numAvoided]prometheus.Counter
}

// Ways a billed lookup is avoided: the by label of hlr_lookups_avoided_total.
type avoidedBy uint8

const (
	byMemory avoidedBy = iota
	byRedis
	byCoalesced
	byPrecheck
	byRule
	byNotANumber
	numAvoided
)

var avoidedLabels = [numAvoided]string{"memory", "redis", "coalesced", "precheck", "rule", "not_a_number"}

// NewMetrics registers the collectors on reg. A nil reg returns a nil
// *Metrics (no metrics) and no error.
//
// Names: hlr_requests_total{result=valid|invalid|timeout|error} (provider
// calls only), hlr_cache_hits_total{tier}, hlr_cache_misses_total{tier}
// (tier = memory|redis), hlr_latency_seconds (provider call latency),
// hlr_breaker_state (0 closed, 1 half-open, 2 open), hlr_inflight_requests
// (provider calls in flight), hlr_slot_wait_timeouts_total,
// hlr_breaker_rejections_total,
// hlr_lookups_avoided_total{by=memory|redis|coalesced|precheck|rule|not_a_number}
// (lookups answered without a billed provider call; every label starts at 0).
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
			Help: "Lookups failed fast by the open circuit breaker, or because their account was cut off by its own run of failures.",
		}),
		slotWaits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hlr_slot_wait_timeouts_total",
			Help: "Lookups that found no free provider slot (HLR_MAX_CONCURRENCY) in time, or found one with less time left than the provider's recent answers took: answered by HLR_TIMEOUT_POLICY, not counted by the circuit breaker.",
		}),
	}
	avoided := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hlr_lookups_avoided_total",
		Help: "Lookups answered without a billed provider call, by what answered: memory, redis (cache tiers), coalesced (shared a concurrent call), precheck (numbering plan), rule (HLR_RULES_FILE), not_a_number.",
	}, []string{"by"})
	for i, l := range avoidedLabels {
		m.avoided[i] = avoided.WithLabelValues(l)
	}
	for _, c := range []prometheus.Collector{requests, hits, misses, m.latency, m.breakerState, m.inflight, m.rejected, m.slotWaits, avoided} {
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

func (m *Metrics) slotWaitTimedOut() {
	if m != nil {
		m.slotWaits.Inc()
	}
}

func (m *Metrics) breakerRejected() {
	if m != nil {
		m.rejected.Inc()
	}
}

func (m *Metrics) avoid(by avoidedBy) {
	if m != nil {
		m.avoided[by].Inc()
	}
}

// answered counts an answer given on the reader ([Resolver.Answered]): a
// memory hit is also a cache hit; every answer is a lookup avoided.
func (m *Metrics) answered(s Source) {
	if m == nil {
		return
	}
	if s == SourceMemory {
		m.hitsMemory.Inc()
	}
	m.avoidBySource(s)
}

// avoidBySource counts an answer a layer gave without a provider call.
func (m *Metrics) avoidBySource(s Source) {
	switch s {
	case SourceMemory:
		m.avoid(byMemory)
	case SourceRedis:
		m.avoid(byRedis)
	case SourceRule:
		m.avoid(byRule)
	case SourcePrecheck:
		m.avoid(byPrecheck)
	case SourceNotANumber:
		m.avoid(byNotANumber)
	}
}
