// Package testcert makes self-signed TLS certificates for tests: the SMPP
// TLS listener, the send command's verification, the configuration's key
// pair checks. Like net/http/httptest it is imported by tests only.
package testcert
