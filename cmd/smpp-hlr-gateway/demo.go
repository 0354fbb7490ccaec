package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// scenario is one of the reference cases the demo runs.
type scenario struct {
	name       string
	dest       string
	wantStatus pdu.Status
	wantErr    string // receipt err; "" = no receipt
}

var demoScenarios = []scenario{
	{"live mobile number", "13476841841", pdu.StatusInvDstAdr, ""},
	{"invalid number", "40722570240999", pdu.StatusOK, "003"},
	{"network not supported (191)", "2347010000044", pdu.StatusOK, "000"},
	{"landline (193)", "33387840133", pdu.StatusOK, "000"},
}

// runDemo starts the HLR simulator as a TMT-compatible HTTP API and the
// gateway against it on free ports, runs the reference scenarios over a
// real SMPP session and prints what happened.
func runDemo(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("demo", "smpp-hlr-gateway demo",
		"Starts the HLR simulator (as a TMT-compatible HTTP API) and the gateway against it on free\n"+
			"loopback ports, binds a client, runs the four reference scenarios and prints what each got,\n"+
			"receipts included. Needs no Redis and no credentials; only LOG_LEVEL is read (default WARNING).\n"+
			"Exit codes: 0 every scenario behaved as expected, 1 otherwise.")
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	const key, secret = "demo-key", "demo-secret"
	simLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	sim := &http.Server{Handler: simulator.New(simulator.Options{APIKey: key, APISecret: secret}).Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = sim.Serve(simLn) }()
	defer sim.Close()

	vars := map[string]string{
		"SMPP_HOST": "127.0.0.1", "SMPP_PORT": "0", "METRICS_ENABLED": "false",
		"HLR_PROVIDER": "tmt", "HLR_BASE_URL": "http://" + simLn.Addr().String(),
		"HLR_API_KEY": key, "HLR_API_SECRET": secret,
		"DLR_DELAY_SECONDS": "0.5", "LOG_FORMAT": "console", "LOG_LEVEL": envOr(env, "LOG_LEVEL", "WARNING"),
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	logger, err := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	gw, err := app.New(ctx, cfg, logger, app.Options{})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	if err := gw.Start(ctx); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		gw.Shutdown(sctx)
	}()
	fmt.Fprintf(stdout, "gateway on %s, HLR simulator on http://%s (TMT Live API)\n\n", gw.SMPPAddr(), simLn.Addr())
	ok, err := runScenarios(ctx, stdout, gw.SMPPAddr())
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	if !ok {
		fmt.Fprintln(stdout, "\nsome scenarios did not behave as expected")
		return 1
	}
	fmt.Fprintln(stdout, "\nall scenarios behaved as expected")
	return 0
}

func runScenarios(ctx context.Context, w io.Writer, addr string) (bool, error) {
	col := newCollector()
	c, err := esme.Dial(ctx, esme.Config{Addr: addr, SystemID: "testuser", Password: "testpass", OnDeliver: col.onDeliver})
	if err != nil {
		return false, err
	}
	defer c.Close()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tDESTINATION\tSUBMIT_SM_RESP\tMESSAGE ID\tRECEIPT\tRESULT")
	allOK := true
	for _, sc := range demoScenarios {
		status, id, err := c.Submit(ctx, &pdu.SubmitSM{SM: pdu.SM{
			Source: pdu.Address{TON: 5, Addr: "DEMO"}, Dest: pdu.Address{TON: 1, NPI: 1, Addr: sc.dest},
			RegisteredDelivery: 1, ShortMessage: "hello from the demo",
		}})
		if err != nil {
			return false, err
		}
		got := "-"
		gotErr := ""
		if status == pdu.StatusOK {
			select {
			case r := <-col.expect(id):
				gotErr = receiptTextField(r.Text, "err")
				got = fmt.Sprintf("stat:%s err:%s", receiptTextField(r.Text, "stat"), gotErr)
			case <-time.After(10 * time.Second):
				got = "none within 10 s"
			case <-ctx.Done():
				return false, errors.New("interrupted")
			}
		}
		result := "ok"
		if status != sc.wantStatus || gotErr != sc.wantErr {
			result, allOK = "UNEXPECTED", false
		}
		shownID := id
		if shownID == "" {
			shownID = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s (0x%02X)\t%s\t%s\t%s\n", sc.name, sc.dest, status.String(), uint32(status), shownID, got, result)
	}
	_ = tw.Flush()
	_ = c.Unbind(ctx)
	return allOK, nil
}
