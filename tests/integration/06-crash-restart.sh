#!/usr/bin/env bash
#
# 06-crash-restart: a receipted handover survives a clean stop (SIGTERM)
# and a crash (SIGKILL): after a restart on the same data dir it arrives
# intact, once, and its id still deduplicates with the original receipt.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

for how in term kill; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "crash-$how"
  assert_rc 0 "send before $how"
  assert_json code OK
  received_at=$(json_get received_at)

  if [[ $how == term ]]; then
    stop_broker
  else
    kill_broker
  fi
  start_broker

  run baton_as cmht recv --wait 10 --max 1
  assert_rc 0 "recv after $how"
  assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries after $how"
  assert_json message_id "crash-$how"
  assert_json from provider
  assert_json attempt 1
  assert_json received_at "$received_at"
  same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover)" "handover after $how"
  assert_queue_empty cmht

  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "crash-$how"
  assert_rc 0 "resend after $how"
  assert_json duplicate true
  assert_json received_at "$received_at"
done
stop_broker
