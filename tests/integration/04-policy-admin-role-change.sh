#!/usr/bin/env bash
#
# 04-policy-admin-role-change: `batonctl node set-role`, run while the
# broker runs and handovers are queued, changes what the node is given on
# its next delivery: cmht, now housing, gets its queued handovers (a
# redelivery and a first delivery) without risk_summary, safeguarding and
# medication_and_physical_health, each listed in "withheld". New
# submissions to it are routed under the new role too. No restart.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

WITHHELD='["medication_and_physical_health","risk_summary","safeguarding"]'
KEPT='["contacts","crisis_plan","subject","support_plan","transition"]'

# check_redacted LINE WHAT: one delivery as housing must see: the kept
# sections exactly as sent, the withheld ones absent and listed.
check_redacted() {
  local line=$1 what=$2 h
  assert_eq "$WITHHELD" "$(json_get '.withheld | sort | tojson' "$line")" "$what: withheld"
  h=$(json_get '.handover' "$line")
  assert_eq "$KEPT" "$(json_get '. | keys | tojson' "$h")" "$what: sections delivered"
  same_handover <(jq 'del(.risk_summary, .safeguarding, .medication_and_physical_health)' \
      "$HANDOVER") "$h" "$what: kept sections"
}

setup_four_nodes
start_broker

# provider may send housing referrals but not step-ups: a referral copy
# of the example, for what is sent after the change.
HANDOVER=$EXAMPLE_HANDOVER
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$T/referral.json"

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id role-1
assert_rc 0 "send role-1"
assert_json code OK
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id role-2
assert_rc 0 "send role-2"
assert_json code OK

# As cmht: everything, nothing withheld (role-1 stays unacknowledged).
run baton_as cmht recv --wait 10 --max 1 --no-ack
assert_rc 0 "recv as cmht"
assert_json message_id role-1
assert_json attempt 1
assert_eq 0 "$(json_get '.withheld // [] | length')" "sections withheld from cmht"
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover)" "role-1 as cmht"

run "$BATONCTL" node set-role --data "$DATA_DIR" --node cmht --role housing
assert_rc 0 "batonctl node set-role"
assert_eq "node 'cmht': role cmht -> housing" "$RUN_OUT" "set-role output"

# Redelivery of role-1 and first delivery of role-2, both as housing.
recv_all cmht
assert_eq 2 "$(count_lines "$RUN_OUT")" "deliveries after the role change"
out=$RUN_OUT
line1=$(printf '%s\n' "$out" | sed -n 1p)
line2=$(printf '%s\n' "$out" | sed -n 2p)
assert_json message_id role-1 "$line1"
assert_json attempt 2 "$line1"
check_redacted "$line1" "role-1 redelivered as housing"
assert_json message_id role-2 "$line2"
assert_json attempt 1 "$line2"
check_redacted "$line2" "role-2 delivered as housing"
assert_queue_empty cmht

# A live session picks up new work under the new role too; routing now
# follows housing's policy (step_up refused, referral accepted).
baton_as cmht recv --wait 30 --max 1 >"$T/recv.out" 2>"$T/recv.err" &
recv_pid=$!
_pids+=("$recv_pid")
wait_for "cmht's session" 15 grep -q 'node=cmht role=housing hello' "$BROKER_LOG"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id role-3
assert_rc 3 "step_up to cmht as housing"
assert_contains "$RUN_ERR" "ROUTE_NOT_ALLOWED" "refusal names the code"
HANDOVER=$T/referral.json
run baton_as provider send --to cmht --json "$HANDOVER" --id role-4
assert_rc 0 "referral to cmht as housing"
assert_json code OK
_await_exit "$recv_pid" 20
assert_eq 0 "$_exit_rc" "exit status of the live recv"
line=$(<"$T/recv.out")
assert_json message_id role-4 "$line"
check_redacted "$line" "role-4 delivered live as housing"

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event node_changed
assert_rc 0 "batonctl audit export"
assert_eq '["added role=cmht","role cmht -> housing"]' \
  "$(printf '%s\n' "$RUN_OUT" | jq -sc '[.[] | select(.other == "cmht" and .actor == "batonctl") | .reason | sub(" uid=.*$"; "")]')" \
  "audited changes to cmht"

# The broker was never restarted.
assert_eq 1 "$(grep -c -- '--- start_broker' "$BROKER_LOG")" "broker starts"
stop_broker
