package admin

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

func TestHealthz(t *testing.T) {
	code, body := get(t, New(Options{}).Handler(), PathHealthz)
	if code != http.StatusOK || body != "ok\n" {
		t.Fatalf("/healthz = %d %q", code, body)
	}
}

func TestReadyz(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	okCheck := func(name string) Check { return Check{name, func(context.Context) error { return nil }} }
	tests := []struct {
		name     string
		checks   []Check
		wantCode int
		wantBody string
	}{
		{"no checks", nil, 200, "ready\n"},
		{"all ok", []Check{okCheck("listeners"), okCheck("redis")}, 200, "ready\nlisteners: ok\nredis: ok\n"},
		{"degraded", []Check{okCheck("listeners"), {"redis", func(context.Context) error {
			return fmt.Errorf("redis ping: %w", ErrDegraded)
		}}}, 503, "not ready\nlisteners: ok\nredis: degraded\n"},
		{"failed", []Check{{"hlr", func(context.Context) error { return errors.New("breaker\nopen") }}, okCheck("redis")},
			503, "not ready\nhlr: failed: breaker open\nredis: ok\n"},
		{"check ignoring its context times out", []Check{{"stuck", func(context.Context) error { <-release; return nil }}},
			503, "not ready\nstuck: failed: context deadline exceeded\n"},
		{"panicking check", []Check{{"bad", func(context.Context) error { panic("boom") }}},
			503, "not ready\nbad: failed: admin: check panicked\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Options{Checks: tt.checks, CheckTimeout: 20 * time.Millisecond})
			code, body := get(t, s.Handler(), PathReadyz)
			if code != tt.wantCode || body != tt.wantBody {
				t.Fatalf("/readyz = %d %q, want %d %q", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
}

func TestAddCheck(t *testing.T) {
	s := New(Options{})
	s.AddCheck(Check{"listeners", func(context.Context) error { return errors.New("not listening") }})
	if code, body := get(t, s.Handler(), PathReadyz); code != 503 || !strings.Contains(body, "listeners: failed: not listening") {
		t.Fatalf("/readyz = %d %q", code, body)
	}
}

func TestMetrics(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "submit_total_test", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	code, body := get(t, New(Options{Gatherer: reg}).Handler(), PathMetrics)
	if code != 200 {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{"submit_total_test 3", "go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get(t, New(Options{}).Handler(), PathMetrics); code != http.StatusNotFound {
		t.Errorf("/metrics without a gatherer = %d, want 404", code)
	}
}

func TestPprof(t *testing.T) {
	tests := []struct {
		pprof bool
		want  int
	}{{true, 200}, {false, 404}}
	for _, tt := range tests {
		if code, _ := get(t, New(Options{Pprof: tt.pprof}).Handler(), PathPprof); code != tt.want {
			t.Errorf("pprof=%v: %s = %d, want %d", tt.pprof, PathPprof, code, tt.want)
		}
		if code, _ := get(t, New(Options{Pprof: tt.pprof}).Handler(), PathPprof+"cmdline"); code != tt.want {
			t.Errorf("pprof=%v: cmdline = %d, want %d", tt.pprof, code, tt.want)
		}
	}
}

func TestStartHealthcheckShutdown(t *testing.T) {
	ready := make(chan error, 1)
	ready <- fmt.Errorf("%w: redis unreachable", ErrDegraded)
	s := New(Options{Addr: "127.0.0.1:0", Checks: []Check{{"redis", func(context.Context) error {
		select {
		case err := <-ready:
			return err
		default:
			return nil
		}
	}}}})
	if s.Addr() != "" {
		t.Fatal("Addr before Start is not empty")
	}
	ctx := t.Context()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.Addr()
	if err := Healthcheck(ctx, base+PathHealthz); err != nil {
		t.Fatalf("healthz: %v", err)
	}
	err := Healthcheck(ctx, base+PathReadyz)
	if !errors.Is(err, ErrUnhealthy) || !strings.Contains(err.Error(), "HTTP 503: not ready; redis: degraded") {
		t.Fatalf("first readyz: %v", err)
	}
	if err := Healthcheck(ctx, base+PathReadyz); err != nil {
		t.Fatalf("second readyz: %v", err)
	}
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := Healthcheck(ctx, base+PathHealthz); err == nil || errors.Is(err, ErrUnhealthy) {
		t.Fatalf("healthcheck after shutdown: %v, want a connection error", err)
	}
}

func TestStartListenError(t *testing.T) {
	if err := New(Options{Addr: "256.0.0.1:0"}).Start(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "admin: listen") {
		t.Fatalf("Start = %v", err)
	}
}

func TestShutdownWithoutStart(t *testing.T) {
	if err := New(Options{}).Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestHealthcheckBadURL(t *testing.T) {
	if err := Healthcheck(t.Context(), "://x"); err == nil {
		t.Fatal("no error for a bad URL")
	}
}

func TestHealthcheckServerError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(500)
		_, _ = io.WriteString(w, strings.Repeat("x", 10000))
	}))
	defer srv.Close()
	err := Healthcheck(t.Context(), srv.URL)
	if !errors.Is(err, ErrUnhealthy) || len(err.Error()) > 4300 {
		t.Fatalf("Healthcheck = %.100v (len %d)", err, len(err.Error()))
	}
}

func TestLocalURL(t *testing.T) {
	tests := []struct {
		host string
		want string
	}{
		{"0.0.0.0", "http://127.0.0.1:9091/healthz"},
		{"", "http://127.0.0.1:9091/healthz"},
		{"::", "http://[::1]:9091/healthz"},
		{"10.1.2.3", "http://10.1.2.3:9091/healthz"},
		{"metrics.local", "http://metrics.local:9091/healthz"},
	}
	for _, tt := range tests {
		if got := LocalURL(tt.host, 9091, PathHealthz); got != tt.want {
			t.Errorf("LocalURL(%q) = %q, want %q", tt.host, got, tt.want)
		}
	}
}

// TestConnectionsBeyondMaxClosed: with MaxConnections open, each with a
// request being served (none idle), one more connection is closed at once
// and counted; once one closes, a request is served again. Unset, the
// bound is DefaultMaxConnections.
func TestConnectionsBeyondMaxClosed(t *testing.T) {
	for _, tt := range []struct {
		name      string
		opt, want int
	}{
		{"default", 0, DefaultMaxConnections},
		{"configured", 8, 8},
	} {
		t.Run(tt.name, func(t *testing.T) { testConnectionsBeyondMax(t, tt.opt, tt.want) })
	}
}

// startLimited starts a server holding at most maxConns connections (0:
// the default); the connections appended to *held are closed at the end.
func startLimited(t *testing.T, maxConns int, held *[]net.Conn, checks ...Check) (*Server, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	// Checks holding requests hold them for the whole test, however
	// slow the machine is.
	s := New(Options{Addr: "127.0.0.1:0", Registerer: reg, MaxConnections: maxConns, Checks: checks, CheckTimeout: time.Hour})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	t.Cleanup(func() {
		for _, c := range *held {
			_ = c.Close()
		}
	})
	return s, reg
}

func testConnectionsBeyondMax(t *testing.T, opt, max int) {
	var held []net.Conn
	release := make(chan struct{})
	hold := Check{Name: "held", Fn: func(ctx context.Context) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}
	s, reg := startLimited(t, opt, &held, hold)
	t.Cleanup(func() { close(release) }) // before the server shuts down
	for range max {
		c := dialHeld(t, s.Addr(), &held)
		if _, err := c.Write([]byte("GET " + PathReadyz + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	// Each is active once accepted and its request read.
	ll := s.limitListener()
	if !waitFor(func() bool { return ll.open.Load() == int64(max) && ll.idleCount() == 0 }) {
		t.Fatalf("%d connections open, %d still not sending a request", ll.open.Load(), ll.idleCount())
	}
	extra, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := extra.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a connection beyond %d: read %d bytes, %v; want it closed", max, n, err)
	}
	if got := counterOf(t, reg, "admin_connections_refused_total"); got != 1 {
		t.Fatalf("admin_connections_refused_total = %v, want 1", got)
	}
	_ = held[0].Close()
	held = held[1:]
	// The freed place is given back when the server sees the close.
	if err := healthzSoon(http.DefaultClient, s.Addr()); err != nil {
		t.Fatalf("after one connection closed, /healthz: %v", err)
	}
}

// dialHeld connects to addr, appending the connection to *held (closed
// at the end of the test).
func dialHeld(t *testing.T, addr string, held *[]net.Conn) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	*held = append(*held, c)
	return c
}

// waitFor polls cond for up to 10 s (a guard against a hanging test,
// not a performance threshold).
func waitFor(cond func() bool) bool {
	for range 1000 {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

func (s *Server) limitListener() *limitListener {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limit
}

// TestSilentConnectionsMakeRoom: with MaxConnections open and silent (no
// byte of a request sent), a new connection takes the place of the
// oldest instead of being refused: one client holding them, opened again
// as the header timeout closes them, cannot keep health checks and
// scrapes out.
func TestSilentConnectionsMakeRoom(t *testing.T) {
	var held []net.Conn
	s, reg := startLimited(t, 4, &held)
	for range 4 {
		dialHeld(t, s.Addr(), &held)
	}
	if !waitFor(func() bool { return s.limitListener().idleCount() == 4 }) {
		t.Fatalf("%d of 4 silent connections seen", s.limitListener().idleCount())
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + s.Addr() + PathHealthz)
	if err != nil {
		t.Fatalf("/healthz with 4 silent connections open: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: status %d", resp.StatusCode)
	}
	_ = held[0].SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := held[0].Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the oldest silent connection: read %d bytes, %v; want it closed", n, err)
	}
	if got := counterOf(t, reg, "admin_idle_connections_closed_total"); got != 1 {
		t.Fatalf("admin_idle_connections_closed_total = %v, want 1", got)
	}
	if got := counterOf(t, reg, "admin_connections_refused_total"); got != 0 {
		t.Fatalf("admin_connections_refused_total = %v, want 0", got)
	}
}

// healthzSoon asks /healthz until it answers 200, for up to a second.
func healthzSoon(client *http.Client, addr string) error {
	var err error
	for range 100 {
		var resp *http.Response
		resp, err = client.Get("http://" + addr + PathHealthz)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return err
}

func counterOf(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func TestScraperGone(t *testing.T) {
	tests := []struct {
		msg  string
		gone bool
	}{
		{"error encoding and sending metric family: write tcp 127.0.0.1:9090->127.0.0.1:5555: write: broken pipe", true},
		{"error encoding and sending metric family: write tcp 127.0.0.1:9090->127.0.0.1:5555: write: connection reset by peer", true},
		{"error gathering metrics: collected metric dlr_pending was collected before with the same name and label values", false},
	}
	for _, tt := range tests {
		if got := scraperGone(tt.msg); got != tt.gone {
			t.Errorf("scraperGone(%q) = %v, want %v", tt.msg, got, tt.gone)
		}
	}
}

// TestIdleKeepAliveConnectionsMakeRoom: with MaxConnections open and idle
// between two requests (keep-alive clients that asked once), a new
// connection takes the place of the one idle longest instead of being
// refused: clients asking once a minute cannot hold the port shut.
func TestIdleKeepAliveConnectionsMakeRoom(t *testing.T) {
	var held []net.Conn
	s, reg := startLimited(t, 4, &held)
	for range 4 {
		c := dialHeld(t, s.Addr(), &held)
		if _, err := c.Write([]byte("GET " + PathHealthz + " HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("first request: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	// A connection counts as idle once the server has finished its response.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if err := healthzSoon(client, s.Addr()); err != nil {
		t.Fatalf("a new connection while %d keep-alive ones idle: %v", len(held), err)
	}
	if got := counterOf(t, reg, "admin_idle_connections_closed_total"); got < 1 {
		t.Fatalf("admin_idle_connections_closed_total = %v, want at least 1", got)
	}
}
