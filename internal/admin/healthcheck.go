package admin

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Healthcheck GETs url (e.g. http://127.0.0.1:9091/healthz) and returns nil
// on 200. Any other status gives an error matching ErrUnhealthy that
// carries the body's lines (e.g. "not ready; redis: degraded"). The
// deadline comes from ctx.
func Healthcheck(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("admin: healthcheck %s: %w", url, err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("admin: healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	lines := strings.FieldsFunc(strings.TrimSpace(string(body)), func(r rune) bool { return r == '\n' || r == '\r' })
	return fmt.Errorf("%w: %s: HTTP %d: %s", ErrUnhealthy, url, resp.StatusCode, strings.Join(lines, "; "))
}

// LocalURL is the URL a process on the same host uses to reach the admin
// server configured with host and port: a wildcard host (empty, 0.0.0.0,
// ::) becomes the matching loopback address.
func LocalURL(host string, port int, path string) string {
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(strings.Trim(host, "[]"), strconv.Itoa(port)) + path
}
