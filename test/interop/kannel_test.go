//go:build interop

package interop

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"
)

// kannelConfig fills kannel/kannel.conf.tmpl.
type kannelConfig struct {
	Dir             string
	AdminPort       int
	AdminPassword   string
	SmsboxPort      int
	SendsmsPort     int
	SendsmsUser     string
	SendsmsPassword string
	SMPPPort        int
	SystemID        string
	Password        string
}

// dlr is one delivery report Kannel fetched from our dlr-url.
type dlr struct {
	Kind  string // our tag: "valid" or "invalid"
	Type  int    // %d: 1 delivered, 2 failed, 4 buffered, 8 SMSC ACK, 16 SMSC reject
	FID   string // %F: the foreign (gateway's) message id
	Reply string // %A: the SMSC's reply or the receipt text
	SMSC  string // %i: smsc-id
	To    string // %p
}

// dlrServer records Kannel's DLR callbacks.
type dlrServer struct {
	mu     sync.Mutex
	got    []dlr
	notify chan struct{}
	url    string
}

func startDLRServer(t *testing.T) *dlrServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dlrServer{notify: make(chan struct{}, 64), url: "http://" + l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/dlr", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		typ, _ := strconv.Atoi(q.Get("type"))
		rec := dlr{Kind: q.Get("kind"), Type: typ, FID: q.Get("fid"), Reply: q.Get("reply"), SMSC: q.Get("smsc"), To: q.Get("to")}
		d.mu.Lock()
		d.got = append(d.got, rec)
		d.mu.Unlock()
		t.Logf("DLR callback: %s", r.URL.RawQuery)
		select {
		case d.notify <- struct{}{}:
		default:
		}
		io.WriteString(w, "ok")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return d
}

func (d *dlrServer) all() []dlr {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]dlr(nil), d.got...)
}

// waitFor waits until pred holds for the reports received so far.
func (d *dlrServer) waitFor(timeout time.Duration, pred func([]dlr) bool) bool {
	deadline := time.After(timeout)
	for {
		if pred(d.all()) {
			return true
		}
		select {
		case <-d.notify:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			return pred(d.all())
		}
	}
}

// kannel is a running bearerbox + smsbox pair.
type kannel struct {
	cfg       kannelConfig
	bearerbox *proc
	smsbox    *proc
}

// startKannel writes the configuration, starts bearerbox (which binds to the
// gateway as a transceiver) and smsbox, and waits until the SMSC link is online.
func startKannel(t *testing.T, g *gateway) *kannel {
	t.Helper()
	bearerbox, ok := lookTool("bearerbox")
	requireTool(t, "Kannel bearerbox", ok, "Debian package kannel")
	smsbox, ok := lookTool("smsbox")
	requireTool(t, "Kannel smsbox", ok, "Debian package kannel")

	dir := t.TempDir()
	cfg := kannelConfig{
		Dir:             dir,
		AdminPort:       freePort(t),
		AdminPassword:   "interopadmin",
		SmsboxPort:      freePort(t),
		SendsmsPort:     freePort(t),
		SendsmsUser:     "interop",
		SendsmsPassword: "interoppw",
		SMPPPort:        g.port,
		SystemID:        systemID,
		Password:        password,
	}
	tmpl, err := template.ParseFiles(filepath.Join("kannel", "kannel.conf.tmpl"))
	if err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "kannel.conf")
	f, err := os.Create(confPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := tmpl.Execute(f, cfg); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	k := &kannel{cfg: cfg}
	t.Cleanup(func() {
		if t.Failed() {
			for _, name := range []string{"bearerbox.log", "smsbox.log", "bearerbox-access.log", "smsbox-access.log"} {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					continue
				}
				t.Logf("---- Kannel %s ----\n%s\n---- end of %s ----", name, tail(string(b), 300), name)
			}
		}
	})

	env := cleanEnv()
	// bearerbox and smsbox stay in the foreground; their debug log (PDU
	// dumps included) goes to the log-file in dir, info and up to stdout.
	k.bearerbox = startProc(t, "bearerbox", env, dir, bearerbox, "-v", "1", confPath)
	for _, port := range []int{cfg.AdminPort, cfg.SmsboxPort} {
		if err := waitPort(port, 20*time.Second, k.bearerbox.exited); err != nil {
			t.Fatalf("bearerbox: %v", err)
		}
	}
	k.smsbox = startProc(t, "smsbox", env, dir, smsbox, "-v", "1", confPath)
	if err := waitPort(cfg.SendsmsPort, 20*time.Second, k.smsbox.exited); err != nil {
		t.Fatalf("smsbox: %v", err)
	}
	// Cleanups run last-registered first: smsbox stops before bearerbox, and
	// both before the gateway.

	// Wait until bearerbox reports the SMPP link online, i.e. the gateway
	// accepted its bind_transceiver.
	deadline := time.Now().Add(30 * time.Second)
	var status string
	for {
		status = k.status(t)
		if regexp.MustCompile(`hlrgateway\[hlrgateway\].*\(online`).MatchString(status) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Kannel's SMPP link to the gateway did not come online within 30s; status:\n%s", status)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return k
}

func (k *kannel) status(t *testing.T) string {
	u := fmt.Sprintf("http://127.0.0.1:%d/status.txt?password=%s", k.cfg.AdminPort, url.QueryEscape(k.cfg.AdminPassword))
	c := &http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return string(b)
}

