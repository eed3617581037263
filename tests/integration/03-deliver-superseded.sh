#!/usr/bin/env bash
#
# 03-deliver-superseded (docs/limits.md, "One receiver per node"): a node
# has one receiving session. A newer session of the same node that sends
# Pull takes over, and the older one is closed with SUPERSEDED, so a
# half-open old connection cannot hold the node's deliveries hostage.
#  - cmht's first `baton recv` receives and acks sup-1;
#  - a second `baton recv` of cmht starts: the first is closed with an
#    Error SUPERSEDED ("a newer session of node 'cmht' is now receiving"),
#    exits 2 saying so, and the broker logs it;
#  - sup-2, sent after the takeover, goes to the second session, and sup-1
#    (acked) is not delivered again;
#  - another node's receiver is not affected: gp's session stays open.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# received NAME ID: background receiver NAME has printed handover ID.
received() {
  jq -e --arg id "$2" 'select(.message_id == $id)' "$T/$1.out" >/dev/null 2>&1
}

# gp's receiver, to show a takeover touches only the node concerned.
spawn "$T/gp.out" "$T/gp.err" baton_as gp recv --wait 30
gp_pid=$SPAWN_PID

spawn "$T/first.out" "$T/first.err" baton_as cmht recv --wait 30
first_pid=$SPAWN_PID
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id sup-1
assert_rc 0 "send sup-1"
assert_json code OK
wait_for "the first receiver to get sup-1" 15 received first sup-1
wait_for "the first receiver's ack of sup-1" 15 \
  grep -q 'node=cmht ack id=provider/sup-1 ' "$BROKER_LOG"
before=$(count_in_log 'closing code=SUPERSEDED')
assert_eq 0 "$before" "SUPERSEDED closes before the second receiver"

spawn "$T/second.out" "$T/second.err" baton_as cmht recv --wait 30 --max 1
second_pid=$SPAWN_PID
wait_pid "$first_pid" 15
log "first receiver exited $WAIT_RC: $(tail -n 1 "$T/first.err")"
assert_eq 2 "$WAIT_RC" "exit status of the superseded receiver (connection closed)"
assert_contains "$(cat "$T/first.err")" "SUPERSEDED: a newer session of node 'cmht' is now receiving" \
  "the superseded receiver's message"
assert_eq 1 "$(count_in_log "node=cmht peer=.* closing code=SUPERSEDED reason=\"a newer session of node 'cmht' is now receiving\"")" \
  "SUPERSEDED closes in the broker log"
assert_eq 1 "$(count_lines "$(cat "$T/first.out")")" "items the first receiver printed"

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id sup-2
assert_rc 0 "send sup-2"
assert_json code OK
wait_pid "$second_pid" 20
[[ "$WAIT_RC" = 0 ]] || fail "the second receiver exited $WAIT_RC: $(tail -n 3 "$T/second.err")"
assert_eq sup-2 "$(jq -r .message_id "$T/second.out")" "what the second receiver got"

kill -0 "$gp_pid" 2>/dev/null || fail "gp's receiver ended when cmht's was superseded"
assert_eq 0 "$(count_in_log 'node=gp peer=.* closing code=')" "gp sessions closed by the broker"
assert_queue_empty cmht
assert_broker_alive
stop_broker
