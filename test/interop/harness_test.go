//go:build interop

// Package interop drives the gateway binary with SMPP clients nobody in this
// project wrote: Perl Net::SMPP, node-smpp, Kannel, gosmpp and libsmpp34. It
// is excluded from `go test ./...` by the interop build tag; run it with
//
//	bash test/interop/install.sh && go test -tags interop -count=1 ./test/interop/
//
// TestMain builds cmd/smpp-hlr-gateway once; every test starts its own
// gateway process on free 127.0.0.1 ports with the HLR simulator, runs a client
// (perl/smpp_client.pl, node/smpp_client.js, libsmpp34/smpp_client.c compiled
// by the test), Kannel, or gosmpp in the test process against it, and asserts
// on what the client saw (the scripts print JSON lines). A client that is not
// installed skips its tests, except under CI=true, where it fails them.
package interop

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

const (
	systemID = "testuser"
	password = "testpass"

	// Numbers of the gateway's HLR simulator.
	validNumber     = "13476841841"    // live subscriber: 0x0B, no receipt
	invalidNumber   = "40722570240999" // invalid number: accepted, DELIVRD err:003
	network191      = "2347010000044"  // network not supported: accepted, err:000
	landline193     = "33387840133"    // landline: accepted, err:000
	clientSourceNum = "447700900123"   // source_addr the client scripts submit with

	// SMPP command ids and statuses the assertions use.
	genericNack         = 0x80000000
	bindReceiverResp    = 0x80000001
	bindTransmitterResp = 0x80000002
	submitSMResp        = 0x80000004
	unbindResp          = 0x80000006
	bindTransceiverResp = 0x80000009
	enquireLinkResp     = 0x80000015

	statusOK          = 0x00
	statusInvCmdID    = 0x03
	statusInvBndSts   = 0x04
	statusAlyBnd      = 0x05
	statusInvDstAdr   = 0x0B
	statusInvPaswd    = 0x0E
	statusInvSysID    = 0x0F
	statusThrottled   = 0x58
	messageStateDeliv = 2

	dlrDelaySeconds = "0.2"
)

var (
	gatewayBin string // built by TestMain
	repoRoot   string
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	repoRoot = filepath.Clean(filepath.Join(wd, "..", ".."))
	if bin := os.Getenv("INTEROP_GATEWAY_BIN"); bin != "" {
		// A prebuilt binary (a release build, say) instead of building one.
		gatewayBin, err = filepath.Abs(bin)
		if err != nil {
			fmt.Fprintln(os.Stderr, "interop:", err)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "interop-gateway-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "interop:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	gatewayBin = filepath.Join(dir, "smpp-hlr-gateway")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", gatewayBin, "./cmd/smpp-hlr-gateway")
	build.Dir = repoRoot
	build.Stdout = os.Stderr
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: building the gateway (go build ./cmd/smpp-hlr-gateway in %s) failed: %v\n", repoRoot, err)
		return 1
	}
	return m.Run()
}

// ---------------------------------------------------------------------------
// Tools

// requireTool skips the test when a client is missing, or fails it under CI.
func requireTool(t *testing.T, what string, ok bool, detail string) {
	t.Helper()
	if ok {
		return
	}
	msg := fmt.Sprintf("%s is not installed (%s); install it with: bash test/interop/install.sh", what, detail)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing client fails the interoperability tests)")
	}
	t.Skip(msg)
}

