package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/bench"
)

// runBench is the load generator, or with --serve-responder the minimal
// SMSC it is compared with. A run exits 0 when every submit was answered
// and, with --wait-receipts, every receipt matched; 1 otherwise.
func runBench(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("bench", "smpp-hlr-gateway bench [flags]",
		"Load generator: binds sessions and submits at a rate or flat out, then reports throughput and\n"+
			"latency (BENCHMARKS.md). With --serve-responder it is instead the minimal SMSC it is compared\n"+
			"with. Exit codes: 0 every submit answered (and with --wait-receipts every receipt matched);\n"+
			"1 otherwise; 2 usage error.")
	var cfg bench.Config
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:2776", "SMSC host:port")
	fs.StringVar(&cfg.SystemID, "system-id", envOr(env, "SMPP_SYSTEM_ID", "testuser"), "system_id")
	fs.StringVar(&cfg.Password, "password", envOr(env, "SMPP_PASSWORD", "testpass"), "password")
	fs.IntVar(&cfg.Sessions, "sessions", 4, "submitting binds")
	fs.IntVar(&cfg.Window, "window", 64, "submit_sm in flight per session")
	bind := fs.String("bind", "trx", "trx: transceivers; tx: transmitters plus as many receivers")
	fs.Float64Var(&cfg.Rate, "rate", 0, "messages per second offered over all sessions, evenly paced (0: as fast as the window allows)")
	fs.Int64Var(&cfg.Count, "count", 0, "stop after this many messages")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (with --count: whichever comes first)")
	fs.StringVar(&cfg.DestPrefix, "dest-prefix", "4099", "destination prefix (simulator: 1999 valid → rejected, 4099 invalid → accepted)")
	fs.IntVar(&cfg.Distinct, "distinct", 1000, "distinct destinations, cycled: prefix + zero-padded index")
	fs.StringVar(&cfg.Source, "from", "BENCH", "source address")
	fs.BoolVar(&cfg.WaitReceipts, "wait-receipts", false, "match receipts to message ids and wait for all of them")
	fs.DurationVar(&cfg.ReceiptTimeout, "receipt-timeout", 30*time.Second, "how long to wait for receipts after the last response")
	fs.DurationVar(&cfg.ResponseTimeout, "response-timeout", 10*time.Second, "how long to wait for outstanding responses once sending stopped")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	quiet := fs.Bool("quiet", false, "no progress lines")
	serve := fs.Bool("serve-responder", false, "run the minimal SMPP responder (the ceiling: accepts any bind, answers at once) instead, until interrupted")
	listen := fs.String("listen", "127.0.0.1:2777", "with --serve-responder: listen address")
	receipts := fs.Bool("receipts", false, "with --serve-responder: also send a DELIVRD receipt per message")
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	if *serve {
		return serveResponder(ctx, *listen, bench.ResponderConfig{Receipts: *receipts}, stdout, stderr)
	}
	if *receipts {
		return fs.usageError(stderr, "--receipts applies to --serve-responder only (the load waits for receipts with --wait-receipts)")
	}
	switch *bind {
	case "trx":
	case "tx":
		cfg.Separate = true
	default:
		return fs.usageError(stderr, "--bind %q: want trx or tx", *bind)
	}
	if cfg.Count <= 0 && cfg.Duration <= 0 {
		return fs.usageError(stderr, "give --count or --duration")
	}
	// Zero means the default to the library; given here, below 1 is a
	// mistake.
	for _, f := range []struct {
		name string
		v    int
	}{{"sessions", cfg.Sessions}, {"window", cfg.Window}, {"distinct", cfg.Distinct}} {
		if f.v < 1 {
			return fs.usageError(stderr, "--%s %d: must be at least 1", f.name, f.v)
		}
	}
	if err := cfg.Validate(); err != nil {
		return fs.usageError(stderr, "%s", strings.TrimPrefix(err.Error(), "bench: "))
	}
	if !*quiet {
		cfg.Progress = stderr
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "bench:", err)
			return 1
		}
	} else {
		rep.WriteText(stdout)
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

// serveResponder runs the responder until ctx ends, then prints its counts.
func serveResponder(ctx context.Context, addr string, cfg bench.ResponderConfig, stdout, stderr io.Writer) int {
	r, err := bench.NewResponder(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	fmt.Fprintf(stdout, "responder listening on %s (receipts: %v)\n", ln.Addr(), cfg.Receipts)
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.Shutdown(sctx)
	if err := <-served; err != nil && !errors.Is(err, bench.ErrResponderClosed) {
		fmt.Fprintln(stderr, "bench:", err)
	}
	st := r.Stats()
	fmt.Fprintf(stdout, "responder: %d submits, %d receipts, %d receipts failed, %d other requests\n",
		st.Submits, st.Receipts, st.ReceiptsFailed, st.Other)
	return 0
}
