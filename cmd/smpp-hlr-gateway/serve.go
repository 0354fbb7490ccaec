package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/redisconn"
)

func runServe(ctx context.Context, _ []string, env func(string) string, _, stderr io.Writer) int {
	// First of all: SIGHUP's default action ends the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	cfg, err := config.Load(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	logger, logw, err := logging.NewBuffered(stderr, cfg.Log.Level, cfg.Log.Format, cfg.Log.BufferBytes)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
	}
	// Every return below writes out the buffered lines; what is printed
	// to stderr from here on goes after them, in order.
	defer logw.Close()
	stderr = logw
	routeRedisLogs(logger, cfg.Redis.URL)
	a, err := app.New(ctx, cfg, logger, app.Options{LogLinesDropped: logw.Dropped})
	if err != nil {
		fmt.Fprintln(stderr, err)
		if errors.Is(err, tmt.ErrConfig) {
			return 2
		}
		return 1
	}
	if err := a.Start(ctx); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	code := serveUntilStopped(ctx, a, hup, logger)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Shutdown.Timeout)
	defer cancel()
	pending := a.Shutdown(sctx)
	logger.Info("gateway.stopped", "pending_receipts", pending)
	return code
}

func runCheckConfig(_ context.Context, _ []string, env func(string) string, stdout, stderr io.Writer) int {
	cfg, err := config.Load(env)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 2
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
// opens Redis.
func routeRedisLogs(logger *slog.Logger, redisURL string) {
	redis.SetLogger(redisconn.NewLogger(logger, redisURL))
}