// lookTool finds a program in PATH or, for daemons such as bearerbox, in the
// sbin directories that a non-root PATH may lack.
func lookTool(name string) (string, bool) {
	if p, err := exec.LookPath(name); err == nil {
		return p, true
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// ---------------------------------------------------------------------------
// Ports and processes

// freePort returns a free 127.0.0.1 port no other test in this process
// was given.
func freePort(t *testing.T) int { return redistest.FreePort(t) }

// waitPort waits until 127.0.0.1:port accepts a TCP connection, or the
// process behind it exits, or the timeout passes.
func waitPort(port int, timeout time.Duration, exited <-chan struct{}) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if exited != nil {
			select {
			case <-exited:
				return fmt.Errorf("process exited before %s accepted connections", addr)
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections within %s: %v", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// syncBuffer collects a process's output from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a long-running child (the gateway, bearerbox, smsbox) in its own
// process group, stopped in t.Cleanup.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *syncBuffer
	exited chan struct{}
	err    error // set once exited is closed
}

// startProc starts a child and registers its stop (TERM, then KILL after a
// grace period) and, when the test failed, the dump of its output.
func startProc(t *testing.T, name string, env []string, dir string, bin string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	out := &syncBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, out: out, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		p.stop(5 * time.Second)
		if t.Failed() {
			t.Logf("---- %s output ----\n%s\n---- end of %s output ----", name, tail(out.String(), 200), name)
		}
	})
	return p
}

// stop sends SIGTERM to the process group, waits up to grace, then SIGKILLs it.
func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid
	select {
	case <-p.exited:
		// The leader is gone; make sure nothing it forked lingers.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return
	default:
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		select {
		case <-p.exited:
		case <-time.After(5 * time.Second):
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) <= lines {
		return strings.Join(parts, "\n")
	}
	return fmt.Sprintf("[%d earlier lines cut]\n%s", len(parts)-lines, strings.Join(parts[len(parts)-lines:], "\n"))
}

// cleanEnv is the test's environment without any variable the gateway reads,
// so a developer's or CI's settings cannot leak into a test's gateway.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "SMPP_"), strings.HasPrefix(name, "HLR_"),
			strings.HasPrefix(name, "REDIS_"), strings.HasPrefix(name, "DLR_"),
			strings.HasPrefix(name, "METRICS_"), strings.HasPrefix(name, "LOG_"),
			strings.HasPrefix(name, "ADMIN_"), strings.HasPrefix(name, "GATEWAY_"):
			continue
		}
		env = append(env, kv)
	}
	return env
}

// ---------------------------------------------------------------------------
// The gateway

type gatewayOptions struct {
	tls      bool
	logLevel string            // default WARNING
	extraEnv map[string]string // added last
}

type gateway struct {
	*proc
	port     int
	tlsPort  int
	certFile string
}

// startGateway runs `smpp-hlr-gateway serve` with the HLR simulator on free
// ports and waits until it accepts connections.
func startGateway(t *testing.T, o gatewayOptions) *gateway {
	t.Helper()
	if o.logLevel == "" {
		o.logLevel = "WARNING"
	}
	g := &gateway{port: freePort(t)}
	env := append(cleanEnv(),
		"SMPP_HOST=127.0.0.1",
		"SMPP_PORT="+strconv.Itoa(g.port),
		"SMPP_SYSTEM_ID="+systemID,
		"SMPP_PASSWORD="+password,
		"HLR_PROVIDER=simulator",
		"METRICS_ENABLED=false",
		"DLR_DELAY_SECONDS="+dlrDelaySeconds,
		"LOG_LEVEL="+o.logLevel,
		"LOG_FORMAT=json",
		"REDIS_URL=",
	)
	if o.tls {
		dir := t.TempDir()
		certFile, keyFile := writeSelfSignedCert(t, dir)
		g.tlsPort = freePort(t)
		g.certFile = certFile
		env = append(env,
			"SMPP_TLS_PORT="+strconv.Itoa(g.tlsPort),
			"SMPP_TLS_CERT_FILE="+certFile,
			"SMPP_TLS_KEY_FILE="+keyFile,
		)
	}
	for k, v := range o.extraEnv {
		env = append(env, k+"="+v)
	}
	g.proc = startProc(t, "gateway", env, t.TempDir(), gatewayBin, "serve")
	if err := waitPort(g.port, 20*time.Second, g.exited); err != nil {
		t.Fatalf("gateway: %v\n%s", err, tail(g.out.String(), 50))
	}
	if o.tls {
		if err := waitPort(g.tlsPort, 10*time.Second, g.exited); err != nil {
			t.Fatalf("gateway TLS listener: %v\n%s", err, tail(g.out.String(), 50))
		}
	}
	return g
}

