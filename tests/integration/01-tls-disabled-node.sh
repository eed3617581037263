#!/usr/bin/env bash
#
# 01-tls-disabled-node: a registered node disabled with batonctl (while the
# broker runs) is refused with NODE_DISABLED, sends nothing and receives
# nothing; enabled again, the same certificate works and what was queued
# for it meanwhile is delivered.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

ctl "node disable cmht" node disable --data "$DATA_DIR" --node cmht

run baton_as cmht recv --wait 1
assert_rc 2 "recv as a disabled node"
assert_contains "$RUN_ERR" "NODE_DISABLED" "error names the code"
assert_eq "" "$RUN_OUT" "stdout of a refused connection"

run baton_as cmht send --to gp --json "$EXAMPLE_HANDOVER" --id disabled-1
assert_rc 2 "send from a disabled node"
assert_contains "$RUN_ERR" "NODE_DISABLED" "error names the code"

# A disabled node is no recipient either.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id to-disabled-1
assert_rc 3 "send to a disabled node"
assert_json code UNKNOWN_RECIPIENT
assert_broker_alive
assert_queue_empty gp

ctl "node enable cmht" node enable --data "$DATA_DIR" --node cmht
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id to-enabled-1
assert_rc 0 "send to the node enabled again"
assert_json code OK
RECV_WAIT=5 recv_all cmht --max 1
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to cmht"
assert_json message_id to-enabled-1
stop_broker
