#!/usr/bin/env bash
#
# 03-deliver-redeliver: a recipient gets a handover until it acks it.
# recv --no-ack sees attempt 1; the next recv sees the same message as
# attempt 2 and acks it; a third recv gets nothing.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id redeliver-1
assert_rc 0 "send"
assert_json code OK

run baton_as cmht recv --wait 10 --max 1 --no-ack
assert_rc 0 "recv --no-ack"
assert_eq 1 "$(count_lines "$RUN_OUT")" "first deliveries"
assert_json message_id redeliver-1
assert_json attempt 1

run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "second recv"
assert_eq 1 "$(count_lines "$RUN_OUT")" "second deliveries"
assert_json message_id redeliver-1
assert_json attempt 2
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover)" "redelivered handover"

RECV_WAIT=1 recv_all cmht
assert_eq 0 "$(count_lines "$RUN_OUT")" "deliveries after the ack"
stop_broker
