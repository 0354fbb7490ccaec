package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
)

// runHLRSimulator implements `smpp-hlr-gateway hlr-simulator [--host H]
// [--port N] [--latency-ms N] [--api-key K --api-secret S]`: it serves the
// simulator's rules as a TMT-Live-compatible HTTP API until ctx is
// cancelled. Point the gateway at it with HLR_PROVIDER=tmt
// HLR_BASE_URL=http://127.0.0.1:8090 and any HLR_API_KEY/HLR_API_SECRET.
func runHLRSimulator(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("hlr-simulator", "smpp-hlr-gateway hlr-simulator [--host H] [--port N] [--latency-ms N] [--api-key K --api-secret S]",
		"Serves the HLR simulator's rules as a TMT-Live-compatible HTTP API until interrupted. Point the\n"+
			"gateway at it with HLR_PROVIDER=tmt HLR_BASE_URL=http://127.0.0.1:8090 HLR_API_KEY=k\n"+
			"HLR_API_SECRET=s (any key and secret, unless --api-key and --api-secret are given).")
	host := fs.String("host", "127.0.0.1", "address to listen on")
	port := fs.Int("port", 8090, "TCP port to listen on (0: any free port)")
	latency := fs.Int("latency-ms", 0, "latency added to every answer, in milliseconds")
	key := fs.String("api-key", "", "if set with --api-secret, other credentials get status 2")
	secret := fs.String("api-secret", "", "see --api-key")
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	if *port < 0 || *port > 65535 {
		return fs.usageError(stderr, "--port %d: want 0 to 65535", *port)
	}
	if *latency < 0 {
		return fs.usageError(stderr, "--latency-ms %d: must not be negative", *latency)
	}
	if (*key == "") != (*secret == "") {
		// One without the other would check nothing, silently.
		return fs.usageError(stderr, "give --api-key and --api-secret together")
	}
	sim := simulator.New(simulator.Options{
		Latency: time.Duration(*latency) * time.Millisecond,
		APIKey:  *key, APISecret: *secret,
	})
	ln, err := net.Listen("tcp", net.JoinHostPort(*host, strconv.Itoa(*port)))
	if err != nil {
		fmt.Fprintln(stderr, "hlr-simulator:", err)
		return 1
	}
	srv := &http.Server{
		Handler:           sim.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	fmt.Fprintf(stdout, "hlr simulator listening on http://%s (HLR_PROVIDER=tmt HLR_BASE_URL=http://%s)\n", ln.Addr(), ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintln(stderr, "hlr-simulator:", err)
		return 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	return 0
}
