package app_test

import (
	"bufio"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/smpp-hlr-gateway/gateway/internal/cache/redistest"
)

// TestEveryMetricHasAReadmeRow: every metric family the gateway exports,
// with Redis (which adds the receipt queue's, the shared limits' and the
// cache's), has its row in the README's metrics table. The Go runtime's
// and the process's collectors (go_*, process_*, promhttp_*) are
// described there as a whole.
func TestEveryMetricHasAReadmeRow(t *testing.T) {
	url, prefix := redistest.URL(t)
	gw := startGateway(t, newFakeTMT(t, invalidNumbers), map[string]string{
		"REDIS_URL": url, "REDIS_KEY_PREFIX": prefix, "ADMIN_TOKEN": adminToken,
		"METRICS_ENABLED": "true", "METRICS_HOST": "127.0.0.1", "METRICS_PORT": "0",
	})
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\|").FindAllSubmatch(readme, -1) {
		rows[string(m[1])] = true
	}
	families := exportedFamilies(t, gw.app.AdminAddr())
	if len(families) == 0 {
		t.Fatal("no metric families on /metrics")
	}
	for _, name := range families {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") || strings.HasPrefix(name, "promhttp_") {
			continue
		}
		if !rows[name] {
			t.Errorf("%s is exported but has no row in the README's metrics table", name)
		}
	}
}

// exportedFamilies returns the names of the metric families on /metrics
// (its "# TYPE" lines).
func exportedFamilies(t *testing.T, addr string) []string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out = append(out, f[2])
		}
	}
	return out
}
