#!/usr/bin/env bash
#
# 05-lifecycle-decide-noack: a decision acknowledges the handover it is
# about, so it frees that delivery's slot. With --max-unacked 1, a partner
# system that accepts each handover on one session without ever sending an
# Ack still receives all three; each ends accepted.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker --max-unacked 1
for i in 1 2 3; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id noack-$i
  assert_rc 0 "send noack-$i"
done

run "$BATON_BIN/tests/fault/decider" "$BROKER_ADDR" "$CA_DIR/ca.crt" \
  "$NODE_DIR/cmht.crt" "$NODE_DIR/cmht.key" 3 10
assert_rc 0 "decider accepted all three on one session without acks"
assert_eq "noack-1 noack-2 noack-3" "$(paste -sd' ' - <<<"$RUN_OUT")" \
  "accepted in queue order"
for i in 1 2 3; do
  run baton_as provider status noack-$i --json
  assert_json state accepted
done
assert_queue_empty cmht
stop_broker
