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

	refused          *prometheus.CounterVec
	readPauses       prometheus.Counter
	idlePauses       prometheus.Counter
	bindsDelayed     prometheus.Counter
	addressesBlocked prometheus.Counter
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
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "smpp_connections_refused_total", Help: "SMPP connections refused at accept, by reason.",
		}, []string{"reason"}),
		readPauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smpp_read_pauses_total", Help: "Times a session stopped reading because its output buffer was full.",
		}),
		idlePauses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smpp_idle_pdu_pauses_total", Help: "Times a session stopped reading for the rest of a second because it sent more than SMPP_MAX_IDLE_PDUS_PER_SECOND PDUs that do no work (enquire_link, refused requests, stray responses).",
		}),
		bindsDelayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smpp_binds_delayed_total", Help: "Binds whose check was delayed after repeated failures.",
		}),
		addressesBlocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "smpp_bind_addresses_blocked_total", Help: "Remote addresses refused for a while after repeated failed binds.",
		}),
	}
	for _, r := range []CloseReason{CloseTooManyConnections, CloseTooManyFromAddress, CloseTooManyUnbound, CloseAddressBlocked, CloseShutdown} {
		m.refused.WithLabelValues(r.String())
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
		reg.MustRegister(m.active, m.bound, m.closed, m.binds, m.throttled, m.panics,
			m.refused, m.readPauses, m.idlePauses, m.bindsDelayed, m.addressesBlocked)
	}
	return m
}
