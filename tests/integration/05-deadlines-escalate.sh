#!/usr/bin/env bash
#
# 05-deadlines-escalate: with `deadline high 5s` and `escalate crisis
# housing`, a HIGH handover that cmht receives but does not decide is
# escalated when its deadline passes, not before: crisis (an escalation
# node) and the provider (the sender) each get exactly one ESCALATED
# notice, and no second one well after the deadline. housing, a second
# escalation node whose role may not see risk_summary, gets one too,
# without the risk level. A HIGH handover accepted in time is never
# escalated. Escalation is a side event: the handover stays with cmht, who
# can still accept it. gp hears nothing. The audit log records exactly one
# escalation, after the lifecycle so far.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

DEADLINE_MS=5000	# long enough to accept in time under ASan

# audit_export ID: sets AUDIT_JSONL to the audit log's records about
# message ID, as JSON Lines in log order.
AUDIT_JSONL=

# submitted_ms ID: when the broker took ID, from its status (sender's view).
submitted_ms() {
  run baton_as provider status "$1" --json
  assert_rc 0 "status of $1"
  json_get '.events[0].at_ms'
}

BROKER_POLICY=$T/policy.conf
sed 's/^deadline high 4h$/deadline high 5s/;
  s/^escalate crisis$/escalate crisis housing/' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^deadline high 5s$' "$BROKER_POLICY" ||
  fail "could not shorten the high deadline in the policy copy"
grep -q '^escalate crisis housing$' "$BROKER_POLICY" ||
  fail "could not add housing to the escalation nodes in the policy copy"

setup_four_nodes
issue_node_cert housing
add_node housing housing "Sampleton Housing Options"
start_broker

[[ $(jq -r .risk_summary.level "$EXAMPLE_HANDOVER") == RISK_LEVEL_HIGH ]] ||
  fail "the example handover is not HIGH risk"

# Accepted in time: sent, received and accepted well inside the deadline.
ok="deadline-esc-ok"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$ok"
assert_rc 0 "send $ok"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv $ok"
assert_json message_id "$ok"
run baton_as cmht accept "provider/$ok"
assert_rc 0 "accept $ok"
ok_ms=$(submitted_ms "$ok")
run baton_as cmht status "provider/$ok" --json
accepted_ms=$(json_get '.events[-1].at_ms')
((accepted_ms - ok_ms < DEADLINE_MS)) ||
  fail "test too slow: $ok accepted $((accepted_ms - ok_ms)) ms after submit"

# Left undecided: received and acked by cmht, then nothing.
late="deadline-esc-late"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$late"
assert_rc 0 "send $late"
late_ms=$(submitted_ms "$late")
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv $late"
assert_json message_id "$late"

# crisis hears of it once the deadline has passed.
recv_until crisis '.kind == "NOTICE_KIND_ESCALATED"' 20
n=$(tail -n 1 "$T/crisis.items")
assert_json type notice "$n"
assert_json message_id "$late" "$n"
assert_json sender provider "$n"
assert_json recipient cmht "$n"
assert_json risk_level RISK_LEVEL_HIGH "$n"
at=$(json_get at_ms "$n")
((at - late_ms >= DEADLINE_MS)) ||
  fail "escalated $((at - late_ms)) ms after submit, before the deadline"
overdue=$(json_get '.overdue_ms // "0"' "$n")
((overdue >= 0 && overdue < 15000)) || fail "overdue_ms is '$overdue'"

# The provider is told too (after the DECIDED notice for the accepted one).
recv_until provider '.kind == "NOTICE_KIND_ESCALATED"' 10
assert_json message_id "$late" "$(tail -n 1 "$T/provider.items")"
assert_json risk_level RISK_LEVEL_HIGH "$(tail -n 1 "$T/provider.items")"

# housing too, but the risk level is clinical and not for its role.
recv_until housing '.kind == "NOTICE_KIND_ESCALATED"' 10
n=$(tail -n 1 "$T/housing.items")
assert_json message_id "$late" "$n"
assert_json '.risk_level // "none"' none "$n"

# Wait well past both deadlines on purpose: no second escalation of either.
sleep 3
RECV_WAIT=2 recv_all crisis
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/crisis.items"
RECV_WAIT=1 recv_all provider
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/provider.items"
RECV_WAIT=1 recv_all housing
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/housing.items"
assert_eq 1 "$(items housing 'true')" "items for housing"
assert_eq 1 "$(items crisis '.kind == "NOTICE_KIND_ESCALATED"')" \
  "ESCALATED notices to crisis"
assert_eq 1 "$(items crisis 'true')" "items for crisis"
assert_eq 1 "$(items provider '.kind == "NOTICE_KIND_ESCALATED"')" \
  "ESCALATED notices to provider"
assert_eq 1 "$(items provider ".kind == \"NOTICE_KIND_DECIDED\" and .message_id == \"$ok\"")" \
  "DECIDED notice for $ok"
assert_eq 2 "$(items provider 'true')" "items for provider"
assert_eq 0 "$(items crisis ".message_id == \"$ok\"")" "notices about $ok"
assert_queue_empty gp
assert_queue_empty cmht

# Escalation is a side event: still cmht's, still acceptable.
run baton_as provider status "$late" --json
assert_rc 0 "status of $late"
assert_json state acknowledged
assert_eq "submitted queued delivered acknowledged escalated" \
  "$(json_get '.events | map(.event) | join(" ")')" "events of $late"
assert_json '.events[4].actor' broker
run baton_as provider status "$ok" --json
assert_eq 0 "$(json_get '.events | map(select(.event == "escalated")) | length')" \
  "escalated events of $ok"
run baton_as cmht accept "provider/$late"
assert_rc 0 "accept after escalation"
recv_until provider '.kind == "NOTICE_KIND_DECIDED"' 10
assert_json message_id "$late" "$(tail -n 1 "$T/provider.items")"

# The audit log: one escalation, in its place.
audit_export "provider/$late"
assert_eq "submitted queued delivered acknowledged escalated accepted" \
  "$(audit_seq submitted queued delivered acknowledged escalated accepted \
     rejected expired)" "audit lifecycle of $late"
assert_eq "crisis housing provider" "$(jq -r 'select(.event == "notice_queued") |
  .other' <<<"$AUDIT_JSONL" | head -n 3 | sort | tr '\n' ' ' | sed 's/ $//')" \
  "escalation notices audited"
audit_export "provider/$ok"
assert_eq "submitted queued delivered acknowledged accepted" \
  "$(audit_seq submitted queued delivered acknowledged escalated accepted \
     rejected expired)" "audit lifecycle of $ok"

stop_broker
