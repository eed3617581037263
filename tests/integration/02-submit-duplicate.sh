#!/usr/bin/env bash
#
# 02-submit-duplicate: exactly once by message id. The same --id with the
# same content gets the original receipt (duplicate=true, same received_at)
# and no second copy; the same id with different content is refused with
# DUPLICATE (exit 3) and changes nothing.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id dup-1
assert_rc 0 "first send"
assert_json message_id dup-1
assert_json code OK
assert_json duplicate false
first_at=$(json_get received_at)

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id dup-1
assert_rc 0 "identical resend"
assert_json message_id dup-1
assert_json code OK
assert_json duplicate true
assert_json received_at "$first_at"

# Same id, different content.
jq '.transition.reason = "A different reason, so different content"' \
  "$EXAMPLE_HANDOVER" >"$T/changed.json"
run baton_as provider send --to cmht --json "$T/changed.json" --id dup-1
assert_rc 3 "resend of the id with different content"
assert_json message_id dup-1
assert_json code DUPLICATE
text=$(json_get text)
[[ -n "$text" && "$text" != null ]] || fail "DUPLICATE refusal has no text"

recv_all cmht
assert_eq 1 "$(count_lines "$RUN_OUT")" "copies delivered to cmht"
assert_json message_id dup-1
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover)" "delivered handover"

# After delivery and ack the id is still taken.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id dup-1
assert_rc 0 "identical resend after ack"
assert_json duplicate true
assert_json received_at "$first_at"
assert_queue_empty cmht
stop_broker
