package config

import (
	"crypto/tls"

	"github.com/smpp-hlr-gateway/gateway/internal/readfile"
)

// maxPEMBytes bounds SMPP_TLS_CERT_FILE and SMPP_TLS_KEY_FILE: a chain of
// a few certificates is a few KB; 1 MiB leaves room for long chains.
const maxPEMBytes = 1 << 20

// KeyPair reads the certificate and key files as the configuration files
// are read: regular files only (a FIFO would hang the start, a device such
// as /dev/zero would be read without end), at most maxPEMBytes each. The
// error names the variable whose file could not be read or, when both
// were read, says the pair is not usable.
func (t TLS) KeyPair() (tls.Certificate, error) {
	var pem [2][]byte
	for i, f := range []struct{ name, path string }{
		{"SMPP_TLS_CERT_FILE", t.CertFile},
		{"SMPP_TLS_KEY_FILE", t.KeyFile},
	} {
		data, err := readfile.Regular(f.path, maxPEMBytes)
		if err != nil {
			return tls.Certificate{}, fieldErrCause(f.name, err, "cannot read %q: %v", f.path, unwrapPathError(err))
		}
		pem[i] = data
	}
	cert, err := tls.X509KeyPair(pem[0], pem[1])
	if err != nil {
		return tls.Certificate{}, fieldErrCause("SMPP_TLS_CERT_FILE", err, "%q with SMPP_TLS_KEY_FILE %q is not a usable key pair: %v",
			t.CertFile, t.KeyFile, err)
	}
	return cert, nil
}