// logLines returns the gateway's JSON log lines, decoded.
func (g *gateway) logLines() []map[string]any {
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(g.out.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			lines = append(lines, m)
		}
	}
	return lines
}

// writeSelfSignedCert writes a P-256 certificate for 127.0.0.1/localhost and
// its key as PEM files under dir.
func writeSelfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "smpp-hlr-gateway interop test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// ---------------------------------------------------------------------------
// Client scripts

// client is one of the scripted SMPP clients; all share one command line.
type client struct {
	name   string   // for messages
	interp string   // perl, node, or a compiled client
	script string   // path relative to test/interop; empty for a compiled client
	env    []string // extra environment
}

// step is one JSON line a client script prints.
type step struct {
	Step                  string         `json:"step"`
	Command               string         `json:"command"`
	CommandID             *uint32        `json:"command_id"`
	Status                *uint32        `json:"status"`
	SequenceNumber        uint32         `json:"sequence_number"`
	RequestSequenceNumber uint32         `json:"request_sequence_number"`
	BodyLength            *int           `json:"body_length"`
	SystemID              string         `json:"system_id"`
	MessageID             string         `json:"message_id"`
	Destination           string         `json:"destination"`
	EsmClass              *int           `json:"esm_class"`
	SourceAddr            string         `json:"source_addr"`
	DestinationAddr       string         `json:"destination_addr"`
	ShortMessage          string         `json:"short_message"`
	ReceiptedMessageID    string         `json:"receipted_message_id"`
	MessageState          *int           `json:"message_state"`
	Count                 *int           `json:"count"`
	Statuses              map[string]int `json:"statuses"`
	Closed                *bool          `json:"closed"`
	TLS                   bool           `json:"tls"`
	TLSProtocol           string         `json:"tls_protocol"`
	OK                    *bool          `json:"ok"`
	Error                 string         `json:"error"`
	TLVTags               []int          `json:"tlv_tags"`

	raw string
}

// run is the outcome of one client run.
type run struct {
	steps  []step
	stdout string
	stderr string
	err    error // the process's exit error, if any
}

func (r *run) String() string {
	return fmt.Sprintf("exit: %v\nstdout:\n%s\nstderr:\n%s", r.err, r.stdout, r.stderr)
}

// find returns the steps with the given name.
func (r *run) find(name string) []step {
	var out []step
	for _, s := range r.steps {
		if s.Step == name {
			out = append(out, s)
		}
	}
	return out
}

// one returns the only step with the given name, failing the test otherwise.
func (r *run) one(t *testing.T, name string) step {
	t.Helper()
	s := r.find(name)
	if len(s) != 1 {
		t.Fatalf("want exactly one %q step, got %d\n%s", name, len(s), r)
	}
	return s[0]
}

// runClient runs a scenario of the client against the gateway, bounded by
// timeout (the script also has its own per-request timeouts).
func runClient(t *testing.T, c client, g *gateway, scenario string, timeout time.Duration, extraArgs ...string) *run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var args []string
	if c.script != "" {
		args = append(args, c.script)
	}
	args = append(args,
		"--scenario", scenario,
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(g.port),
		"--system-id", systemID,
		"--password", password,
		"--timeout", "5",
		"--receipt-wait", "5",
	)
	args = append(args, extraArgs...)
	cmd := exec.CommandContext(ctx, c.interp, args...)
	cmd.Env = append(cleanEnv(), c.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s did not finish within %s: %w", c.name, scenario, timeout, err)
	}
	r := &run{stdout: stdout.String(), stderr: stderr.String(), err: err}
	for _, line := range strings.Split(r.stdout, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var s step
		if json.Unmarshal([]byte(line), &s) != nil {
			continue
		}
		s.raw = line
		r.steps = append(r.steps, s)
	}
	t.Logf("%s %s:\n%s", c.name, scenario, strings.TrimRight(r.stdout, "\n"))
	return r
}

