package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
	"github.com/smpp-hlr-gateway/gateway/internal/smpp"
)

const adminToken = "t0ken-for-tests"

// api calls the admin API and decodes a JSON answer into out (may be nil).
func api(t *testing.T, addr, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, body)
		}
	}
	return resp.StatusCode
}

// scrape returns the samples of /metrics as "name{labels}" → value.
func scrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out
}

func writeAccounts(t *testing.T, path, yaml string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type sessionsAnswer struct {
	Sessions []struct {
		ID, Bind         string
		SystemID         string    `json:"system_id"`
		RemoteAddr       string    `json:"remote_addr"`
		InterfaceVersion string    `json:"interface_version"`
		BoundAt          time.Time `json:"bound_at"`
		Submits          uint64
	}
}

func dialAs(t *testing.T, addr, systemID, password string, mode pdu.CommandID) (*esme.Client, error) {
	t.Helper()
	c, err := esme.Dial(ctxT(t), esme.Config{Addr: addr, SystemID: systemID, Password: password, Bind: mode,
		OnDeliver: func(*pdu.DeliverSM) pdu.Status { return pdu.StatusOK }})
	if err == nil {
		t.Cleanup(func() { _ = c.Close() })
	}
	return c, err
}

func mustDialAs(t *testing.T, addr, systemID, password string, mode pdu.CommandID) *esme.Client {
	t.Helper()
	c, err := dialAs(t, addr, systemID, password, mode)
	if err != nil {
		t.Fatalf("bind %s: %v", systemID, err)
	}
	return c
}

func waitClosed(t *testing.T, c *esme.Client, what string) {
	t.Helper()
	select {
	case <-c.Unbound():
	case <-ctxT(t).Done():
		t.Fatalf("%s: no unbind from the gateway", what)
	}
}

// TestOperatorEndToEnd binds sessions, lists them through the admin API,
// unbinds one through it, reloads an accounts file that adds, changes and
// removes accounts while sessions are bound, and checks the per-account
// series.
// startOperatorGateway starts a gateway with accounts (the YAML of an
// accounts file, at file) and the admin API on a free port (adminAddr).
func startOperatorGateway(t *testing.T, accounts string) (gw *gateway, adminAddr, file string) {
	t.Helper()
	file = filepath.Join(t.TempDir(), "accounts.yaml")
	writeAccounts(t, file, accounts)
	gw = startGateway(t, newFakeTMT(t, invalidNumbers), map[string]string{
		"SMPP_ACCOUNTS_FILE": file, "ADMIN_TOKEN": adminToken,
		"METRICS_ENABLED": "true", "METRICS_HOST": "127.0.0.1", "METRICS_PORT": "0",
	})
	return gw, gw.app.AdminAddr(), file
}

func TestOperatorEndToEnd(t *testing.T) {
	gw, adminAddr, file := startOperatorGateway(t, `accounts:
  - {system_id: alice, password: a, max_binds: 3}
  - {system_id: bob, password: b}
  - {system_id: carol, password: c}
`)
	// Every account's pending-receipt gauge is there from the start.
	start := scrape(t, adminAddr)
	for _, id := range []string{"alice", "bob", "carol"} {
		if v, ok := start[`dlr_account_pending{system_id="`+id+`"}`]; !ok || v != 0 {
			t.Errorf("at start dlr_account_pending{%s} = %v (present %v), want 0", id, v, ok)
		}
	}
	aliceTX := mustDialAs(t, gw.addr, "alice", "a", pdu.CmdBindTransmitter)
	mustDialAs(t, gw.addr, "alice", "a", pdu.CmdBindReceiver)
	bob := mustDialAs(t, gw.addr, "bob", "b", pdu.CmdBindTransceiver)
	carol := mustDialAs(t, gw.addr, "carol", "c", pdu.CmdBindTransmitter)

	st, msgID, err := aliceTX.Submit(ctxT(t), sm("40722570240999", 1))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("alice submit: %v %v", st, err)
	}
	// carol has no receiver: her receipt stays pending.
	st, carolMsg, err := carol.Submit(ctxT(t), sm("40722570240999", 1))
	if err != nil || st != pdu.StatusOK {
		t.Fatalf("carol submit: %v %v", st, err)
	}
	if st, _, _ := aliceTX.Submit(ctxT(t), sm("40722570241000", 1)); st != pdu.StatusInvDstAdr {
		t.Fatalf("alice submit to a live number: %v, want ESME_RINVDSTADR", st)
	}

	// Sessions.
	var sessions sessionsAnswer
	if code := api(t, adminAddr, "GET", "/api/v1/sessions", &sessions); code != 200 {
		t.Fatalf("GET sessions: %d", code)
	}
	bobID := ""
	binds := map[string]int{}
	for _, s := range sessions.Sessions {
		binds[s.SystemID+"/"+s.Bind]++
		if s.SystemID == "bob" {
			bobID = s.ID
		}
		if s.InterfaceVersion != "0x34" || s.BoundAt.IsZero() || !strings.HasPrefix(s.RemoteAddr, "127.0.0.1:") {
			t.Errorf("session %+v", s)
		}
		if s.SystemID == "alice" && s.Bind == "transmitter" && s.Submits != 2 {
			t.Errorf("alice's transmitter: submits %d, want 2", s.Submits)
		}
	}
	want := map[string]int{"alice/transmitter": 1, "alice/receiver": 1, "bob/transceiver": 1, "carol/transmitter": 1}
	if len(binds) != len(want) {
		t.Fatalf("sessions %v, want %v", binds, want)
	}
	for k, n := range want {
		if binds[k] != n {
			t.Fatalf("sessions %v, want %v", binds, want)
		}
	}

	// Unbind one through the API.
	if code := api(t, adminAddr, "DELETE", "/api/v1/sessions/"+bobID, nil); code != 204 {
		t.Fatalf("DELETE session: %d", code)
	}
	waitClosed(t, bob, "bob")
	// The unbind reached bob; the session ends once the gateway has its
	// unbind_resp and has closed the connection. Until then a DELETE may
	// still find it (204); afterwards it must be 404.
	code := 0
	for ctx := ctxT(t); ctx.Err() == nil; {
		if code = api(t, adminAddr, "DELETE", "/api/v1/sessions/"+bobID, nil); code != 204 {
			break
		}
		select {
		case <-bob.Done():
		case <-ctx.Done():
		}
		runtime.Gosched()
	}
	if code != 404 {
		t.Fatalf("DELETE an ended session: %d, want 404", code)
	}

	// The message by id.
	var msg struct {
		State, Destination string
		SystemID           string `json:"system_id"`
	}
	if code := api(t, adminAddr, "GET", "/api/v1/messages/"+msgID, &msg); code != 200 ||
		msg.SystemID != "alice" || msg.Destination != "40722570240999" || (msg.State != "ENROUTE" && msg.State != "DELIVERED") {
		t.Fatalf("GET message: %d %+v", code, msg)
	}
	if code := api(t, adminAddr, "GET", "/api/v1/messages/NOSUCHID", nil); code != 404 {
		t.Fatalf("GET unknown message: %d", code)
	}

	// An invalid file changes nothing.
	writeAccounts(t, file, "accounts:\n  - {system_id: dave, password: \"\"}\n")
	var bad struct{ Error string }
	if code := api(t, adminAddr, "POST", "/api/v1/reload", &bad); code != 400 || !strings.Contains(bad.Error, "password") {
		t.Fatalf("reload of an invalid file: %d %+v", code, bad)
	}
	var be *esme.BindError
	if _, err := dialAs(t, gw.addr, "dave", "d", pdu.CmdBindTransmitter); !errors.As(err, &be) {
		t.Fatalf("dave bound after a failed reload: %v", err)
	}

	// A good file: dave added, alice changed, carol and bob removed.
	writeAccounts(t, file, `accounts:
  - {system_id: alice, password: a2, max_binds: 2, throughput: 1000}
  - {system_id: dave, password: d}
`)
	var res struct{ Added, Removed, Changed []string }
	if code := api(t, adminAddr, "POST", "/api/v1/reload", &res); code != 200 {
		t.Fatalf("reload: %d", code)
	}
	if strings.Join(res.Added, ",") != "dave" || strings.Join(res.Removed, ",") != "bob,carol" || strings.Join(res.Changed, ",") != "alice" {
		t.Fatalf("reload answered %+v", res)
	}
	waitClosed(t, carol, "carol (removed)")
	// A removed account's pending receipt is still found by id.
	var carols struct {
		State    string
		SystemID string `json:"system_id"`
	}
	if code := api(t, adminAddr, "GET", "/api/v1/messages/"+carolMsg, &carols); code != 200 ||
		carols.SystemID != "carol" || carols.State != "ENROUTE" {
		t.Fatalf("GET the message of a removed account: %d %+v", code, carols)
	}
	mustDialAs(t, gw.addr, "dave", "d", pdu.CmdBindTransmitter)
	if _, err := dialAs(t, gw.addr, "alice", "a", pdu.CmdBindTransmitter); !errors.As(err, &be) || be.Status != pdu.StatusInvPaswd {
		t.Fatalf("alice's old password after reload: %v", err)
	}
	// max_binds is 2 now and alice has two binds.
	if _, err := dialAs(t, gw.addr, "alice", "a2", pdu.CmdBindTransmitter); !errors.As(err, &be) || be.Status != pdu.StatusBindFail {
		t.Fatalf("third alice bind with max_binds 2: %v", err)
	}
	// Alice's bound session is undisturbed.
	if st, _, err := aliceTX.Submit(ctxT(t), sm("40722570240998", 1)); err != nil || st != pdu.StatusOK {
		t.Fatalf("alice submit after reload: %v %v", st, err)
	}

	var accounts struct {
		Accounts []struct {
			SystemID   string `json:"system_id"`
			MaxBinds   int    `json:"max_binds"`
			Throughput float64
			Binds      struct{ Instance int }
			Submits    struct{ Accepted, Rejected, Throttled uint64 }
		}
	}
	if code := api(t, adminAddr, "GET", "/api/v1/accounts", &accounts); code != 200 || len(accounts.Accounts) != 2 {
		t.Fatalf("GET accounts: %d %+v", code, accounts)
	}
	alice := accounts.Accounts[0]
	if alice.SystemID != "alice" || alice.MaxBinds != 2 || alice.Throughput != 1000 || alice.Binds.Instance != 2 ||
		alice.Submits.Accepted != 2 || alice.Submits.Rejected != 1 {
		t.Fatalf("alice: %+v", alice)
	}

	m := scrape(t, adminAddr)
	checks := map[string]float64{
		`smpp_account_submits_total{status="accepted",system_id="alice"}`:  2,
		`smpp_account_submits_total{status="rejected",system_id="alice"}`:  1,
		`smpp_account_submits_total{status="throttled",system_id="alice"}`: 0,
		`smpp_account_submits_total{status="accepted",system_id="dave"}`:   0,
		`smpp_account_binds{bind="transmitter",system_id="alice"}`:         1,
		`smpp_account_binds{bind="receiver",system_id="alice"}`:            1,
		`smpp_account_binds{bind="transmitter",system_id="dave"}`:          1,
		`config_reload_total{result="success"}`:                            1,
		`config_reload_total{result="failure"}`:                            1,
	}
	for k, v := range checks {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if _, ok := m[`dlr_account_pending{system_id="alice"}`]; !ok {
		t.Error(`no dlr_account_pending{system_id="alice"}`)
	}
	for k := range m {
		if strings.Contains(k, `system_id="carol"`) && (strings.HasPrefix(k, "smpp_account_") || strings.HasPrefix(k, "dlr_account_")) {
			t.Errorf("removed account still exported: %s", k)
		}
	}
}

// failingReloader stands for another reloadable file that is invalid.
type failingReloader struct{}

func (failingReloader) Name() string { return "HLR rules" }

func (failingReloader) Prepare(context.Context, *app.ReloadInput) (func() smpp.ReloadResult, error) {
	return nil, errors.New("rules file: line 3: bad prefix")
}

// TestReloadAppliesNothingUnlessAllAreValid: when one reloadable part is
// invalid, the valid accounts file is not applied either.
func TestReloadAppliesNothingUnlessAllAreValid(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeAccounts(t, file, "accounts:\n  - {system_id: alice, password: a}\n")
	gw := startGateway(t, newFakeTMT(t, nil), map[string]string{"SMPP_ACCOUNTS_FILE": file})
	gw.app.AddReloader(failingReloader{})
	writeAccounts(t, file, "accounts:\n  - {system_id: alice, password: a}\n  - {system_id: dave, password: d}\n")
	_, err := gw.app.Reload(ctxT(t))
	if !errors.Is(err, admin.ErrInvalidConfig) || !strings.Contains(err.Error(), "bad prefix") {
		t.Fatalf("Reload = %v, want the rules error as invalid configuration", err)
	}
	if _, err := dialAs(t, gw.addr, "dave", "d", pdu.CmdBindTransmitter); err == nil {
		t.Fatal("dave can bind although the reload failed")
	}
	if !strings.Contains(gw.logs.String(), `"event":"config.reload.failed","part":"HLR rules"`) {
		t.Fatalf("no config.reload.failed line naming the part:\n%s", gw.logs.String())
	}
}

// TestReloadReadsTheRulesFile: a reload reads HLR_RULES_FILE again; a rules
// file that does not parse changes nothing, not even the accounts.
func TestReloadReadsTheRulesFile(t *testing.T) {
	dir := t.TempDir()
	rules, accounts := filepath.Join(dir, "rules.yaml"), filepath.Join(dir, "accounts.yaml")
	writeAccounts(t, rules, "accounts:\n  alice:\n    allow: [\"4915\"]\n")
	writeAccounts(t, accounts, "accounts:\n  - {system_id: alice, password: a}\n")
	tmt := newFakeTMT(t, nil) // every number is live
	gw := startGateway(t, tmt, map[string]string{"HLR_RULES_FILE": rules, "SMPP_ACCOUNTS_FILE": accounts})
	c := mustDialAs(t, gw.addr, "alice", "a", pdu.CmdBindTransmitter)
	submit := func() pdu.Status {
		st, _, err := c.Submit(ctxT(t), sm("4915112345678", 1))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if st := submit(); st != pdu.StatusOK {
		t.Fatalf("allowed by the rules: %v, want ESME_ROK", st)
	}

	// A broken rules file with a good accounts file: nothing changes.
	writeAccounts(t, rules, "accounts:\n  alice:\n    allow: [\"49x\"]\n")
	writeAccounts(t, accounts, "accounts:\n  - {system_id: alice, password: a}\n  - {system_id: dave, password: d}\n")
	if _, err := gw.app.Reload(ctxT(t)); !errors.Is(err, admin.ErrInvalidConfig) || !strings.Contains(err.Error(), "HLR_RULES_FILE") {
		t.Fatalf("Reload with a broken rules file = %v", err)
	}
	if _, err := dialAs(t, gw.addr, "dave", "d", pdu.CmdBindTransmitter); err == nil {
		t.Fatal("dave can bind although the reload failed")
	}
	if st := submit(); st != pdu.StatusOK {
		t.Fatalf("after a failed reload: %v, want the old rules (ESME_ROK)", st)
	}

	// Without the allow rule the number goes to the HLR, which says live.
	writeAccounts(t, rules, "prefixes: []\n")
	if res, err := gw.app.Reload(ctxT(t)); err != nil || strings.Join(res.Added, ",") != "dave" {
		t.Fatalf("Reload = %+v, %v", res, err)
	}
	if st := submit(); st != pdu.StatusInvDstAdr {
		t.Fatalf("after the rules reload: %v, want ESME_RINVDSTADR from the HLR", st)
	}

	// A default_region and a deny rule for British mobiles: the national
	// spelling is now a British number, denied without a lookup.
	national := sm("07400123456", 1)
	national.Dest.TON = 2
	writeAccounts(t, rules, "accounts:\n  alice:\n    deny: [\"4474\"]\n")
	writeAccounts(t, accounts, "accounts:\n  - {system_id: alice, password: a, default_region: GB}\n  - {system_id: dave, password: d}\n")
	if res, err := gw.app.Reload(ctxT(t)); err != nil || strings.Join(res.Changed, ",") != "alice" {
		t.Fatalf("Reload = %+v, %v; want alice changed", res, err)
	}
	before := tmt.requests.Load()
	if st, _, err := c.Submit(ctxT(t), national); err != nil || st != pdu.StatusInvDstAdr {
		t.Fatalf("national number after the region reload: %v %v, want ESME_RINVDSTADR", st, err)
	}
	if got := tmt.requests.Load(); got != before {
		t.Fatalf("the HLR was asked %d times for a denied number", got-before)
	}
}

// TestReloadNamesTheAccountsFileWhenItIsInvalid: an invalid accounts file
// is reported as SMPP_ACCOUNTS_FILE, not as another part that reads it.
func TestReloadNamesTheAccountsFileWhenItIsInvalid(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeAccounts(t, file, "accounts:\n  - {system_id: alice, password: a}\n")
	gw := startGateway(t, newFakeTMT(t, nil), map[string]string{"SMPP_ACCOUNTS_FILE": file})
	writeAccounts(t, file, "accounts:\n  - {system_id: alice, password: \"\"}\n")
	if _, err := gw.app.Reload(ctxT(t)); !errors.Is(err, admin.ErrInvalidConfig) {
		t.Fatalf("Reload = %v, want invalid configuration", err)
	}
	if !strings.Contains(gw.logs.String(), `"event":"config.reload.failed","part":"SMPP_ACCOUNTS_FILE"`) {
		t.Fatalf("the failure does not name SMPP_ACCOUNTS_FILE:\n%s", gw.logs.String())
	}
}

// TestReloadRefusesAFIFO: an accounts file replaced by a FIFO fails the
// reload at once (nothing waits for a writer) and keeps the accounts.
func TestReloadRefusesAFIFO(t *testing.T) {
	file := filepath.Join(t.TempDir(), "accounts.yaml")
	writeAccounts(t, file, "accounts:\n  - {system_id: alice, password: a}\n")
	gw := startGateway(t, newFakeTMT(t, nil), map[string]string{"SMPP_ACCOUNTS_FILE": file})
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(file, 0o600); err != nil {
		t.Skipf("no FIFOs here: %v", err)
	}
	if _, err := gw.app.Reload(ctxT(t)); !errors.Is(err, admin.ErrInvalidConfig) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Reload = %v, want the FIFO refused as invalid configuration", err)
	}
	if _, err := dialAs(t, gw.addr, "alice", "a", pdu.CmdBindTransmitter); err != nil {
		t.Fatalf("alice cannot bind after the failed reload: %v", err)
	}
}

// TestOperatorUnbindsAnAccount: DELETE /api/v1/accounts/{id}/sessions
// unbinds every session of the account on this instance and says how
// many; the other accounts' sessions stay. A configured account without
// sessions answers 0, an unknown one 404.
func TestOperatorUnbindsAnAccount(t *testing.T) {
	gw, adminAddr, _ := startOperatorGateway(t, `accounts:
  - {system_id: alice, password: a}
  - {system_id: bob, password: b}
  - {system_id: carol, password: c}
`)
	a1 := mustDialAs(t, gw.addr, "alice", "a", pdu.CmdBindTransmitter)
	a2 := mustDialAs(t, gw.addr, "alice", "a", pdu.CmdBindReceiver)
	bob := mustDialAs(t, gw.addr, "bob", "b", pdu.CmdBindTransceiver)
	var res struct {
		SystemID string `json:"system_id"`
		Unbound  int
	}
	if code := api(t, adminAddr, "DELETE", "/api/v1/accounts/alice/sessions", &res); code != 200 || res.Unbound != 2 || res.SystemID != "alice" {
		t.Fatalf("DELETE alice's sessions: %d %+v, want 200 with 2", code, res)
	}
	waitClosed(t, a1, "alice's transmitter")
	waitClosed(t, a2, "alice's receiver")
	if st, _, err := bob.Submit(ctxT(t), sm("40722570240999", 1)); err != nil || st != pdu.StatusOK {
		t.Fatalf("bob after alice was unbound: %v %v", st, err)
	}
	res.Unbound = -1
	if code := api(t, adminAddr, "DELETE", "/api/v1/accounts/carol/sessions", &res); code != 200 || res.Unbound != 0 {
		t.Fatalf("DELETE carol's sessions (none): %d %+v, want 200 with 0", code, res)
	}
	if code := api(t, adminAddr, "DELETE", "/api/v1/accounts/zed/sessions", nil); code != 404 {
		t.Fatalf("DELETE an unknown account's sessions: %d, want 404", code)
	}
	m := scrape(t, adminAddr)
	if got := m[`smpp_connections_closed_total{reason="admin_unbind"}`]; got != 2 {
		t.Errorf(`smpp_connections_closed_total{reason="admin_unbind"} = %v, want 2`, got)
	}
}
