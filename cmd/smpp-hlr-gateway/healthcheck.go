package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
)

// runHealthcheck asks the running gateway's admin port: /healthz by
// default (liveness, for container health checks), /readyz with --ready.
func runHealthcheck(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ready := fs.Bool("ready", false, "check readiness (/readyz) instead of liveness")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if !cfg.Metrics.Enabled {
		fmt.Fprintln(stderr, "healthcheck: METRICS_ENABLED=false, no health endpoint to ask")
		return 1
	}
	path := admin.PathHealthz
	if *ready {
		path = admin.PathReadyz
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := admin.Healthcheck(ctx, admin.LocalURL(cfg.Metrics.Host, cfg.Metrics.Port, path)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}
