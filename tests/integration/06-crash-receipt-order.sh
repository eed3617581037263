#!/usr/bin/env bash
#
# 06-crash-receipt-order (TESTPLAN D2; DESIGN.md guarantee 1): a Receipt
# leaves the broker only after the LMDB commit holding its handover is on
# disk.
#
# (a) The broker runs under strace (-f -yy: every fd shown with its path or
#     TCP endpoints). One sender (tests/fault/timedsend) submits handovers
#     of about 18 KB one at a time on one session, so each Submit is a TLS
#     record read of more than 4 KiB on that client socket, and nothing
#     else the client sends comes near that. An LMDB commit is writev of
#     the dirty pages, fdatasync(data.mdb), then pwrite64 of the meta page
#     through data.mdb's O_DSYNC descriptor. Asserted on the trace, in
#     order: after each Submit read, the next write to that socket comes
#     only after an fdatasync of data.mdb AND the meta-page pwrite64 that
#     follows it; and every submit was seen and answered (so the check
#     cannot pass by seeing nothing).
# (b) The broker runs with tests/fault/libfsync_delay.so preloaded, which
#     sleeps 300 ms in every fdatasync() and fsync(): no receipt may arrive
#     sooner than 300 ms after its submit was written (timedsend measures
#     each on the monotonic clock). A broker answering before its commit
#     would answer in a few ms. Every handover is then delivered.
# Needs strace (Debian strace, in scripts/deps.sh). In a sanitizer build
# LeakSanitizer is off under strace (it needs ptrace itself), and the ASan
# runtime is preloaded ahead of the shim, as 06-crash-fsync-fail does.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

TIMEDSEND=$BATON_BIN/tests/fault/timedsend
SHIM=$BATON_BIN/tests/fault/libfsync_delay.so
[[ -x "$TIMEDSEND" ]] || fail "$TIMEDSEND not built (make timedsend)"
[[ -f "$SHIM" ]] || fail "$SHIM not built (make fsync_delay)"
command -v strace >/dev/null || fail "strace is required (scripts/deps.sh installs it)"
COUNT=8
DELAY_MS=300

setup_four_nodes
# The example handover plus three 4000-character goals: ~18 KB packed, so
# its Submit arrives as a TLS record of more than 4 KiB.
pad=$(printf '%04000d' 0 | tr 0 x)
jq --arg p "$pad" '.support_plan.goals += [$p, $p, $p]' "$EXAMPLE_HANDOVER" \
  >"$T/big.json" || fail "setup: cannot build the padded handover"

REAL_BATOND=$BATOND
asan_rt=$(ldd "$REAL_BATOND" | awk '/libasan\.so/ { print $3; exit }')

# timed_send PREFIX: COUNT handovers from provider to cmht, one at a time,
# 100 ms apart, into $T/PREFIX.times ("ID MS" per receipt).
timed_send() {
  "$TIMEDSEND" "$BROKER_ADDR" "$CA_DIR/ca.crt" "$NODE_DIR/provider.crt" \
    "$NODE_DIR/provider.key" cmht "$T/big.json" "$1" "$COUNT" 100 \
    >"$T/$1.times" 2>"$T/$1.err" ||
    fail "timedsend $1 failed: $(tail -n 3 "$T/$1.err")"
  assert_eq "$COUNT" "$(grep -c . "$T/$1.times")" "receipts for $1"
}

# --- (a) under strace ---------------------------------------------------
cat >"$T/batond-strace" <<EOF
#!/bin/sh
ASAN_OPTIONS="\${ASAN_OPTIONS:+\$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS
exec strace -f -tt -yy -qq -e signal=none \\
  -e trace=read,recvfrom,recvmsg,write,writev,sendmsg,sendto,pwrite64,fdatasync,fsync \\
  -o "$T/trace" "$REAL_BATOND" "\$@"
