#!/usr/bin/env bash
#
# 08-hostile-buffered (issue 9 finding 5, after Hello): the broker-wide
# budget for partially received large frames (--max-buffered; session.c
# reserve_frame). A frame larger than the 64 KiB read buffer takes its
# length from the budget before the buffer may grow to hold it; a session
# whose frame does not fit stops being read ("waits for frame budget")
# until a frame arriving elsewhere is whole or its session is closed.
# With --max-buffered 4 MiB (its floor, --max-frame) and handovers whose
# Submit is about 1.5 MB, two such frames fit at a time:
#  A. provider opens 8 sessions and, after Hello, trickles one such Submit
#     on each, all in step over 3 s (tests/fault/hostile submit-trickle).
#     At least 6 of the sessions wait for the budget; every one is
#     receipted OK in the end; gp's small send made meanwhile gets its
#     receipt within OTHER_BOUND_MS; batond's VmRSS grows by less than
#     twice the part of the docs/limits.md bound these sessions can use
#     (C x 114 KiB + max_buffered + a decoded frame of 2 x max_frame).
#     Then a large send goes through without waiting: the finished frames
#     gave their budget back.
#  B. crisis holds two 1.6 MB frames all but their last byte (partial-hold
#     after Hello): 3.2 MB of the budget. gp's large send waits for the
#     budget and is still waiting a second later; once crisis's
#     connections are closed, it is receipted within CLOSE_BOUND_S; two
#     large sends at once then go through without waiting.
# Without the budget no session ever waits, and the memory of every
# partial frame is the broker's.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

broker_supports --max-buffered || fail "batond has no --max-buffered option"

MAX_FRAME=4194304
MAX_BUFFERED=$MAX_FRAME
CONNS=8
TRICKLE_MS=3000
OTHER_BOUND_MS=2000
CLOSE_BOUND_S=5
if is_asan_build; then
  OTHER_BOUND_MS=5000
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16
fi

setup_four_nodes
REFERRAL=$T/referral.json
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$REFERRAL"
# big FROM TO: a valid handover of about 1.5 MB (256 risks of 5,900
# characters, within validation's limits of 256 entries and 8 KiB each).
big() {
  jq --arg s "$(head -c 5900 /dev/zero | tr '\0' 'r')" \
    '.risk_summary.current_risks = [range(256) | $s]' "$1" >"$2"
}
big "$EXAMPLE_HANDOVER" "$T/big.json"
big "$REFERRAL" "$T/big-referral.json"
size=$(stat -c %s "$T/big.json")
((size > 1400000 && size < 1700000)) || fail "test setup: the large handover is $size bytes"

start_broker --max-frame "$MAX_FRAME" --max-buffered "$MAX_BUFFERED"

# waits_since MARK [NODE]: the sessions (sids) that waited for the frame
# budget after MARK, one per line.
waits_since() {
  local since
  since=$(tail -c "+$(($1 + 1))" "$BROKER_LOG")
  grep -o "sid=[0-9]* node=${2:-[a-z]*} waits for frame budget" <<<"$since" |
    awk '{ print $1 }' | sort -u || true
}

# big_send NAME NODE FILE ID: a large send in the background; its output
# goes to $T/NAME.out/.err. Sets SPAWN_PID.
big_send() {
  spawn "$T/$1.out" "$T/$1.err" baton_as "$2" send --to cmht --json "$3" --id "$4"
}

# sent_ok NAME PID: background send NAME (PID) ended with a receipt OK.
sent_ok() {
  wait_pid "$2" 30
  [[ "$WAIT_RC" = 0 ]] || fail "send $1 exited $WAIT_RC: $(tail -n 3 "$T/$1.err")"
  assert_json code OK "$(cat "$T/$1.out")"
}

# budget_free WHAT: two large sends at once go through, neither waiting.
budget_free() {
  local mark pid1 pid2
  mark=$(log_mark)
  big_send "$1-1" gp "$T/big-referral.json" "$1-1"
  pid1=$SPAWN_PID
  big_send "$1-2" provider "$T/big.json" "$1-2"
  pid2=$SPAWN_PID
  sent_ok "$1-1" "$pid1"
  sent_ok "$1-2" "$pid2"
  assert_eq "" "$(waits_since "$mark")" "sessions waiting for the budget $2"
}