// sendsms submits one message through smsbox's HTTP interface, asking for
// every DLR type (mask 31) at our dlr-url, tagged with kind.
func (k *kannel) sendsms(t *testing.T, dlrURL, kind, to string) {
	t.Helper()
	cb := fmt.Sprintf("%s/dlr?kind=%s&type=%%d&fid=%%F&reply=%%A&smsc=%%i&to=%%p", dlrURL, kind)
	q := url.Values{
		"username": {k.cfg.SendsmsUser},
		"password": {k.cfg.SendsmsPassword},
		"to":       {to},
		"text":     {"interop test from Kannel"},
		"dlr-mask": {"31"},
		"dlr-url":  {cb},
	}
	u := fmt.Sprintf("http://127.0.0.1:%d/cgi-bin/sendsms?%s", k.cfg.SendsmsPort, q.Encode())
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("sendsms to %s: %v", to, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	t.Logf("sendsms to %s: HTTP %d %s", to, resp.StatusCode, strings.TrimSpace(string(b)))
	if resp.StatusCode/100 != 2 || !strings.HasPrefix(string(b), "0:") {
		t.Fatalf("smsbox refused the message to %s: HTTP %d %s", to, resp.StatusCode, b)
	}
}

// TestKannelSendsms: Kannel's bearerbox binds to the gateway as a transceiver;
// a message to a live number is rejected by the SMSC (0x0B: DLR type 16, SMSC
// reject), a message to an invalid number is accepted and its DELIVRD receipt
// reaches Kannel as DLR type 1 whose foreign id is the gateway's message id.
func TestKannelSendsms(t *testing.T) {
	_, ok := lookTool("bearerbox")
	requireTool(t, "Kannel bearerbox", ok, "Debian package kannel")
	g := startGateway(t, gatewayOptions{logLevel: "INFO"})
	d := startDLRServer(t)
	k := startKannel(t, g)

	k.sendsms(t, d.url, "invalid", invalidNumber)
	k.sendsms(t, d.url, "valid", validNumber)

	has := func(kind string, types ...int) func([]dlr) bool {
		return func(all []dlr) bool {
			for _, r := range all {
				if r.Kind != kind {
					continue
				}
				for _, ty := range types {
					if r.Type == ty {
						return true
					}
				}
			}
			return false
		}
	}
	okInvalid := d.waitFor(30*time.Second, has("invalid", 1))
	okValid := d.waitFor(10*time.Second, has("valid", 16, 2))
	all := d.all()

	t.Run("valid_number_rejected", func(t *testing.T) {
		if !okValid {
			t.Fatalf("no failure DLR (type 16 SMSC reject or 2 failed) for the live number %s; DLRs: %+v", validNumber, all)
		}
		for _, r := range all {
			if r.Kind != "valid" {
				continue
			}
			switch r.Type {
			case 1, 8:
				t.Errorf("live number %s got DLR type %d (success); the gateway must reject it with 0x0B: %+v", validNumber, r.Type, r)
			case 16, 2:
				if !strings.Contains(strings.ToLower(r.Reply), "0x0000000b") {
					t.Errorf("rejection DLR reply %q does not name status 0x0000000b (ESME_RINVDSTADR)", r.Reply)
				}
			}
		}
	})

	t.Run("invalid_number_delivered", func(t *testing.T) {
		if !okInvalid {
			t.Fatalf("no DLR type 1 (delivered) for the invalid number %s; DLRs: %+v", invalidNumber, all)
		}
		var delivered dlr
		for _, r := range all {
			if r.Kind == "invalid" && r.Type == 1 {
				delivered = r
			}
		}
		if !messageIDRe.MatchString(delivered.FID) {
			t.Fatalf("DLR foreign id %q is not the gateway's 16-hex-digit message id", delivered.FID)
		}
		if !strings.Contains(delivered.Reply, "id:"+delivered.FID+" ") || !strings.Contains(delivered.Reply, "stat:DELIVRD") {
			t.Errorf("DLR text %q is not the DELIVRD receipt for id %s", delivered.Reply, delivered.FID)
		}
		for _, r := range all {
			if r.Kind == "invalid" && r.Type == 8 && r.FID != delivered.FID {
				t.Errorf("SMSC ACK (type 8) foreign id %q differs from the receipt's %q", r.FID, delivered.FID)
			}
			if r.Kind == "invalid" && (r.Type == 2 || r.Type == 16) {
				t.Errorf("invalid number %s got failure DLR type %d: %+v", invalidNumber, r.Type, r)
			}
		}
		// The same id must be the one the gateway returned in submit_sm_resp.
		// Kannel dumps every PDU at debug level; the gateway may also log it.
		bb, err := os.ReadFile(filepath.Join(k.cfg.Dir, "bearerbox.log"))
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`message_id: "` + delivered.FID + `"`).Match(bb) {
			t.Errorf("bearerbox's PDU dump has no submit_sm_resp with message_id %q", delivered.FID)
		}
		var gwIDs []string
		for _, line := range g.logLines() {
			if id, ok := line["message_id"].(string); ok && id != "" {
				gwIDs = append(gwIDs, id)
			}
		}
		switch {
		case len(gwIDs) == 0:
			t.Logf("note: the gateway logged no message_id at INFO; matched against Kannel's PDU dump only")
		case !contains(gwIDs, delivered.FID):
			t.Errorf("DLR foreign id %s is not among the message ids the gateway logged: %v", delivered.FID, gwIDs)
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
