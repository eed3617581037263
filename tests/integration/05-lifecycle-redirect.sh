#!/usr/bin/env bash
#
# 05-lifecycle-redirect: cmht redirects a delivered STEP_UP handover to
# crisis (policy: cmht may send crisis step_up). crisis receives it whole
# (its role receives all), marked as redirected from cmht; its status shows
# both hops, and cmht, a past recipient, can read the status but no longer
# decide. The provider gets a DECIDED notice with outcome REDIRECT and
# redirect_to crisis, then one for crisis's own decision. A redirect of a
# STEP_UP to housing is ROUTE_NOT_ALLOWED and changes nothing; once the
# policy is edited to allow cmht -> housing step_up and reloaded (SIGHUP),
# the same redirect delivers to housing with risk_summary, safeguarding and
# medication_and_physical_health withheld, as access is decided at
# delivery. The audit log shows every hop and what each recipient was
# disclosed.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

# audit_export ID: sets AUDIT_JSONL to the audit log's records about
# message ID, as JSON Lines in log order.
AUDIT_JSONL=

# policy_loads: how many times the broker has logged a policy reload.
policy_loads() {
  grep -c 'reload: policy .* loaded' "$BROKER_LOG" || true
}

policy_loads_above() {
  (($(policy_loads) > $1))
}

# A copy of the shipped policy, edited later in the test.
BROKER_POLICY=$T/policy.conf
cp "$BATON_SRC/deploy/policy.conf" "$BROKER_POLICY"
grep -q '^role cmht$' "$BROKER_POLICY" || fail "policy.conf has no role cmht"

setup_four_nodes
issue_node_cert housing
add_node housing housing "Sampleton Housing Options"
start_broker

[[ $(jq -r .transition.kind "$EXAMPLE_HANDOVER") == TRANSITION_KIND_STEP_UP ]] ||
  fail "the example handover is not a STEP_UP"

# --- cmht -> crisis -------------------------------------------------------
id=life-redirect-1
note="Escalating to crisis: deterioration reported today"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "send to cmht"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv as cmht"
assert_json message_id "$id"

run baton_as cmht redirect "provider/$id" --to cmht
assert_rc 3 "redirect to oneself"
assert_json code INVALID
run baton_as cmht redirect "provider/$id" --to nosuchnode
assert_rc 3 "redirect to an unknown node"
assert_json code UNKNOWN_RECIPIENT

run baton_as cmht redirect "provider/$id" --to crisis --note "$note"
assert_rc 0 "redirect to crisis"
assert_json code OK

run baton_as crisis recv --wait 10 --max 1
assert_rc 0 "recv as crisis"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to crisis"
delivery=$RUN_OUT
assert_json type handover
assert_json message_id "$id"
assert_json from provider
assert_json to crisis
assert_json redirected_from cmht
assert_json attempt 1
assert_json '.withheld | length' 0
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover "$delivery")" \
  "handover redirected to crisis"

run baton_as provider recv --wait 10 --max 1
assert_rc 0 "recv as provider"
assert_eq 1 "$(count_lines "$RUN_OUT")" "notices to provider"
assert_json kind NOTICE_KIND_DECIDED
assert_json message_id "$id"
assert_json recipient cmht
assert_json outcome DECISION_OUTCOME_REDIRECT
assert_json redirect_to crisis
assert_json note "$note"

hops="submitted queued delivered acknowledged redirected queued delivered acknowledged"
# cmht passed it on: it sees the history up to its own redirect, not what
# the teams after it did or wrote
run baton_as cmht status "provider/$id" --json
assert_rc 0 "status as cmht"
assert_eq "submitted queued delivered acknowledged redirected" "$(status_events)" \
  "status events as cmht (up to its redirect)"
for node in crisis provider; do
  run baton_as "$node" status "provider/$id" --json
  assert_rc 0 "status as $node"
  assert_json state acknowledged
  assert_eq "$hops" "$(status_events)" "status events as $node"
  assert_json '.events[2].other' cmht
  assert_json '.events[3].actor' cmht
  assert_json '.events[4].actor + ">" + .events[4].other' "cmht>crisis"
  assert_json '.events[5].other' crisis
  assert_json '.events[6].other' crisis
  assert_json '.events[7].actor' crisis
done
run baton_as gp status "provider/$id" --json
assert_rc 3 "status as gp"
assert_json code NOT_PERMITTED

# Only the current recipient decides now.
run baton_as cmht accept "provider/$id"
assert_rc 3 "accept by cmht after its redirect"
assert_json code NOT_RECIPIENT
run baton_as crisis accept "provider/$id"
assert_rc 0 "accept by crisis"
run baton_as provider recv --wait 10 --max 1
assert_rc 0 "recv of crisis's decision"
assert_json message_id "$id"
assert_json recipient crisis
assert_json outcome DECISION_OUTCOME_ACCEPT
assert_queue_empty provider
assert_queue_empty cmht

