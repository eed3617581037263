#!/usr/bin/env bash
#
# 04-policy-withhold: minimum necessary. deploy/policy.conf lets the housing
# role receive subject, contacts, crisis_plan, support_plan and transition
# only. A referral from provider to housing arrives without risk_summary,
# safeguarding and medication_and_physical_health, names exactly those as
# withheld, and carries every permitted section unchanged.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
issue_node_cert housing
add_node housing housing "Sampleton Housing Options"
start_broker

jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" \
  >"$T/referral.json"
run baton_as provider send --to housing --json "$T/referral.json" --id withhold-1
assert_rc 0 "referral to housing"
assert_json code OK

run baton_as housing recv --wait 10 --max 1
assert_rc 0 "recv as housing"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to housing"
delivery=$RUN_OUT
assert_json message_id withhold-1
assert_json '.withheld | sort | join(",")' \
  "medication_and_physical_health,risk_summary,safeguarding"
assert_json '.handover | keys | join(",")' \
  "contacts,crisis_plan,subject,support_plan,transition"
jq -c '{subject, contacts, crisis_plan, support_plan, transition}' \
  "$T/referral.json" >"$T/permitted.json"
same_handover "$T/permitted.json" "$(json_get .handover "$delivery")" \
  "sections housing may receive"

# The same handover to cmht (receive all) is whole.
run baton_as provider send --to cmht --json "$T/referral.json" --id withhold-2
assert_rc 0 "referral to cmht"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv as cmht"
assert_json '.withheld | length' 0
same_handover "$T/referral.json" "$(json_get .handover)" "handover to cmht"
stop_broker

# Nothing withheld leaked into the broker's log either.
v=$(jq -r '.safeguarding.concerns[0]' "$EXAMPLE_HANDOVER")
if grep -qF -- "$v" "$BROKER_LOG"; then
  fail "broker log contains handover content"
fi
