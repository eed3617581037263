#!/usr/bin/env bash
#
# 08-store-map-full (TESTPLAN D6): with --map-size 2097152 (2 MiB) the
# provider sends until a send is refused STORE_FULL (baton exit 3, code
# STORE_FULL, a text saying the store is nearly full and to retry). Then:
#  - no receipt was lost: every OK-receipted id is received by cmht, each
#    once, and nothing else is;
#  - receiving and acking work at the high-water mark and drain the queue;
#  - once the acknowledged bodies are purged (a test policy with purge 1s)
#    the same broker, not restarted, accepts new sends within seconds;
#  - a restart with a larger --map-size keeps every record: what is queued
#    is still delivered, and acked ids are still known (resending one gets
#    its original receipt).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

MAP=2097152
MAX_SENDS=400

setup_four_nodes
# The deployed policy, but acknowledged bodies purged after 1 s, so space
# comes back while the test watches (purge 30d otherwise).
BROKER_POLICY=$T/policy.conf
sed 's/^purge .*/purge 1s/' "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^purge 1s$' "$BROKER_POLICY" || fail "setup: no purge line in deploy/policy.conf"
start_broker --map-size "$MAP"

# send_one ID: one send from provider to cmht; sets RUN_*.
send_one() {
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$1"
}

ok_ids=()
refused_ids=()
full_text=
# Near the threshold a refusal may be followed by an acceptance: the free
# space is re-measured every second, and LMDB returns pages to its free
# list as old snapshots end. So fill until three sends in a row are refused.
in_a_row=0
for ((i = 1; i <= MAX_SENDS && in_a_row < 3; i++)); do
  send_one "fill-$i"
  if [[ $RUN_RC -eq 0 ]]; then
    assert_json code OK
    ok_ids+=("fill-$i")
    in_a_row=0
    continue
  fi
  assert_rc 3 "send fill-$i into a full map"
  assert_json code STORE_FULL
  assert_json message_id "fill-$i"
  assert_contains "$RUN_ERR" "STORE_FULL" "baton's message for STORE_FULL"
  [[ -n "$full_text" ]] || full_text=$(json_get .text)
  refused_ids+=("fill-$i")
  in_a_row=$((in_a_row + 1))
done
((in_a_row >= 3)) || fail "$MAX_SENDS sends into a $MAP-byte map: not refused three times in a row"
full=${refused_ids[${#refused_ids[@]} - 1]}
log "${#ok_ids[@]} sends accepted, ${#refused_ids[@]} refused STORE_FULL (last $full)"
assert_contains "$full_text" "nearly full" "STORE_FULL text"
assert_contains "$full_text" "retry later" "STORE_FULL text"
((${#ok_ids[@]} >= 5)) || fail "only ${#ok_ids[@]} sends fitted in a $MAP-byte map"
wait_for "the store-full line in the log" 5 \
  grep -q 'store: refusing new handovers: map' "$BROKER_LOG"
assert_broker_alive

# Every OK receipt, and nothing refused, is delivered; acking at the
# high-water mark works.
out=$T/recv.jsonl
"$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
  --cert "$NODE_DIR/cmht.crt" --key "$NODE_DIR/cmht.key" --timeout 30 \
  recv --wait 90 --max "${#ok_ids[@]}" >"$out" 2>"$T/recv.err" ||
  fail "cmht recv at the high-water mark: exit $?; $(cat "$T/recv.err")"
got=$(jq -r .message_id "$out" | sort)
want=$(printf '%s\n' "${ok_ids[@]}" | sort)
[[ "$got" == "$want" ]] ||
  fail "deliveries differ from the OK receipts: $(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]' | head -5 | tr '\n' ' ')"
grep -q 'ack.*refused\|STORE_FULL' "$T/recv.err" && fail "an ack was refused at the high-water mark: $(cat "$T/recv.err")"
assert_queue_empty cmht
# The acks are durable: none of them comes back.
n=$(grep -c 'node=cmht ack id=provider/fill-' "$BROKER_LOG" || true)
assert_eq "${#ok_ids[@]}" "$n" "acks recorded by the broker"

# Space comes back without a restart: the acknowledged bodies are purged
# (1 s) and the free space re-measured (every second); the refused id is
# then accepted.
# send_when_room ID: sends ID until it is accepted; only STORE_FULL may
# refuse it meanwhile (space is measured every second and each accepted
# send is counted against it conservatively), for at most 30 s.
send_when_room() {
  local deadline=$((SECONDS + 30))
  while :; do
    send_one "$1"
    [[ $RUN_RC -eq 0 ]] && break
    assert_rc 3 "send of $1 while space returns"
    assert_json code STORE_FULL
    ((SECONDS < deadline)) || fail "$1 still refused STORE_FULL 30 s after the queue was drained"
    sleep 0.5
  done
  assert_json code OK
}
send_when_room "$full"
log "accepted again after the drain without a restart"
pid_before=$BROKER_PID
send_when_room after-drain-1
assert_eq "$pid_before" "$BROKER_PID" "broker pid (not restarted)"

# A restart with a larger map keeps everything: the two queued handovers
# are delivered, and an acked id is still known (original receipt).
stop_broker
start_broker --map-size $((4 * MAP))
run baton_as cmht recv --wait 3
assert_rc 0 "recv after the restart with a larger map"
assert_eq "$(printf '%s\n' "$full" after-drain-1 | sort)" \
  "$(printf '%s\n' "$RUN_OUT" | jq -r .message_id | sort)" "deliveries after the restart"
send_one "${ok_ids[0]}"
assert_rc 0 "resend of ${ok_ids[0]} after the restart"
assert_json code OK
assert_json duplicate true
send_one bigger-map-1
assert_rc 0 "a new send with the larger map"
assert_json code OK
stop_broker
