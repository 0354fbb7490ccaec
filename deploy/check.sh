#!/bin/sh
# Checks the monitoring files under deploy/ with promtool (Debian package
# "prometheus"): the Prometheus configuration, the alert rules and their
# unit tests, and every PromQL query of the Grafana dashboard.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prom="$here/prometheus"

if ! command -v promtool >/dev/null 2>&1; then
	echo "deploy/check.sh: promtool not found (apt-get install prometheus)" >&2
	exit 1
fi

promtool check config "$prom/prometheus.yml"
promtool check rules "$prom/alerts.yml"
(cd "$prom" && promtool test rules alerts_test.yml)

# The dashboard's queries become recording rules so promtool parses them;
# Grafana's variables are replaced by values Prometheus accepts.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if command -v python3 >/dev/null 2>&1; then
	python3 - "$here/grafana/dashboard.json" >"$tmp/dashboard_rules.yml" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    dashboard = json.load(f)

def exprs(panels):
    for p in panels:
        yield from exprs(p.get("panels", []))
        for t in p.get("targets", []):
            yield p["title"], t["expr"]

print("groups:\n  - name: dashboard\n    rules:")
for i, (title, expr) in enumerate(exprs(dashboard["panels"])):
    expr = expr.replace("$__rate_interval", "5m").replace("$instance", ".*")
    print(f"      - record: dashboard:query_{i}")
    print(f"        expr: {json.dumps(expr)}")
PY
	promtool check rules "$tmp/dashboard_rules.yml"
else
	echo "deploy/check.sh: python3 not found; dashboard queries not checked" >&2
fi
