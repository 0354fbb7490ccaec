package dlr

import (
	"errors"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// maxReasonLabels bounds the distinct reason label values of delivrd_total;
// later unseen reasons are counted as "other".
const maxReasonLabels = 32

// metrics holds the dispatcher's collectors. A nil *metrics records nothing.
type metrics struct {
	delivrd  *prometheus.CounterVec
	sent     prometheus.Counter
	retried  prometheus.Counter
	paused   prometheus.Counter
	expired  prometheus.Counter
	dropped  *prometheus.CounterVec
	delivery prometheus.Histogram
	// notRecorded counts outcomes of receipt-less messages
	// (DLR_MODE=requested) that could not be remembered.
	notRecorded prometheus.Counter

	mu      sync.Mutex
	reasons map[string]struct{}
	// byReason caches delivrd_total's counter per reason as the caller
	// gives it (up to maxCachedReasons), so that a scheduled receipt costs
	// one map lookup, not the label checks and the vector's lookup. The
	// map is never changed once published: a new reason publishes a copy
	// (under mu), so the submit handlers of every session read it without
	// a lock.
	byReason atomic.Pointer[map[string]prometheus.Counter]
}

// maxCachedReasons bounds metrics.byReason: reasons past it (all counted
// as "other" anyway) take the slower path.
const maxCachedReasons = 2 * maxReasonLabels

func newMetrics(reg prometheus.Registerer, pending, inflight, claimsLeft func() float64, log *slog.Logger) *metrics {
	if reg == nil {
		return nil
	}
	m := &metrics{
		delivrd: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "delivrd_total",
			Help: "Delivery receipts scheduled, by reason (invalid_number, timeout, hlr_error or the HLR reason).",
		}, []string{"reason"}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlr_sent_total",
			Help: "deliver_sm receipts handed to a receiver bind (every attempt).",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlr_retried_total",
			Help: "Receipt deliveries scheduled again after ESME_RX_T_APPN, another error status, a timeout or a lost connection.",
		}),
		paused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlr_refusal_pauses_total",
			Help: "Pauses of an account's receipts because its receivers refused 8 deliver_sm in a row (error status, generic_nack): RetryMin doubling per pause, at most RetryMax.",
		}),
		expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlr_expired_total",
			Help: "Receipts dropped because DLR_TTL_SECONDS passed before delivery.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dlr_dropped_total",
			Help: "Receipts dropped for good, by deliver_sm_resp status (ESME_RX_P_APPN, ESME_RX_R_APPN) or corrupt.",
		}, []string{"status"}),
		delivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dlr_delivery_seconds",
			Help:    "Time from submit_sm acceptance to the receipt's deliver_sm_resp OK.",
			Buckets: []float64{.5, 1, 1.5, 2, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
		}),
		notRecorded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dlr_outcomes_not_recorded_total",
			Help: "Outcomes of accepted messages that asked for no receipt (DLR_MODE=requested) not remembered: a later query_sm cannot answer them.",
		}),
		reasons: make(map[string]struct{}),
	}
	m.byReason.Store(&map[string]prometheus.Counter{})
	// Exported at 0 from the start, so that an alert on their increase
	// sees the first drop.
	for _, s := range []pdu.Status{pdu.StatusXPAppn, pdu.StatusXRAppn} {
		m.dropped.WithLabelValues(dropLabel(s))
	}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_pending",
		Help: "Receipts waiting for delivery (for a shared queue: all instances').",
	}, pending)
	inflightGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_deliver_inflight",
		Help: "deliver_sm of receipts sent and not answered yet, all accounts together; at most 4,096 (then due receipts wait in the queue).",
	}, inflight)
	leftGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dlr_claims_left",
		Help: "Receipt claims a dispatcher loop left to finish on their own (with Redis: not answered within 50 ms, each bounded by REDIS_TIMEOUT_SECONDS); at most one per account.",
	}, claimsLeft)
	cs := []prometheus.Collector{m.delivrd, m.sent, m.retried, m.expired, m.dropped, m.delivery, m.notRecorded, m.paused, gauge, inflightGauge, leftGauge}
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				log.Error("dlr.metric_not_registered", "err", err)
				continue
			}
			switch i { // reuse what an earlier dispatcher registered
			case 0:
				m.delivrd = are.ExistingCollector.(*prometheus.CounterVec)
			case 1:
				m.sent = are.ExistingCollector.(prometheus.Counter)
			case 2:
				m.retried = are.ExistingCollector.(prometheus.Counter)
			case 3:
				m.expired = are.ExistingCollector.(prometheus.Counter)
			case 4:
				m.dropped = are.ExistingCollector.(*prometheus.CounterVec)
			case 5:
				m.delivery = are.ExistingCollector.(prometheus.Histogram)
			case 6:
				m.notRecorded = are.ExistingCollector.(prometheus.Counter)
			case 7:
				m.paused = are.ExistingCollector.(prometheus.Counter)
			}
		}
	}
	// Alerts see drops with increase(): each series exists from the start.
	for _, s := range []pdu.Status{pdu.StatusXPAppn, pdu.StatusXRAppn} {
		m.dropped.WithLabelValues(dropLabel(s))
	}
	return m
}

// reasonLabel keeps delivrd_total's cardinality bounded: short lower-case
// identifiers pass, at most maxReasonLabels of them.
func (m *metrics) reasonLabel(reason string) string {
	if reason == "" {
		return "unknown"
	}
	if len(reason) > 32 {
		return "other"
	}
	for i := 0; i < len(reason); i++ {
		c := reason[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return "other"
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.reasons[reason]; ok {
		return reason
	}
	if len(m.reasons) >= maxReasonLabels {
		return "other"
	}
	m.reasons[reason] = struct{}{}
	return reason
}

func (m *metrics) scheduled(reason string) {
	if m == nil {
		return
	}
	c, ok := (*m.byReason.Load())[reason]
	if !ok {
		c = m.counterFor(reason)
	}
	c.Inc()
}

// counterFor returns delivrd_total's counter of a reason not cached yet,
// and caches it while there is room.
func (m *metrics) counterFor(reason string) prometheus.Counter {
	c := m.delivrd.WithLabelValues(m.reasonLabel(reason))
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.byReason.Load()
	if _, ok := old[reason]; ok || len(old) >= maxCachedReasons {
		return c
	}
	next := make(map[string]prometheus.Counter, len(old)+1)
	maps.Copy(next, old)
	next[strings.Clone(reason)] = c
	m.byReason.Store(&next)
	return c
}

func (m *metrics) sentN(n int) {
	if m != nil && n > 0 {
		m.sent.Add(float64(n))
	}
}

func (m *metrics) notRecordedOne() {
	if m != nil {
		m.notRecorded.Inc()
	}
}

func (m *metrics) retriedOne() {
	if m != nil {
		m.retried.Inc()
	}
}

func (m *metrics) pausedOne() {
	if m != nil {
		m.paused.Inc()
	}
}

func (m *metrics) expiredN(n int) {
	if m != nil {
		m.expired.Add(float64(n))
	}
}

func (m *metrics) droppedOne(status string) {
	if m != nil {
		m.dropped.WithLabelValues(status).Inc()
	}
}

func (m *metrics) delivered(seconds float64) {
	if m != nil {
		m.delivery.Observe(seconds)
	}
}

// dropLabel is the dlr_dropped_total status label of a permanent status.
func dropLabel(s pdu.Status) string { return s.String() }
