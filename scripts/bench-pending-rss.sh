#!/usr/bin/env bash
# Resident memory of a gateway holding many pending receipts in its memory
# queue (no Redis): submits COUNT accepted messages (simulator, invalid
# numbers are accepted) with a receipt delay so long that none is due and
# no receiver bound, then reads VmRSS and VmHWM of the serving process.
# See BENCHMARKS.md, "Memory per pending receipt".
#
#   scripts/bench-pending-rss.sh [count]      (default 1000000)
#
# Environment:
#   GW_BIN     a gateway binary to measure instead of building this tree
#   DISTINCT   distinct destinations, cycled (default 1000: the HLR cache stays
#              small, so the figure is the queue's; each receipt keeps its own copy)
#
# 127.0.0.1 only; the gateway it starts is stopped before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
distinct=${DISTINCT:-1000}
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
B=${GW_BIN:-}
if [ -z "$B" ]; then
	go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway
	B=$tmp/gw
fi

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
env SMPP_HOST=127.0.0.1 SMPP_PORT="$port" HLR_PROVIDER=simulator LOG_LEVEL=WARNING METRICS_ENABLED=false \
	REDIS_URL= DLR_DELAY_SECONDS=86400 DLR_TTL_SECONDS=172800 DLR_MAX_PENDING_PER_ACCOUNT=$((count * 2)) \
	"$B" serve >"$tmp/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done

rss() { awk -v k="$1:" '$1 == k {print int($2 / 1024)}' "/proc/$pid/status"; }
echo "idle: VmRSS $(rss VmRSS) MB"
"$B" bench --addr "127.0.0.1:$port" --count "$count" --distinct "$distinct" --dest-prefix 4099 \
	--sessions 4 --window 64 --quiet --json >"$tmp/bench.json"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print('submitted', d['sent'], 'statuses', [(s['name'], s['count']) for s in d['by_status']], f\"in {d['elapsed_seconds']:.0f} s\")" "$tmp/bench.json"
echo "after $count submits: VmRSS $(rss VmRSS) MB, VmHWM $(rss VmHWM) MB"
sleep 10 # a sweep or two; the figure a long-running process shows
echo "10 s later: VmRSS $(rss VmRSS) MB, VmHWM $(rss VmHWM) MB"
