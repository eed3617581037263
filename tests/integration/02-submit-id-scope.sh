#!/usr/bin/env bash
#
# 02-submit-id-scope: message ids belong to their sender (issue 9 finding
# 6). gp sends cmht a handover under provider's predictable id
# provider-000124; provider's own later send with that id is accepted, not
# refused DUPLICATE, and cmht receives both, apart, as gp/provider-000124
# and provider/provider-000124. Provider's identical resend gets its
# original receipt, a different one under the id DUPLICATE. A node that is
# no party to gp's handover (crisis; provider too, for gp's) gets exactly
# the same code and text for an ack, a decision or a status on gp's
# reference as on an unknown reference, so it cannot tell that the id is
# taken; the audit log alone tells the two apart (NOT_RECIPIENT vs
# UNKNOWN_MESSAGE). A plain id names the asking node's own handover. The
# wire changed, so the protocol is 2: a version 1 Hello is refused.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

CODE_UNSUPPORTED_VERSION=17
CODE_NOT_RECIPIENT=12
CODE_UNKNOWN_MESSAGE=13
id=provider-000124
gp_ref=gp/$id
pv_ref=provider/$id
unknown_ref=gp/provider-999999

setup_four_nodes
start_broker

# Hello{protocol_version=1}: refused, naming the version the broker speaks.
raw_start_as v1 provider "$(raw_frame 0a020801)"
wait_for "Error to a version 1 Hello" 15 raw_has v1 "$F_ERROR"
assert_raw_error v1 "$CODE_UNSUPPORTED_VERSION" "version 1 Hello"
assert_contains "$RAW_TEXT" "speaks 2" "refusal text of a version 1 Hello"

# gp takes provider's next id first (gp may send cmht a step_up).
run baton_as gp send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "gp's send under provider's id"
assert_json code OK
assert_json message_id "$id"
assert_json reference "$gp_ref"

# provider's own handover under its own id: a different one, accepted.
jq '.transition.reason = "Provider handover under its own id"' \
  "$EXAMPLE_HANDOVER" >"$T/provider.json"
run baton_as provider send --to cmht --json "$T/provider.json" --id "$id"
assert_rc 0 "provider's send under its own id after gp used it"
assert_json code OK
assert_json duplicate false
assert_json reference "$pv_ref"
first_at=$(json_get received_at)

# Exactly once per sender: the resend gets the original receipt, and gp's
# content under provider's id is provider's DUPLICATE, not gp's.
run baton_as provider send --to cmht --json "$T/provider.json" --id "$id"
assert_rc 0 "provider's identical resend"
assert_json duplicate true
assert_json received_at "$first_at"
assert_json reference "$pv_ref"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 3 "provider's resend of the id with other content"
assert_json code DUPLICATE

# Both delivered, separately, each named by its sender.
recv_all cmht
assert_eq 2 "$(count_lines "$RUN_OUT")" "handovers delivered to cmht"
delivered=$RUN_OUT
gp_item=$(jq -c --arg r "$gp_ref" 'select(.reference == $r)' <<<"$delivered")
pv_item=$(jq -c --arg r "$pv_ref" 'select(.reference == $r)' <<<"$delivered")
[[ -n "$gp_item" && -n "$pv_item" ]] ||
  fail "references delivered: $(jq -r .reference <<<"$delivered" | tr '\n' ' ')"
assert_json from gp "$gp_item"
assert_json from provider "$pv_item"
assert_json message_id "$id" "$gp_item"
assert_json message_id "$id" "$pv_item"
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover "$gp_item")" "gp's handover"
same_handover "$T/provider.json" "$(json_get .handover "$pv_item")" \
  "provider's handover"

# --- a third party cannot probe: foreign and unknown look the same --------

