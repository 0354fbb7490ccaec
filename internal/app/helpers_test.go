package app_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/esme"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/pdu"
)

// fakeTMT answers like the TMT Velocity Live API from a table keyed by
// number; numbers not in the table are valid.
type fakeTMT struct {
	srv      *httptest.Server
	requests atomic.Int64
	inFlight atomic.Int64  // requests not yet answered or given up
	arrived  chan struct{} // one token per request, when it arrives
	answers  map[string]fakeAnswer
	fallback *fakeAnswer // the answer for numbers not in answers; nil = valid
}

type fakeAnswer struct {
	code        int             // HTTP status; 0 = 200
	body        string          // raw body; "" = built from status/error/present
	delay       time.Duration   // before answering (honours the request context)
	hold        <-chan struct{} // when set, no answer before it is closed (or the request ends)
	status, err int
	present     string
	typ         string
	hangup      bool // close the connection without an answer (a transport error)
}

func newFakeTMT(t *testing.T, answers map[string]fakeAnswer) *fakeTMT {
	f := &fakeTMT{answers: answers, arrived: make(chan struct{}, 1024)}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTMT) serve(w http.ResponseWriter, r *http.Request) {
	f.requests.Add(1)
	f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	select {
	case f.arrived <- struct{}{}:
	default:
	}
	parts := strings.Split(r.URL.Path, "/")
	msisdn := parts[len(parts)-1]
	a, ok := f.answers[msisdn]
	switch {
	case ok:
	case f.fallback != nil:
		a = *f.fallback
	default:
		a = fakeAnswer{present: "yes", typ: "mobile"}
	}
	if a.delay > 0 {
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
	}
	if a.hold != nil {
		select {
		case <-a.hold:
		case <-r.Context().Done():
			return
		}
	}
	if a.hangup {
		if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
			_ = conn.Close()
		}
		return
	}
	if a.code != 0 {
		w.WriteHeader(a.code)
	}
	body := a.body
	if body == "" {
		body = fmt.Sprintf(`{"%s":{"number":%s,"status":%d,"status_message":"x","error":%d,"present":%q,"type":%q,"network":"Net","mcc":"226","mnc":"01","imsi":null,"cic":"1","ocn":"1","trxid":"t"}}`,
			msisdn, msisdn, a.status, a.err, a.present, a.typ)
	}
	_, _ = w.Write([]byte(body))
}

// gateway is a running gateway for a test.
type gateway struct {
	app  *app.App
	addr string
	tmt  *fakeTMT
	logs *syncBuffer
}

type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	written chan struct{} // closed (and replaced) by every Write
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written != nil {
		close(s.written)
		s.written = nil
	}
	return s.b.Write(p)
}

// waitFor returns once the logs contain substr, or fails the test after a
// generous deadline. A line is logged after the response it describes is
// sent, so a client can see the response before the line exists.
func (s *syncBuffer) waitFor(t *testing.T, substr string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if strings.Contains(s.b.String(), substr) {
			s.mu.Unlock()
			return
		}
		if s.written == nil {
			s.written = make(chan struct{})
		}
		ch := s.written
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("no log line with %s:\n%s", substr, s.String())
		}
	}
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startGateway(t *testing.T, tmt *fakeTMT, env map[string]string) *gateway {
	t.Helper()
	vars := map[string]string{
		"SMPP_HOST": "127.0.0.1", "SMPP_PORT": "0", "METRICS_ENABLED": "false",
		"HLR_PROVIDER": "tmt", "HLR_BASE_URL": tmt.srv.URL, "HLR_API_KEY": "key-k3y", "HLR_API_SECRET": "s3cr3t-secret",
		"HLR_TIMEOUT_SECONDS": "0.3", "DLR_DELAY_SECONDS": "0.05", "DLR_RETRY_MIN_SECONDS": "0.1",
		"LOG_LEVEL": "DEBUG",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger, err := logging.New(logs, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, logger, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
		if t.Failed() {
			t.Logf("gateway logs:\n%s", logs.String())
		}
	})
	return &gateway{app: a, addr: a.SMPPAddr(), tmt: tmt, logs: logs}
}

// client is a bound test client that records receipts.
type client struct {
	*esme.Client
	receipts chan *pdu.DeliverSM
}

func bind(t *testing.T, addr string, mode pdu.CommandID, answer func(*pdu.DeliverSM) pdu.Status) *client {
	t.Helper()
	c := &client{receipts: make(chan *pdu.DeliverSM, 4096)}
	cfg := esme.Config{Addr: addr, SystemID: "testuser", Password: "testpass", Bind: mode,
		OnDeliver: func(d *pdu.DeliverSM) pdu.Status {
			status := pdu.StatusOK
			if answer != nil {
				status = answer(d)
			}
			c.receipts <- d
			return status
		}}
	var err error
	c.Client, err = esme.Dial(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func (c *client) submit(t *testing.T, sm *pdu.SubmitSM) (pdu.Status, string) {
	t.Helper()
	st, id, err := c.Submit(ctxT(t), sm)
	if err != nil {
		t.Fatal(err)
	}
	return st, id
}

// nextReceipt waits for a receipt; the test's deadline bounds the wait.
func (c *client) nextReceipt(t *testing.T) *pdu.DeliverSM {
	t.Helper()
	select {
	case d := <-c.receipts:
		return d
	case <-ctxT(t).Done():
		t.Fatal("no receipt arrived")
		return nil
	}
}

func sm(dest string, registered uint8) *pdu.SubmitSM {
	return &pdu.SubmitSM{SM: pdu.SM{
		Source:             pdu.Address{TON: 5, NPI: 0, Addr: "SENDER"},
		Dest:               pdu.Address{TON: 1, NPI: 1, Addr: dest},
		RegisteredDelivery: registered,
		ShortMessage:       "hello",
	}}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// dialRaw binds with the given credentials and returns the bind error.
func dialRaw(addr, systemID, password string) (*esme.Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := esme.Dial(ctx, esme.Config{Addr: addr, SystemID: systemID, Password: password})
	if err == nil {
		_ = c.Close()
	}
	return c, err
}
