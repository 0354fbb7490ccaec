package tmt_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/cache"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
)

const (
	testKey    = "KEYabc123key"
	testSecret = "SEC/ret+x y%z" // needs path escaping
)

// fakeTMT serves a fixed response and records requests.
type fakeTMT struct {
	srv      *httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	paths    []string
}

func newFakeTMT(t *testing.T, h http.HandlerFunc) *fakeTMT {
	f := &fakeTMT{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		f.mu.Lock()
		f.paths = append(f.paths, r.URL.EscapedPath())
		f.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func body(code int, s string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(s))
	}
}

func newClient(t *testing.T, base string, logs *bytes.Buffer, timeout time.Duration) *tmt.Client {
	t.Helper()
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := tmt.New(tmt.Options{BaseURL: base + "/live/json", APIKey: testKey, APISecret: testSecret, Timeout: timeout, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestResponseShapes(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		class   hlr.Class
		reason  string
		errCode string
		check   func(t *testing.T, r hlr.Result)
	}{
		{"valid", `{"40722570240":{"cic":"","error":0,"imsi":"226100000000000","mcc":"226","mnc":"010","network":"Orange","number":40722570240,"ocn":"","ported":true,"present":"yes","status":0,"status_message":"Success","type":"mobile","trxid":"abc"}}`,
			hlr.ClassValid, "valid", "000", func(t *testing.T, r hlr.Result) {
				if r.MCC != "226" || r.MNC != "010" || r.Network != "Orange" || r.LineType != "mobile" || r.Ported == nil || !*r.Ported {
					t.Fatalf("fields: %+v", r)
				}
				if !bytes.Contains(r.Raw, []byte(`"trxid":"abc"`)) {
					t.Fatalf("raw: %s", r.Raw)
				}
			}},
		{"key differs from input", `{"+40 722 570 240":{"error":0,"number":40722570240,"present":"yes","status":0,"type":"mobile"}}`,
			hlr.ClassValid, "valid", "000", nil},
		{"nullable fields and no ported", `{"40722570240":{"error":1,"imsi":null,"mcc":null,"mnc":null,"network":null,"number":40722570240,"present":"no","status":0,"type":"mobile"}}`,
			hlr.ClassInvalid, "unknown_subscriber", "001", func(t *testing.T, r hlr.Result) {
				if r.Ported != nil || r.MCC != "" {
					t.Fatalf("fields: %+v", r)
				}
			}},
		{"invalid number", `{"40722570240999":{"number":40722570240999,"status":1,"status_message":"Invalid Number","error":0}}`,
			hlr.ClassInvalid, "invalid_number", "003", nil},
		{"invalid number, top level", `{"status":1,"status_message":"Invalid Number","error":0}`,
			hlr.ClassInvalid, "invalid_number", "003", nil},
		{"unreachable", `{"1":{"error":2,"present":"no","status":0,"number":1}}`, hlr.ClassInvalid, "unreachable", "002", nil},
		{"absent", `{"1":{"error":27,"present":"no","status":0,"number":1}}`, hlr.ClassInvalid, "absent", "001", nil},
		{"191", `{"1":{"error":191,"present":"na","status":0,"number":1}}`, hlr.ClassInvalid, "network_not_supported", "000", nil},
		{"192", `{"1":{"error":192,"present":"na","status":0,"number":1}}`, hlr.ClassInvalid, "network_not_supported", "000", nil},
		{"193 landline", `{"1":{"error":193,"present":"na","status":0,"type":"fixed","number":1}}`, hlr.ClassInvalid, "landline", "000", nil},
		{"number as a large JSON number", `{"1":{"error":0,"present":"yes","status":0,"number":123456789012345}}`, hlr.ClassValid, "valid", "000", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeTMT(t, body(200, tt.body))
			c := newClient(t, f.srv.URL, nil, 0)
			r, err := c.Lookup(context.Background(), "40722570240")
			if err != nil {
				t.Fatal(err)
			}
			if r.Class != tt.class || r.Reason != tt.reason || r.ErrCode != tt.errCode || r.Source != hlr.SourceProvider {
				t.Fatalf("got %v/%s/%s, want %v/%s/%s", r.Class, r.Reason, r.ErrCode, tt.class, tt.reason, tt.errCode)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
			want := "/live/json/" + url.PathEscape(testKey) + "/" + url.PathEscape(testSecret) + "/40722570240"
			if f.paths[0] != want {
				t.Fatalf("path %q, want %q", f.paths[0], want)
			}
		})
	}
}

// failureCases are every way a lookup can fail; each must wrap want.
func failureCases(t *testing.T) []struct {
	name string
	base string
	want error
} {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv := func(h http.HandlerFunc) string { return newFakeTMT(t, h).srv.URL }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	_ = ln.Close()
	return []struct {
		name string
		base string
		want error
	}{
		{"HTTP 500", srv(body(500, "boom")), hlr.ErrProvider},
		{"HTTP 404", srv(body(404, "")), hlr.ErrProvider},
		{"redirect", srv(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://example.invalid/", http.StatusFound)
		}), hlr.ErrProvider},
		{"empty body", srv(body(200, "")), hlr.ErrProvider},
		{"empty object", srv(body(200, "{}")), hlr.ErrProvider},
		{"null", srv(body(200, "null")), hlr.ErrProvider},
		{"not JSON", srv(body(200, "<html>Service Unavailable</html>")), hlr.ErrProvider},
		{"array", srv(body(200, "[1,2]")), hlr.ErrProvider},
		{"two entries", srv(body(200, `{"1":{"status":0,"error":0,"present":"yes"},"2":{"status":0,"error":0,"present":"yes"}}`)), hlr.ErrProvider},
		{"entry without status", srv(body(200, `{"1":{"error":0}}`)), hlr.ErrProvider},
		{"entry null", srv(body(200, `{"1":null}`)), hlr.ErrProvider},
		{"wrong field type", srv(body(200, `{"1":{"status":"zero"}}`)), hlr.ErrProvider},
		{"status 2", srv(body(200, `{"1":{"status":2,"status_message":"Not Authorised","error":0}}`)), hlr.ErrProvider},
		{"status 3", srv(body(200, `{"1":{"status":3,"status_message":"Congestion","error":0}}`)), hlr.ErrProvider},
		{"unknown status", srv(body(200, `{"1":{"status":9,"error":0}}`)), hlr.ErrProvider},
		{"error 33", srv(body(200, `{"1":{"status":0,"error":33,"present":"na"}}`)), hlr.ErrNetworkFailure},
		{"truncated", srv(body(200, `{"1":{"status":0,`)), hlr.ErrProvider},
		{"connection refused", refused, hlr.ErrProvider},
		{"timeout", srv(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}), hlr.ErrTimeout},
		// An error status sent at once with a body that never ends: the
		// status decides (HLR_ERROR_POLICY), not the clock.
		{"HTTP 503 with an endless body", srv(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("<html>"))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}), hlr.ErrProvider},
	}
}

