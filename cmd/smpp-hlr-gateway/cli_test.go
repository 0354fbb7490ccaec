package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// flagDefaultVars are the only variables a command may read before it
// has parsed its flags: they are flag defaults (send's and bench's
// --system-id and --password, status's --addr and --token).
var flagDefaultVars = []string{"SMPP_SYSTEM_ID", "SMPP_PASSWORD", "METRICS_HOST", "METRICS_PORT", "ADMIN_TOKEN"}

// TestHelpDoesNothing: -h, -help and --help on every command print its
// usage on stdout and exit 0 without reading the configuration or
// starting anything.
func TestHelpDoesNothing(t *testing.T) {
	for name := range commands() {
		for _, flag := range []string{"-h", "-help", "--help"} {
			t.Run(name+" "+flag, func(t *testing.T) {
				env := func(k string) string {
					if !slices.Contains(flagDefaultVars, k) {
						t.Errorf("%s %s read %s", name, flag, k)
					}
					return ""
				}
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // anything started would stop at once rather than hang
				var out, errOut bytes.Buffer
				code := run(ctx, []string{name, flag}, env, &out, &errOut)
				if code != 0 || errOut.Len() != 0 || !strings.HasPrefix(out.String(), "usage: smpp-hlr-gateway "+name) {
					t.Fatalf("exit %d, stdout %q, stderr %q; want 0 and the usage on stdout only", code, out.String(), errOut.String())
				}
			})
		}
	}
}

// TestHelpCommand: "help COMMAND" is "COMMAND --help".
func TestHelpCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"help", "send"}, envOf(nil), &out, &errOut); code != 0 ||
		!strings.HasPrefix(out.String(), "usage: smpp-hlr-gateway send") {
		t.Fatalf("help send: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}

// TestUsageErrorsExit2: an unknown flag or an unexpected argument prints
// the error and the usage on stderr and exits 2, for every command.
func TestUsageErrorsExit2(t *testing.T) {
	for name := range commands() {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var out, errOut bytes.Buffer
			code := run(ctx, []string{name, "--no-such-flag"}, envOf(nil), &out, &errOut)
			if code != 2 || out.Len() != 0 || !strings.Contains(errOut.String(), "no-such-flag") ||
				!strings.Contains(errOut.String(), "usage: smpp-hlr-gateway "+name) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 2, the error and the usage on stderr", code, out.String(), errOut.String())
			}
		})
	}
}

// TestHealthcheckReadsMetricsEnabledAsServeDoes: every spelling of false
// that serve accepts for METRICS_ENABLED makes healthcheck say there is
// nothing to ask (exit 1) instead of asking a port nothing listens on.
func TestHealthcheckReadsMetricsEnabledAsServeDoes(t *testing.T) {
	for _, v := range []string{"false", "0", "no", "OFF", "n"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"healthcheck"}, envOf(map[string]string{"METRICS_ENABLED": v}), &out, &errOut)
		if code != 1 || !strings.Contains(errOut.String(), "METRICS_ENABLED=false, no health endpoint to ask") {
			t.Fatalf("METRICS_ENABLED=%s: exit %d, stderr %q; want 1 and that there is no endpoint", v, code, errOut.String())
		}
	}
}

