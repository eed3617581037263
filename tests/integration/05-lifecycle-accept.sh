#!/usr/bin/env bash
#
# 05-lifecycle-accept: provider sends a handover to cmht; cmht receives and
# acks it, then accepts it with a note. The provider gets exactly one
# DECIDED notice (outcome ACCEPT, the note), acks it and is not sent it
# again. Status, asked by the sender and by the recipient, lists
# submitted, queued, delivered, acknowledged, accepted in that order; a
# third node asking is refused with NOT_PERMITTED, the same answer as for
# an id that does not exist. A second accept is ALREADY_DECIDED, an accept
# by the sender is NOT_RECIPIENT, one by a third node UNKNOWN_MESSAGE (as
# for no such message; the audit says NOT_RECIPIENT), and none changes the
# history or notifies anyone. The recipient names the handover by its
# reference provider/ID, the sender by its own ID. The audit log holds the same lifecycle, in
# order, and every refusal.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

# audit_export ID: sets AUDIT_JSONL to the audit log's records about
# message ID, as JSON Lines in log order.
AUDIT_JSONL=

setup_four_nodes
start_broker

id=life-accept-1
ref=provider/$id
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "send to cmht"
assert_json code OK

run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv as cmht"
assert_json type handover
assert_json message_id "$id"
assert_json reference "$ref"

# Received and acked, not yet decided: nothing for the provider yet.
run baton_as cmht status "$ref" --json
assert_rc 0 "status as cmht before the decision"
assert_json state acknowledged
assert_queue_empty provider

note="Allocated to the duty worker; first contact within 48 hours"
run baton_as cmht accept "$ref" --note "$note"
assert_rc 0 "accept by cmht"
assert_json code OK

# The sender is told, once: recv acks the notice after printing it.
run baton_as provider recv --wait 10 --max 1
assert_rc 0 "recv as provider"
assert_eq 1 "$(count_lines "$RUN_OUT")" "notices to provider"
assert_json type notice
assert_json kind NOTICE_KIND_DECIDED
assert_json message_id "$id"
assert_json reference "$ref"
assert_json outcome DECISION_OUTCOME_ACCEPT
assert_json note "$note"
assert_json '.reason // ""' ""
assert_json sender provider
assert_json recipient cmht
notice_id=$(json_get notice_id)
[[ "$notice_id" == notice-* ]] || fail "notice has no notice id: '$notice_id'"
# Acked: not delivered again on the next connection.
assert_queue_empty provider

# The history, the same for sender and recipient.
lifecycle="submitted queued delivered acknowledged accepted"
for node in provider cmht; do
  q=$ref
  [[ $node == provider ]] && q=$id	# the sender's own id names it too
  run baton_as "$node" status "$q" --json
  assert_rc 0 "status as $node"
  assert_json code OK
  assert_json message_id "$q"
  assert_json state accepted
  assert_eq "$lifecycle" "$(status_events)" "status events as $node"
  assert_json '.events[0].actor' provider
  assert_json '.events[0].other' cmht
  assert_json '.events[3].actor' cmht
  assert_json '.events[4].actor' cmht
  assert_json '.events[4].note' "$note"
  # times never go backwards
  assert_json '.events | map(.at_ms | tonumber) | . == sort' true
done
history=$RUN_OUT

# A third party learns nothing: the same refusal as for an unknown id.
run baton_as gp status "$ref" --json
assert_rc 3 "status as gp"
assert_json code NOT_PERMITTED
assert_json '.state // "" | length' 0
assert_json '.events // [] | length' 0
run baton_as gp status provider/life-accept-no-such --json
assert_rc 3 "status of an unknown id"
assert_json code NOT_PERMITTED

# Decided once, and only by the recipient.
run baton_as cmht accept "$ref"
assert_rc 3 "second accept by cmht"
assert_json code ALREADY_DECIDED
run baton_as cmht reject "$ref" --reason other
assert_rc 3 "reject after accept"
assert_json code ALREADY_DECIDED
run baton_as gp accept "$ref"
assert_rc 3 "accept by gp"
assert_json code UNKNOWN_MESSAGE
run baton_as provider accept "$id"
assert_rc 3 "accept by the sender"
assert_json code NOT_RECIPIENT

# The refusals changed nothing and told nobody.
run baton_as cmht status "$ref" --json
assert_rc 0 "status after the refusals"
assert_json state accepted
assert_eq "$(json_get .events "$history")" "$(json_get .events)" \
  "history after the refused decisions"
assert_queue_empty provider
assert_queue_empty cmht
assert_queue_empty gp
assert_queue_empty crisis
assert_broker_alive

# The audit log: the lifecycle in order, then the notice's own, and each
# refusal with its code.
audit_export "$ref"
assert_eq "$lifecycle notice_queued notice_delivered notice_acknowledged" \
  "$(audit_seq "$lifecycle" notice_queued notice_delivered notice_acknowledged)" \
  "audit lifecycle of $id"
refusals=$(jq -r 'select(.event == "decision_refused") |
  .actor + ":" + .outcome' <<<"$AUDIT_JSONL" | tr '\n' ' ')
assert_eq "cmht:ALREADY_DECIDED cmht:ALREADY_DECIDED gp:NOT_RECIPIENT provider:NOT_RECIPIENT " \
  "$refusals" "audited decision refusals"
assert_eq "gp" "$(jq -r 'select(.event == "status_refused") | .actor' \
  <<<"$AUDIT_JSONL" | sort -u)" "audited status refusal"
assert_eq "$notice_id" "$(jq -r 'select(.event == "notice_queued") | .reason' \
  <<<"$AUDIT_JSONL")" "audited notice id"

stop_broker
