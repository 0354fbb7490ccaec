package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
)

const configHelp = "Configuration comes from environment variables (README.md, docs/configuration.md)."

// runServe runs the gateway until SIGINT or SIGTERM; SIGHUP reloads the
// accounts and rules files. Exit codes: 0 after a graceful stop, 2 on
// invalid configuration, 1 when it cannot start or a listener fails.
func runServe(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("serve", "smpp-hlr-gateway serve",
		"Runs the gateway until SIGINT or SIGTERM; SIGHUP reloads the accounts and rules files.\n"+
			"Exit codes: 0 after a graceful stop, 2 on invalid configuration, 1 when it cannot start or a\n"+
			"listener fails. "+configHelp)
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	// First of all: SIGHUP's default action ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := loadConfig(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger, logw, err := logging.NewBuffered(stderr, cfg.Log.Level, cfg.Log.Format, cfg.Log.BufferBytes)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// Every return below writes out the buffered lines; from here on
	// everything goes through the logger, in the configured format.
	defer logw.Close()
	if w := accountsFileWarning(cfg); w != "" {
		logger.Warn("config.accounts_file.readable", "detail", w)
	}
	for _, w := range rulesFileWarnings(cfg) {
		logger.Warn(app.EventRulesUnknownAccount, "detail", w)
	}
	routeRedisLogs(logger, cfg.Redis.URL)
	a, err := app.New(ctx, cfg, logger, app.Options{LogLinesDropped: logw.Dropped})
	if err != nil {
		logger.Error("gateway.start_failed", "error", err.Error())
		if errors.Is(err, config.ErrInvalid) {
			return 2 // loadConfig should have caught it; the documented code anyway
		}
		return 1
	}
	if err := a.Start(ctx); err != nil {
		logger.Error("gateway.start_failed", "error", err.Error())
		return 1
	}
	code := serveUntilStopped(ctx, a, hup, logger)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Timeout)
	defer cancel()
	pending := a.Shutdown(sctx)
	logger.Info("gateway.stopped", "pending_receipts", pending)
	return code
}

// runCheckConfig validates the configuration exactly as serve does and
// prints it with secrets masked.
func runCheckConfig(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("check-config", "smpp-hlr-gateway check-config",
		"Validates the configuration exactly as serve does (without opening any connection) and prints\n"+
			"every variable's effective value, secrets masked. Exit codes: 0 valid, 2 invalid (one line\n"+
			"naming the variable on stderr). "+configHelp)
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	cfg, err := loadConfig(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	if w := accountsFileWarning(cfg); w != "" {
		fmt.Fprintln(stderr, "warning:", w)
	}
	for _, w := range rulesFileWarnings(cfg) {
		fmt.Fprintln(stderr, "warning:", w)
	}
	for _, w := range listenHostWarnings(ctx, cfg, net.DefaultResolver.LookupHost) {
		fmt.Fprintln(stderr, "warning:", w)
	}
	if err := cfg.Print(stdout); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

// serveUntilStopped reloads on SIGHUP (an invalid file is logged and
// changes nothing) until ctx ends or a listener fails.
func serveUntilStopped(ctx context.Context, a *app.App, hup <-chan os.Signal, logger *slog.Logger) int {
	for {
		select {
		case <-ctx.Done():
			return 0
		case err := <-a.ServeErr():
			logger.Error("smpp.listener.failed", "error", err.Error())
			return 1
		case <-hup:
			logger.Info("config.reload.requested", "source", "SIGHUP")
			_, _ = a.Reload(ctx) // logs and counts its outcome
		}
	}
}

// routeRedisLogs sends go-redis's own log lines to logger with the
// passwords of redisURL masked. go-redis keeps its logger in a package
// variable, so this is the one place that sets it, once per command that
// opens Redis. The client logs every failed dial; while Redis is down that
// is one line per attempt, so they are throttled to one per 30 s with a
// count. The master a Sentinel names is logged every time.
func routeRedisLogs(logger *slog.Logger, redisURL string) {
	redis.SetLogger(redisconn.NewLogger(logger, logging.Throttled(logger, logging.DefaultRepeatEvery, nil), redisURL))
}