// TestBadFlagValuesExit2: a flag value a command cannot use is a usage
// error (exit 2, the reason and the usage on stderr), not a default taken
// in its place nor a run that fails later.
func TestBadFlagValuesExit2(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--sessions", "0", "--count", "5"}, "--sessions 0: must be at least 1"},
		{[]string{"bench", "--window", "-3", "--count", "5"}, "--window -3: must be at least 1"},
		{[]string{"bench", "--distinct", "-5", "--count", "5"}, "--distinct -5: must be at least 1"},
		{[]string{"bench", "--rate", "-5", "--count", "5"}, "negative rate -5"},
		{[]string{"bench", "--dest-prefix", "abc", "--count", "5"}, `destination prefix "abc" is not digits`},
		{[]string{"send", "--registered-delivery", "257", "40722570240"}, "--registered-delivery 257: a one-octet field"},
		{[]string{"healthcheck", "--addr", "nonsense"}, `--addr "nonsense": want HOST:PORT`},
		{[]string{"healthcheck", "--timeout", "-1s"}, "--timeout -1s: must be above 0"},
		{[]string{"status", "--token", "t", "--timeout", "-1s"}, "--timeout -1s: must be above 0"},
		{[]string{"hlr-simulator", "--api-key", "k"}, "give --api-key and --api-secret together"},
		{[]string{"send", "--bind", "rx", "40722570240"}, "--bind rx: a receiver cannot submit"},
		{[]string{"send", "--bind", "xx", "40722570240"}, `--bind "xx": want trx or tx`},
		{[]string{"send", "--insecure", "40722570240"}, "--insecure and --ca apply to --tls only"},
		{[]string{"bench", "--receipts", "--count", "5"}, "--receipts applies to --serve-responder only"},
		{[]string{"lookup", "--ton", "9", "40722570240"}, "--ton 9: want 0 unknown, 1 international or 2 national"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, envOf(nil), &out, &errOut)
			if code != 2 || !strings.Contains(errOut.String(), tt.want) ||
				!strings.Contains(errOut.String(), "usage: smpp-hlr-gateway "+tt.args[0]) {
				t.Fatalf("exit %d, stderr %q; want 2 with %q and the usage", code, errOut.String(), tt.want)
			}
		})
	}
}

// TestCheckConfigIsServesValidation keeps check-config and serve one
// validation: for each invalid configuration both exit 2 with the same
// line, and serve never gets as far as starting.
func TestCheckConfigIsServesValidation(t *testing.T) {
	dir := t.TempDir()
	badYAML := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(badYAML, []byte("accounts:\n  - system_id: [1, 2]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badRules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(badRules, []byte("prefixes: [[\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want string // in the line
	}{
		{"rules file", map[string]string{"HLR_PROVIDER": "simulator", "HLR_RULES_FILE": badRules}, "HLR_RULES_FILE"},
		{"not a port", map[string]string{"SMPP_PORT": "abc"}, "SMPP_PORT"},
		{"tmt without credentials", map[string]string{"HLR_PROVIDER": "tmt"}, "HLR_API_KEY"},
		{"tmt base URL", map[string]string{"HLR_PROVIDER": "tmt", "HLR_API_KEY": "k", "HLR_API_SECRET": "s", "HLR_BASE_URL": "ftp://x"}, "HLR_BASE_URL"},
		{"err codes", map[string]string{"HLR_PROVIDER": "simulator", "HLR_ERR_CODES": "nonsense"}, "HLR_ERR_CODES"},
		{"sentinel without master", map[string]string{"HLR_PROVIDER": "simulator", "REDIS_URL": "redis-sentinel://127.0.0.1:1/0"}, "REDIS_URL"},
		{"log format", map[string]string{"HLR_PROVIDER": "simulator", "LOG_FORMAT": "xml"}, "LOG_FORMAT"},
		{"accounts YAML", map[string]string{"HLR_PROVIDER": "simulator", "SMPP_ACCOUNTS_FILE": badYAML}, "SMPP_ACCOUNTS_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"SMPP_HOST": "127.0.0.1", "SMPP_PORT": "0", "METRICS_ENABLED": "false"}
			for k, v := range tt.env {
				env[k] = v
			}
			var lines [2]string
			for i, cmd := range []string{"serve", "check-config"} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				var out, errOut bytes.Buffer
				code := run(ctx, []string{cmd}, envOf(env), &out, &errOut)
				cancel()
				if code != 2 || !strings.Contains(errOut.String(), tt.want) || strings.Count(errOut.String(), "\n") != 1 {
					t.Fatalf("%s: exit %d, stderr %q; want 2 and one line naming %s", cmd, code, errOut.String(), tt.want)
				}
				lines[i] = errOut.String()
			}
			if lines[0] != lines[1] {
				t.Fatalf("serve said %q, check-config %q", lines[0], lines[1])
			}
		})
	}
}

func TestCheckConfigWarnsAboutReadableAccounts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.yaml")
	if err := os.WriteFile(path, []byte("accounts:\n  - system_id: alice\n    password: secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"HLR_PROVIDER": "simulator", "SMPP_ACCOUNTS_FILE": path})
	for _, mode := range []os.FileMode{0o600, 0o644} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"check-config"}, env, &out, &errOut)
		warned := strings.Contains(errOut.String(), "readable by every user")
		if code != 0 || warned != (mode&0o004 != 0) {
			t.Fatalf("mode %04o: exit %d, stderr %q", mode, code, errOut.String())
		}
	}
}

