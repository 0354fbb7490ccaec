#!/usr/bin/env bash
# Garbage collections and the gateway's CPU per message on the reject path
# (cache hits, LOG_LEVEL=WARNING, no Redis), with GC_HEADROOM_MB off (0) and
# at its default (unset), alternating: the collections per 1,000,000 submits come
# from go_gc_duration_seconds_count on /metrics, the CPU from
# /proc/<pid>/stat. The number of collections depends on what is allocated,
# not on the machine's other load. See BENCHMARKS.md.
#
#   scripts/bench-gc.sh [pairs] [messages]     (default 3 pairs, 1000000)
#
# 127.0.0.1 only; every process it starts is stopped before it exits.
set -euo pipefail
cd "$(dirname "$0")/.."
pairs=${1:-3}
count=${2:-1000000}
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
go build -o "$tmp/gw" ./cmd/smpp-hlr-gateway
B=$tmp/gw

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
metric() { curl -s "127.0.0.1:$mport/metrics" | awk -v k="$1" '$1==k{print $2}'; }
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }

# run HEADROOM: prints one line for a gateway with GC_HEADROOM_MB=HEADROOM
# (empty: the default).
run() {
	local port; port=$(free_port); mport=$(free_port)
	env SMPP_HOST=127.0.0.1 SMPP_PORT="$port" HLR_PROVIDER=simulator LOG_LEVEL=WARNING REDIS_URL= \
		METRICS_HOST=127.0.0.1 METRICS_PORT="$mport" GC_HEADROOM_MB="$1" "$B" serve >/dev/null 2>&1 &
	pid=$!
	wait_port "$port"
	"$B" bench --addr "127.0.0.1:$port" --count 1000 --distinct 1000 --dest-prefix 1999 --quiet >/dev/null # warm the cache
	sleep 1.2 # the tuner's first adjustments
	local c0 t0 c1 t1 gogc
	c0=$(metric go_gc_duration_seconds_count); t0=$(ticks)
	"$B" bench --addr "127.0.0.1:$port" --count "$count" --sessions 4 --window 64 --distinct 1000 --dest-prefix 1999 --quiet >/dev/null
	c1=$(metric go_gc_duration_seconds_count); t1=$(ticks); gogc=$(metric go_gc_gogc_percent)
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	printf '%-16s %6s %14s %14s\n' "${1:-default}" "$gogc" "$(python3 -c "print(round(($c1-$c0)*1e6/$count))")" \
		"$(python3 -c "print(f'{($t1-$t0)/$(getconf CLK_TCK)/$count*1e6:.2f}')")"
}

printf '%-16s %6s %14s %14s\n' GC_HEADROOM_MB GOGC 'GCs per 1M' 'CPU µs/msg'
for _ in $(seq 1 "$pairs"); do
	run 0
	run ""
done