func TestFailures(t *testing.T) {
	for _, tt := range failureCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.base, nil, 200*time.Millisecond)
			r, err := c.Lookup(context.Background(), "40722570240")
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v (result %+v)", err, tt.want, r)
			}
			if tt.want == hlr.ErrTimeout && errors.Is(err, hlr.ErrProvider) {
				t.Fatalf("a timeout must not also be a provider error: %v", err)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "/***/***/40722570240") {
				t.Fatalf("error should name the redacted URL: %v", err)
			}
		})
	}
}

func TestCredentialsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	var errTexts []string
	for _, tt := range failureCases(t) {
		c := newClient(t, tt.base, &logs, 200*time.Millisecond)
		_, err := c.Lookup(context.Background(), "40722570240")
		if err == nil {
			t.Fatalf("%s: no error", tt.name)
		}
		errTexts = append(errTexts, err.Error())
		// Walk the whole chain: nothing underneath may carry the URL either.
		for e := err; e != nil; e = errors.Unwrap(e) {
			errTexts = append(errTexts, e.Error())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			t.Fatalf("%s: error exposes *url.Error", tt.name)
		}
	}
	// A successful lookup logs too.
	ok := newFakeTMT(t, body(200, `{"1":{"status":0,"error":0,"present":"yes"}}`))
	if _, err := newClient(t, ok.srv.URL, &logs, 0).Lookup(context.Background(), "1"); err != nil {
		t.Fatal(err)
	}
	if logs.Len() == 0 {
		t.Fatal("expected debug logs")
	}
	all := logs.String() + strings.Join(errTexts, "\n")
	for _, s := range []string{testKey, testSecret, url.PathEscape(testSecret), url.QueryEscape(testSecret), "KEYabc", "SEC/ret", "SEC%2Fret"} {
		if strings.Contains(all, s) {
			t.Fatalf("%q leaked:\n%s", s, all)
		}
	}
}

