#!/usr/bin/env bash
# Accept + receipt with Redis-backed receipts, paired with the minimal SMPP
# responder that sends receipts, measured in the same round (the ceiling),
# plus Redis's CPU per receipt (INFO cpu used_cpu_sys + used_cpu_user over
# the gateway's run, divided by the receipts it delivered). It starts its
# own redis-server (no persistence) on a free port so nothing else using
# Redis disturbs the figures. It also prints the gateway's own CPU per
# receipt (/proc/<pid>/stat over the same run) and the machine's idle CPU
# during it (/proc/stat, in cores): idle CPU with the rate capped says the
# path is bound by latency (a window's worth in flight), not by CPU. See
# BENCHMARKS.md.
#
#   scripts/bench-redis.sh [rounds] [seconds]
#   WINDOW=256 scripts/bench-redis.sh 3 5   # another window per session (default 64)
#   GW_LOG_LEVEL=INFO scripts/bench-redis.sh 3 5   # the gateway's log level (default WARNING)
#   MEMORY=1 scripts/bench-redis.sh 3 5   # also the memory queue (no Redis) in each round
#
# 127.0.0.1 only; every process it starts is stopped before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-5}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
# GW_BIN: measure that binary instead of building this tree (before/after).
if [ -n "${GW_BIN:-}" ]; then B=$GW_BIN; else go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway; B=$tmp/gw; fi
LOAD=(--sessions 4 --window "${WINDOW:-64}" --duration "${secs}s" --distinct 1000 --quiet --json)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$1'])"; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --dir "$tmp" >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_port "$rport"
rcli() { redis-cli -p "$rport" "$@"; }
hz=$(getconf CLK_TCK)
proc_cpu() { awk -v hz="$hz" '{print ($14 + $15) / hz}' "/proc/$1/stat"; } # user + system, seconds
idle_cpu() { awk -v hz="$hz" '/^cpu / {print ($5 + $6) / hz; exit}' /proc/stat; } # idle + iowait, seconds
redis_cpu() { rcli info cpu | python3 -c "import sys; d=dict(l.strip().split(':',1) for l in sys.stdin if ':' in l); print(float(d['used_cpu_sys'])+float(d['used_cpu_user']))"; }

start_bg() { "$@" >"$tmp/server.log" 2>&1 & pids+=($!); }
stop_bg() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

responder() {
	local port; port=$(free_port)
	start_bg "$B" bench --serve-responder --listen "127.0.0.1:$port" --receipts
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix 4099 --wait-receipts --receipt-timeout 30s >"$tmp/r.json"
	stop_bg
	field receipts_per_second <"$tmp/r.json"
}

gateway() { # prints receipts/s, responses/s, missing, Redis and gateway µs per receipt, idle cores
	local port; port=$(free_port)
	rcli flushall >/dev/null
	start_bg env SMPP_HOST=127.0.0.1 SMPP_PORT="$port" HLR_PROVIDER=simulator LOG_LEVEL="${GW_LOG_LEVEL:-WARNING}" \
		METRICS_ENABLED=false REDIS_URL="redis://127.0.0.1:$rport/0" REDIS_MAX_CONNECTIONS=64 \
		DLR_DELAY_SECONDS=0.1 "$B" serve
	local gpid=${pids[-1]}
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" --count 1000 --distinct 1000 --dest-prefix 4099 --wait-receipts --receipt-timeout 10s --quiet >/dev/null
	local c0 g0 i0 t0; c0=$(redis_cpu); g0=$(proc_cpu "$gpid"); i0=$(idle_cpu); t0=$(date +%s.%N)
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix 4099 --wait-receipts --receipt-timeout 30s >"$tmp/g.json" || true
	local c1 g1 i1 t1; c1=$(redis_cpu); g1=$(proc_cpu "$gpid"); i1=$(idle_cpu); t1=$(date +%s.%N)
	stop_bg
	python3 - "$tmp/g.json" "$c0" "$c1" "$g0" "$g1" "$i0" "$i1" "$t0" "$t1" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
rc = d.get("receipts") or {}
n = rc.get("received") or rc.get("matched") or d.get("receipts_received", 0)
c0, c1, g0, g1, i0, i1, t0, t1 = map(float, sys.argv[2:10])
us = (c1 - c0) * 1e6 / n if n else float("nan")
gus = (g1 - g0) * 1e6 / n if n else float("nan")
print(d["receipts_per_second"], d["responses_per_second"], rc.get("missing", "-"), f"{us:.1f}", f"{gus:.1f}", f"{(i1 - i0) / (t1 - t0):.2f}")
PY
}

memory() { # the same gateway and load with the memory queue (no Redis): receipts/s
	local port; port=$(free_port)
	start_bg env SMPP_HOST=127.0.0.1 SMPP_PORT="$port" HLR_PROVIDER=simulator LOG_LEVEL="${GW_LOG_LEVEL:-WARNING}" \
		METRICS_ENABLED=false DLR_DELAY_SECONDS=0.1 "$B" serve
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" --count 1000 --distinct 1000 --dest-prefix 4099 --wait-receipts --receipt-timeout 10s --quiet >/dev/null
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix 4099 --wait-receipts --receipt-timeout 30s >"$tmp/m.json" || true
	stop_bg
	field receipts_per_second <"$tmp/m.json"
}

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

# MEMORY=1 also runs the gateway on the memory queue in each round: what
# Redis costs, against the same ceiling.
if [ -n "${MEMORY:-}" ]; then
	printf '%-6s %14s %14s %8s %14s %8s %14s %14s %10s %10s\n' round gateway/s responder/s ratio memory-q/s ratio redis-us/rcpt gw-us/rcpt idle-cores missing
else
	printf '%-6s %14s %14s %8s %14s %14s %10s %10s\n' round gateway/s responder/s ratio redis-us/rcpt gw-us/rcpt idle-cores missing
fi
for r in $(seq 1 "$rounds"); do
	resp=$(responder)
	read -r gw _ missing us gus idle < <(gateway)
	if [ -n "${MEMORY:-}" ]; then
		mem=$(memory)
		printf '%-6s %14.0f %14.0f %8s %14.0f %8s %14s %14s %10s %10s\n' "$r" "$gw" "$resp" "$(ratio "$gw" "$resp")" "$mem" "$(ratio "$mem" "$resp")" "$us" "$gus" "$idle" "$missing"
	else
		printf '%-6s %14.0f %14.0f %8s %14s %14s %10s %10s\n' "$r" "$gw" "$resp" "$(ratio "$gw" "$resp")" "$us" "$gus" "$idle" "$missing"
	fi
done
