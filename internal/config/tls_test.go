package config

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/testcert"
)

// selfSigned returns PEM certificate and key.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	c, k := testcert.PEM(t)
	return string(c), string(k)
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
		// Read as the accounts file is: a FIFO used to hang the start in
		// its open, a device to be read without end.
		{"key is a FIFO", cert, fifo(t), `config: SMPP_TLS_KEY_FILE: cannot read`},
		{"key is a device", cert, "/dev/zero", `config: SMPP_TLS_KEY_FILE: cannot read "/dev/zero": /dev/zero: not a regular file`},
		{"certificate is a directory", t.TempDir(), key, `config: SMPP_TLS_CERT_FILE: cannot read`},
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

// fifo returns the path of a new named pipe nobody writes to.
func fifo(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	return p
}
