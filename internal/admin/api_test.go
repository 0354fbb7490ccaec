package admin_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/admin"
)

type fakeBackend struct {
	unbound   []string
	reloadErr error
}

func (f *fakeBackend) Sessions(context.Context) []admin.Session {
	return []admin.Session{{ID: "7", SystemID: "alice", Bind: "transceiver", RemoteAddr: "127.0.0.1:5000",
		InterfaceVersion: "0x34", BoundAt: time.Date(2026, 1, 2, 3, 4, 5, 6_789_012, time.UTC)}}
}

func (f *fakeBackend) UnbindSession(_ context.Context, id string) bool {
	if id != "7" {
		return false
	}
	f.unbound = append(f.unbound, id)
	return true
}

func (f *fakeBackend) UnbindAccount(_ context.Context, sys string) (int, bool) {
	if sys != "alice" {
		return 0, false
	}
	f.unbound = append(f.unbound, sys)
	return 2, true
}

func (f *fakeBackend) Accounts(context.Context) ([]admin.Account, error) {
	two := 2
	return []admin.Account{{SystemID: "alice", MaxBinds: 2, Throughput: 100, Binds: admin.Binds{Instance: 1, Cluster: &two},
		PendingReceipts: 3, Submits: admin.SubmitStats{Accepted: 5, Rejected: 1, Throttled: 2}}}, nil
}

func (f *fakeBackend) Message(_ context.Context, id string) (admin.Message, bool, error) {
	if id == "DOWN" {
		return admin.Message{}, false, fmt.Errorf("%w: message %s: dlr: redis lookup: i/o timeout", admin.ErrUnavailable, id)
	}
	if id != "ABC" {
		return admin.Message{}, false, nil
	}
	return admin.Message{MessageID: id, State: "ENROUTE", SystemID: "alice", Destination: "4915"}, true, nil
}

func (f *fakeBackend) Reload(context.Context) (admin.ReloadResult, error) {
	if f.reloadErr != nil {
		return admin.ReloadResult{}, f.reloadErr
	}
	return admin.ReloadResult{Added: []string{"bob"}, Removed: []string{}, Changed: []string{"alice"}}, nil
}

