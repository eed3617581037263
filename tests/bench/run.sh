#!/usr/bin/env bash
#
# run.sh - runs the benchmark (bench.c) against a real batond on loopback,
# with certificates and nodes made for the run (the integration harness,
# tests/integration/lib.sh, does the set-up and stops everything by PID).
#
#   BATON_BIN=build bash tests/bench/run.sh [bench options]
#
# bench options (defaults): --senders 4 --count 5000 --size 0 (the
# example handover as it is; S > 0 pads or trims it to S packed bytes)
# --receivers 1 --window 64 --credit 256 --rate 0 (closed loop) --seconds 300.
# Senders are nodes bs1..bsN (role provider), receivers br1..brR (role
# cmht). The broker runs with the LD_PRELOAD shim that counts its
# fdatasync calls (commits). Environment:
#   BENCH_BROKER_ARGS  extra batond options (e.g. "--max-unacked 256")
#   BENCH_PERF=FILE    also `perf record -g` the broker into FILE during
#                      the run, then print `perf report --no-children` top
#   BENCH_BROKER_WRAP  a command the broker runs under, e.g. "valgrind
#                      --tool=callgrind --callgrind-out-file=/tmp/cg.out"
#                      (instruction counts do not move with the machine's
#                      load, as seconds do); the wrapper must exec batond
# --idle K holds K sessions and prints the broker's memory per session;
# --offline queues everything for receivers that never connect. The data
# directory's size (du) before and after the run is printed too.
# Prints the figures; speed is never asserted (exit 1 only if not every
# handover was receipted OK and delivered).
# shellcheck source=../integration/lib.sh disable=SC2119
BATON_TEST_TIMEOUT=${BATON_TEST_TIMEOUT:-900}
source "$(dirname "$0")/../integration/lib.sh"

senders=4 receivers=1
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case ${args[i]} in
  --senders) senders=${args[i + 1]} ;;
  --receivers) receivers=${args[i + 1]} ;;
  esac
done
[[ "$senders" =~ ^[0-9]+$ && "$receivers" =~ ^[0-9]+$ ]] ||
  fail "--senders and --receivers take numbers"

make_pki
for ((i = 1; i <= senders; i++)); do
  issue_node_cert "bs$i"
  add_node "bs$i" provider "Bench sender $i"
done
for ((i = 1; i <= receivers; i++)); do
  issue_node_cert "br$i"
  add_node "br$i" cmht "Bench receiver $i"
done

SYNC_FILE=$T/syncs
shim=$BATON_BIN/tests/bench/libbench_synccount.so
[[ -f "$shim" ]] || fail "$shim not built"
# A sanitizer runtime must come first in the library list, so the shim goes
# after whatever is preloaded already and, in an ASan build, after libasan.
asan_rt=$(ldd "$BATOND" 2>/dev/null | awk '/libasan/ { print $3; exit }')
preload=${LD_PRELOAD:-}
[[ -z "$asan_rt" || "$preload" == *libasan* ]] || preload=$asan_rt${preload:+:$preload}
preload=${preload:+$preload:}$shim
if [[ -n "${BENCH_BROKER_WRAP:-}" ]]; then
  # exec keeps the pid, so the bench's /proc figures and stop_broker work
  printf '#!/bin/sh\nexec %s %q "$@"\n' "$BENCH_BROKER_WRAP" "$BATOND" >"$T/batond-wrap"
  chmod +x "$T/batond-wrap"
  BATOND=$T/batond-wrap
fi
# shellcheck disable=SC2086 # BENCH_BROKER_ARGS is a list of options
LD_PRELOAD=$preload BENCH_SYNC_FILE=$SYNC_FILE start_broker \
  --max-connections 4096 --max-per-node 64 ${BENCH_BROKER_ARGS:-}
wait_for "the sync counter" 10 test -s "$SYNC_FILE"

perf_pid=
if [[ -n "${BENCH_PERF:-}" ]]; then
  command -v perf >/dev/null || fail "BENCH_PERF needs perf (Debian linux-perf)"
  spawn "$T/perf.out" "$T/perf.err" perf record -g -o "$BENCH_PERF" -p "$BROKER_PID"
  perf_pid=$SPAWN_PID
fi

store_kb() { du -sk "$DATA_DIR" | cut -f1; }
store0=$(store_kb)
rc=0
"$BATON_BIN/tests/bench/bench" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
  --certs "$NODE_DIR" --json "$EXAMPLE_HANDOVER" --broker-pid "$BROKER_PID" \
  --sync-file "$SYNC_FILE" "$@" || rc=$?

if [[ -n "$perf_pid" ]]; then
  kill -INT "$perf_pid"
  wait_pid "$perf_pid" 30
  perf report -i "$BENCH_PERF" --stdio --no-children -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | head -40 || true
fi
store1=$(store_kb)
echo "store: data directory $store0 -> $store1 KiB (du)"
echo "BENCHS store0_kb=$store0 store1_kb=$store1"
((rc == 0)) || fail "benchmark run: not every handover was receipted and delivered"
stop_broker
