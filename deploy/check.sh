#!/bin/sh
# Checks the deployment files offline (no Docker engine, no network):
#   - promtool (Debian package "prometheus"): the Prometheus configuration,
#     the alert rules and their unit tests, every PromQL query of the
#     Grafana dashboard;
#   - amtool (Debian package "prometheus-alertmanager"): the Alertmanager
#     configuration;
#   - deploy/check_series.py's self-test on fixtures (it must catch a
#     reshaped series, a late counter, a missing metric);
#   - deploy/check_compose.py (python3, python3-yaml): docker-compose.yml
#     against .env.example, the mounted files, the Dockerfile and the
#     Prometheus configuration;
#   - with Go: the environment .env.example gives the gateway container
#     passes `smpp-hlr-gateway check-config`, so a first `docker compose up`
#     does not crash-loop on its configuration.
# deploy/check-metrics.sh checks the same files against a live gateway.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
prom="$here/prometheus"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v promtool >/dev/null 2>&1; then
	echo "deploy/check.sh: promtool not found (apt-get install prometheus)" >&2
	exit 1
fi

promtool check config "$prom/prometheus.yml"
promtool check rules "$prom/alerts.yml"
(cd "$prom" && promtool test rules alerts_test.yml)

if ! command -v amtool >/dev/null 2>&1; then
	echo "deploy/check.sh: amtool not found (apt-get install prometheus-alertmanager)" >&2
	exit 1
fi
amtool check-config "$here/alertmanager/alertmanager.yml"

if ! command -v python3 >/dev/null 2>&1; then
	echo "deploy/check.sh: python3 not found" >&2
	exit 1
fi
# check_series.py (run by check-metrics.sh against a live scrape) must
# catch what it is for: a self-test on fixtures.
fx="$here/testdata/check_series"
series() { python3 "$here/check_series.py" --scrape "$fx/scrape_after.txt" "$@" >"$tmp/series.out" 2>&1; }
expect_fail() { # expect_fail MESSAGE ARGS...
	want=$1
	shift
	if series "$@" || ! grep -q "$want" "$tmp/series.out"; then
		cat "$tmp/series.out" >&2
		echo "deploy/check.sh: check_series.py did not report: $want" >&2
		exit 1
	fi
}
series --initial "$fx/scrape_before.txt" --rules "$fx/rules.yml" --tests "$fx/tests_good.yml" ||
	{ cat "$tmp/series.out" >&2; echo "deploy/check.sh: check_series.py rejected its good fixture" >&2; exit 1; }
expect_fail "is shaped unlike every scraped" --rules "$fx/rules.yml" --tests "$fx/tests_bad.yml"
expect_fail "appears only after traffic" --initial "$fx/scrape_before_late.txt" --rules "$fx/rules.yml" --tests "$fx/tests_good.yml"
expect_fail "which the scrape does not have" --rules "$fx/rules_missing.yml" --tests "$fx/tests_missing.yml"
echo "check_series: self-test ok"

python3 "$here/check_compose.py" --env-file "$tmp/gateway.env" "$root"
if command -v go >/dev/null 2>&1; then
	(cd "$root" && go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway)
	if ! env -i PATH="$PATH" sh -c 'set -a; . "$1"; set +a; exec "$2" check-config' sh "$tmp/gateway.env" "$tmp/gw" >"$tmp/check-config.out" 2>&1; then
		cat "$tmp/check-config.out" >&2
		echo "deploy/check.sh: the gateway container's environment from .env.example does not pass check-config" >&2
		exit 1
	fi
	echo "check-config: the compose environment from .env.example is valid"
else
	echo "deploy/check.sh: go not found; the compose environment was not run through check-config" >&2
fi

# The dashboard's queries become recording rules so promtool parses them;
# Grafana's variables are replaced by values Prometheus accepts.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$here/grafana/dashboard.json" >"$tmp/dashboard_rules.yml" <<'PY'
import json, re, sys

with open(sys.argv[1]) as f:
    dashboard = json.load(f)

def exprs(panels):
    for p in panels:
        yield from exprs(p.get("panels", []))
        for t in p.get("targets", []):
            yield p["title"], t["expr"]

print("groups:\n  - name: dashboard\n    rules:")
for i, (title, expr) in enumerate(exprs(dashboard["panels"])):
    expr = re.sub(r"\$(\w+)", lambda m: "5m" if m.group(1) == "__rate_interval" else ".*", expr)
    print(f"      - record: dashboard:query_{i}")
    print(f"        expr: {json.dumps(expr)}")
PY
	promtool check rules "$tmp/dashboard_rules.yml"
else
	echo "deploy/check.sh: python3 not found; dashboard queries not checked" >&2
fi
