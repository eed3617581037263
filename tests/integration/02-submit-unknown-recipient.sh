#!/usr/bin/env bash
#
# 02-submit-unknown-recipient: a handover to a node that is not registered
# is refused with UNKNOWN_RECIPIENT and exit 3; the session and broker
# carry on.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

run baton_as provider send --to nobody --json "$EXAMPLE_HANDOVER" --id to-nobody-1
assert_rc 3 "send to an unknown node"
assert_eq 1 "$(count_lines "$RUN_OUT")" "refusal lines"
assert_json message_id to-nobody-1
assert_json code UNKNOWN_RECIPIENT
text=$(json_get text)
[[ -n "$text" && "$text" != null ]] || fail "UNKNOWN_RECIPIENT refusal has no text"

assert_broker_alive
for n in provider cmht gp crisis; do
  assert_queue_empty "$n"
done

# The refused id was not consumed: it can be used for a real recipient.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id to-nobody-1
assert_rc 0 "send of the same id to a real node"
assert_json code OK
assert_json duplicate false
stop_broker
