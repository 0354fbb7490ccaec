package config

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"strconv"
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
	if g := strings.TrimSpace(getenv("GOGC")); g != "" && g != "off" {
		// The runtime reads a GOGC that is not a number as 100, without
		// a word, and GC_HEADROOM_MB would then be off for nothing.
		if _, err := strconv.ParseInt(g, 10, 32); err != nil {
			return Config{}, fieldErr("GOGC", "%q is not a whole number (a percentage) or off", g)
		}
	}
	c.Runtime.GCFromEnv = getenv("GOGC") != "" || getenv("GOMEMLIMIT") != ""
	if c.Instance.ID == "" {
		c.Instance.ID = defaultInstanceID(c.SMPP.Port)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// defaultInstanceID is the host name (reduced to the characters an instance
// id allows) plus the SMPP port: stable across restarts of one instance, so
// a restarted instance takes its own receipt leases back at once (with a
// random suffix it would wait for its old heartbeat to expire), and
// distinct for two processes on one host, which cannot listen on one port.
// With SMPP_PORT=0 (a free port chosen at start) the suffix is random.
func defaultInstanceID(port int) string {
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
	if port > 0 {
		return host + "-" + strconv.Itoa(port)
	}
	var b [4]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return host + "-" + hex.EncodeToString(b[:])
}

func isInstanceIDRune(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '_' || r == '.'
}