// ---------------------------------------------------------------------------
// Assertions shared by the clients

func mustSucceed(t *testing.T, r *run) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("client failed: %v\n%s", r.err, r)
	}
	if len(r.find("done")) != 1 {
		t.Fatalf("client did not report done\n%s", r)
	}
}

// wantResp checks one response step: its command_id, status, echoed sequence
// number and, for an error status, the bare header.
func wantResp(t *testing.T, r *run, s step, commandID, status uint32) {
	t.Helper()
	if s.CommandID == nil || *s.CommandID != commandID {
		t.Errorf("%s: command_id = %s, want 0x%08X\n%s", s.Step, hex32(s.CommandID), commandID, s.raw)
	}
	if s.Status == nil || *s.Status != status {
		t.Errorf("%s: command_status = %s, want 0x%08X\n%s", s.Step, hex32(s.Status), status, s.raw)
	}
	if s.SequenceNumber != s.RequestSequenceNumber {
		t.Errorf("%s: sequence_number = %d, want the request's %d\n%s", s.Step, s.SequenceNumber, s.RequestSequenceNumber, s.raw)
	}
	if status != statusOK && s.BodyLength != nil && *s.BodyLength != 0 {
		t.Errorf("%s: error response carries a %d-byte body; an error response is the 16-byte header only\n%s", s.Step, *s.BodyLength, s.raw)
	}
}

func hex32(v *uint32) string {
	if v == nil {
		return "<none>"
	}
	return fmt.Sprintf("0x%08X", *v)
}

var bindRespID = map[string]uint32{
	"bind_transmitter": bindTransmitterResp,
	"bind_receiver":    bindReceiverResp,
	"bind_transceiver": bindTransceiverResp,
}

// checkBindMode: bind in one mode, enquire_link, unbind, all answered OK, and
// the bind response carries the server's system_id.
func checkBindMode(t *testing.T, c client, g *gateway, mode string) {
	r := runClient(t, c, g, mode, 30*time.Second)
	mustSucceed(t, r)
	b := r.one(t, mode)
	wantResp(t, r, b, bindRespID[mode], statusOK)
	if b.SystemID == "" {
		t.Errorf("%s_resp carries no system_id; a successful bind response names the server's system_id\n%s", mode, b.raw)
	}
	wantResp(t, r, r.one(t, "enquire_link"), enquireLinkResp, statusOK)
	wantResp(t, r, r.one(t, "unbind"), unbindResp, statusOK)
}

func checkBindRefused(t *testing.T, c client, g *gateway, scenario string, status uint32) {
	r := runClient(t, c, g, scenario, 30*time.Second)
	mustSucceed(t, r)
	wantResp(t, r, r.one(t, "bind_transceiver"), bindTransceiverResp, status)
}

func checkSecondBind(t *testing.T, c client, g *gateway) {
	r := runClient(t, c, g, "second_bind", 30*time.Second)
	mustSucceed(t, r)
	wantResp(t, r, r.one(t, "bind_transceiver"), bindTransceiverResp, statusOK)
	wantResp(t, r, r.one(t, "second_bind"), bindTransmitterResp, statusAlyBnd)
}

func checkSubmitWrongState(t *testing.T, c client, g *gateway, scenario string) {
	r := runClient(t, c, g, scenario, 30*time.Second)
	mustSucceed(t, r)
	wantResp(t, r, r.one(t, scenario), submitSMResp, statusInvBndSts)
}

func checkUnknownCommand(t *testing.T, c client, g *gateway) {
	r := runClient(t, c, g, "unknown_command", 30*time.Second)
	mustSucceed(t, r)
	wantResp(t, r, r.one(t, "unknown_command"), genericNack, statusInvCmdID)
	// The session stays usable after the generic_nack.
	wantResp(t, r, r.one(t, "enquire_link"), enquireLinkResp, statusOK)
}

