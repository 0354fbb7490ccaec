package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
)

// runStatus prints the sessions and accounts of a running gateway from
// its admin API, as two aligned tables.
func runStatus(ctx context.Context, args []string, env func(string) string, stdout, stderr io.Writer) int {
	fs := newCmdFlags("status", "smpp-hlr-gateway status [--addr HOST:PORT] [--token TOKEN] [--timeout D]",
		"Prints the bound sessions and the accounts of a running gateway, read from its admin API.")
	addr := fs.String("addr", "", "the gateway's metrics and admin API address (default from METRICS_HOST and METRICS_PORT)")
	// No flag default from ADMIN_TOKEN: the usage text prints defaults,
	// and the token is a secret.
	token := fs.String("token", "", "the admin API bearer token (default ADMIN_TOKEN)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if done, code := fs.parseNoArgs(args, stdout, stderr); done {
		return code
	}
	if *timeout <= 0 {
		return fs.usageError(stderr, "--timeout %v: must be above 0", *timeout)
	}
	if *token == "" {
		*token = env("ADMIN_TOKEN")
	}
	if *token == "" {
		return fs.usageError(stderr, "no token: pass --token or set ADMIN_TOKEN")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	base, err := healthURL(*addr, env, "")
	if err != nil {
		return fs.usageError(stderr, "%v", err)
	}
	c := statusClient{base: base, token: *token}
	var sessions struct{ Sessions []admin.Session }
	if err := c.get(ctx, admin.PathAPI+"sessions", &sessions); err != nil {
		fmt.Fprintln(stderr, "status:", err)
		return 1
	}
	var accounts struct{ Accounts []admin.Account }
	if err := c.get(ctx, admin.PathAPI+"accounts", &accounts); err != nil {
		fmt.Fprintln(stderr, "status:", err)
		return 1
	}
	printSessions(stdout, sessions.Sessions)
	fmt.Fprintln(stdout)
	printAccounts(stdout, accounts.Accounts)
	return 0
}

type statusClient struct{ base, token string }

func (c statusClient) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error string }
		_ = json.Unmarshal(body, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func printSessions(w io.Writer, sessions []admin.Session) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSYSTEM_ID\tBIND\tREMOTE\tTLS\tVERSION\tBOUND\tIN_FLIGHT\tSUBMITS\tRECEIPTS_SENT\tAWAITING_ACK")
	for _, s := range sessions {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%d\t%d\t%d\t%d\n", s.ID, cell(s.SystemID), s.Bind, s.RemoteAddr, s.TLS,
			s.InterfaceVersion, s.BoundAt.Format(time.RFC3339), s.InFlight, s.Submits, s.ReceiptsSent, s.ReceiptsPendingAck)
	}
	_ = tw.Flush()
}

func printAccounts(w io.Writer, accounts []admin.Account) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SYSTEM_ID\tMAX_BINDS\tTHROUGHPUT\tBINDS\tCLUSTER_BINDS\tPENDING\tACCEPTED\tREJECTED\tTHROTTLED")
	for _, a := range accounts {
		cluster := "-"
		if a.Binds.Cluster != nil {
			cluster = strconv.Itoa(*a.Binds.Cluster)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", cell(a.SystemID), unlimited(a.MaxBinds), unlimitedF(a.Throughput),
			a.Binds.Instance, cluster, a.PendingReceipts, a.Submits.Accepted, a.Submits.Rejected, a.Submits.Throttled)
	}
	_ = tw.Flush()
}

// cell returns s as one table cell: quoted (Go syntax) when it is empty
// or holds a space, a quote or a character that does not print, which
// would otherwise shift the columns, start another row or reach the
// terminal as a control sequence.
func cell(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == '"' || r == '\\' || unicode.IsSpace(r) || !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

func unlimited(n int) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.Itoa(n)
}

func unlimitedF(f float64) string {
	if f == 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(f, 'g', -1, 64) + "/s"
}
