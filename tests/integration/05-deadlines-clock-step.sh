#!/usr/bin/env bash
#
# 05-deadlines-clock-step (TESTPLAN D12): steps of the wall clock while the
# broker runs fire no deadline, expiry or purge early or late; they follow
# the broker's due clock (broker/clock.h), which advances with
# CLOCK_MONOTONIC.
#
# The broker runs under libfaketime with DONT_FAKE_MONOTONIC=1 (only the
# wall clock is faked) and FAKETIME_TIMESTAMP_FILE, rewritten to step the
# clock while it runs. The policy keeps `deadline high 4h` and `retention
# 5d` and sets `deadline critical 4s`:
#
#  - two HIGH handovers queued for cmht (offline), then the wall clock
#    steps +6 days: over several timer periods neither expires nor is
#    escalated (with due times on the wall clock both would), status
#    still shows them queued, and the step is logged;
#  - a CRITICAL handover sent just before the step is escalated 4 s after
#    it was sent, on time, with overdue_ms near 0 (not 6 days);
#  - the wall clock steps back 1 h: a CRITICAL handover sent just before
#    it is still escalated on time (not an hour late), a new handover is
#    accepted, cmht receives everything in order, nothing expires, and the
#    broker stops cleanly;
#  - the limit: restarted with the wall clock still 143 h ahead, the
#    broker cannot tell that from downtime, follows the wall clock and
#    logs the gap (the 4 h deadlines fall due at start-up).
#
# Needs libfaketime (Debian: faketime, which pulls in libfaketime; listed in
# scripts/deps.sh); skipped (77) only where it is not installed.
# shellcheck source=lib.sh disable=SC2119
BATON_TEST_TIMEOUT=${BATON_TEST_TIMEOUT:-90}
source "$(dirname "$0")/lib.sh"

CRIT_MS=4000		# deadline critical
SLACK_MS=3000		# "on time": within this after the deadline
STEP_FWD_MS=$((6 * 86400 * 1000))
STEP_NET_MS=$((STEP_FWD_MS - 3600 * 1000))

faketime_lib=$(dpkg -L libfaketime 2>/dev/null |
  grep -m1 '/libfaketime\.so\.1$' || true)
if [[ -z "$faketime_lib" ]]; then
  for _f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    [[ -e "$_f" ]] && { faketime_lib=$_f; break; }
  done
fi
if [[ -z "$faketime_lib" || ! -e "$faketime_lib" ]]; then
  log "SKIP: libfaketime not installed (scripts/deps.sh installs faketime)"
  exit 77
fi

now_ms() {
  date +%s%3N
}

# set_offset OFFSET: the broker's wall clock becomes real time + OFFSET
# (libfaketime syntax: +6d, +143h); replaced by rename, so libfaketime
# never reads a half-written file.
FAKE_FILE=$T/faketime
set_offset() {
  printf '%s\n' "$1" >"$FAKE_FILE.new"
  mv -f "$FAKE_FILE.new" "$FAKE_FILE"
  log "broker wall clock: real time $1"
}

# The broker under libfaketime, by exec, so BROKER_PID is batond itself.
# A sanitizer build must have its runtime first in LD_PRELOAD.
REAL_BATOND=$BATOND
preload=$faketime_lib
asan_rt=$(ldd "$REAL_BATOND" | awk '/libasan\.so/ { print $3; exit }')
[[ -z "$asan_rt" ]] || preload="$asan_rt $faketime_lib"
cat >"$T/batond-faketime" <<EOF
#!/bin/sh
LD_PRELOAD="$preload" DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1
FAKETIME_TIMESTAMP_FILE="$FAKE_FILE"
export LD_PRELOAD DONT_FAKE_MONOTONIC FAKETIME_NO_CACHE FAKETIME_TIMESTAMP_FILE
exec "$REAL_BATOND" "\$@"
EOF
chmod 700 "$T/batond-faketime"
BATOND=$T/batond-faketime
set_offset +0

BROKER_POLICY=$T/policy.conf
sed 's/^deadline critical 1h$/deadline critical 4s/' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
for _l in 'deadline critical 4s' 'deadline high 4h' 'retention 5d'; do
  grep -q "^$_l\$" "$BROKER_POLICY" || fail "policy copy lacks '$_l'"
done
CRITICAL=$T/critical.json
jq '.risk_summary.level = "RISK_LEVEL_CRITICAL"' "$EXAMPLE_HANDOVER" >"$CRITICAL"

setup_four_nodes
start_broker

# send ID FILE: provider sends FILE to cmht as ID; must be receipted.
send() {
  run baton_as provider send --to cmht --json "$2" --id "$1"
  assert_rc 0 "send $1"
  assert_json code OK
}

# assert_waiting ID: ID is queued for cmht, neither expired nor escalated.
assert_waiting() {
  run baton_as provider status "$1" --json
  assert_rc 0 "status of $1"
  assert_json state queued
  assert_eq "submitted queued" "$(status_events)" "events of $1"
}

