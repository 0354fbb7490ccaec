#!/usr/bin/env bash
# End-to-end throughput of the gateway, each figure paired with the minimal
# SMPP responder measured in the same round on the same machine (the
# ceiling). Prints one line per round and path; see BENCHMARKS.md.
#
#   scripts/bench-e2e.sh [rounds] [seconds]
#
# Environment:
#   LOG_LEVELS  levels the reject path is run at in each round, each paired
#               with the same round's responder (default "WARNING INFO";
#               INFO is the default level, logging one line per submit)
#   PATHS       "all" (default) or "reject": only the reject path rows
#
# The gateway's log stream goes into a pipe read by another process (as
# under a container runtime or a log shipper), not a file.
#
# 127.0.0.1 only; every process it starts is stopped before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-5}
levels=${LOG_LEVELS:-WARNING INFO}
paths=${PATHS:-all}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway
B=$tmp/gw
LOAD=(--sessions 4 --window 64 --duration "${secs}s" --distinct 1000 --quiet --json)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d['$1'])"; }

# start_bg CMD...: runs a server in the background, remembers its pid; its
# output goes into a pipe to a reader process.
start_bg() { "$@" > >(cat >/dev/null) 2>&1 & pids+=($!); }
stop_bg() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

responder() { # $1: --receipts or empty; prints responses/s and receipts/s
	local port; port=$(free_port)
	start_bg "$B" bench --serve-responder --listen "127.0.0.1:$port" $1
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix "$2" $3 >"$tmp/r.json"
	stop_bg
	echo "$(field responses_per_second <"$tmp/r.json") $(field receipts_per_second <"$tmp/r.json")"
}

gateway() { # $1: dest prefix, $2: extra bench flags, rest: env for serve
	local port prefix=$1 flags=$2; shift 2
	port=$(free_port)
	start_bg env SMPP_HOST=127.0.0.1 SMPP_PORT="$port" HLR_PROVIDER=simulator LOG_LEVEL="${LOG_LEVEL:-WARNING}" \
		METRICS_ENABLED=false REDIS_URL= "$@" "$B" serve
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" --count 1000 --distinct 1000 --dest-prefix "$prefix" --wait-receipts --receipt-timeout 10s --quiet >/dev/null # warm the cache; take its receipts
	# A run that misses receipts exits 1; its figures are still printed.
	local t0 t1 hz
	t0=$(cpu_ticks "${pids[-1]}")
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix "$prefix" $flags >"$tmp/g.json" || true
	t1=$(cpu_ticks "${pids[-1]}")
	hz=$(getconf CLK_TCK)
	stop_bg
	# The last figure: the gateway's CPU time per response, in µs (less
	# sensitive to the machine's other load than a rate).
	echo "$(field responses_per_second <"$tmp/g.json") $(field receipts_per_second <"$tmp/g.json") $(field unanswered <"$tmp/g.json") $(python3 -c "import json,sys; d=json.load(sys.stdin); r=d.get('receipts') or {}; print(r.get('missing', '-'))" <"$tmp/g.json") $(python3 -c "import json,sys; d=json.load(sys.stdin); print(f'{($t1-$t0)/$hz/max(d[\"responses\"],1)*1e6:.2f}')" <"$tmp/g.json")"
}

# cpu_ticks PID: user + system CPU of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

printf '%-6s %-28s %12s %12s %8s %14s\n' round path gateway/s responder/s ratio 'gw CPU µs/resp' 
for r in $(seq 1 "$rounds"); do
	read -r resp _ < <(responder "" 1999 "")
	for lvl in $levels; do
		read -r gw _ unans _ cpu < <(LOG_LEVEL=$lvl gateway 1999 "")
		printf '%-6s %-28s %12.0f %12.0f %8s %14s\n' "$r" "reject (cache hits) $lvl" "$gw" "$resp" "$(ratio "$gw" "$resp")" "$cpu"
	done
	[ "$paths" = reject ] && continue
	read -r _ rresp_rc < <(responder --receipts 4099 "--wait-receipts --receipt-timeout 30s")
	read -r gwr gwrc unans missing < <(gateway 4099 "--wait-receipts --receipt-timeout 30s" DLR_DELAY_SECONDS=0.1)
	printf '%-6s %-28s %12.0f %12.0f %8s   (missing receipts: %s, unanswered: %s)\n' "$r" "accept + receipt (receipts)" "$gwrc" "$rresp_rc" "$(ratio "$gwrc" "$rresp_rc")" "$missing" "$unans"
done
[ "$paths" = reject ] && exit 0
read -r miss _ _ < <(gateway 1999 "--distinct 1000000" SIMULATOR_LATENCY_MS=50 HLR_CACHE_TTL_SECONDS=0)
printf '%-6s %-28s %12.0f %12s %8s\n' "-" "cache miss, 50 ms HLR" "$miss" "5120 ideal" "$(ratio "$miss" 5120)"