func checkEnquireLink(t *testing.T, c client, g *gateway) {
	r := runClient(t, c, g, "enquire_link", 30*time.Second)
	mustSucceed(t, r)
	el := r.find("enquire_link")
	if len(el) != 3 {
		t.Fatalf("want 3 enquire_link responses, got %d\n%s", len(el), r)
	}
	for _, s := range el {
		wantResp(t, r, s, enquireLinkResp, statusOK)
	}
}

func checkUnbind(t *testing.T, c client, g *gateway) {
	r := runClient(t, c, g, "unbind", 30*time.Second)
	mustSucceed(t, r)
	wantResp(t, r, r.one(t, "unbind"), unbindResp, statusOK)
	if a := r.find("after_unbind"); len(a) == 1 && a[0].Closed != nil && !*a[0].Closed {
		t.Logf("note: the gateway kept the connection open after unbind_resp")
	}
}

// checkSubmitValid: a live number is rejected with 0x0B and gets no receipt.
func checkSubmitValid(t *testing.T, c client, g *gateway) {
	r := runClient(t, c, g, "submit_valid", 40*time.Second, "--receipt-wait", "1.5")
	mustSucceed(t, r)
	s := r.one(t, "submit_sm")
	wantResp(t, r, s, submitSMResp, statusInvDstAdr)
	if s.MessageID != "" {
		t.Errorf("rejected submit_sm_resp carries message_id %q\n%s", s.MessageID, s.raw)
	}
	if n := r.one(t, "receipts"); n.Count == nil || *n.Count != 0 {
		t.Errorf("a rejected (valid) number got %v receipts, want none\n%s", n.Count, r)
	}
}

var (
	messageIDRe = regexp.MustCompile(`^[0-9A-F]{16}$`)
	receiptRe   = regexp.MustCompile(`^id:([0-9A-F]{16}) sub:001 dlvrd:000 submit date:(\d{10}) done date:(\d{10}) stat:DELIVRD err:(\d{3}) text:$`)
)

// checkReceipt: an accepted number gets a message_id and one DELIVRD receipt
// whose text, TLVs and addresses match the README's receipt.
func checkReceipt(t *testing.T, r *run, dest, wantErr string) {
	t.Helper()
	s := r.one(t, "submit_sm")
	wantResp(t, r, s, submitSMResp, statusOK)
	if !messageIDRe.MatchString(s.MessageID) {
		t.Fatalf("message_id %q is not 16 uppercase hex characters\n%s", s.MessageID, s.raw)
	}
	dl := r.find("deliver_sm")
	if len(dl) != 1 {
		t.Fatalf("want one deliver_sm receipt, got %d\n%s", len(dl), r)
	}
	d := dl[0]
	if d.EsmClass == nil || *d.EsmClass != 0x04 {
		t.Errorf("receipt esm_class = %v, want 0x04\n%s", d.EsmClass, d.raw)
	}
	m := receiptRe.FindStringSubmatch(d.ShortMessage)
	if m == nil {
		t.Errorf("receipt text %q does not match %s\n%s", d.ShortMessage, receiptRe, d.raw)
	} else {
		if m[1] != s.MessageID {
			t.Errorf("receipt text id %s, want the submit_sm_resp message_id %s", m[1], s.MessageID)
		}
		if m[4] != wantErr {
			t.Errorf("receipt err:%s, want err:%s for %s", m[4], wantErr, dest)
		}
		for _, ts := range m[2:4] {
			if _, err := time.Parse("0601021504", ts); err != nil {
				t.Errorf("receipt date %q is not YYMMDDhhmm: %v", ts, err)
			}
		}
	}
	if d.ReceiptedMessageID != s.MessageID {
		t.Errorf("receipted_message_id TLV = %q, want %q\n%s", d.ReceiptedMessageID, s.MessageID, d.raw)
	}
	if d.MessageState == nil || *d.MessageState != messageStateDeliv {
		t.Errorf("message_state TLV = %v, want %d (DELIVERED)\n%s", d.MessageState, messageStateDeliv, d.raw)
	}
	if d.SourceAddr != dest || d.DestinationAddr != clientSourceNum {
		t.Errorf("receipt addresses %q -> %q, want the submit's swapped: %q -> %q\n%s",
			d.SourceAddr, d.DestinationAddr, dest, clientSourceNum, d.raw)
	}
}