# escalation_of ID OFFSET_MS SENT_MS: waits for crisis's ESCALATED notice
# about ID and checks it came on time: CRIT_MS after SENT_MS (real time;
# the notice's at_ms is the broker's wall clock, OFFSET_MS ahead), with
# overdue_ms (the due clock's view) near 0.
escalation_of() {
  local id=$1 offset=$2 sent=$3 n at overdue
  recv_until crisis ".kind == \"NOTICE_KIND_ESCALATED\" and .message_id == \"$id\"" 20
  n=$(tail -n 1 "$T/crisis.items")
  at=$(($(json_get at_ms "$n") - offset))
  ((at - sent >= CRIT_MS)) ||
    fail "$id escalated $((at - sent)) ms after it was sent: before its deadline"
  ((at - sent < CRIT_MS + SLACK_MS)) ||
    fail "$id escalated $((at - sent)) ms after it was sent: late"
  overdue=$(json_get '.overdue_ms // "0"' "$n")
  ((overdue >= 0 && overdue < SLACK_MS)) ||
    fail "$id: overdue_ms is '$overdue' (the due clock followed the wall clock?)"
}

# Far-away due times, then a short one, then the wall clock jumps +6 days.
send clock-far-1 "$EXAMPLE_HANDOVER"
send clock-far-2 "$EXAMPLE_HANDOVER"
crit1_sent=$(now_ms)
send clock-crit-1 "$CRITICAL"
set_offset +6d
stepped_ms=$(now_ms)
((stepped_ms - crit1_sent < CRIT_MS - 1000)) ||
  fail "test too slow: stepped $((stepped_ms - crit1_sent)) ms after sending clock-crit-1"

escalation_of clock-crit-1 "$STEP_FWD_MS" "$crit1_sent"

# Two more timer periods (the deadline timer runs at least every 5 s).
left_ms=$((stepped_ms + 11000 - $(now_ms)))
((left_ms <= 0)) || sleep "$((left_ms / 1000)).$(printf '%03d' $((left_ms % 1000)))"
assert_broker_alive
assert_waiting clock-far-1
assert_waiting clock-far-2
RECV_WAIT=1 recv_all provider
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/provider.items"
assert_eq 0 "$(items provider '.kind == "NOTICE_KIND_EXPIRED"')" \
  "EXPIRED notices after +6 days"
assert_eq 0 "$(items provider '.kind == "NOTICE_KIND_ESCALATED" and .message_id != "clock-crit-1"')" \
  "ESCALATED notices about the 4 h handovers after +6 days"
assert_eq 0 "$(count_in_log 'expired id=')" "expiries in the broker log"

# The step is logged (checked against the monotonic clock every 30 s).
wait_for "the +6 d step in the broker log" 35 \
  grep -Eq 'wall clock stepped by \+518(39[0-9]|40[0-9]) s' "$BROKER_LOG"

# Back 1 h, just after a CRITICAL handover: it still escalates on time.
crit2_sent=$(now_ms)
send clock-crit-2 "$CRITICAL"
set_offset +143h
(($(now_ms) - crit2_sent < CRIT_MS - 1000)) ||
  fail "test too slow: stepped back $(($(now_ms) - crit2_sent)) ms after sending clock-crit-2"
escalation_of clock-crit-2 "$STEP_NET_MS" "$crit2_sent"
send clock-new-1 "$EXAMPLE_HANDOVER"

# cmht receives everything, in order, escalated or not.
run baton_as cmht recv --wait 5 --max 5
assert_rc 0 "recv as cmht"
assert_eq "clock-far-1 clock-far-2 clock-crit-1 clock-crit-2 clock-new-1" \
  "$(jq -r .message_id <<<"$RUN_OUT" | tr '\n' ' ' | sed 's/ $//')" \
  "deliveries to cmht"

# A timer period more: nothing else fired, and the broker stops cleanly.
sleep 6
assert_broker_alive
for id in clock-far-1 clock-far-2 clock-new-1; do
  run baton_as provider status "$id" --json
  assert_rc 0 "status of $id"
  assert_json state acknowledged
  assert_eq "submitted queued delivered acknowledged" "$(status_events)" \
    "events of $id"
done
RECV_WAIT=1 recv_all provider
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/provider.items"
assert_eq 0 "$(items provider '.kind == "NOTICE_KIND_EXPIRED"')" "EXPIRED notices"
assert_eq 2 "$(items provider '.kind == "NOTICE_KIND_ESCALATED"')" \
  "ESCALATED notices to provider (the two critical ones)"
assert_eq 2 "$(count_in_log 'escalated id=provider/clock-crit-')" \
  "escalations in the broker log"
assert_eq 0 "$(count_in_log 'escalated id=provider/clock-far-\|escalated id=provider/clock-new-')" \
  "escalations of 4 h handovers in the broker log"
stop_broker

# The audit log orders by sequence number, not by time: its record times
# went 1 h back, and it still verifies, in sequence order.
run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify after the clock steps"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl
assert_rc 0 "audit export"
assert_eq true "$(jq -s '[.[].seq] | . == (sort | unique)' <<<"$RUN_OUT")" \
  "audit records in sequence order"
assert_eq true "$(jq -s '[.[].time] | . != sort' <<<"$RUN_OUT")" \
  "audit times stepped back (they are the wall clock's)"

# The documented limit (docs/reliability.md): across a restart the broker
# cannot tell downtime from a forward step made while it was down. Started
# again with the wall clock still 143 h ahead of the due clock it
# persisted, it follows the wall clock and logs the gap, so the 4 h
# deadlines of the three HIGH handovers fall due at start-up.
start_broker
wait_for "the start-up gap in the broker log" 10 \
  grep -q 'clock: 5148[0-9][0-9] s passed by the wall clock' "$BROKER_LOG"
wait_for "the 4 h deadlines at start-up" 15 \
  log_count_above 'escalated id=provider/clock-\(far\|new\)-' 2
stop_broker
