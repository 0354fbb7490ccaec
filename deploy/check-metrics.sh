#!/usr/bin/env bash
# Runs the gateway (HLR simulator, Redis-backed receipts) and checks the
# monitoring files against what it really exports:
#
#   1. scrapes /metrics once before any traffic;
#   2. sends traffic that makes every series the alerts use move: accepted
#      and rejected submits, a refused receipt (dropped), a receipt that
#      expires, a failed bind, throttled submits;
#   3. scrapes again, checks the exposition with promtool and the metric
#      names the documentation promises;
#   4. runs deploy/check_series.py: every metric an alert or a dashboard
#      panel uses must be in the scrape, every rule-test input series must
#      be shaped exactly like a scraped one, and every counter an alert
#      uses must exist at zero before traffic.
#
# Needs a Redis (the outage-buffer series exist only with one):
# CHECK_REDIS_URL, else REDIS_TEST_URL, else redis://127.0.0.1:6379/15; its
# keys go under a random prefix and are deleted afterwards. Set
# KEEP_SCRAPE=DIR to keep both scrapes.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
pid=""
redis_url="${CHECK_REDIS_URL:-${REDIS_TEST_URL:-redis://127.0.0.1:6379/15}}"
prefix="checkmetrics:$$:$RANDOM:"
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; fi
	if command -v redis-cli >/dev/null 2>&1; then
		redis-cli -u "$redis_url" --scan --pattern "${prefix}*" 2>/dev/null |
			xargs -r redis-cli -u "$redis_url" del >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-metrics: $*" >&2; exit 1; }

command -v promtool >/dev/null 2>&1 || fail "promtool not found (apt-get install prometheus)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway
smpp_port=$(free_port)
metrics_port=$(free_port)
gw_addr="127.0.0.1:$smpp_port"
metrics="http://127.0.0.1:$metrics_port/metrics"
# Two accounts: testuser for ordinary traffic, slow (1 submit/s) to be
# throttled.
cat >"$tmp/accounts.yaml" <<'EOF'
accounts:
  - system_id: testuser
    password: testpass
  - system_id: slow
    password: slowpass
    throughput: 1
EOF
chmod 600 "$tmp/accounts.yaml"
SMPP_HOST=127.0.0.1 SMPP_PORT=$smpp_port METRICS_HOST=127.0.0.1 METRICS_PORT=$metrics_port \
	SMPP_ACCOUNTS_FILE="$tmp/accounts.yaml" HLR_PROVIDER=simulator LOG_LEVEL=WARNING \
	DLR_DELAY_SECONDS=0.1 DLR_TTL_SECONDS=2 REDIS_URL="$redis_url" REDIS_KEY_PREFIX="$prefix" \
	"$tmp/gw" serve 2>"$tmp/gw.log" &
pid=$!
ready=""
for _ in $(seq 1 100); do
	if "$tmp/gw" healthcheck --ready --addr "127.0.0.1:$metrics_port" >/dev/null 2>&1; then
		ready=1
		break
	fi
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
[ -n "$ready" ] || { cat "$tmp/gw.log" >&2; fail "the gateway did not become ready with REDIS_URL=$redis_url (is Redis running? set CHECK_REDIS_URL)"; }
curl -fsS "$metrics" >"$tmp/initial.txt"

# send exits 1 on purpose in some steps below: its output says why.
expect() { # expect CODE STEP -- send args...
	local want=$1 step=$2
	shift 3
	set +e
	"$tmp/gw" send --addr "$gw_addr" "$@" >"$tmp/send.out" 2>&1
	local got=$?
	set -e
	[ "$got" -eq "$want" ] || { cat "$tmp/send.out" "$tmp/gw.log" >&2; fail "$step: send exited $got, want $want"; }
}
# The reference numbers: one rejected (live mobile), three accepted with
# their receipts.
expect 1 "reference numbers" -- --wait 10s 13476841841 40722570240999 2347010000044 33387840133
grep -q ESME_RINVDSTADR "$tmp/send.out" || fail "reference numbers: no rejection in $(cat "$tmp/send.out")"
# A receipt refused for good (ESME_RX_P_APPN): dropped.
expect 0 "refused receipt" -- --wait 10s --receipt-status 0x65 4099000001
# A receipt whose receiver binds only after DLR_TTL_SECONDS: expired.
expect 0 "no receiver" -- --bind tx --wait 0 4099000002
sleep 2.5
expect 0 "late receiver" -- --wait 10s 4099000003
# A failed bind.
expect 1 "wrong password" -- --password wrong --wait 0 4099000004
# Throttled submits: three at once on a 1/s account.
expect 1 "throttled" -- --system-id slow --password slowpass --wait 0 4099000005 4099000006 4099000007
grep -q ESME_RTHROTTLED "$tmp/send.out" || fail "throttled: no ESME_RTHROTTLED in $(cat "$tmp/send.out")"

# The expiry and the drop are counted once the dispatcher has handled
# them; wait for both (bounded).
for _ in $(seq 1 50); do
	curl -fsS "$metrics" >"$tmp/metrics.txt"
	if grep -Eq '^dlr_expired_total [1-9]' "$tmp/metrics.txt" &&
		grep -Eq '^dlr_dropped_total\{status="ESME_RX_P_APPN"\} [1-9]' "$tmp/metrics.txt"; then
		break
	fi
	sleep 0.1
done
grep -Eq '^dlr_expired_total [1-9]' "$tmp/metrics.txt" || fail "no expired receipt counted after the traffic"
grep -Eq '^dlr_dropped_total\{status="ESME_RX_P_APPN"\} [1-9]' "$tmp/metrics.txt" || fail "no dropped receipt counted after the traffic"

promtool check metrics <"$tmp/metrics.txt"
for name in submit_total hlr_requests_total hlr_lookups_avoided_total hlr_cache_hits_total hlr_cache_misses_total delivrd_total \
	hlr_latency_seconds submit_processing_seconds active_smpp_connections active_tasks redis_connection_pool_size \
	dlr_lost_total dlr_dropped_total dlr_account_pending; do
	grep -q "^${name}[{ _]" "$tmp/metrics.txt" || fail "metric $name missing from /metrics"
done
echo "metrics: $(grep -c '^[a-z]' "$tmp/metrics.txt") samples, promtool ok"

if [ -n "${KEEP_SCRAPE:-}" ]; then
	mkdir -p "$KEEP_SCRAPE"
	cp "$tmp/initial.txt" "$tmp/metrics.txt" "$KEEP_SCRAPE/"
fi
python3 deploy/check_series.py --scrape "$tmp/metrics.txt" --initial "$tmp/initial.txt" \
	--rules deploy/prometheus/alerts.yml --tests deploy/prometheus/alerts_test.yml \
	--dashboard deploy/grafana/dashboard.json
