#!/usr/bin/env bash
#
# 06-crash-sigterm: a clean stop under load (DESIGN "Guarantees" 1-3,
# TESTPLAN D1's clean-stop counterpart).
#
# Two senders (provider1, provider2) submit with the ledger harness to one
# recipient (cmht1) that receives and acks; the broker gets SIGTERM three
# times mid-load and is restarted on the same data dir; after the last
# restart the senders stop between ids (each sends at most SIGTERM_COUNT,
# 1,500). Asserted each time:
#  - it exits 0 within STOP_MAX_S (5 s);
#  - its log shows the stop sequence: "signal 15: stopping; committing
#    in-flight work", no session says hello after it (it stopped
#    accepting), and "stopped" is its last line;
# and at the end, by `ledger check` over the ledgers and the audit log:
#  - every receipted message is delivered, intact, and acked once;
#  - in-flight work got its replies before the connections closed: no
#    sender had to resend an id the broker had committed (0 duplicate
#    receipts) and no recipient lost an AckResult (0 acks confirmed only by
#    status).
# shellcheck disable=SC2119 # start_broker takes optional args
: "${SIGTERM_COUNT:=1500}" "${SIGTERM_ROUNDS:=3}" "${STOP_MAX_S:=5}"
: "${BATON_TEST_TIMEOUT:=150}"
export BATON_TEST_TIMEOUT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

LEDGER=$BATON_BIN/tests/fault/ledger
[[ -x "$LEDGER" ]] || fail "$LEDGER not built (make ledger)"
CLIENT_DEADLINE=$((BATON_TEST_TIMEOUT - 15))
SENDERS=(provider1 provider2)

make_pki "${SENDERS[@]}" cmht1
for s in "${SENDERS[@]}"; do
  add_node "$s" provider
done
add_node cmht1 cmht
start_broker

conn_args() {
  printf '%s\n' --port-file "$T/broker.port" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/$1.crt" --key "$NODE_DIR/$1.key" \
    --deadline "$CLIENT_DEADLINE" --timeout-ms 5000
}
mapfile -t args < <(conn_args cmht1)
spawn "$T/recv.out" "$T/recv.err" "$LEDGER" recv "${args[@]}" \
  --log "$T/recv-cmht1.log" --stop-file "$T/stop" --idle 3
recv_pid=$SPAWN_PID
send_pids=()
sent_logs=()
for s in "${SENDERS[@]}"; do
  mapfile -t args < <(conn_args "$s")
  spawn "$T/send-$s.out" "$T/send-$s.err" "$LEDGER" send "${args[@]}" \
    --prefix "term-$s" --count "$SIGTERM_COUNT" --to cmht1 \
    --json "$EXAMPLE_HANDOVER" --ledger "$T/sent-$s.ledger" \
    --until "$T/load-done"
  send_pids+=("$SPAWN_PID")
  sent_logs+=(--sent "$T/sent-$s.ledger")
done

receipts() {
  cat "$T"/sent-*.ledger 2>/dev/null | grep -c '^receipt ' || true
}
receipts_at_least() {
  (($(receipts) >= $1))
}
# more_receipts_or_done N: N receipts, or no sender left to make them
more_receipts_or_done() {
  local p
  receipts_at_least "$1" && return 0
  for p in "${send_pids[@]}"; do
    kill -0 "$p" 2>/dev/null && return 1
  done
  return 0
}

for ((round = 1; round <= SIGTERM_ROUNDS; round++)); do
  wait_for "receipts before stop $round" 60 receipts_at_least $((round * 150))
  kill -0 "${send_pids[0]}" 2>/dev/null ||
    fail "the senders finished before stop $round (raise SIGTERM_COUNT)"
  mark=$(wc -l <"$BROKER_LOG")
  t0=$(date +%s%N)
  kill -TERM "$BROKER_PID"
  _await_exit "$BROKER_PID" "$STOP_MAX_S"
  BROKER_PID=
  stop_ms=$((($(date +%s%N) - t0) / 1000000))
  assert_eq 0 "$_exit_rc" "batond exit status after SIGTERM $round"
  tail -n +"$((mark + 1))" "$BROKER_LOG" >"$T/stop-$round.log"
  grep -q 'batond info: signal 15: stopping; committing in-flight work' \
      "$T/stop-$round.log" || fail "stop $round: no stop line in the broker log"
  if sed -n '/signal 15: stopping/,$p' "$T/stop-$round.log" | grep -c ' hello$' >/dev/null; then
    fail "stop $round: a session was accepted after SIGTERM"
  fi
  last=$(grep 'batond ' "$T/stop-$round.log" | tail -n 1)
  [[ "$last" == *"batond info: stopped" ]] ||
    fail "stop $round: the broker's last line is not 'stopped': $last"
  closed=$(grep -c 'closing code=SHUTTING_DOWN' "$T/stop-$round.log" || true)
  log "stop $round: exit 0 in ${stop_ms} ms, $closed sessions told SHUTTING_DOWN, $(receipts) receipts so far"
  start_broker
done
wait_for "receipts from the restarted broker" 60 more_receipts_or_done $(($(receipts) + 20))
touch "$T/load-done"

for i in "${!send_pids[@]}"; do
  wait_pid "${send_pids[$i]}" "$CLIENT_DEADLINE"
  [[ $WAIT_RC -eq 0 ]] ||
    fail "sender ${SENDERS[$i]} exited $WAIT_RC: $(tail -n 3 "$T/send-${SENDERS[$i]}.err")"
  log "$(tail -n 1 "$T/send-${SENDERS[$i]}.err")"
done
touch "$T/stop"
wait_pid "$recv_pid" 60
[[ $WAIT_RC -eq 0 ]] || fail "recipient exited $WAIT_RC: $(tail -n 3 "$T/recv.err")"
log "$(tail -n 1 "$T/recv.err")"
assert_queue_empty cmht1
stop_broker

if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$BROKER_LOG"; then
  fail "sanitizer report in the broker log"
fi
ctl "audit verify" audit verify --data "$DATA_DIR"
"$BATONCTL" audit export --data "$DATA_DIR" --format jsonl >"$T/audit.jsonl" ||
  fail "batonctl audit export failed"
stops=$(jq -r 'select(.event == "broker_stopped") | .seq' "$T/audit.jsonl" | grep -c . || true)
assert_eq $((SIGTERM_ROUNDS + 1)) "$stops" "broker_stopped audit records"
run "$LEDGER" check "${sent_logs[@]}" --recv "$T/recv-cmht1.log" --audit "$T/audit.jsonl"
printf '%s\n' "$RUN_OUT" | sed "s/^/[$TEST_NAME] /" >&2
[[ -z "$RUN_ERR" ]] || printf '%s\n' "$RUN_ERR" | sed "s/^/[$TEST_NAME] /" >&2
assert_rc 0 "ledger check"
assert_contains "$RUN_OUT" " (0 duplicate receipts" \
  "no committed submit lost its receipt in a clean stop"
assert_contains "$RUN_OUT" "(0 by status after a lost AckResult)" \
  "no committed ack lost its AckResult in a clean stop"
