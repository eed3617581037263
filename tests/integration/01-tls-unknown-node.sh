#!/usr/bin/env bash
#
# 01-tls-unknown-node: a valid certificate from the real CA for a node id
# that is not in the registry is refused with UNKNOWN_NODE; registering the
# node (no reissue, no restart) lets the same certificate in.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
issue_node_cert stranger
start_broker

run baton_as stranger send --to cmht --json "$EXAMPLE_HANDOVER" --id unknown-node-1
assert_rc 2 "send from a node not in the registry"
assert_contains "$RUN_ERR" "baton:" "error on stderr"
assert_contains "$RUN_ERR" "UNKNOWN_NODE" "error names the code"
assert_eq "" "$RUN_OUT" "stdout of a refused connection"

run baton_as stranger recv --wait 1
assert_rc 2 "recv from a node not in the registry"
assert_contains "$RUN_ERR" "UNKNOWN_NODE" "recv error names the code"

assert_broker_alive
assert_queue_empty cmht

# Roles live in the registry: adding the node while the broker runs is
# enough for the same certificate.
add_node stranger provider "Late Joiner Trust"
run baton_as stranger send --to cmht --json "$EXAMPLE_HANDOVER" --id unknown-node-2
assert_rc 0 "send after the node was registered"
assert_json code OK
stop_broker
