package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
	"github.com/smpp-hlr-gateway/gateway/internal/testcert"
)

// TestSendVerifiesTLS: send --tls checks the gateway's certificate against
// the host in --addr, with --ca's authorities; an unknown authority fails
// the send, --insecure skips the check.
func TestSendVerifiesTLS(t *testing.T) {
	certFile, keyFile := testcert.Files(t)
	tlsAddr := closedAddr(t)
	_, port, _ := net.SplitHostPort(tlsAddr)
	cfg, err := config.Load(envOf(map[string]string{
		"SMPP_HOST": "127.0.0.1", "SMPP_PORT": "0", "METRICS_ENABLED": "false",
		"HLR_PROVIDER": "simulator", "DLR_DELAY_SECONDS": "0",
		"SMPP_TLS_PORT": port, "SMPP_TLS_CERT_FILE": certFile, "SMPP_TLS_KEY_FILE": keyFile,
	}))
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, logging.Discard(), app.Options{})
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
