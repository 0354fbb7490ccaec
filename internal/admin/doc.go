// Package admin serves the operator's HTTP endpoints on the metrics port:
//
//   - /metrics: Prometheus exposition of the injected Gatherer;
//   - /healthz: liveness, 200 "ok" while the process serves HTTP at all;
//   - /readyz: readiness, 200 when every Check passes, else 503 with one
//     line per check ("redis: degraded", "hlr: failed: breaker open");
//   - /debug/pprof/: runtime profiles, only when Options.Pprof is set.
//
// Healthcheck is the client side used by the healthcheck subcommand, for
// container health checks where no curl exists.
package admin