EOF
chmod 700 "$T/batond-strace"
BATOND=$T/batond-strace start_broker
strace_pid=$BROKER_PID
timed_send strace
# Stop batond itself (strace's child); strace exits with its status.
batond_pid=$(ps -o pid= --ppid "$strace_pid" | tr -d ' ')
[[ -n "$batond_pid" ]] || fail "no batond process under strace $strace_pid"
kill -TERM "$batond_pid"
_await_exit "$strace_pid" 30
BROKER_PID=
assert_eq 0 "$_exit_rc" "batond (under strace) exit status after SIGTERM"

# The check, over the trace in the order strace wrote it (batond is one
# thread, so each line is one complete call, in the order they returned).
# Per client socket (keyed by its TCP endpoints, as fds are reused):
# stage 1 after a read of more than 4096 bytes (a Submit), 2 once
# data.mdb has been fdatasync'd, 3 once the meta page was written after
# that; a socket write in stage 1 or 2 is a receipt before its commit.
awk -v big=4096 '
  function sock(line) { return match(line, /<TCP[^>]*>/) ? substr(line, RSTART, RLENGTH) : "" }
  function ret(line)  { return match(line, /= -?[0-9]+/) ? substr(line, RSTART + 2, RLENGTH - 2) + 0 : -1 }
  / (read|recvfrom|recvmsg)\(/ {
    s = sock($0)
    if (s != "" && ret($0) > big) { stage[s] = 1; submits++ }
    next
  }
  / fdatasync\([0-9]+<[^>]*\/data\.mdb>\) = 0/ {
    for (s in stage) if (stage[s] == 1) stage[s] = 2
    syncs++
    next
  }
  / pwrite64\([0-9]+<[^>]*\/data\.mdb>/ {
    if (ret($0) > 0) for (s in stage) if (stage[s] == 2) stage[s] = 3
    next
  }
  / (write|writev|sendmsg|sendto)\(/ {
    s = sock($0)
    if (s == "" || !(s in stage)) next
    if (stage[s] == 3) { answered++; delete stage[s]; next }
    printf "receipt before its commit was durable (stage %d): %s\n", stage[s], substr($0, 1, 120)
    bad++
    delete stage[s]
  }
  END {
    printf "%d %d %d %d submit reads, answered after fdatasync+meta write, early, fdatasyncs of data.mdb\n",
      submits, answered, bad, syncs
    exit bad > 0
  }' "$T/trace" >"$T/check.out" || fail "strace check: $(cat "$T/check.out")"
read -r submits answered early syncs _ < <(tail -n 1 "$T/check.out")
log "strace: $submits submit reads, $answered answered after fdatasync + meta write, $early early, $syncs fdatasyncs of data.mdb"
assert_eq "$COUNT" "$submits" "Submit reads seen in the trace"
assert_eq "$COUNT" "$answered" "Submits answered after their commit"

# --- (b) fdatasync takes 300 ms longer ---------------------------------
preload=$SHIM
[[ -z "$asan_rt" ]] || preload="$asan_rt $SHIM"
cat >"$T/batond-slow" <<EOF
#!/bin/sh
LD_PRELOAD="$preload" FSYNC_DELAY_MS=$DELAY_MS
export LD_PRELOAD FSYNC_DELAY_MS
exec "$REAL_BATOND" "\$@"
EOF
chmod 700 "$T/batond-slow"
BATOND=$T/batond-slow start_broker
grep -q libfsync_delay "/proc/$BROKER_PID/maps" ||
  fail "setup: $SHIM is not loaded into batond"
timed_send slow
log "receipt latencies with a ${DELAY_MS} ms fdatasync: $(awk '{ printf "%s ", $2 }' "$T/slow.times")ms"
while read -r id ms; do
  ((ms >= DELAY_MS)) ||
    fail "$id: receipt $ms ms after its submit, sooner than the $DELAY_MS ms its commit's fdatasync takes"
done <"$T/slow.times"
stop_broker

# Everything receipted is there: 2 x COUNT deliveries, each id once.
BATOND=$REAL_BATOND start_broker
RECV_WAIT=3 recv_all cmht --max $((2 * COUNT))
assert_eq $((2 * COUNT)) "$(json_get .message_id | sort -u | grep -c .)" \
  "distinct handovers delivered"
stop_broker

if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$BROKER_LOG"; then
  fail "sanitizer report in the broker log"
fi
