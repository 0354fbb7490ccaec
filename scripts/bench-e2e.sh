#!/usr/bin/env bash
# End-to-end throughput and latency of the gateway, each figure paired with
# the minimal SMPP responder (`bench --serve-responder`, which shares no code
# with the gateway's session layer) measured in the same round on the same
# machine: the ceiling. Prints one line per round and path; see
# BENCHMARKS.md.
#
#   scripts/bench-e2e.sh [rounds] [seconds]
#
# Per round: the responder flat out; the reject path (cache hits, no Redis,
# metrics off) at each of LOG_LEVELS; the reject path in the default
# configuration (LOG_LEVEL=INFO, metrics on, no Redis); p99 submit latency of
# the responder and of the default configuration, both offered half of the
# default configuration's rate of that round (--rate); accept + receipt.
# Once at the end: the cache-miss path.
#
# Environment:
#   LOG_LEVELS     levels the reject path is run at in each round, each paired
#                  with the same round's responder (default "WARNING INFO";
#                  INFO logs one line per submit)
#   PATHS          "all" (default), "reject": only the reject path rows
#                  (the default configuration and the latency row included),
#                  or "accept": only the accept + receipt row
#   RESPONDER_BIN  take the responder from that binary (an older build's,
#                  say) instead of this tree's
#   GATEWAY_BIN    run that gateway binary (an older build's, to compare)
#                  instead of this tree's; the load generator stays this tree's
#   GATEWAY_ENV    more VAR=value settings for every gateway run (space
#                  separated), e.g. GATEWAY_ENV=GC_HEADROOM_MB=0 to compare
#                  with a setting off
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
GB=${GATEWAY_BIN:-$B}
RB=${RESPONDER_BIN:-$B}
LOAD=(--sessions 4 --window 64 --duration "${secs}s" --distinct 1000 --quiet --json)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# fields FILE KEY...: the report's values, nested keys with dots
# (latency_ms.p99), "-" for an absent one.
fields() {
	python3 - "$@" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
out = []
for k in sys.argv[2:]:
    v = d
    for part in k.split("."):
        v = v.get(part) if isinstance(v, dict) else None
    out.append("-" if v is None else str(v))
print(" ".join(out))
PY
}

# start_bg CMD...: runs a server in the background, remembers its pid; its
# output goes into a pipe to a reader process.
start_bg() { "$@" > >(cat >/dev/null) 2>&1 & pids+=($!); }
stop_bg() { kill "${pids[-1]}" 2>/dev/null || true; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]'; }

# responder RECEIPTS PREFIX FLAGS: prints responses/s, receipts/s, p99 ms,
# the responder's CPU µs per response
responder() {
	local port t0 t1; port=$(free_port)
	start_bg "$RB" bench --serve-responder --listen "127.0.0.1:$port" $1
	wait_port "$port"
	t0=$(cpu_ticks "${pids[-1]}")
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix "$2" $3 >"$tmp/r.json"
	t1=$(cpu_ticks "${pids[-1]}")
	stop_bg
	echo "$(fields "$tmp/r.json" responses_per_second receipts_per_second latency_ms.p99) $(cpu_per_response "$t0" "$t1" <"$tmp/r.json")"
}

# gateway PREFIX FLAGS ENV...: serve with the simulator, no Redis, metrics
# off and LOG_LEVEL (default WARNING) unless ENV says otherwise; prints
# responses/s, receipts/s, unanswered, missing receipts, the gateway's CPU
# µs per response, p99 ms.
gateway() {
	local port prefix=$1 flags=$2; shift 2
	port=$(free_port)
	start_bg env SMPP_HOST=127.0.0.1 SMPP_PORT="$port" HLR_PROVIDER=simulator LOG_LEVEL="${LOG_LEVEL:-WARNING}" \
		METRICS_ENABLED=false REDIS_URL= ${GATEWAY_ENV:-} "$@" "$GB" serve
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" --count 1000 --distinct 1000 --dest-prefix "$prefix" --wait-receipts --receipt-timeout 10s --quiet >/dev/null # warm the cache; take its receipts
	# A run that misses receipts exits 1; its figures are still printed.
	local t0 t1
	t0=$(cpu_ticks "${pids[-1]}")
	"$B" bench --addr "127.0.0.1:$port" "${LOAD[@]}" --dest-prefix "$prefix" $flags >"$tmp/g.json" || true
	t1=$(cpu_ticks "${pids[-1]}")
	stop_bg
	# The CPU figure is less sensitive to the machine's other load than a rate.
	echo "$(fields "$tmp/g.json" responses_per_second receipts_per_second unanswered receipts.missing) $(cpu_per_response "$t0" "$t1" <"$tmp/g.json") $(fields "$tmp/g.json" latency_ms.p99)"
}