func checkSubmitAccepted(t *testing.T, c client, g *gateway, dest, wantErr string) {
	r := runClient(t, c, g, "submit_invalid", 40*time.Second, "--destination", dest)
	mustSucceed(t, r)
	checkReceipt(t, r, dest, wantErr)
}

func checkReceiptViaReceiver(t *testing.T, c client, g *gateway) {
	r := runClient(t, c, g, "receipt_via_receiver", 40*time.Second)
	mustSucceed(t, r)
	checkReceipt(t, r, invalidNumber, "003")
}

// sessionScenarios runs the SMPP session rules of issue 2 with one client.
func sessionScenarios(t *testing.T, c client) {
	g := startGateway(t, gatewayOptions{})
	for _, mode := range []string{"bind_transmitter", "bind_receiver", "bind_transceiver"} {
		t.Run(mode, func(t *testing.T) { checkBindMode(t, c, g, mode) })
	}
	t.Run("wrong_password", func(t *testing.T) { checkBindRefused(t, c, g, "wrong_password", statusInvPaswd) })
	t.Run("unknown_system_id", func(t *testing.T) { checkBindRefused(t, c, g, "unknown_system_id", statusInvSysID) })
	t.Run("second_bind", func(t *testing.T) { checkSecondBind(t, c, g) })
	t.Run("submit_before_bind", func(t *testing.T) { checkSubmitWrongState(t, c, g, "submit_before_bind") })
	t.Run("submit_on_receiver", func(t *testing.T) { checkSubmitWrongState(t, c, g, "submit_on_receiver") })
	t.Run("unknown_command", func(t *testing.T) { checkUnknownCommand(t, c, g) })
	t.Run("enquire_link", func(t *testing.T) { checkEnquireLink(t, c, g) })
	t.Run("unbind", func(t *testing.T) { checkUnbind(t, c, g) })
}

// receiptScenarios runs the reverse-filtering rules of issue 4 with one client.
func receiptScenarios(t *testing.T, c client) {
	g := startGateway(t, gatewayOptions{})
	t.Run("valid_number_rejected", func(t *testing.T) { checkSubmitValid(t, c, g) })
	t.Run("invalid_number_receipt", func(t *testing.T) { checkSubmitAccepted(t, c, g, invalidNumber, "003") })
	t.Run("network_not_supported_receipt", func(t *testing.T) { checkSubmitAccepted(t, c, g, network191, "000") })
	t.Run("landline_receipt", func(t *testing.T) { checkSubmitAccepted(t, c, g, landline193, "000") })
	t.Run("receipt_to_receiver_bind", func(t *testing.T) { checkReceiptViaReceiver(t, c, g) })
}

