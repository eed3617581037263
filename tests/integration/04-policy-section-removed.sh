#!/usr/bin/env bash
#
# 04-policy-section-removed: the policy in force at delivery time applies
# on every path. Two handovers are queued for cmht; one has already been
# delivered once (not acked). Then safeguarding is removed from cmht's
# sections and the broker reloaded (SIGHUP): the redelivery and the first
# delivery both withhold safeguarding; after a restart still so. A policy
# with an error is refused at reload with file:line, and the one in force
# stays.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
cp "$BATON_SRC/deploy/policy.conf" "$T/policy.conf"
BROKER_POLICY=$T/policy.conf
start_broker

for id in removed-1 removed-2; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
  assert_rc 0 "send $id"
done
# removed-1 is delivered once, whole, and not acked
run baton_as cmht recv --wait 10 --max 1 --no-ack
assert_rc 0 "first recv"
assert_json message_id removed-1
assert_json '.withheld | length' 0

# cmht may no longer receive safeguarding
awk '
  $1 == "role" { cur = $2 }
  cur == "cmht" && $1 == "receive" {
    print "    receive subject risk_summary crisis_plan contacts support_plan medication_and_physical_health transition"
    next
  }
  { print }
' "$BATON_SRC/deploy/policy.conf" >"$T/policy.conf"
kill -HUP "$BROKER_PID"
wait_for "policy reload" 10 grep -q "reload: policy" "$BROKER_LOG"

RECV_WAIT=3 recv_all cmht --no-ack
assert_eq 2 "$(count_lines "$RUN_OUT")" "deliveries after the reload"
while read -r line; do
  assert_json '.withheld | join(",")' safeguarding "$line"
  assert_json '.handover.safeguarding' null "$line"
  assert_json '.handover.risk_summary.level' RISK_LEVEL_HIGH "$line"
done <<<"$RUN_OUT"
assert_eq 2 "$(printf '%s\n' "$RUN_OUT" |
  jq -r 'select(.message_id == "removed-1") | .attempt')" "attempt of the redelivery"

# after a restart the same policy applies to the redelivery
stop_broker
start_broker
RECV_WAIT=3 recv_all cmht
assert_eq 2 "$(count_lines "$RUN_OUT")" "deliveries after restart"
while read -r line; do
  assert_json '.withheld | join(",")' safeguarding "$line"
done <<<"$RUN_OUT"

# a broken policy is refused at reload with file and line; the old stays
printf 'role cmht\n    receive everything\n' >"$T/policy.conf"
kill -HUP "$BROKER_PID"
wait_for "refused reload" 10 grep -q "policy not changed" "$BROKER_LOG"
grep -q "policy.conf:2: 'everything' is not a dataset section" "$BROKER_LOG" ||
  fail "the reload error does not name file, line and reason"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id removed-3
assert_rc 0 "send after a refused reload"
RECV_WAIT=3 recv_all cmht
assert_json '.withheld | join(",")' safeguarding
stop_broker
