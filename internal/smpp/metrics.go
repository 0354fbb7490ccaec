package smpp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

type metrics struct {
	active    prometheus.Gauge
	bound     *prometheus.GaugeVec
	closed    *prometheus.CounterVec
	binds     *prometheus.CounterVec
	throttled *prometheus.CounterVec
	panics    prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "active_smpp_connections", Help: "Open SMPP connections.",
		}),
		bound: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "smpp_bound_sessions", Help: "Bound SMPP sessions by bind mode.",
		}, []string{"mode"}),
		closed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smpp_connections_closed_total", Help: "SMPP connections closed, by reason.",
		}, []string{"reason"}),
		binds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smpp_binds_total", Help: "Bind attempts by resulting command_status.",
		}, []string{"status"}),
		throttled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smpp_throttled_total", Help: "Requests answered ESME_RTHROTTLED, by limit.",
		}, []string{"limit"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smpp_panics_total", Help: "Panics contained in SMPP sessions or handlers.",
		}),
	}
	for _, mode := range []BindMode{ModeTransmitter, ModeReceiver, ModeTransceiver} {
		m.bound.WithLabelValues(mode.String())
	}
	for _, l := range []string{"window", "throughput", "shutdown"} {
		m.throttled.WithLabelValues(l)
	}
	// Alerts see failed binds with rate(): each series exists from the start.
	for _, st := range []pdu.Status{pdu.StatusOK, pdu.StatusInvSysID, pdu.StatusInvPaswd, pdu.StatusAlyBnd, pdu.StatusBindFail} {
		m.binds.WithLabelValues(st.String())
	}
	if reg != nil {
		reg.MustRegister(m.active, m.bound, m.closed, m.binds, m.throttled, m.panics)
	}
	return m
}
