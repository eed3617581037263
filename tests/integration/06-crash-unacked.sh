#!/usr/bin/env bash
#
# 06-crash-unacked: a handover delivered but not acked when the broker is
# killed (SIGKILL) is delivered again after the restart, intact, and once
# acked is gone; a handover acked before the crash is not delivered again.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id acked-1
assert_rc 0 "send acked-1"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv acked-1"
assert_json message_id acked-1

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id unacked-1
assert_rc 0 "send unacked-1"
run baton_as cmht recv --wait 10 --max 1 --no-ack
assert_rc 0 "recv --no-ack unacked-1"
assert_json message_id unacked-1
assert_json attempt 1

kill_broker
start_broker

run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv after the crash"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries after the crash"
assert_json message_id unacked-1
attempt=$(json_get attempt)
((attempt >= 2)) || fail "redelivery after the crash has attempt $attempt, want >= 2"
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover)" "redelivered handover"
assert_queue_empty cmht
stop_broker