# One large send first: the allocator's thresholds settle before RSS is read.
budget_free warm "with the broker idle"
rss0=$(rss_kb "$BROKER_PID")

# --- A: eight sessions trickle large frames -------------------------------
mark=$(log_mark)
hostile_spawn trickle provider submit-trickle --conns "$CONNS" --to cmht \
  --json "$T/big.json" --prefix trickle --trickle-ms "$TRICKLE_MS" --seconds 40
trickle_pid=$HOSTILE_PID
wait_for "a session to wait for the frame budget" 20 \
  log_since "$mark" "waits for frame budget"
t0=$(date +%s%3N)
run baton_as gp send --to cmht --json "$REFERRAL" --id buffered-other-1
other_ms=$(($(date +%s%3N) - t0))
assert_rc 0 "gp's send while large frames wait for the budget"
assert_json code OK
rss_max=$rss0
while kill -0 "$trickle_pid" 2>/dev/null; do
  rss=$(rss_kb "$BROKER_PID" || echo 0)
  ((rss > rss_max)) && rss_max=$rss
  sleep 0.1
done
hostile_wait trickle "$trickle_pid" 60
hostile_show trickle
waited=$(waits_since "$mark" provider | grep -c . || true)
log "$waited of $CONNS trickling sessions waited for the budget; gp's send took ${other_ms} ms"
log "batond VmRSS ${rss0} kB before, at most ${rss_max} kB while the frames arrived"
assert_eq "$CONNS" "$(hv trickle written)" "large frames written whole"
assert_eq "$CONNS" "$(hv trickle ok)" "large frames receipted OK (errors: $(hv trickle errors))"
((waited >= CONNS - 2)) ||
  fail "only $waited of $CONNS sessions waited for a $MAX_BUFFERED-byte budget that holds two of their frames"
assert_eq "" "$(waits_since "$mark" gp)" "gp's small frame waiting for the budget"
((other_ms < OTHER_BOUND_MS)) ||
  fail "gp's send took ${other_ms} ms while large frames waited for the budget (bound ${OTHER_BOUND_MS} ms)"
# The part of the bound these sessions can use: no output to speak of.
rss_bound=$((2 * (((CONNS + 1) * 114) + (MAX_BUFFERED + 2 * MAX_FRAME) / 1024)))
((rss_max - rss0 < rss_bound)) ||
  fail "batond VmRSS grew by $((rss_max - rss0)) kB while large frames arrived (bound ${rss_bound} kB)"
budget_free after-trickle "after the trickled frames were whole"

# --- B: held frames give the budget back when closed ----------------------
hostile_spawn hold crisis partial-hold --hello --conns 2 --length 1600000 --seconds 60
hold_pid=$HOSTILE_PID
wait_for "crisis's two partial frames" 20 grep -q '^connect_ms=' "$HOSTILE_DIR/hold.out"
mark=$(log_mark)
big_send probe gp "$T/big-referral.json" buffered-probe-1
probe_pid=$SPAWN_PID
wait_for "gp's large frame to wait for the budget" 15 \
  log_since "$mark" "node=gp waits for frame budget"
sleep 1
kill -0 "$probe_pid" 2>/dev/null ||
  fail "gp's large send ended while two held frames took 3.2 MB of a $MAX_BUFFERED-byte budget: $(cat "$T/probe.out" "$T/probe.err")"
t_close=$SECONDS
kill -TERM "$hold_pid"
wait_pid "$hold_pid" 10
sent_ok probe "$probe_pid"
log "gp's large send was receipted $((SECONDS - t_close)) s after crisis's connections closed"
((SECONDS - t_close <= CLOSE_BOUND_S)) ||
  fail "gp's large send took $((SECONDS - t_close)) s after the held frames were closed (bound ${CLOSE_BOUND_S} s)"
budget_free after-close "after the held frames' connections closed"

# Everything receipted reaches cmht.
RECV_WAIT=60 recv_all cmht --max $((2 * 3 + CONNS + 2))
assert_eq $((2 * 3 + CONNS + 2)) "$(count_lines "$RUN_OUT")" "handovers received by cmht"
assert_broker_alive
stop_broker
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$BROKER_LOG"; then
  fail "sanitizer report in the broker log"
fi
