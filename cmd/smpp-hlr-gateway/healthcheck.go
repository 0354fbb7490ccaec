package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
)

// runHealthcheck asks the running gateway's admin port: /healthz by
// default (liveness, for container health checks), /readyz with --ready.
// It reads no configuration but the address: --addr, else METRICS_HOST and
// METRICS_PORT (and METRICS_ENABLED), so it works in a container whose
// other variables (an HLR key, say) it has no business checking.
func runHealthcheck(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("healthcheck", "smpp-hlr-gateway healthcheck [--addr HOST:PORT] [--ready] [--timeout D]",
		"Asks a running gateway's metrics port whether it is alive (/healthz) or, with --ready, ready\n"+
			"(/readyz). Exit codes: 0 yes, 1 no or unreachable, 2 usage error. Without --addr the address\n"+
			"is METRICS_HOST:METRICS_PORT (default 127.0.0.1:9091), and METRICS_ENABLED=false is\n"+
			"reported as such; no other variable is read.")
	addr := fs.String("addr", "", "HOST:PORT of the metrics port (default from METRICS_HOST and METRICS_PORT)")
	ready := fs.Bool("ready", false, "check readiness (/readyz) instead of liveness")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	if *timeout <= 0 {
		return fs.usageError(stderr, "--timeout %v: must be above 0", *timeout)
	}
	path := admin.PathHealthz
	if *ready {
		path = admin.PathReadyz
	}
	url, err := healthURL(*addr, env, path)
	if errors.Is(err, errMetricsDisabled) {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := admin.Healthcheck(ctx, url); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

var errMetricsDisabled = errors.New("METRICS_ENABLED=false, no health endpoint to ask")

// healthURL returns the URL to ask: from addr when given, else from the
// METRICS_* variables.
func healthURL(addr string, env func(string) string, path string) (string, error) {
	if addr != "" {
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			return "", fmt.Errorf("--addr %q: want HOST:PORT", addr)
		}
		port, err := strconv.Atoi(portStr)
		if err != nil || port < 1 || port > 65535 {
			return "", fmt.Errorf("--addr %q: port must be 1 to 65535", addr)
		}
		return admin.LocalURL(host, port, path), nil
	}
	if v := strings.TrimSpace(env("METRICS_ENABLED")); v != "" {
		if on, ok := config.ParseBool(v); ok && !on {
			return "", errMetricsDisabled
		}
	}
	port := 9091
	if v := strings.TrimSpace(env("METRICS_PORT")); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("METRICS_PORT %q: want a port number 1 to 65535", v)
		}
		port = p
	}
	return admin.LocalURL(strings.TrimSpace(env("METRICS_HOST")), port, path), nil
}
