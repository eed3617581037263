#!/usr/bin/env bash
#
# 06-crash-storm: kill -9 storm (TESTPLAN D1, with the A3 audit join).
#
# Four senders (provider1..4) submit with the ledger harness
# (tests/fault/ledger.c) to two recipients (cmht1, cmht2) that receive and
# ack, while the broker is SIGKILLed at random 0.2-3 s intervals and
# restarted on the same data dir. Senders resend an id until they hold a
# receipt; recipients fsync each delivery to their log before acking.
# After the storm the broker runs undisturbed, the recipients drain, the
# broker stops cleanly and `ledger check` joins the sender ledgers, the
# recipient logs and the exported audit log: no receipted message lost
# (I1), nothing delivered that was not sent (I2), hashes equal (I3), each
# sender's order kept (I4), one distinct delivery per receipted id, none
# after a confirmed ack, and a durable audit record for every receipt,
# delivery and ack (A3). After each restart the broker must be listening
# within RESTART_MAX_S (2 s) and `mdb_stat -r` must list no reader slot of
# a dead process.
#
# Short variant (default, ctest): 8 kills while 4 senders submit; each sends
# up to 1,000 messages and stops (between ids, never with one in doubt) when
# the storm is over, so the load spans the storm on a fast build and the
# test stays short on a sanitizer build or a busy host.
# Soak variant:  BATON_SOAK=1 bash tests/integration/06-crash-storm.sh
#                (4 x 25,000 messages, all of them sent, 20 kills during the
#                first part of the load; deadline 2 h).
# Sizes can also be set one by one: STORM_SENDERS (1-4), STORM_COUNT,
# STORM_KILLS, RESTART_MAX_S (raise it for sanitizer builds on busy hosts).
# shellcheck disable=SC2119 # start_broker takes optional args
if [[ "${BATON_SOAK:-0}" = 1 ]]; then
  : "${STORM_COUNT:=25000}" "${STORM_KILLS:=20}" "${BATON_TEST_TIMEOUT:=7200}"
fi
: "${STORM_SENDERS:=4}" "${STORM_COUNT:=1000}" "${STORM_KILLS:=8}"
: "${BATON_TEST_TIMEOUT:=170}" "${RESTART_MAX_S:=2}"
export BATON_TEST_TIMEOUT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

LEDGER=$BATON_BIN/tests/fault/ledger
[[ -x "$LEDGER" ]] || fail "$LEDGER not built (make ledger)"
command -v mdb_stat >/dev/null || fail "mdb_stat is required (package lmdb-utils)"
((STORM_SENDERS >= 1 && STORM_SENDERS <= 4)) || fail "STORM_SENDERS must be 1-4"

# Everything but the last second of the test's own deadline.
CLIENT_DEADLINE=$((BATON_TEST_TIMEOUT - 15))
RECIPIENTS=(cmht1 cmht2)
SENDERS=()
for ((i = 1; i <= STORM_SENDERS; i++)); do
  SENDERS+=("provider$i")
done

make_pki "${SENDERS[@]}" "${RECIPIENTS[@]}"
for n in "${SENDERS[@]}"; do
  add_node "$n" provider
done
for n in "${RECIPIENTS[@]}"; do
  add_node "$n" cmht
done
start_broker

# conn_args NODE: the ledger's connection options as NODE.
conn_args() {
  printf '%s\n' --port-file "$T/broker.port" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/$1.crt" --key "$NODE_DIR/$1.key" \
    --deadline "$CLIENT_DEADLINE" --timeout-ms 5000
}

# no_stale_readers: every pid in LMDB's reader table is alive (the broker
# clears slots of dead processes at start with mdb_reader_check).
no_stale_readers() {
  local out pid
  # LMDB 0.9.24's mdb_stat -r exits 1 even when it worked: judge its output
  out=$(mdb_stat -r "$DATA_DIR" 2>&1 || true)
  [[ "$out" == *"Reader Table Status"* ]] || fail "mdb_stat -r $DATA_DIR failed: $out"
  for pid in $(printf '%s\n' "$out" | awk '$1 ~ /^[0-9]+$/ { print $1 }'); do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail "stale LMDB reader slot of dead pid $pid after restart: $out"
    fi
  done
}

recv_pids=()
recv_logs=()
for r in "${RECIPIENTS[@]}"; do
  mapfile -t args < <(conn_args "$r")
  spawn "$T/recv-$r.out" "$T/recv-$r.err" "$LEDGER" recv "${args[@]}" \
    --log "$T/recv-$r.log" --stop-file "$T/stop" --idle 3
  recv_pids+=("$SPAWN_PID")
  recv_logs+=(--recv "$T/recv-$r.log")
