#!/usr/bin/env bash
# Runs the gateway with the HLR simulator, sends real traffic through it
# with the send command, scrapes /metrics and checks the exposition with
# promtool, and checks that every metric name the documentation promises is
# there.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway
smpp_port=$(free_port)
metrics_port=$(free_port)
SMPP_HOST=127.0.0.1 SMPP_PORT=$smpp_port METRICS_HOST=127.0.0.1 METRICS_PORT=$metrics_port \
	HLR_PROVIDER=simulator DLR_DELAY_SECONDS=0.1 LOG_LEVEL=WARNING REDIS_URL= \
	"$tmp/gw" serve 2>"$tmp/gw.log" &
pid=$!
for _ in $(seq 1 100); do
	curl -fsS "http://127.0.0.1:$metrics_port/readyz" >/dev/null 2>&1 && break
	sleep 0.1
done
"$tmp/gw" send --addr "127.0.0.1:$smpp_port" --wait 10s 13476841841 40722570240999 2347010000044 33387840133 4099000001 >"$tmp/send.out" || {
	cat "$tmp/send.out" "$tmp/gw.log"; exit 1; }
curl -fsS "http://127.0.0.1:$metrics_port/metrics" >"$tmp/metrics.txt"
promtool check metrics <"$tmp/metrics.txt"
for name in submit_total hlr_requests_total hlr_lookups_avoided_total hlr_cache_hits_total hlr_cache_misses_total delivrd_total \
	hlr_latency_seconds submit_processing_seconds active_smpp_connections active_tasks redis_connection_pool_size \
	dlr_lost_total dlr_dropped_total dlr_account_pending; do
	grep -q "^${name}[{ _]" "$tmp/metrics.txt" || { echo "metric $name missing from /metrics"; exit 1; }
done
echo "metrics: $(grep -c '^[a-z]' "$tmp/metrics.txt") samples, promtool ok"
