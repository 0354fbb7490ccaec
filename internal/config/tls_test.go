package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned returns PEM certificate and key.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
}

func TestTLS(t *testing.T) {
	certPEM, keyPEM := selfSigned(t)
	_, otherKey := selfSigned(t)
	cert := writeFile(t, "cert.pem", certPEM)
	key := writeFile(t, "key.pem", keyPEM)
	wrongKey := writeFile(t, "other.pem", otherKey)

	tests := []struct {
		name      string
		cert, key string
		wantErr   string
	}{
		{"valid pair", cert, key, ""},
		{"mismatched key", cert, wrongKey, "config: SMPP_TLS_CERT_FILE: "},
		{"key is not a key", cert, cert, "config: SMPP_TLS_CERT_FILE: "},
		{"missing key", cert, "/nonexistent/key.pem", `config: SMPP_TLS_KEY_FILE: cannot read "/nonexistent/key.pem"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env("SMPP_TLS_PORT", "2777", "SMPP_TLS_CERT_FILE", tt.cert, "SMPP_TLS_KEY_FILE", tt.key))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if !c.TLS.Enabled() || c.TLS.Port != 2777 {
					t.Fatalf("TLS = %+v", c.TLS)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want prefix %q", err, tt.wantErr)
			}
			assertFieldError(t, err)
		})
	}
}