func TestAPI(t *testing.T) {
	fb := &fakeBackend{}
	srv := admin.New(admin.Options{API: &admin.API{Token: "s3cret", Backend: fb}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	cases := []struct {
		name, method, path, token string
		code                      int
		body                      string // substring of the answer
	}{
		{"no token", "GET", "/api/v1/sessions", "", 401, `"error"`},
		{"wrong token", "GET", "/api/v1/sessions", "s3cre", 401, `"error"`},
		{"longer token", "GET", "/api/v1/accounts", "s3cretX", 401, `"error"`},
		{"sessions", "GET", "/api/v1/sessions", "s3cret", 200, `"system_id": "alice"`},
		{"unbind unknown", "DELETE", "/api/v1/sessions/8", "s3cret", 404, `no session 8`},
		{"unbind", "DELETE", "/api/v1/sessions/7", "s3cret", 204, ``},
		{"accounts", "GET", "/api/v1/accounts", "s3cret", 200, `"cluster": 2`},
		{"unbind an account's sessions", "DELETE", "/api/v1/accounts/alice/sessions", "s3cret", 200, `"unbound": 2`},
		{"unbind an unknown account's sessions", "DELETE", "/api/v1/accounts/zed/sessions", "s3cret", 404, `no account zed`},
		{"message", "GET", "/api/v1/messages/ABC", "s3cret", 200, `"state": "ENROUTE"`},
		{"unknown message", "GET", "/api/v1/messages/XYZ", "s3cret", 404, `no message XYZ`},
		{"message while Redis does not answer", "GET", "/api/v1/messages/DOWN", "s3cret", 503, `i/o timeout`},
		{"reload", "POST", "/api/v1/reload", "s3cret", 200, `"added": [`},
		{"reload by GET", "GET", "/api/v1/reload", "s3cret", 405, `"error": "Method Not Allowed: GET /api/v1/reload"`},
		{"unknown path", "GET", "/api/v1/nothing", "s3cret", 404, `"error": "Not Found: GET /api/v1/nothing"`},
		{"unknown path without a token", "GET", "/api/v1/nothing", "", 401, `missing or wrong bearer token`},
		{"wrong method without a token", "GET", "/api/v1/reload", "", 401, `missing or wrong bearer token`},
		{"the prefix without its slash, without a token", "GET", "/api/v1", "", 401, `missing or wrong bearer token`},
		{"the prefix without its slash", "GET", "/api/v1", "s3cret", 404, `"error": "Not Found: GET /api/v1"`},
		{"scheme in lower case", "GET", "/api/v1/sessions", "bearer s3cret", 200, `"system_id": "alice"`},
		{"another scheme", "GET", "/api/v1/sessions", "Basic s3cret", 401, `"error"`},
		{"bound_at to the millisecond", "GET", "/api/v1/sessions", "s3cret", 200, `"bound_at": "2026-01-02T03:04:05.006Z"`},
		{"double slash without a token", "GET", "/api/v1//sessions", "", 401, `missing or wrong bearer token`},
		{"dot element without a token", "GET", "/api/v1/./sessions", "", 401, `missing or wrong bearer token`},
		{"dot-dot without a token", "GET", "/api/v1/../metrics", "", 401, `missing or wrong bearer token`},
		{"dot-dot out of the API without a token", "GET", "/api/v1/../../metrics", "", 401, `missing or wrong bearer token`},
		{"dot-dot into the API without a token", "GET", "/x/../api/v1/sessions", "", 401, `missing or wrong bearer token`},
		{"empty system_id without a token", "DELETE", "/api/v1/accounts//sessions", "", 401, `missing or wrong bearer token`},
		{"escaped dots without a token", "GET", "/api/v1/%2e%2e/metrics", "", 401, `missing or wrong bearer token`},
		{"another version without a token", "GET", "/api/v2/sessions", "", 401, `missing or wrong bearer token`},
		{"double slash", "GET", "/api/v1//sessions", "s3cret", 404, `"error": "Not Found: GET /api/v1//sessions"`},
		{"dot element", "GET", "/api/v1/./sessions", "s3cret", 404, `"error": "Not Found: GET /api/v1/./sessions"`},
		{"dot-dot", "GET", "/api/v1/../metrics", "s3cret", 404, `"error": "Not Found: GET /api/v1/../metrics"`},
		{"dot-dot out of the API", "GET", "/api/v1/../../metrics", "s3cret", 404, `"error": "Not Found: GET /api/v1/../../metrics"`},
		{"dot-dot into the API", "GET", "/x/../api/v1/sessions", "s3cret", 404, `"error": "Not Found: GET /x/../api/v1/sessions"`},
		{"empty system_id", "DELETE", "/api/v1/accounts//sessions", "s3cret", 404, `"error": "Not Found: DELETE /api/v1/accounts//sessions"`},
		{"trailing slash", "GET", "/api/v1/sessions/", "s3cret", 404, `"error": "Not Found: GET /api/v1/sessions/"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := do(t, c.method, ts.URL+c.path, c.token)
			if code != c.code || !strings.Contains(body, c.body) {
				t.Fatalf("%s %s: %d %s, want %d containing %q", c.method, c.path, code, body, c.code, c.body)
			}
		})
	}
	if fmt.Sprint(fb.unbound) != "[7 alice]" {
		t.Errorf("unbound %v, want [7 alice]", fb.unbound)
	}
	fb.reloadErr = fmt.Errorf("%w: SMPP_ACCOUNTS_FILE: accounts[0]: system_id is empty", admin.ErrInvalidConfig)
	code, body := do(t, "POST", ts.URL+"/api/v1/reload", "s3cret")
	var e struct{ Error string }
	if err := json.Unmarshal([]byte(body), &e); err != nil || code != 400 || e.Error != "SMPP_ACCOUNTS_FILE: accounts[0]: system_id is empty" {
		t.Fatalf("invalid reload: %d %s", code, body)
	}
}

func TestAPIOffWithoutToken(t *testing.T) {
	srv := admin.New(admin.Options{API: &admin.API{Backend: &fakeBackend{}}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	if code, _ := do(t, "GET", ts.URL+"/api/v1/sessions", ""); code != 404 {
		t.Fatalf("without a token the API answers %d, want 404", code)
	}
}

// noRedirects shows a redirect as it is: a client following it would
// hide that the first answer was not the API's.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func do(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case strings.Contains(token, " "): // a whole header value
		req.Header.Set("Authorization", token)
	case token != "":
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDeclaredBodyNeverSent: a request that declares a body and never
// sends it is answered at once and its connection closed; none of these
// routes reads a body, and waiting for one would hold the answer and a
// connection slot for the server's whole read timeout (30 s).
func TestDeclaredBodyNeverSent(t *testing.T) {
	srv := admin.New(admin.Options{Addr: "127.0.0.1:0", API: &admin.API{Token: "s3cret", Backend: &fakeBackend{}}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	for _, tt := range []struct {
		name, request string
		code          int
	}{
		{"healthz, a length", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n", 200},
		{"healthz, chunked", "GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 200},
		{"reload", "POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 10\r\n\r\n", 200},
		{"no token", "POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", srv.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// A guard against a hanging test, well below the read timeout.
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, tt.request); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer before the body: %v", err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Fatalf("after the answer: %v, want the connection closed", err)
			}
		})
	}
}

// TestBodySentToARouteThatReadsNone: a client that does send a body the
// route ignores gets its answer and a clean close (no reset that could
// destroy the answer).
func TestBodySentToARouteThatReadsNone(t *testing.T) {
	srv := admin.New(admin.Options{Addr: "127.0.0.1:0", API: &admin.API{Token: "s3cret", Backend: &fakeBackend{}}})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	body := strings.Repeat("x", 100_000)
	req, err := http.NewRequest(http.MethodPost, "http://"+srv.Addr()+"/api/v1/reload", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer s3cret")
	for i := range 20 {
		resp, err := http.DefaultClient.Do(req.Clone(context.Background()))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(got), "added") {
			t.Fatalf("request %d: %d %q %v", i, resp.StatusCode, got, err)
		}
		req.Body = io.NopCloser(strings.NewReader(body))
	}
}