func TestNewRequiresCredentials(t *testing.T) {
	tests := []struct {
		name string
		o    tmt.Options
	}{
		{"no key", tmt.Options{APISecret: "s"}},
		{"no secret", tmt.Options{APIKey: "k"}},
		{"bad base", tmt.Options{APIKey: "k", APISecret: "s", BaseURL: "ftp://x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tmt.New(tt.o)
			if !errors.Is(err, tmt.ErrConfig) {
				t.Fatalf("err = %v", err)
			}
		})
	}
	_, err := tmt.New(tmt.Options{})
	if err == nil || err.Error() != "tmt: bad configuration: HLR_API_KEY and HLR_API_SECRET are required" {
		t.Fatalf("err = %v", err)
	}
}

func TestCallerCancellation(t *testing.T) {
	f := newFakeTMT(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	c := newClient(t, f.srv.URL, nil, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Lookup(ctx, "1")
	if !errors.Is(err, context.Canceled) || errors.Is(err, hlr.ErrTimeout) {
		t.Fatalf("err = %v", err)
	}
}

func TestThousandConcurrentLookupsOneRequest(t *testing.T) {
	f := newFakeTMT(t, body(200, `{"40722570240":{"status":0,"error":0,"present":"yes","type":"mobile","number":40722570240}}`))
	c := newClient(t, f.srv.URL, nil, 0)
	mem, err := cache.NewMemory[hlr.Result](100, cache.MemoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer mem.Close()
	chain, err := hlr.NewChain(c, hlr.ChainOptions{Memory: mem, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			r, err := chain.Lookup(context.Background(), "40722570240")
			if err == nil && r.Class != hlr.ClassValid {
				err = errors.New("not valid")
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := f.requests.Load(); got != 1 {
		t.Fatalf("HTTP requests = %d, want 1", got)
	}
}

// TestResetConnectionIsNotSentAgain: a lookup whose kept-alive connection
// the HLR resets after reading the request is one request, an error; the
// transport used to send it again on every pooled connection and then a
// new one, each possibly billed while hlr_requests_total counted one.
func TestResetConnectionIsNotSentAgain(t *testing.T) {
	var resets atomic.Int64
	f := newFakeTMT(t, func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength != 0 || len(r.TransferEncoding) != 0 {
			t.Errorf("the GET carries a body: Content-Length %d, Transfer-Encoding %v", r.ContentLength, r.TransferEncoding)
		}
		if !strings.HasSuffix(r.URL.Path, "/40700000999") {
			body(200, `{"40722570240":{"status":0,"error":0,"present":"yes","type":"mobile"}}`)(w, r)
			return
		}
		resets.Add(1)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a clean close
		}
		_ = conn.Close()
	})
	c := newClient(t, f.srv.URL, nil, 5*time.Second)
	// Four connections kept alive in the pool.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := c.Lookup(context.Background(), "40722570240"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if _, err := c.Lookup(context.Background(), "40700000999"); !errors.Is(err, hlr.ErrProvider) {
		t.Fatalf("lookup over a reset connection: %v, want a provider error", err)
	}
	if n := resets.Load(); n != 1 {
		t.Fatalf("the HLR received the lookup %d times, want once", n)
	}
}
