#!/usr/bin/env bash
#
# 06-crash-stale-reader (TESTPLAN D7): a process that holds a read
# transaction on the broker's store and dies with SIGKILL leaves its LMDB
# reader slot behind, and that slot pins every page freed since its
# snapshot, so data.mdb grows. The broker clears such slots with
# mdb_reader_check at start and every 30 s (READER_CHECK_S in batond.c).
#
# Under steady churn (one sender, tests/fault/timedsend, one ledger
# receiver acking, bodies purged 1 s after their ack), tests/fault/readerhold opens the store and holds a
# read transaction, then is killed with SIGKILL. Asserted:
#  - the pinned reader makes data.mdb grow (so the test can see a leak);
#  - while it lives, the broker names it: a reader that holds the same
#    snapshot across two reader checks is warned about ("store: process
#    PID has held a read transaction for over 30 s (N commits behind)"),
#    within two periods (plus 10 s of slack) of its start;
#  - within one reader-check period (30 s, plus 10 s of slack) of the kill
#    the broker logs "store: cleared 1 stale reader slots", and
#    `mdb_stat -r` no longer lists the dead process;
#  - once cleared, with churn going on (more receipts), data.mdb grows by
#    no more than a quarter of what it grew while pinned, plus 256 KiB:
#    the freed pages are reused;
#  - every receipted handover is delivered.
# shellcheck disable=SC2119 # start_broker takes optional args
: "${BATON_TEST_TIMEOUT:=170}"
export BATON_TEST_TIMEOUT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

LEDGER=$BATON_BIN/tests/fault/ledger
READERHOLD=$BATON_BIN/tests/fault/readerhold
TIMEDSEND=$BATON_BIN/tests/fault/timedsend
for _t in "$LEDGER" "$READERHOLD" "$TIMEDSEND"; do
  [[ -x "$_t" ]] || fail "$_t not built (make ledger readerhold timedsend)"
done
command -v mdb_stat >/dev/null || fail "mdb_stat is required (Debian lmdb-utils)"
READER_CHECK_S=30
PHASE_S=5
CLIENT_DEADLINE=$((BATON_TEST_TIMEOUT - 15))

make_pki provider1 cmht1
add_node provider1 provider
add_node cmht1 cmht
BROKER_POLICY=$T/policy.conf
sed 's/^purge .*/purge 1s/' "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^purge 1s$' "$BROKER_POLICY" || fail "setup: no purge line in deploy/policy.conf"
start_broker

conn_args() {
  printf '%s\n' --port-file "$T/broker.port" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/$1.crt" --key "$NODE_DIR/$1.key" \
    --deadline "$CLIENT_DEADLINE" --timeout-ms 10000
}
mapfile -t args < <(conn_args cmht1)
spawn "$T/recv.out" "$T/recv.err" "$LEDGER" recv "${args[@]}" \
  --log "$T/recv-cmht1.log" --stop-file "$T/stop" --idle 3
recv_pid=$SPAWN_PID
# One handover every 100 ms, one at a time: a pinned reader costs LMDB
# ~100 KiB of new pages per commit, and the slot may stay pinned for a
# whole check period after the kill, so the rate keeps data.mdb far from
# the map size.
spawn "$T/sent.times" "$T/send.err" "$TIMEDSEND" "$BROKER_ADDR" "$CA_DIR/ca.crt" \
  "$NODE_DIR/provider1.crt" "$NODE_DIR/provider1.key" cmht1 "$EXAMPLE_HANDOVER" \
  churn 1000000 100
send_pid=$SPAWN_PID

receipts() {
  grep -c . "$T/sent.times" 2>/dev/null || true
}
receipts_at_least() {
  (($(receipts) >= $1))
}
mdb_size() {
  stat -c %s "$DATA_DIR/data.mdb"
}
kib() {
  echo "$(($1 / 1024)) KiB"
}
# churn_for SECONDS: lets the churn run, failing if a client died.
churn_for() {
  local end=$((SECONDS + $1))
  while ((SECONDS < end)); do
    kill -0 "$send_pid" 2>/dev/null || fail "sender stopped: $(tail -n 3 "$T/send.err")"
    kill -0 "$recv_pid" 2>/dev/null || fail "recipient stopped: $(tail -n 3 "$T/recv.err")"
    sleep 0.2
  done
}

