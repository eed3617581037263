#!/usr/bin/env bash
#
# run.sh - runs the benchmark against a real batond on loopback, with
# certificates made for the run (the integration harness does the set-up).
#   BATON_BIN=build bash tests/bench/run.sh [SENDERS] [COUNT]
# Prints the figures; speed is never asserted. BENCH_SENDERS/BENCH_COUNT
# also work; ctest runs a small smoke run to keep it building and working.
# shellcheck source=../integration/lib.sh disable=SC2119
BATON_TEST_TIMEOUT=${BATON_TEST_TIMEOUT:-900}
source "$(dirname "$0")/../integration/lib.sh"

senders=${1:-${BENCH_SENDERS:-4}}
count=${2:-${BENCH_COUNT:-500}}
setup_four_nodes
start_broker
"$BATON_BIN/tests/bench/bench" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
  --sender-cert "$NODE_DIR/provider.crt" --sender-key "$NODE_DIR/provider.key" \
  --recipient-cert "$NODE_DIR/cmht.crt" --recipient-key "$NODE_DIR/cmht.key" \
  --to cmht --json "$EXAMPLE_HANDOVER" --senders "$senders" --count "$count" ||
  fail "benchmark run failed"
stop_broker
