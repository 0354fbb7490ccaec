package simulator_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/hlr"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/simulator"
	"github.com/smpp-hlr-gateway/gateway/internal/hlr/tmt"
)

var table = []struct {
	msisdn  string
	class   hlr.Class
	reason  string
	errCode string
	err     error
	status  int
	error_  int
}{
	{"13476841841", hlr.ClassValid, "valid", "000", nil, 0, 0},
	{"40722570240999", hlr.ClassInvalid, "invalid_number", "003", nil, 1, 0},
	{"2347010000044", hlr.ClassInvalid, "network_not_supported", "000", nil, 0, 191},
	{"33387840133", hlr.ClassInvalid, "landline", "000", nil, 0, 193},
	{"19990000123", hlr.ClassValid, "valid", "000", nil, 0, 0},
	{"19990000129", hlr.ClassValid, "valid", "000", nil, 0, 0}, // prefix beats last digit
	{"40990000120", hlr.ClassInvalid, "invalid_number", "003", nil, 1, 0},
	{"447700900001", hlr.ClassInvalid, "unknown_subscriber", "001", nil, 0, 1},
	{"447700900002", hlr.ClassInvalid, "unreachable", "002", nil, 0, 2},
	{"447700900003", 0, "", "", hlr.ErrProvider, 3, 0},
	{"447700900004", 0, "", "", hlr.ErrProvider, 2, 0},
	{"447700900027", hlr.ClassInvalid, "absent", "001", nil, 0, 27},
	{"447700900033", 0, "", "", hlr.ErrNetworkFailure, 0, 33},
	{"447700900191", hlr.ClassInvalid, "network_not_supported", "000", nil, 0, 191},
	{"447700900192", hlr.ClassInvalid, "network_not_supported", "000", nil, 0, 192},
	{"447700900193", hlr.ClassInvalid, "landline", "000", nil, 0, 193},
	{"447700900500", 0, "", "", hlr.ErrProvider, 0, 0},
	{"447700912340", hlr.ClassValid, "valid", "000", nil, 0, 0},
	{"447700912345", hlr.ClassValid, "valid", "000", nil, 0, 0},
	{"447700912346", hlr.ClassInvalid, "invalid_number", "003", nil, 1, 0},
	{"447700912347", hlr.ClassInvalid, "unknown_subscriber", "001", nil, 0, 1},
	{"447700912348", hlr.ClassInvalid, "absent", "001", nil, 0, 27},
	{"447700912349", hlr.ClassInvalid, "landline", "000", nil, 0, 193},
	{"abc", hlr.ClassInvalid, "invalid_number", "003", nil, 1, 0},
	{"07400000000", hlr.ClassValid, "valid", "000", nil, 0, 0}, // a leading zero: not a JSON number
}

func check(t *testing.T, r hlr.Result, err error, i int) {
	t.Helper()
	tt := table[i]
	if tt.err != nil {
		if !errors.Is(err, tt.err) {
			t.Fatalf("%s: err = %v, want %v", tt.msisdn, err, tt.err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", tt.msisdn, err)
	}
	if r.Class != tt.class || r.Reason != tt.reason || r.ErrCode != tt.errCode || r.Status != tt.status || r.Error != tt.error_ {
		t.Fatalf("%s: got %v/%s/%s status %d error %d", tt.msisdn, r.Class, r.Reason, r.ErrCode, r.Status, r.Error)
	}
}

func TestLookupRules(t *testing.T) {
	s := simulator.New(simulator.Options{})
	for i, tt := range table {
		t.Run(tt.msisdn, func(t *testing.T) {
			r, err := s.Lookup(context.Background(), tt.msisdn)
			check(t, r, err, i)
		})
	}
}

func TestHTTPMatchesLookup(t *testing.T) {
	srv := httptest.NewServer(simulator.New(simulator.Options{}).Handler())
	defer srv.Close()
	c, err := tmt.New(tmt.Options{BaseURL: srv.URL, APIKey: "k", APISecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, tt := range table {
		if tt.msisdn == "abc" {
			continue
		}
		t.Run(tt.msisdn, func(t *testing.T) {
			r, err := c.Lookup(context.Background(), tt.msisdn)
			check(t, r, err, i)
		})
	}
}

func TestHTTPChecksCredentialsWhenConfigured(t *testing.T) {
	srv := httptest.NewServer(simulator.New(simulator.Options{APIKey: "k", APISecret: "s"}).Handler())
	defer srv.Close()
	tests := []struct {
		key, secret string
		want        error
	}{
		{"k", "s", nil},
		{"k", "wrong", hlr.ErrProvider},
	}
	for _, tt := range tests {
		c, err := tmt.New(tmt.Options{BaseURL: srv.URL + "/live/json", APIKey: tt.key, APISecret: tt.secret})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Lookup(context.Background(), "13476841841")
		if !errors.Is(err, tt.want) && !(tt.want == nil && err == nil) {
			t.Fatalf("%s/%s: err = %v", tt.key, tt.secret, err)
		}
		_ = c.Close()
	}
}

func TestSlowRuleTimesOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := simulator.New(simulator.Options{Latency: 10 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := s.Lookup(ctx, "447700900408")
		if !errors.Is(err, hlr.ErrTimeout) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		// Without a deadline it answers (valid) after SlowDelay.
		r, err := s.Lookup(context.Background(), "447700900408")
		if err != nil || r.Class != hlr.ClassValid {
			t.Fatalf("%+v, %v", r, err)
		}
	})
}

func TestSlowRuleOverHTTP(t *testing.T) {
	srv := httptest.NewServer(simulator.New(simulator.Options{}).Handler())
	defer srv.Close()
	c, err := tmt.New(tmt.Options{BaseURL: srv.URL, APIKey: "k", APISecret: "s", Timeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Lookup(context.Background(), "447700900408"); !errors.Is(err, hlr.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
}

func TestLatencyHonoursContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := simulator.New(simulator.Options{Latency: time.Minute})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Lookup(ctx, "13476841841"); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		start := time.Now()
		if _, err := s.Lookup(context.Background(), "13476841841"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Minute { // fake clock: exact
			t.Fatalf("latency %v, want 1m", d)
		}
	})
}
