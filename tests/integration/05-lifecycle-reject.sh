#!/usr/bin/env bash
#
# 05-lifecycle-reject: cmht rejects a delivered handover as the wrong
# service, with a note and crisis as the suggested node. The provider's
# DECIDED notice carries outcome REJECT, reason WRONG_SERVICE, the note and
# the suggested node; status ends in rejected with the same reason; the
# decision is final. A rejection without a reason (or with an unknown one)
# is refused before anything is sent and changes nothing; a rejection of a
# handover not yet delivered to the recipient is NOT_DELIVERED and it stays
# queued and deliverable. The audit log has the lifecycle in order, the
# reason, and the refusal; the note is in neither the audit log nor the
# broker's log.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

# audit_export ID: sets AUDIT_JSONL to the audit log's records about
# message ID, as JSON Lines in log order.
AUDIT_JSONL=

setup_four_nodes
start_broker

id=life-reject-1
note="Needs the crisis team tonight; call the duty worker on arrival"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "send to cmht"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv as cmht"
assert_json message_id "$id"

# A rejection needs a reason the protocol knows: refused as usage (exit 1)
# by the client, so nothing reaches the broker and nothing changes.
run baton_as cmht reject "provider/$id"
assert_rc 1 "reject without --reason"
assert_contains "$RUN_ERR" "--reason" "usage error names --reason"
run baton_as cmht reject "provider/$id" --reason because
assert_rc 1 "reject with an unknown reason"
run baton_as cmht reject "provider/$id" --reason unspecified
assert_rc 1 "reject with reason UNSPECIFIED"
run baton_as cmht status "provider/$id" --json
assert_rc 0 "status after the refused rejections"
assert_json state acknowledged
assert_queue_empty provider

run baton_as cmht reject "provider/$id" --reason wrong_service --note "$note" \
  --suggest crisis
assert_rc 0 "reject by cmht"
assert_json code OK

run baton_as provider recv --wait 10 --max 1
assert_rc 0 "recv as provider"
assert_eq 1 "$(count_lines "$RUN_OUT")" "notices to provider"
assert_json type notice
assert_json kind NOTICE_KIND_DECIDED
assert_json message_id "$id"
assert_json recipient cmht
assert_json outcome DECISION_OUTCOME_REJECT
assert_json reason REJECT_REASON_WRONG_SERVICE
assert_json note "$note"
assert_json suggested_node crisis
assert_json '.redirect_to // ""' ""
assert_queue_empty provider

run baton_as provider status "$id" --json
assert_rc 0 "status as provider"
assert_json state rejected
assert_eq "submitted queued delivered acknowledged rejected" "$(status_events)" \
  "status events"
assert_json '.events[4].actor' cmht
assert_json '.events[4].reason' wrong_service
assert_json '.events[4].other' crisis
assert_json '.events[4].note' "$note"

# Final: neither an accept nor a second reject changes it.
run baton_as cmht accept "provider/$id"
assert_rc 3 "accept after reject"
assert_json code ALREADY_DECIDED
run baton_as cmht reject "provider/$id" --reason no_capacity
assert_rc 3 "second reject"
assert_json code ALREADY_DECIDED
run baton_as cmht status "provider/$id" --json
assert_json state rejected
assert_eq 5 "$(json_get '.events | length')" "events after the refusals"
assert_queue_empty provider
# The suggestion is advice to the sender, not a redirect.
assert_queue_empty crisis

# Not yet delivered to cmht (never received): NOT_DELIVERED, and it stays
# queued and is then delivered as usual.
id2=life-reject-2
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id2"
assert_rc 0 "second send to cmht"
run baton_as cmht reject "provider/$id2" --reason other --note "not read yet"
assert_rc 3 "reject before delivery"
assert_json code NOT_DELIVERED
assert_json message_id "provider/$id2"
run baton_as provider status "$id2" --json
assert_rc 0 "status of the undelivered handover"
assert_json state queued
assert_eq "submitted queued" "$(status_events)" "events of the undelivered one"
assert_queue_empty provider
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv of the second handover"
assert_json message_id "$id2"
assert_json attempt 1
run baton_as cmht reject "provider/$id2" --reason duplicate
assert_rc 0 "reject after delivery"
run baton_as provider recv --wait 10 --max 1
assert_rc 0 "recv of the second notice"
assert_json message_id "$id2"
assert_json reason REJECT_REASON_DUPLICATE
assert_json '.note // ""' ""
assert_json '.suggested_node // ""' ""
assert_broker_alive

lifecycle="submitted queued delivered acknowledged rejected"
audit_export "provider/$id"
assert_eq "$lifecycle notice_queued notice_delivered notice_acknowledged" \
  "$(audit_seq "$lifecycle" notice_queued notice_delivered notice_acknowledged)" \
  "audit lifecycle of $id"
assert_eq "cmht wrong_service" "$(jq -r 'select(.event == "rejected") |
  .actor + " " + .reason' <<<"$AUDIT_JSONL")" "audited rejection"
assert_eq "ALREADY_DECIDED ALREADY_DECIDED " "$(jq -r \
  'select(.event == "decision_refused") | .outcome' <<<"$AUDIT_JSONL" |
  tr '\n' ' ')" "audited refusals of $id"
assert_not_contains "$AUDIT_JSONL" "$note" "audit records of $id"
audit_export "provider/$id2"
assert_eq "submitted queued decision_refused delivered acknowledged rejected" \
  "$(audit_seq submitted queued decision_refused delivered acknowledged \
     rejected)" "audit lifecycle of $id2"
assert_eq NOT_DELIVERED "$(jq -r 'select(.event == "decision_refused") |
  .outcome' <<<"$AUDIT_JSONL")" "audited refusal of $id2"

stop_broker

# A note is clinical free text: the broker does not log it.
if grep -qF -- "$note" "$BROKER_LOG"; then
  fail "broker log contains the text of a decision note"
fi
