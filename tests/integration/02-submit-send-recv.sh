#!/usr/bin/env bash
#
# 02-submit-send-recv: provider sends the example handover to cmht; cmht
# receives exactly one delivery whose handover equals what was sent, every
# section intact, nothing withheld; the broker log holds no patient
# identifier.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER"
assert_rc 0 "baton send"
assert_eq 1 "$(count_lines "$RUN_OUT")" "receipt lines"
assert_json code OK
assert_json duplicate false
receipt=$RUN_OUT
msg_id=$(json_get message_id "$receipt")
[[ -n "$msg_id" && "$msg_id" != null ]] || fail "receipt has no message_id"
received_at=$(json_get received_at "$receipt")
[[ -n "$received_at" && "$received_at" != null ]] || fail "receipt has no received_at"

run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "baton recv"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries"
delivery=$RUN_OUT
assert_json type handover
assert_json message_id "$msg_id"
assert_json from provider
assert_json to cmht
assert_json attempt 1
assert_json received_at "$received_at"
assert_json '.withheld | type' array
assert_json '.withheld | length' 0
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover "$delivery")" \
  "delivered handover"

# Acked: nothing more for cmht, and nothing leaked to the other nodes.
assert_queue_empty cmht
assert_queue_empty gp
assert_queue_empty crisis

stop_broker

# Never log patient identifiers: the NHS number (as written and without
# its spaces) and the names stay out of the broker's log.
nhs=$(jq -r '.subject.nhs_number' "$EXAMPLE_HANDOVER")
for v in "$nhs" "${nhs// /}" \
    "$(jq -r '.subject.family_name' "$EXAMPLE_HANDOVER")" \
    "$(jq -r '.subject.given_name' "$EXAMPLE_HANDOVER")"; do
  [[ -n "$v" && "$v" != null ]] || fail "example handover lacks a subject field"
  if grep -qF -- "$v" "$BROKER_LOG"; then
    fail "broker log contains a patient identifier from the handover"
  fi
done
