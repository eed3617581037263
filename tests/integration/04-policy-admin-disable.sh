#!/usr/bin/env bash
#
# 04-policy-admin-disable: `batonctl node disable`, run while the broker
# runs, closes the node's live session within seconds (NODE_DISABLED) and
# refuses its new connections; other nodes are untouched; `node enable`
# lets the same certificate in again. No broker restart or reload.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

baton_as cmht recv --wait 30 >"$T/recv.out" 2>"$T/recv.err" &
recv_pid=$!
_pids+=("$recv_pid")
wait_for "cmht's session" 15 grep -q 'node=cmht role=cmht hello' "$BROKER_LOG"

baton_as gp recv --wait 30 >"$T/gp-recv.out" 2>"$T/gp-recv.err" &
gp_pid=$!
_pids+=("$gp_pid")
wait_for "gp's session" 15 grep -q 'node=gp role=gp hello' "$BROKER_LOG"

run "$BATONCTL" node disable --data "$DATA_DIR" --node cmht
assert_rc 0 "batonctl node disable"
assert_eq "node 'cmht': disabled" "$RUN_OUT" "node disable output"
run "$BATONCTL" node list --data "$DATA_DIR" --json
assert_rc 0 "batonctl node list"
assert_eq false "$(printf '%s\n' "$RUN_OUT" | jq -r 'select(.node == "cmht") | .enabled')" \
  "cmht enabled after disable"

# The broker re-checks live sessions every 2 s: well within 10 s.
_await_exit "$recv_pid" 10
assert_eq 2 "$_exit_rc" "exit status of cmht's recv after disable"
assert_contains "$(cat "$T/recv.err")" "NODE_DISABLED" "recv's error names the code"
grep -q 'node=cmht .*closing code=NODE_DISABLED' "$BROKER_LOG" ||
  fail "broker log does not say why cmht's session was closed"

# A new connection is refused with NODE_DISABLED.
run baton_as cmht recv --wait 1
assert_rc 2 "recv as a disabled node"
assert_contains "$RUN_ERR" "NODE_DISABLED" "refusal names the code"
assert_eq "" "$RUN_OUT" "stdout of a refused connection"

# gp never noticed.
kill -0 "$gp_pid" 2>/dev/null || fail "gp's session was closed when cmht was disabled"
assert_broker_alive

# Disabling twice is harmless and says so; an unknown node is an error.
run "$BATONCTL" node disable --data "$DATA_DIR" --node cmht
assert_rc 0 "second disable"
assert_contains "$RUN_OUT" "already disabled" "second disable output"
run "$BATONCTL" node disable --data "$DATA_DIR" --node nobody
assert_rc 1 "disable of an unknown node"
assert_contains "$RUN_ERR" "no node 'nobody' in the registry" "unknown node error"

# Enabled again: the same certificate works, no restart.
run "$BATONCTL" node enable --data "$DATA_DIR" --node cmht
assert_rc 0 "batonctl node enable"
assert_eq "node 'cmht': enabled" "$RUN_OUT" "node enable output"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id disable-1
assert_rc 0 "send to cmht after enable"
assert_json code OK
recv_all cmht
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to cmht after enable"
assert_json message_id disable-1

# Each change (not the no-op second disable) is in the audit log, by
# batonctl, in order.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event node_changed
assert_rc 0 "batonctl audit export"
assert_eq '["added role=cmht","disabled","enabled"]' \
  "$(printf '%s\n' "$RUN_OUT" | jq -sc '[.[] | select(.other == "cmht" and .actor == "batonctl") | .reason | sub(" uid=.*$"; "")]')" \
  "audited changes to cmht"
stop_broker
