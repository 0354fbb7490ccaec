package app

import "github.com/prometheus/client_golang/prometheus"

// registerLogDrops exports the log lines dropped because the log output
// did not keep up (0 when the logger does not buffer).
func (a *App) registerLogDrops(dropped func() uint64) {
	a.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "log_lines_dropped_total",
		Help: "Log lines dropped because the log output (standard error) did not keep up and LOG_BUFFER_BYTES was full.",
	}, func() float64 {
		if dropped == nil {
			return 0
		}
		return float64(dropped())
	}))
}