# default_config FLAGS: the gateway as shipped (LOG_LEVEL=INFO, metrics on,
# no Redis), but for the simulator and 127.0.0.1 ports.
default_config() {
	gateway 1999 "$1" LOG_LEVEL=INFO METRICS_ENABLED=true METRICS_HOST=127.0.0.1 METRICS_PORT="$(free_port)"
}

# cpu_ticks PID: user + system CPU of a process, in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# cpu_per_response T0 T1 < REPORT: the ticks between T0 and T1 in µs per
# response of the report.
cpu_per_response() {
	python3 -c "import json,sys; d=json.load(sys.stdin); print(f'{($2-$1)/$(getconf CLK_TCK)/max(d[\"responses\"],1)*1e6:.2f}')"
}

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }

# CPU µs per response: the gateway's, and the responder's of the round.
row() { printf '%-6s %-34s %12.0f %12.0f %8s %14s\n' "$@"; }

# reject_rows ROUND: the responder, the reject path at each level, the
# default configuration and its p99 at half its rate.
reject_rows() {
	read -r resp _ _ rcpu < <(responder "" 1999 "")
	for lvl in $levels; do
		read -r gw _ _ _ cpu _ < <(LOG_LEVEL=$lvl gateway 1999 "")
		row "$1" "reject (cache hits) $lvl" "$gw" "$resp" "$(ratio "$gw" "$resp")" "$cpu / $rcpu"
	done
	read -r dflt _ _ _ cpu _ < <(default_config "")
	row "$1" "reject, default config (INFO)" "$dflt" "$resp" "$(ratio "$dflt" "$resp")" "$cpu / $rcpu"
	# p99 at half the default configuration's maximum, the same offered
	# rate for both.
	half=$(python3 -c "print(int($dflt/2))")
	read -r _ _ rp99 _ < <(responder "" 1999 "--rate $half")
	read -r _ _ _ _ _ gp99 < <(default_config "--rate $half")
	printf '%-6s %-34s %12s %12s %8s\n' "$1" "p99 ms at $half/s, default config" "$gp99" "$rp99" \
		"$(python3 -c "print(f'{$gp99-$rp99:+.2f}')")"
}

printf '%-6s %-34s %12s %12s %8s %14s\n' round path gateway/s responder/s ratio 'CPU µs/resp'
for r in $(seq 1 "$rounds"); do
	[ "$paths" = accept ] || reject_rows "$r"
	[ "$paths" = reject ] && continue
	# One accepted message, one receipt: the CPU per response is the CPU
	# per message with its receipt.
	read -r _ rresp_rc _ rcpu < <(responder --receipts 4099 "--wait-receipts --receipt-timeout 30s")
	read -r _ gwrc unans missing cpu _ < <(gateway 4099 "--wait-receipts --receipt-timeout 30s" DLR_DELAY_SECONDS=0.1)
	printf '%-6s %-34s %12.0f %12.0f %8s %14s   (missing receipts: %s, unanswered: %s)\n' "$r" "accept + receipt (receipts)" "$gwrc" "$rresp_rc" "$(ratio "$gwrc" "$rresp_rc")" "$cpu / $rcpu" "$missing" "$unans"
done
[ "$paths" = all ] || exit 0
read -r miss _ < <(gateway 1999 "--distinct 1000000" SIMULATOR_LATENCY_MS=50 HLR_CACHE_TTL_SECONDS=0)
printf '%-6s %-34s %12.0f %12s %8s\n' "-" "cache miss, 50 ms HLR" "$miss" "5120 ideal" "$(ratio "$miss" 5120)"