# --- cmht -> housing, STEP_UP not allowed ----------------------------------
id2=life-redirect-2
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id2"
assert_rc 0 "second send to cmht"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "second recv as cmht"
assert_json message_id "$id2"
run baton_as cmht redirect "provider/$id2" --to housing
assert_rc 3 "redirect of a step_up to housing"
assert_json code ROUTE_NOT_ALLOWED
run baton_as cmht status "provider/$id2" --json
assert_json state acknowledged
assert_eq "submitted queued delivered acknowledged" "$(status_events)" \
  "events after the refused redirect"
assert_queue_empty housing
assert_queue_empty provider

# --- the policy now allows it; reloaded on SIGHUP -------------------------
sed -i '/^role cmht$/a\    send housing step_up' "$BROKER_POLICY"
loads=$(policy_loads)
kill -HUP "$BROKER_PID"
wait_for "the edited policy to be loaded" 15 policy_loads_above "$loads"
assert_broker_alive

run baton_as cmht redirect "provider/$id2" --to housing
assert_rc 0 "redirect to housing after the policy edit"
run baton_as housing recv --wait 10 --max 1
assert_rc 0 "recv as housing"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to housing"
delivery=$RUN_OUT
assert_json message_id "$id2"
assert_json redirected_from cmht
assert_json '.withheld | sort | join(",")' \
  "medication_and_physical_health,risk_summary,safeguarding"
assert_json '.handover | keys | join(",")' \
  "contacts,crisis_plan,subject,support_plan,transition"
jq -c '{subject, contacts, crisis_plan, support_plan, transition}' \
  "$EXAMPLE_HANDOVER" >"$T/permitted.json"
same_handover "$T/permitted.json" "$(json_get .handover "$delivery")" \
  "sections housing may receive"
run baton_as provider recv --wait 10 --max 1
assert_rc 0 "recv of the redirect notice to housing"
assert_json message_id "$id2"
assert_json outcome DECISION_OUTCOME_REDIRECT
assert_json redirect_to housing
run baton_as housing status "provider/$id2" --json
assert_rc 0 "status as housing"
assert_json state acknowledged
assert_eq "submitted queued delivered acknowledged redirected queued delivered acknowledged" \
  "$(status_events)" "status events as housing"
assert_queue_empty crisis
assert_queue_empty gp

# --- the audit log --------------------------------------------------------
# Each hop is a transition of its own in the audit log: the redirect, then
# the handover queued for the new recipient.
hops_re='^submitted queued delivered acknowledged redirected queued delivered acknowledged'
audit_export "provider/$id"
seq=$(audit_seq submitted queued delivered acknowledged redirected accepted)
[[ "$seq" =~ $hops_re\ accepted$ ]] ||
  fail "audit lifecycle of $id: got '$seq'"
assert_eq "cmht>crisis" "$(jq -r 'select(.event == "redirected") |
  .actor + ">" + .other' <<<"$AUDIT_JSONL")" "audited redirect"
assert_eq "cmht:8 crisis:8 " "$(jq -r 'select(.event == "delivered") |
  .actor + ":" + (.disclosed | split(",") | length | tostring)' \
  <<<"$AUDIT_JSONL" | tr '\n' ' ')" "sections disclosed to each hop"
audit_export "provider/$id2"
seq=$(audit_seq submitted queued delivered acknowledged redirected)
[[ "$seq" =~ $hops_re$ ]] || fail "audit lifecycle of $id2: got '$seq'"
assert_eq "ROUTE_NOT_ALLOWED" "$(jq -r 'select(.event == "decision_refused") |
  .outcome' <<<"$AUDIT_JSONL")" "audited refused redirect"
housing_rec=$(jq -c 'select(.event == "delivered" and .actor == "housing")' \
  <<<"$AUDIT_JSONL")
assert_eq "contacts,crisis_plan,subject,support_plan,transition" \
  "$(jq -r '.disclosed | split(",") | sort | join(",")' <<<"$housing_rec")" \
  "sections disclosed to housing"
assert_eq "medication_and_physical_health,risk_summary,safeguarding" \
  "$(jq -r '.withheld | split(",") | sort | join(",")' <<<"$housing_rec")" \
  "sections withheld from housing"

stop_broker

# Nothing withheld from housing leaked into the broker's log.
v=$(jq -r '.safeguarding.concerns[0]' "$EXAMPLE_HANDOVER")
if grep -qF -- "$v" "$BROKER_LOG"; then
  fail "broker log contains handover content"
fi
