package smpp

import "github.com/prometheus/client_golang/prometheus"

// accountCollector exports the per-account series from the accounts'
// counters and the bound sessions at scrape time, so every known account
// has its series (at zero before its first submit) and a removed account's
// series go away.
type accountCollector struct {
	srv     *Server
	submits *prometheus.Desc
	binds   *prometheus.Desc
}

// Submit outcomes in smpp_account_submits_total{status}.
var submitStatuses = [...]string{"accepted", "rejected", "throttled"}

func (srv *Server) registerAccountMetrics(reg prometheus.Registerer) {
	// Alerts use rate() of this counter: its series exist at zero from the
	// start rather than appearing with the first close of each reason.
	for r := ClosePeer; int(r) < len(closeReasonNames); r++ {
		srv.metrics.closed.WithLabelValues(r.String())
	}
	if reg == nil {
		return
	}
	reg.MustRegister(&accountCollector{
		srv: srv,
		submits: prometheus.NewDesc("smpp_account_submits_total",
			"submit_sm, data_sm and submit_multi answered, by account and outcome (accepted, rejected, throttled).",
			[]string{"system_id", "status"}, nil),
		binds: prometheus.NewDesc("smpp_account_binds",
			"Bound SMPP sessions of this instance by account and bind mode.",
			[]string{"system_id", "bind"}, nil),
	})
}

func (c *accountCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.submits
	ch <- c.binds
}

func (c *accountCollector) Collect(ch chan<- prometheus.Metric) {
	lister, ok := c.srv.opts.Auth.(AccountLister)
	if !ok {
		return
	}
	binds := c.srv.bindsByAccount()
	for _, acc := range lister.List() {
		n := acc.Submits()
		for i, v := range [...]uint64{n.Accepted, n.Rejected, n.Throttled} {
			ch <- prometheus.MustNewConstMetric(c.submits, prometheus.CounterValue, float64(v), acc.SystemID, submitStatuses[i])
		}
		var modes [4]int
		if m := binds[acc.SystemID]; m != nil {
			modes = *m
		}
		for _, mode := range []BindMode{ModeTransmitter, ModeReceiver, ModeTransceiver} {
			ch <- prometheus.MustNewConstMetric(c.binds, prometheus.GaugeValue, float64(modes[mode]), acc.SystemID, mode.String())
		}
	}
}

// bindsByAccount counts the bound sessions by account and mode.
func (srv *Server) bindsByAccount() map[string]*[4]int {
	out := make(map[string]*[4]int)
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for s := range srv.sessions {
		if !s.State().Bound() {
			continue
		}
		b := s.bind.Load()
		m := out[b.account.SystemID]
		if m == nil {
			m = new([4]int)
			out[b.account.SystemID] = m
		}
		m[b.mode]++
	}
	return out
}

// AccountBinds is the number of sessions bound to systemID on this
// instance.
func (srv *Server) AccountBinds(systemID string) int {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if ab := srv.accounts[systemID]; ab != nil {
		return ab.binds
	}
	return 0
}