# Warm up: purges start returning pages to LMDB's free list.
wait_for "the first 20 receipts" 60 receipts_at_least 20
churn_for 3
s0=$(mdb_size) r0=$(receipts)

# A reader holds a snapshot while the churn goes on.
spawn "$T/hold.out" "$T/hold.err" "$READERHOLD" "$DATA_DIR" "$T/hold.ready"
hold_pid=$SPAWN_PID
wait_for "readerhold's read transaction" 15 test -s "$T/hold.ready"
churn_for "$PHASE_S"
s1=$(mdb_size) r1=$(receipts)
grown=$((s1 - s0))
log "while a reader was pinned: data.mdb $(kib "$s0") -> $(kib "$s1") over $((r1 - r0)) receipts"
((grown > 0)) || fail "data.mdb did not grow while a read transaction was held (the test sees no leak)"
mdb_stat -r "$DATA_DIR" >"$T/readers.before" 2>&1 || true
grep -qE "^ +$hold_pid " "$T/readers.before" ||
  fail "readerhold (pid $hold_pid) is not in the reader table: $(cat "$T/readers.before")"

# Still alive across two reader checks: the broker warns, naming it.
warned() {
  grep -qE "store: process $hold_pid has held a read transaction for over ${READER_CHECK_S} s \([1-9][0-9]* commits behind\)" "$BROKER_LOG"
}
t_hold=$SECONDS
wait_for "the warning about readerhold's long read transaction" \
  $((2 * READER_CHECK_S + 10 - PHASE_S)) warned
log "warned about the live reader $((SECONDS - t_hold + PHASE_S)) s after it began: $(grep -oE 'store: process [0-9]+ has held .*behind\)' "$BROKER_LOG" | tail -n 1)"
kill -0 "$hold_pid" 2>/dev/null || fail "readerhold ended before it was killed"

# Killed: its slot is stale now, and only mdb_reader_check frees it.
cleared_before=$(count_in_log 'store: cleared 1 stale reader slots')
kill -KILL "$hold_pid"
wait_pid "$hold_pid" 10
t_kill=$SECONDS
wait_for "the broker to clear the stale reader slot" $((READER_CHECK_S + 10)) \
  log_count_above 'store: cleared 1 stale reader slots' "$cleared_before"
log "stale reader slot cleared $((SECONDS - t_kill)) s after the kill (period ${READER_CHECK_S} s)"
mdb_stat -r "$DATA_DIR" >"$T/readers.after" 2>&1 || true
grep -q 'Reader Table Status' "$T/readers.after" || fail "mdb_stat -r: $(cat "$T/readers.after")"
if grep -qE "^ +$hold_pid " "$T/readers.after"; then
  fail "the dead reader (pid $hold_pid) is still in the reader table: $(cat "$T/readers.after")"
fi

# With the slot gone, the freed pages are reused: the file stops growing.
s2=$(mdb_size) r2=$(receipts)
churn_for "$PHASE_S"
s3=$(mdb_size) r3=$(receipts)
after=$((s3 - s2))
log "after the slot was cleared: data.mdb $(kib "$s2") -> $(kib "$s3") over $((r3 - r2)) receipts"
((r3 - r2 >= 10)) || fail "only $((r3 - r2)) receipts in ${PHASE_S} s after the clear: no churn to measure"
((after <= grown / 4 + 262144)) ||
  fail "data.mdb grew $(kib "$after") after the stale slot was cleared (pinned: $(kib "$grown"))"

# Stop the churn; every receipted handover must have been delivered.
kill -TERM "$send_pid"
wait_pid "$send_pid" 10
touch "$T/stop"
wait_pid "$recv_pid" 60
[[ $WAIT_RC -eq 0 ]] || fail "recipient exited $WAIT_RC: $(tail -n 3 "$T/recv.err")"
stop_broker
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$BROKER_LOG"; then
  fail "sanitizer report in the broker log"
fi
awk '{ print $1 }' "$T/sent.times" | sort -u >"$T/receipted.ids"
awk '$1 == "deliver" { print $3 }' "$T/recv-cmht1.log" | sort -u >"$T/delivered.ids"
missing=$(comm -23 "$T/receipted.ids" "$T/delivered.ids")
[[ -z "$missing" ]] || fail "receipted but never delivered: ${missing//$'\n'/ }"
log "$(receipts) receipted handovers, all delivered"
