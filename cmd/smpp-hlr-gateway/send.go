package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"text/tabwriter"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

type clientFlags struct {
	addr, systemID, password, bind string
	useTLS, insecure               bool
	caFile                         string
}

func (c *clientFlags) register(fs *flag.FlagSet, env func(string) string) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:2776", "gateway host:port")
	fs.StringVar(&c.systemID, "system-id", envOr(env, "SMPP_SYSTEM_ID", "testuser"), "system_id")
	fs.StringVar(&c.password, "password", envOr(env, "SMPP_PASSWORD", "testpass"), "password")
	fs.StringVar(&c.bind, "bind", "trx", "bind mode: trx (one transceiver) or tx (a transmitter, plus a receiver for the receipts)")
	fs.BoolVar(&c.useTLS, "tls", false, "connect with TLS")
	fs.BoolVar(&c.insecure, "insecure", false, "with --tls, do not verify the server certificate")
	fs.StringVar(&c.caFile, "ca", "", "with --tls, PEM file of the certificate authorities to verify the server against (default: the system's)")
}

func (c *clientFlags) config(onDeliver func(*pdu.DeliverSM) pdu.Status) (esme.Config, error) {
	cfg := esme.Config{Addr: c.addr, SystemID: c.systemID, Password: c.password, OnDeliver: onDeliver}
	switch c.bind {
	case "trx":
		cfg.Bind = pdu.CmdBindTransceiver
	case "tx":
		cfg.Bind = pdu.CmdBindTransmitter
	case "rx":
		return cfg, errors.New("--bind rx: a receiver cannot submit; want trx or tx")
	default:
		return cfg, fmt.Errorf("--bind %q: want trx or tx", c.bind)
	}
	if !c.useTLS && (c.insecure || c.caFile != "") {
		return cfg, errors.New("--insecure and --ca apply to --tls only")
	}
	if c.useTLS {
		t, err := c.tlsConfig()
		if err != nil {
			return cfg, err
		}
		cfg.TLS = t
	}
	return cfg, nil
}

// tlsConfig verifies the server's certificate against the host named in
// --addr (a name or an IP address), with the system's authorities or those
// of --ca.
func (c *clientFlags) tlsConfig() (*tls.Config, error) {
	host, _, err := net.SplitHostPort(c.addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", c.addr, err)
	}
	t := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure} //nolint:gosec // an explicit flag
	if c.caFile != "" {
		pemBytes, err := os.ReadFile(c.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", c.caFile)
		}
		t.RootCAs = pool
	}
	return t, nil
}

func envOr(env func(string) string, key, def string) string {
	if v := env(key); v != "" {
		return v
	}
	return def
}

// runSend binds, submits one message to each number, prints the
// responses, waits for the receipts and prints them. It exits 0 only when
// every submit was answered ESME_ROK and every accepted message got its
// receipt.
func runSend(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("send", "smpp-hlr-gateway send [flags] MSISDN...",
		"A small ESME: binds, submits one message to each number, prints each response, then waits for\n"+
			"the receipts of the accepted ones and prints them. Exit codes: 0 every submit answered ESME_ROK\n"+
			"and every receipt arrived; 1 a submit answered with an error status (a rejected live number\n"+
			"included), a receipt missing or a connection failure; 2 usage error.")
	var cf clientFlags
	cf.register(fs.FlagSet, env)
	from := fs.String("from", "GATEWAY", "source address")
	text := fs.String("text", "hello", "message text")
	wait := fs.Duration("wait", 30*time.Second, "how long to wait for receipts (0: do not wait)")
	registered := fs.Uint("registered-delivery", 1, "registered_delivery field")
	receiptStatus := fs.Uint64("receipt-status", 0, "command_status to answer receipts with (e.g. 0x65 ESME_RX_P_APPN refuses them for good)")
	dests, done, code := fs.parse(args, true, stdout, stderr)
	if done {
		return code
	}
	if len(dests) == 0 {
		return fs.usageError(stderr, "give at least one destination number")
	}
	if *registered > 0xFF {
		return fs.usageError(stderr, "--registered-delivery %d: a one-octet field (0 to 255)", *registered)
	}
	if *receiptStatus > 0xFFFFFFFF {
		return fs.usageError(stderr, "--receipt-status %d: not a command_status", *receiptStatus)
	}
	col := newCollector()
	col.answer = pdu.Status(*receiptStatus)
	cfg, err := cf.config(col.onDeliver)
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	c, err := esme.Dial(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "send:", err)
		return 1
	}
	defer c.Close()
	var rx *esme.Client
	if cfg.Bind == pdu.CmdBindTransmitter && *wait > 0 {
		rcfg := cfg
		rcfg.Bind = pdu.CmdBindReceiver
		if rx, err = esme.Dial(ctx, rcfg); err != nil {
			fmt.Fprintln(stderr, "send: receiver bind:", err)
			return 1
		}
		defer rx.Close()
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DESTINATION\tSTATUS\tMESSAGE ID")
	var accepted []string
	failed, refused := false, 0
	for _, dest := range dests {
		sm := &pdu.SubmitSM{SM: pdu.SM{
			Source: pdu.Address{TON: 5, NPI: 0, Addr: *from}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: dest},
			RegisteredDelivery: uint8(*registered), ShortMessage: *text,
		}}
		status, id, err := c.Submit(ctx, sm)
		if err != nil {
			fmt.Fprintf(tw, "%s\terror: %v\t\n", dest, err)
			failed = true
			continue
		}
		fmt.Fprintf(tw, "%s\t%s (0x%02X)\t%s\n", dest, status.String(), uint32(status), id)
		if status == pdu.StatusOK {
			accepted = append(accepted, id)
		} else {
			refused++
		}
	}
	_ = tw.Flush()
	if refused > 0 {
		fmt.Fprintf(stderr, "send: %d submit(s) answered with an error status\n", refused)
		failed = true
	}
	if *wait <= 0 || len(accepted) == 0 {
		_ = c.Unbind(ctx)
		if failed {
			return 1
		}
		return 0
	}
	fmt.Fprintf(stdout, "\nwaiting up to %s for %d receipt(s)\n", *wait, len(accepted))
	missing := waitReceipts(ctx, stdout, col, accepted, *wait)
	_ = c.Unbind(ctx)
	if rx != nil {
		_ = rx.Unbind(ctx)
	}
	if missing > 0 {
		fmt.Fprintf(stderr, "send: %d receipt(s) did not arrive\n", missing)
		return 1
	}
	if failed {
		return 1
	}
	return 0
}

// waitReceipts prints each expected receipt as it arrives and returns how
// many did not arrive in time.
func waitReceipts(ctx context.Context, w io.Writer, col *collector, ids []string, wait time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	missing := 0
	for _, id := range ids {
		select {
		case r := <-col.expect(id):
			fmt.Fprintf(w, "receipt %s from %s: %s\n", id, r.Src, r.Text)
		case <-ctx.Done():
			missing++
			if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return len(ids)
			}
		}
	}
	return missing
}