# probe_ack NAME NODE REF: NODE acks REF on a raw connection (the baton
# command acks only what it received); sets ACK_CODE and ACK_TEXT from the
# AckResult.
ACK_CODE=
ACK_TEXT=
probe_ack() {
  local name=$1 node=$2 ref=$3 hex body pos=0 key
  hex=$(printf '%s' "$ref" | xxd -p | tr -d '\n')
  body=$(printf '0a%02x%s1001' $((${#hex} / 2)) "$hex")	# Ack{message_id, attempt=1}
  raw_start_as "$name" "$node" "$(raw_frame "$RAW_HELLO")$(raw_frame \
    "$(printf '3a%02x%s' $((${#body} / 2)) "$body")")"
  wait_for "AckResult on $name" 15 raw_has "$name" 8
  body=$(raw_frames "$name" | awk '$1 == 8 { print $2; exit }')
  ACK_CODE=0
  ACK_TEXT=
  while ((pos < ${#body})); do
    _varint "$body" "$pos" || break
    key=$_VAL
    pos=$_POS
    case $key in
    10) _varint "$body" "$pos" || break; pos=$((_POS + _VAL * 2)) ;;
    16) _varint "$body" "$pos" || break; ACK_CODE=$_VAL; pos=$_POS ;;
    26) _varint "$body" "$pos" || break
        ACK_TEXT=$(printf '%s' "${body:_POS:_VAL*2}" | xxd -r -p | tr -d '\0')
        pos=$((_POS + _VAL * 2)) ;;
    *) break ;;
    esac
  done
}

for node in crisis provider; do
  probe_ack "$node-foreign" "$node" "$gp_ref"
  foreign="$ACK_CODE $ACK_TEXT"
  probe_ack "$node-unknown" "$node" "$unknown_ref"
  assert_eq "$CODE_UNKNOWN_MESSAGE no such message" "$ACK_CODE $ACK_TEXT" \
    "$node's ack of an unknown reference"
  assert_eq "$ACK_CODE $ACK_TEXT" "$foreign" "$node's ack of gp's reference"

  run baton_as "$node" accept "$gp_ref"
  assert_rc 3 "$node's accept of gp's reference"
  foreign=$(json_get '.code + " " + .text')
  run baton_as "$node" accept "$unknown_ref"
  assert_rc 3 "$node's accept of an unknown reference"
  assert_eq "UNKNOWN_MESSAGE no such message" "$(json_get '.code + " " + .text')" \
    "$node's accept of an unknown reference"
  assert_eq "$(json_get '.code + " " + .text')" "$foreign" \
    "$node's accept of gp's reference"

  run baton_as "$node" status "$gp_ref" --json
  assert_rc 3 "$node's status of gp's reference"
  foreign=$(json_get '.code + " " + .text')
  run baton_as "$node" status "$unknown_ref" --json
  assert_rc 3 "$node's status of an unknown reference"
  assert_json code NOT_PERMITTED
  assert_eq "$(json_get '.code + " " + .text')" "$foreign" \
    "$node's status of gp's reference"
done

# A plain id is the asker's own: provider's status is of its handover,
# and cmht, which sent nothing, has no provider-000124 of its own.
run baton_as provider status "$id" --json
assert_rc 0 "provider's status of its own id"
assert_json message_id "$id"
assert_eq "submitted queued delivered acknowledged" "$(status_events)" \
  "provider's own handover"
run baton_as gp status "$id" --json
assert_rc 0 "gp's status of its own id"
assert_json '.events[0].actor' gp
probe_ack cmht-plain cmht "$id"
assert_eq "$CODE_UNKNOWN_MESSAGE no such message" "$ACK_CODE $ACK_TEXT" \
  "cmht's ack of a plain id it never sent"

# The sender past the recipient still tells "not yours" from "none"
# (it knows its handover exists): NOT_RECIPIENT.
run baton_as gp accept "$gp_ref"
assert_rc 3 "gp's accept of its own handover"
assert_json code NOT_RECIPIENT
probe_ack gp-own gp "$gp_ref"
assert_eq "$CODE_NOT_RECIPIENT" "$ACK_CODE" "gp's ack of its own handover"

# The probes changed nothing: cmht decides each by its reference, and
# each sender is told about its own.
run baton_as cmht accept "$gp_ref"
assert_rc 0 "cmht accepts gp's"
run baton_as cmht reject "$pv_ref" --reason duplicate
assert_rc 0 "cmht rejects provider's"
recv_all gp
assert_json reference "$gp_ref"
assert_json outcome DECISION_OUTCOME_ACCEPT
recv_all provider
assert_json reference "$pv_ref"
assert_json reason REJECT_REASON_DUPLICATE
assert_broker_alive

# The audit log records every probe, and alone says which was which.
audit_export "$gp_ref"
for node in crisis provider; do
  for ev in ack_refused decision_refused status_refused; do
    assert_eq NOT_RECIPIENT "$(jq -r --arg n "$node" --arg e "$ev" \
      'select(.actor == $n and .event == $e) | .outcome' <<<"$AUDIT_JSONL")" \
      "$node's $ev of gp's reference in the audit log"
  done
done
assert_eq "submitted queued delivered acknowledged accepted" \
  "$(audit_seq submitted queued delivered acknowledged accepted rejected)" \
  "gp's handover's lifecycle"
audit_export "$unknown_ref"
for node in crisis provider; do
  for ev in ack_refused decision_refused status_refused; do
    assert_eq UNKNOWN_MESSAGE "$(jq -r --arg n "$node" --arg e "$ev" \
      'select(.actor == $n and .event == $e) | .outcome' <<<"$AUDIT_JSONL")" \
      "$node's $ev of an unknown reference in the audit log"
  done
done
# provider's resend is recorded with its own handover, not gp's
audit_export "$pv_ref"
assert_eq "submitted queued submitted delivered acknowledged rejected" \
  "$(audit_seq submitted queued delivered acknowledged accepted rejected)" \
  "provider's handover's lifecycle (with the resend)"

stop_broker