done
send_pids=()
sent_logs=()
to=$(IFS=,; echo "${RECIPIENTS[*]}")
for s in "${SENDERS[@]}"; do
  mapfile -t args < <(conn_args "$s")
  spawn "$T/send-$s.out" "$T/send-$s.err" "$LEDGER" send "${args[@]}" \
    --prefix "storm-$s" --count "$STORM_COUNT" --to "$to" \
    --json "$EXAMPLE_HANDOVER" --ledger "$T/sent-$s.ledger" \
    --until "$T/load-done"
  send_pids+=("$SPAWN_PID")
  sent_logs+=(--sent "$T/sent-$s.ledger")
done

# receipts_so_far: receipt lines over all sender ledgers.
receipts_so_far() {
  cat "$T"/sent-*.ledger 2>/dev/null | grep -c '^receipt ' || true
}

senders_running() {
  local p
  for p in "${send_pids[@]}"; do
    kill -0 "$p" 2>/dev/null && return 0
  done
  return 1
}

t_start=$SECONDS
kills_under_load=0
max_restart_ms=0
for ((k = 1; k <= STORM_KILLS; k++)); do
  # 0.2 to 3.0 s, uniformly in 10 ms steps
  delay_ms=$((200 + RANDOM % 281 * 10))
  sleep "$((delay_ms / 1000)).$(printf '%03d' $((delay_ms % 1000)))"
  if senders_running; then
    kills_under_load=$((kills_under_load + 1))
  fi
  before=$(receipts_so_far)
  kill_broker
  t0=$(date +%s%N)
  start_broker
  restart_ms=$((($(date +%s%N) - t0) / 1000000))
  if ((restart_ms > max_restart_ms)); then max_restart_ms=$restart_ms; fi
  if ((restart_ms > RESTART_MAX_S * 1000)); then
    fail "restart $k took ${restart_ms} ms to listen (limit ${RESTART_MAX_S} s)"
  fi
  no_stale_readers
  log "kill $k/$STORM_KILLS after ${delay_ms} ms: $before receipts before it; listening again in ${restart_ms} ms"
done
log "storm over after $((SECONDS - t_start)) s: $kills_under_load of $STORM_KILLS kills hit senders mid-run; slowest restart ${max_restart_ms} ms"
((kills_under_load >= 1)) || fail "no kill landed while the senders ran: the test proved nothing (raise STORM_COUNT)"
if [[ "${BATON_SOAK:-0}" != 1 ]]; then
  touch "$T/load-done"
fi

for i in "${!send_pids[@]}"; do
  wait_pid "${send_pids[$i]}" "$CLIENT_DEADLINE"
  [[ $WAIT_RC -eq 0 ]] ||
    fail "sender ${SENDERS[$i]} exited $WAIT_RC: $(tail -n 3 "$T/send-${SENDERS[$i]}.err")"
  log "$(tail -n 1 "$T/send-${SENDERS[$i]}.err")"
done
touch "$T/stop"
for i in "${!recv_pids[@]}"; do
  wait_pid "${recv_pids[$i]}" 60
  [[ $WAIT_RC -eq 0 ]] ||
    fail "recipient ${RECIPIENTS[$i]} exited $WAIT_RC: $(tail -n 3 "$T/recv-${RECIPIENTS[$i]}.err")"
  log "$(tail -n 1 "$T/recv-${RECIPIENTS[$i]}.err")"
done
for r in "${RECIPIENTS[@]}"; do
  assert_queue_empty "$r"
done
stop_broker

if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$BROKER_LOG"; then
  fail "sanitizer report in the broker log"
fi
ctl "audit verify" audit verify --data "$DATA_DIR"
"$BATONCTL" audit export --data "$DATA_DIR" --format jsonl >"$T/audit.jsonl" ||
  fail "batonctl audit export failed"

run "$LEDGER" check "${sent_logs[@]}" "${recv_logs[@]}" --audit "$T/audit.jsonl"
printf '%s\n' "$RUN_OUT" | sed "s/^/[$TEST_NAME] /" >&2
[[ -z "$RUN_ERR" ]] || printf '%s\n' "$RUN_ERR" | sed "s/^/[$TEST_NAME] /" >&2
assert_rc 0 "ledger check"
if [[ "${BATON_SOAK:-0}" = 1 ]]; then
  assert_contains "$RUN_OUT" "receipted $((STORM_SENDERS * STORM_COUNT)) " \
    "every message of the soak receipted"
fi
log "done in $((SECONDS - t_start)) s"
