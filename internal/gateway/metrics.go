package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

type metrics struct {
	outcomes    [outcomeCount]prometheus.Counter // submit_total by outcome
	processing  prometheus.Histogram
	activeTasks prometheus.Gauge
	throttled   prometheus.Counter
	pendingCap  *prometheus.CounterVec
	// queueTimeouts: messages that waited in the workers' queue for the
	// whole lookup timeout, decided by HLR_TIMEOUT_POLICY without a lookup.
	queueTimeouts prometheus.Counter
	// queriesThrottled: query_sm and cancel_sm that waited the lookup
	// timeout for a receipt-queue place (Options.QueueQueries).
	queriesThrottled prometheus.Counter
}

// outcome is how a message was answered: the label of submit_total and
// the event of its log line.
type outcome int

const (
	outcomeAccepted outcome = iota // ESME_ROK
	outcomeRejected                // ESME_RINVDSTADR: a live number
	outcomeFailed                  // anything else (ESME_RSYSERR by policy)
	outcomeCount
)

var outcomeLabels = [outcomeCount]string{"accepted", "rejected", "failed"}

// outcomeOf is the outcome of a message answered with status.
func outcomeOf(status pdu.Status) outcome {
	switch status {
	case pdu.StatusOK:
		return outcomeAccepted
	case pdu.StatusInvDstAdr:
		return outcomeRejected
	default:
		return outcomeFailed
	}
}

func newMetrics(reg prometheus.Registerer) *metrics {
	submits := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "submit_total",
		Help: "Messages answered, by outcome: accepted (ESME_ROK), rejected (live number, ESME_RINVDSTADR), failed (ESME_RSYSERR by policy).",
	}, []string{"status"})
	m := &metrics{
		processing: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "submit_processing_seconds",
			Help:    "Time from reading a submit to handing its response to the session writer (answered on the reader: to the end of its read).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		activeTasks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "active_tasks", Help: "Submits waiting for an HLR answer.",
		}),
		throttled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "submit_throttled_total", Help: "Submits (and query_sm, cancel_sm) answered ESME_RTHROTTLED because every HLR worker was busy and the queue full, or the account held its share of them.",
		}),
		queriesThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "queue_queries_throttled_total",
			Help: "query_sm and cancel_sm answered ESME_RTHROTTLED after waiting HLR_SLOT_WAIT_SECONDS + HLR_TIMEOUT_SECONDS for one of the receipt queue's query places (with Redis, half of REDIS_MAX_CONNECTIONS).",
		}),
		queueTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "submit_queue_timeouts_total",
			Help: "Messages that waited for an HLR worker for the whole HLR_SLOT_WAIT_SECONDS + HLR_TIMEOUT_SECONDS, decided by HLR_TIMEOUT_POLICY without a lookup.",
		}),
		pendingCap: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "submit_pending_cap_total",
			Help: "Submits answered ESME_RMSGQFUL because the account had max_pending_receipts (DLR_MAX_PENDING_PER_ACCOUNT) receipts pending.",
		}, []string{"system_id"}),
	}
	for o, label := range outcomeLabels {
		m.outcomes[o] = submits.WithLabelValues(label)
	}
	if reg != nil {
		reg.MustRegister(submits, m.processing, m.activeTasks, m.throttled, m.pendingCap, m.queueTimeouts, m.queriesThrottled)
	}
	return m
}

// addOutcomes counts answered messages by outcome.
func (m *metrics) addOutcomes(n [outcomeCount]int) {
	for o, k := range n {
		if k > 0 {
			m.outcomes[o].Add(float64(k))
		}
	}
}
