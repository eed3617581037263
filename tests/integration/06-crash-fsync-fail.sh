#!/usr/bin/env bash
#
# 06-crash-fsync-fail: a failed fdatasync is fatal (TESTPLAN D3,
# "fsyncgate"), with the A3 audit join.
#
# The broker runs under libfiu's POSIX preload (fiu-run -x). A sender
# (provider1) submits with the ledger harness while a recipient (cmht1)
# receives and acks; once receipts flow, fiu-ctrl makes fdatasync() and
# fsync() fail with EIO at random (5 %) inside the running broker (after the
# restart the sender sends some more, then stops between ids). LMDB
# syncs a commit with fdatasync() through libc (MDB_FDATASYNC on Linux), so
# the next commit fails. Asserted:
#  - the broker stops by itself with a non-zero exit status, and its last
#    log line is a crit/fatal line naming the failed commit and the error;
#  - after a restart without faults, `ledger check` finds every message the
#    sender holds a receipt for, delivered, intact and acked once; a
#    receipt sent for the failed commit would show up as a lost message,
#    since the sender never resends an id it holds a receipt for;
#  - the audit log still verifies, with a durable record per receipt,
#    delivery and ack.
# Needs fiu-run and fiu-ctrl (Debian: fiu-utils, which pulls in libfiu0).
# shellcheck disable=SC2119 # start_broker takes optional args
: "${FSYNC_COUNT:=1500}" "${BATON_TEST_TIMEOUT:=150}"
export BATON_TEST_TIMEOUT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

LEDGER=$BATON_BIN/tests/fault/ledger
[[ -x "$LEDGER" ]] || fail "$LEDGER not built (make ledger)"
for _t in fiu-run fiu-ctrl; do
  command -v "$_t" >/dev/null ||
    fail "$_t is required (Debian packages fiu-utils and libfiu0)"
done
CLIENT_DEADLINE=$((BATON_TEST_TIMEOUT - 15))

make_pki provider1 cmht1
add_node provider1 provider
add_node cmht1 cmht

# The broker under fiu-run: it execs, so BROKER_PID is batond itself, with
# its control FIFOs at $T/fiu-PID.{in,out}.
# A sanitizer build needs more: fiu_posix_preload.so wraps malloc too, and
# ASan's start-up (which runs before libfiu's constructor) calls malloc
# through that wrapper while its pointer to the real malloc is still NULL:
# SIGSEGV before main. With the ASan runtime first in LD_PRELOAD, ASan's
# malloc wins and fdatasync still goes through libfiu (ASan does not wrap
# it). fiu-run always overwrites LD_PRELOAD, so there we take the
# environment `fiu-run -n` says it would set and put the runtime in front.
REAL_BATOND=$BATOND
asan_rt=$(ldd "$REAL_BATOND" | awk '/libasan\.so/ { print $3; exit }')
if [[ -z "$asan_rt" ]]; then
  cat >"$T/batond-fiu" <<EOF
#!/bin/sh
exec fiu-run -x -f "$T/fiu" "$REAL_BATOND" "\$@"
EOF
else
  fiu_preload=$(fiu-run -n -x -f "$T/fiu" /bin/true |
    sed -n 's/^LD_PRELOAD="\(.*\)" \\$/\1/p')
  [[ -n "$fiu_preload" ]] || fail "cannot learn fiu-run's LD_PRELOAD from fiu-run -n"
  log "sanitizer build: preloading $asan_rt before $fiu_preload"
  cat >"$T/batond-fiu" <<EOF
#!/bin/sh
FIU_ENABLE= FIU_CTRL_FIFO="$T/fiu" LD_PRELOAD="$asan_rt $fiu_preload"
export FIU_ENABLE FIU_CTRL_FIFO LD_PRELOAD
exec "$REAL_BATOND" "\$@"
EOF
fi
chmod 700 "$T/batond-fiu"
BATOND=$T/batond-fiu
start_broker
fiu_pid=$BROKER_PID
[[ -p "$T/fiu-$fiu_pid.in" ]] || fail "no libfiu control FIFO $T/fiu-$fiu_pid.in: the preload did not load"

conn_args() {
  printf '%s\n' --port-file "$T/broker.port" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/$1.crt" --key "$NODE_DIR/$1.key" \
    --deadline "$CLIENT_DEADLINE" --timeout-ms 5000
}
mapfile -t args < <(conn_args cmht1)
spawn "$T/recv.out" "$T/recv.err" "$LEDGER" recv "${args[@]}" \
  --log "$T/recv-cmht1.log" --stop-file "$T/stop" --idle 3
recv_pid=$SPAWN_PID
mapfile -t args < <(conn_args provider1)
spawn "$T/send.out" "$T/send.err" "$LEDGER" send "${args[@]}" \
  --prefix fsync --count "$FSYNC_COUNT" --to cmht1 \
  --json "$EXAMPLE_HANDOVER" --ledger "$T/sent-provider1.ledger" \
  --until "$T/load-done"
send_pid=$SPAWN_PID

receipts() {
  grep -c '^receipt ' "$T/sent-provider1.ledger" 2>/dev/null || true
}
receipts_at_least() {
  (($(receipts) >= $1))
}
more_receipts_or_done() {
  receipts_at_least "$1" || ! kill -0 "$send_pid" 2>/dev/null
}
wait_for "the first 100 receipts" 60 receipts_at_least 100

fiu-ctrl -f "$T/fiu" \
  -c "enable_random name=posix/io/sync/fdatasync,probability=0.05,failinfo=5" \
  -c "enable_random name=posix/io/sync/fsync,probability=0.05,failinfo=5" \
  "$fiu_pid" || fail "fiu-ctrl could not enable the failure points"
t0=$(date +%s%N)
before=$(receipts)
log "fdatasync/fsync now fail with EIO 5% of the time ($before receipts so far)"

_await_exit "$fiu_pid" 20
BROKER_PID=
stop_ms=$((($(date +%s%N) - t0) / 1000000))
log "broker exited with status $_exit_rc ${stop_ms} ms after the faults were enabled; $(receipts) receipts"
((_exit_rc != 0)) || fail "broker exited 0 after a failed fdatasync"
((_exit_rc < 128)) || fail "broker died of signal $((_exit_rc - 128)) instead of stopping"
last=$(grep 'batond ' "$BROKER_LOG" | tail -n 1)
log "its last line: ${last#* }"
[[ "$last" =~ batond\ (crit|fatal):\ .*commit.*Input/output\ error ]] ||
  fail "the broker's last log line is not a crit/fatal line naming the failed commit: $last"
kill -0 "$send_pid" 2>/dev/null || fail "the sender finished before the fault hit (raise FSYNC_COUNT)"

BATOND=$REAL_BATOND
start_broker
# let the sender resend what was in doubt and a few more, then stop it
wait_for "receipts from the restarted broker" 60 more_receipts_or_done $(($(receipts) + 20))
touch "$T/load-done"
wait_pid "$send_pid" "$CLIENT_DEADLINE"
[[ $WAIT_RC -eq 0 ]] || fail "sender exited $WAIT_RC: $(tail -n 3 "$T/send.err")"
log "$(tail -n 1 "$T/send.err")"
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
run "$LEDGER" check --sent "$T/sent-provider1.ledger" --recv "$T/recv-cmht1.log" \
  --audit "$T/audit.jsonl"
printf '%s\n' "$RUN_OUT" | sed "s/^/[$TEST_NAME] /" >&2
[[ -z "$RUN_ERR" ]] || printf '%s\n' "$RUN_ERR" | sed "s/^/[$TEST_NAME] /" >&2
assert_rc 0 "ledger check"
