package config

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strings"
)

// Load builds the configuration from Default and the environment, read
// through getenv (os.Getenv in production). An unset or empty variable keeps
// its default; surrounding white space is ignored. Load reads every variable
// of the table whatever the others say, reads the accounts file when
// SMPP_ACCOUNTS_FILE is set, fills INSTANCE_ID when empty, and returns the
// result of Validate. Errors are *FieldError values matching ErrInvalid.
func Load(getenv func(string) string) (Config, error) {
	c := Default()
	var first error
	for _, v := range variables() {
		raw := strings.TrimSpace(getenv(v.name))
		if raw == "" {
			continue
		}
		if err := v.set(&c, raw); err != nil && first == nil {
			first = err
		}
	}
	if first != nil {
		return Config{}, first
	}
	if c.SMPP.AccountsFile != "" {
		accounts, err := ReadAccountsFile(c.SMPP.AccountsFile)
		if err != nil {
			return Config{}, err
		}
		c.SMPP.FileAccounts = accounts
	}
	if c.Instance.ID == "" {
		c.Instance.ID = defaultInstanceID()
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// defaultInstanceID is the host name (reduced to the characters an instance
// id allows) plus a random suffix, so two processes on one host differ.
func defaultInstanceID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "gateway"
	}
	host = strings.Map(func(r rune) rune {
		if isInstanceIDRune(r) {
			return r
		}
		return '-'
	}, host)
	if len(host) > 48 {
		host = host[:48]
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return host + "-" + hex.EncodeToString(b[:])
}

func isInstanceIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '_' || r == '.'
}