// interfaceVersionScenarios: a client bound with interface_version 0x33
// (SMPP v3.3) gets a bind response without sc_interface_version and a
// receipt that carries no optional parameter, only its text; bound as 0x34
// the same client gets both. The client decodes optional parameters
// whatever the version it bound with, so any sent shows up.
func interfaceVersionScenarios(t *testing.T, c client) {
	g := startGateway(t, gatewayOptions{})
	for _, tt := range []struct {
		version string
		tlvs    bool
	}{{"0x33", false}, {"0x34", true}} {
		t.Run(tt.version, func(t *testing.T) {
			r := runClient(t, c, g, "submit_invalid", 40*time.Second,
				"--destination", invalidNumber, "--interface-version", tt.version)
			mustSucceed(t, r)
			b := r.one(t, "bind_transceiver")
			wantResp(t, r, b, bindTransceiverResp, statusOK)
			if has := slices.Contains(b.TLVTags, 0x0210); has != tt.tlvs {
				t.Errorf("bind_transceiver_resp sc_interface_version present: %v, want %v\n%s", has, tt.tlvs, b.raw)
			}
			dl := r.find("deliver_sm")
			if len(dl) != 1 {
				t.Fatalf("want one deliver_sm receipt, got %d\n%s", len(dl), r)
			}
			d := dl[0]
			if got := len(d.TLVTags) > 0; got != tt.tlvs {
				t.Errorf("receipt optional parameters %v; want some: %v\n%s", d.TLVTags, tt.tlvs, d.raw)
			}
			if !receiptRe.MatchString(d.ShortMessage) {
				t.Errorf("receipt text %q does not match %s\n%s", d.ShortMessage, receiptRe, d.raw)
			}
		})
	}
}

// checkBurst: every submit_sm of a burst got its own submit_sm_resp, some were
// throttled (0x58, bare header) and some went through to the HLR filter (0x0B
// for the live number).
func checkBurst(t *testing.T, r *run, count int) {
	t.Helper()
	subs := r.find("burst_submit")
	if len(subs) != count {
		t.Fatalf("want %d submit_sm_resp, got %d\n%s", count, len(subs), r)
	}
	seen := map[uint32]bool{}
	byStatus := map[uint32]int{}
	for _, s := range subs {
		if s.CommandID == nil || *s.CommandID != submitSMResp {
			t.Errorf("burst response command_id = %s, want submit_sm_resp\n%s", hex32(s.CommandID), s.raw)
		}
		if seen[s.SequenceNumber] {
			t.Errorf("sequence number %d answered twice", s.SequenceNumber)
		}
		seen[s.SequenceNumber] = true
		if s.Status == nil {
			t.Fatalf("burst response without status: %s", s.raw)
		}
		byStatus[*s.Status]++
		if *s.Status == statusThrottled && s.BodyLength != nil && *s.BodyLength != 0 {
			t.Errorf("ESME_RTHROTTLED response carries a %d-byte body; want the bare header\n%s", *s.BodyLength, s.raw)
		}
	}
	t.Logf("responses by status: %v", byStatus)
	if byStatus[statusThrottled] == 0 {
		t.Errorf("no submit_sm of %d back to back was answered ESME_RTHROTTLED (0x58): %v", count, byStatus)
	}
	if byStatus[statusInvDstAdr] == 0 {
		t.Errorf("no submit_sm got through to the HLR filter (0x0B for %s): %v", validNumber, byStatus)
	}
	for st := range byStatus {
		if st != statusThrottled && st != statusInvDstAdr {
			t.Errorf("unexpected status 0x%02X in the burst: %v", st, byStatus)
		}
	}
}

// limitScenarios: the per-account throughput limit and the session window
// answer ESME_RTHROTTLED, with one client.
func limitScenarios(t *testing.T, c client) {
	t.Run("throughput", func(t *testing.T) {
		accounts := filepath.Join(t.TempDir(), "accounts.yaml")
		doc := fmt.Sprintf("accounts:\n  - system_id: %s\n    password: %s\n    throughput: 2\n", systemID, password)
		if err := os.WriteFile(accounts, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		g := startGateway(t, gatewayOptions{extraEnv: map[string]string{"SMPP_ACCOUNTS_FILE": accounts}})
		r := runClient(t, c, g, "burst", 40*time.Second, "--count", "20")
		mustSucceed(t, r)
		checkBurst(t, r, 20)
	})
	t.Run("window", func(t *testing.T) {
		g := startGateway(t, gatewayOptions{extraEnv: map[string]string{
			"SMPP_WINDOW":          "2",
			"SIMULATOR_LATENCY_MS": "300",
		}})
		r := runClient(t, c, g, "burst", 40*time.Second, "--count", "10")
		mustSucceed(t, r)
		checkBurst(t, r, 10)
	})
}