// TestCheckConfigWarnsAboutRulesOfUnknownAccounts: allow/deny lists in
// HLR_RULES_FILE for a system_id no account has apply to no one; the
// configuration is valid, but check-config says so.
func TestCheckConfigWarnsAboutRulesOfUnknownAccounts(t *testing.T) {
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.yaml")
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(accounts, []byte("accounts:\n  - system_id: alice\n    password: secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rules, []byte("accounts:\n  alice:\n    deny: [\"44\"]\n  alcie:\n    allow: [\"1\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := envOf(map[string]string{"HLR_PROVIDER": "simulator", "SMPP_ACCOUNTS_FILE": accounts, "HLR_RULES_FILE": rules})
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"check-config"}, env, &out, &errOut)
	if code != 0 || !strings.Contains(errOut.String(), `lists for account "alcie", which is not configured`) ||
		strings.Contains(errOut.String(), `"alice"`) {
		t.Fatalf("exit %d, stderr %q; want 0 and a warning naming alcie only", code, errOut.String())
	}
}

// TestHealthcheckAddrNeedsNoConfiguration: with --addr nothing else is
// read; the answer decides the exit code.
func TestHealthcheckAddrNeedsNoConfiguration(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			http.Error(w, "redis: down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	closed := closedAddr(t)
	noEnv := func(k string) string {
		t.Errorf("healthcheck --addr read %s", k)
		return ""
	}
	tests := []struct {
		args []string
		want int
	}{
		{[]string{"healthcheck", "--addr", addr}, 0},
		{[]string{"healthcheck", "--addr", addr, "--ready"}, 1},
		{[]string{"healthcheck", "--addr", closed}, 1},
		{[]string{"healthcheck", "--addr", "no-port"}, 2},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tt.args, noEnv, &out, &errOut); code != tt.want {
			t.Errorf("%v: exit %d, want %d (stdout %q, stderr %q)", tt.args, code, tt.want, out.String(), errOut.String())
		}
	}
	// Without --addr only the METRICS_* variables count: an HLR provider
	// without its key does not matter.
	host, port, _ := net.SplitHostPort(addr)
	env := envOf(map[string]string{"METRICS_HOST": host, "METRICS_PORT": port, "HLR_PROVIDER": "tmt"})
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck"}, env, &out, &errOut); code != 0 {
		t.Fatalf("healthcheck from METRICS_*: exit %d, stderr %q", code, errOut.String())
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestSendExitCodes: an error status in a submit_sm_resp makes send fail.
func TestSendExitCodes(t *testing.T) {
	addr := startGateway(t)
	tests := []struct {
		name    string
		dests   []string
		want    int
		wantErr string
	}{
		{"accepted, receipt arrives", []string{"40722570240999"}, 0, ""},
		{"live number rejected", []string{"13476841841"}, 1, "1 submit(s) answered with an error status"},
		{"one of two rejected", []string{"40722570240999", "13476841841"}, 1, "1 submit(s) answered with an error status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			args := append([]string{"send", "--addr", addr, "--wait", "20s"}, tt.dests...)
			code := run(ctx, args, envOf(nil), &out, &errOut)
			if code != tt.want || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, out.String(), errOut.String(), tt.want, tt.wantErr)
			}
		})
	}
}

// startGateway runs a gateway with the simulator on a free port and
// returns its SMPP address.
func startGateway(t *testing.T) string { return startApp(t, nil).SMPPAddr() }

