#!/usr/bin/env bash
#
# 03-deliver-order: five handovers sent one after another from one sender
# are delivered in the order they were sent, each with its own content,
# and all are acked.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

ids=()
for i in 1 2 3 4 5; do
  jq --arg r "Order test handover $i" '.transition.reason = $r' \
    "$EXAMPLE_HANDOVER" >"$T/order-$i.json"
  run baton_as provider send --to cmht --json "$T/order-$i.json" --id "order-$i"
  assert_rc 0 "send order-$i"
  assert_json code OK
  ids+=("order-$i")
done

run baton_as cmht recv --wait 10 --max 5
assert_rc 0 "recv"
assert_eq 5 "$(count_lines "$RUN_OUT")" "deliveries"
got=$(printf '%s\n' "$RUN_OUT" | jq -r .message_id | paste -sd' ')
assert_eq "${ids[*]}" "$got" "delivery order"

i=0
while IFS= read -r line; do
  i=$((i + 1))
  assert_json .handover.transition.reason "Order test handover $i" "$line"
  same_handover "$T/order-$i.json" "$(json_get .handover "$line")" "handover order-$i"
done <<<"$RUN_OUT"

RECV_WAIT=1 recv_all cmht
assert_eq 0 "$(count_lines "$RUN_OUT")" "deliveries after the acks"
stop_broker
