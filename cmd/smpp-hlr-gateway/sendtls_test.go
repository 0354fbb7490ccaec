package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/smpp-hlr-gateway/gateway/internal/app"
	"github.com/smpp-hlr-gateway/gateway/internal/config"
	"github.com/smpp-hlr-gateway/gateway/internal/logging"
)

// TestSendVerifiesTLS: send --tls checks the gateway's certificate against
// the host in --addr, with --ca's authorities; an unknown authority fails
// the send, --insecure skips the check.
func TestSendVerifiesTLS(t *testing.T) {
	certFile, keyFile := writeCert(t)
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

// writeCert writes a self-signed certificate for 127.0.0.1 and its key.
func writeCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gateway test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