// startApp runs a gateway with the simulator on a free port, with extra
// variables on top, until the test ends.
func startApp(t *testing.T, extra map[string]string) *app.App {
	t.Helper()
	vars := map[string]string{
		"SMPP_HOST": "127.0.0.1", "SMPP_PORT": "0", "METRICS_ENABLED": "false",
		"HLR_PROVIDER": "simulator", "DLR_DELAY_SECONDS": "0",
	}
	maps.Copy(vars, extra)
	cfg, err := config.Load(envOf(vars))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a, err := app.New(ctx, cfg, logging.Discard(), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	})
	return a
}

// TestLookupLogsInTheConfiguredFormat: with Redis unreachable, lookup's
// log lines (its own and the Redis client's) are JSON like serve's.
func TestLookupLogsInTheConfiguredFormat(t *testing.T) {
	env := envOf(map[string]string{
		"HLR_PROVIDER": "simulator", "LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG",
		"REDIS_URL": "redis://" + closedAddr(t) + "/0", "REDIS_TIMEOUT_SECONDS": "0.2",
	})
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"lookup", "40722570240999"}, env, &out, &errOut); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) == 0 || lines[0] == "" {
		t.Fatal("no log line although Redis is unreachable")
	}
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["event"] == nil {
			t.Errorf("not a JSON log line: %q", l)
		}
	}
}

// TestLookupRefusesAnUnknownAccount: --account names an account of the
// configuration; a misspelt one would read the numbers with no account's
// region and lists, silently.
func TestLookupRefusesAnUnknownAccount(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"lookup", "--account", "nobody", "40722570240"},
		envOf(map[string]string{"HLR_PROVIDER": "simulator"}), &out, &errOut)
	if code != 2 || !strings.Contains(errOut.String(), `--account "nobody": no such account`) {
		t.Fatalf("exit %d, stderr %q; want 2 and the unknown account named", code, errOut.String())
	}
}

// TestCheckConfigWarnsAboutListenHostsThatDoNotResolve: serve would exit
// at its start on a host name that does not resolve, so check-config says
// so (a warning: resolution depends on where it runs). Addresses are not
// looked up.
func TestCheckConfigWarnsAboutListenHostsThatDoNotResolve(t *testing.T) {
	known := map[string]bool{"gw.example": true}
	var asked []string
	lookup := func(_ context.Context, host string) ([]string, error) {
		asked = append(asked, host)
		if known[host] {
			return []string{"192.0.2.1"}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	tests := []struct {
		name    string
		env     map[string]string
		want    []string // warnings name these variables
		wantAsk []string
	}{
		{"addresses", map[string]string{"SMPP_HOST": "0.0.0.0", "METRICS_HOST": "::1"}, nil, nil},
		{"a name that resolves", map[string]string{"SMPP_HOST": "gw.example", "METRICS_ENABLED": "false"}, nil, []string{"gw.example"}},
		{"SMPP_HOST does not", map[string]string{"SMPP_HOST": "nope.invalid", "METRICS_ENABLED": "false"}, []string{"SMPP_HOST"}, []string{"nope.invalid"}},
		{"METRICS_HOST does not", map[string]string{"SMPP_HOST": "127.0.0.1", "METRICS_HOST": "nope.invalid"}, []string{"METRICS_HOST"}, []string{"nope.invalid"}},
		{"METRICS_HOST off", map[string]string{"SMPP_HOST": "127.0.0.1", "METRICS_HOST": "nope.invalid", "METRICS_ENABLED": "false"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			env := map[string]string{"HLR_PROVIDER": "simulator"}
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(envOf(env))
			if err != nil {
				t.Fatal(err)
			}
			ws := listenHostWarnings(t.Context(), cfg, lookup)
			if len(ws) != len(tt.want) || !slices.Equal(asked, tt.wantAsk) {
				t.Fatalf("warnings %q after looking up %q; want %d naming %v after %q", ws, asked, len(tt.want), tt.want, tt.wantAsk)
			}
			for i, w := range ws {
				if !strings.HasPrefix(w, tt.want[i]+" ") || !strings.Contains(w, "does not resolve") {
					t.Errorf("warning %q does not name %s", w, tt.want[i])
				}
			}
		})
	}
}
