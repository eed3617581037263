#!/usr/bin/env bash
#
# 02-submit-pipelined-poll: a C program (tests/fault/pipeline) drives
# libbaton's event-loop API with poll(2) over two connections at once:
# provider submits 600 handovers (window 32; built structs, packed bytes and
# JSON in turn) while cmht receives and acks them in the same loop. Every
# receipt is accepted and matched to its submit exactly once, every
# delivery is one of them exactly once, every ack is answered OK; a
# blocking call amid the pipelined ones keeps their receipts, and local
# refusals (an id already outstanding, bytes that are no handover) leave
# the connection usable. Afterwards nothing is queued for cmht and the
# broker's history of a handover shows it acknowledged.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

PIPELINE=$BATON_BIN/tests/fault/pipeline
[[ -x "$PIPELINE" ]] || fail "$PIPELINE not built"

setup_four_nodes
start_broker

run "$PIPELINE" "$BROKER_ADDR" "$CA_DIR/ca.crt" \
  "$NODE_DIR/provider.crt" "$NODE_DIR/provider.key" \
  "$NODE_DIR/cmht.crt" "$NODE_DIR/cmht.key" \
  cmht "$EXAMPLE_HANDOVER" poll 600 32
assert_rc 0 "pipeline"
assert_eq "receipts=600 deliveries=600 acks=600" "$RUN_OUT" "pipeline summary"

assert_queue_empty cmht
run baton_as provider status poll-599 --json
assert_rc 0 "status of poll-599"
assert_contains "$(status_events)" "acknowledged" "poll-599's history"

assert_broker_alive
stop_broker
