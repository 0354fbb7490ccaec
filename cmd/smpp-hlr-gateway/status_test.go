package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestStatus(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"missing or wrong bearer token"}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/sessions":
			_, _ = w.Write([]byte(`{"sessions":[{"id":"12","system_id":"alice","bind":"transceiver","remote_addr":"10.0.0.7:40000","tls":true,"interface_version":"0x34","bound_at":"2026-01-02T03:04:05Z","in_flight":1,"submits":42,"receipts_sent":40,"receipts_pending_ack":2}]}`))
		case "/api/v1/accounts":
			_, _ = w.Write([]byte(`{"accounts":[{"system_id":"alice","max_binds":2,"throughput":100,"binds":{"instance":1,"cluster":2},"pending_receipts":5,"submits":{"accepted":30,"rejected":10,"throttled":2}},{"system_id":"bob","max_binds":0,"throughput":0,"binds":{"instance":0,"cluster":null},"pending_receipts":0,"submits":{"accepted":0,"rejected":0,"throttled":0}}]}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	odd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/sessions":
			_, _ = w.Write([]byte(`{"sessions":[{"id":"7","system_id":"two words","bind":"receiver","remote_addr":"10.0.0.8:1","bound_at":"2026-01-02T03:04:05Z"}]}`))
		case "/api/v1/accounts":
			_, _ = w.Write([]byte(`{"accounts":[{"system_id":"two words"},{"system_id":"x\nfake\u001b[2J","max_binds":1},{"system_id":""}]}`))
		}
	}))
	defer odd.Close()
	oddAddr := strings.TrimPrefix(odd.URL, "http://")
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"tables", []string{"status", "--addr", addr, "--token", "tok"}, nil, 0, []string{
			"ID  SYSTEM_ID  BIND         REMOTE          TLS   VERSION",
			"12  alice      transceiver  10.0.0.7:40000  true  0x34",
			"alice      2          100/s       1      2              5",
			"bob        unlimited  unlimited   0      -",
		}, ""},
		{"system_ids that would break the table are quoted", []string{"status", "--addr", oddAddr, "--token", "tok"}, nil, 0, []string{
			"7   \"two words\"  receiver",
			"\"two words\"       unlimited",
			"\"x\\nfake\\x1b[2J\"  1 ",
			"\"\"                unlimited",
		}, ""},
		{"token from ADMIN_TOKEN", []string{"status", "--addr", addr}, map[string]string{"ADMIN_TOKEN": "tok"}, 0, []string{"alice"}, ""},
		{"wrong token", []string{"status", "--addr", addr, "--token", "bad"}, nil, 1, nil, "HTTP 401: missing or wrong bearer token"},
		{"no token", []string{"status", "--addr", addr}, nil, 2, nil, "no token"},
		{"help", []string{"status", "-h"}, nil, 0, []string{"usage: smpp-hlr-gateway status"}, ""},
		{"--help", []string{"status", "--help"}, nil, 0, []string{"--addr"}, ""},
		{"--help with ADMIN_TOKEN set", []string{"status", "--help"}, map[string]string{"ADMIN_TOKEN": "s3cr3t-admin-token"}, 0, []string{"--token"}, ""},
		{"a usage error with ADMIN_TOKEN set", []string{"status", "extra"}, map[string]string{"ADMIN_TOKEN": "s3cr3t-admin-token"}, 2, nil, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(context.Background(), tt.args, envOf(tt.env), &out, &errOut)
			if code != tt.wantCode || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d with %q\nstdout:\n%s", code, errOut.String(), tt.wantCode, tt.wantErr, out.String())
			}
			if strings.Contains(out.String()+errOut.String(), "s3cr3t") {
				t.Fatalf("the admin token was printed:\n%s%s", out.String(), errOut.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Fatalf("stdout lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
