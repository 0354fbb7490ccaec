package redisconn

import (
	"net/url"
	"strings"
)

// Mask replaces a secret in a redacted URL.
const Mask = "****"

// maskPlaceholder stands for Mask while the URL is re-encoded: url escapes
// '*'.
const maskPlaceholder = "MASKEDxSECRETx7Q"

// Redact returns raw with the password of its user information and every
// query parameter whose name contains "password" masked. A value that does
// not parse keeps only its scheme.
func Redact(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.Index(raw, "://"); i > 0 && !strings.ContainsAny(raw[:i], "@:/?") {
			return raw[:i+3] + Mask
		}
		return Mask
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), maskPlaceholder)
		}
	}
	// Mask the query parameter by parameter, so the others keep their
	// spelling (re-encoding would turn addr=h:p into addr=h%3Ap).
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			k, _, _ := strings.Cut(p, "=")
			if name, err := url.QueryUnescape(k); err == nil && strings.Contains(strings.ToLower(name), "password") {
				params[i] = k + "=" + maskPlaceholder
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	return strings.ReplaceAll(u.String(), maskPlaceholder, Mask)
}

// secrets lists the passwords of raw, longest first, so a log line that
// quotes one can be masked.
func secrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var out []string
	if u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		}
	}
	for k, vs := range u.Query() {
		if strings.Contains(strings.ToLower(k), "password") {
			for _, v := range vs {
				if v != "" {
					out = append(out, v)
				}
			}
		}
	}
	return out
}
