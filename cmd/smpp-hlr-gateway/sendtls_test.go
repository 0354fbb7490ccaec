package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/testcert"
)

// TestSendVerifiesTLS: send --tls checks the gateway's certificate against
// the host in --addr, with --ca's authorities; an unknown authority fails
// the send, --insecure skips the check.
func TestSendVerifiesTLS(t *testing.T) {
	certFile, keyFile := testcert.Files(t)
	tlsAddr := closedAddr(t)
	_, port, _ := net.SplitHostPort(tlsAddr)
	startApp(t, map[string]string{
		"SMPP_TLS_PORT": port, "SMPP_TLS_CERT_FILE": certFile, "SMPP_TLS_KEY_FILE": keyFile,
	})
	tests := []struct {
		name    string
		flags   []string
		want    int
		wantErr string
	}{
		{"verified with --ca", []string{"--tls", "--ca", certFile}, 0, ""},
		{"unknown authority", []string{"--tls"}, 1, "certificate"},
		{"not verified with --insecure", []string{"--tls", "--insecure"}, 0, ""},
		{"--ca without a certificate", []string{"--tls", "--ca", keyFile}, 2, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out, errOut bytes.Buffer
			args := append(append([]string{"send", "--addr", tlsAddr, "--wait", "20s"}, tt.flags...), "40722570240999")
			code := run(ctx, args, envOf(nil), &out, &errOut)
			if code != tt.want || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, out.String(), errOut.String(), tt.want, tt.wantErr)
			}
		})
	}
}
