#!/usr/bin/env bash
#
# 08-limits-drain (docs/limits.md, "Drain of a closing session"): a session
# the broker closes with an Error may drain its output for 5 s; if the
# client reads nothing, the broker then drops it ("closed (drain
# timeout)"), so a stalled client cannot keep a closed session's buffers.
#  - 40 handovers of about 800 KB are queued for cmht; a raw client of
#    cmht says Hello and Pull{credit=1000}, takes a little, and is
#    SIGSTOPped, so megabytes of deliveries wait in the broker's output;
#  - `batonctl node disable cmht`: the broker's session re-check closes
#    the session with an Error, which cannot be written out behind the
#    deliveries;
#  - the broker drops it 5 s after the close began (4.9 to 8 s between
#    the two log lines), not before, and serves on.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

COUNT=40

setup_four_nodes
start_broker

BIG=$T/big.json
jq --arg s "$(head -c 8000 /dev/zero | tr '\0' 'r')" \
  '.risk_summary.current_risks = [range(100) | $s]' "$EXAMPLE_HANDOVER" >"$BIG"
hostile_run fill provider submit-burst 120 --to cmht --json "$BIG" \
  --prefix drain --count "$COUNT" --window 8 --seconds 90
hostile_show fill
assert_eq "$COUNT" "$(hv fill ok)" "handovers queued for cmht"

raw_start_as stalled cmht "$(raw_frame "$RAW_HELLO")$(raw_frame "$RAW_PULL_1000")"
stalled_pid=$RAW_PID
wait_for "a delivery to the raw client" 15 log_count_above 'node=cmht deliver id=' 0
kill -STOP "$stalled_pid"
# Deliveries fill the socket buffers, then stay in the broker's output.
sleep 1

run "$BATONCTL" node disable --data "$DATA_DIR" --node cmht
assert_rc 0 "batonctl node disable cmht"
wait_for "the stalled session to be closed" 15 \
  grep -q 'node=cmht peer=.* closing code=' "$BROKER_LOG"
closing=$(grep 'node=cmht peer=.* closing code=' "$BROKER_LOG" | head -n 1)
sid=$(sed -n 's/.* sid=\([0-9]*\) node=cmht .*/\1/p' <<<"$closing")
[[ -n "$sid" ]] || fail "no session id in '$closing'"
wait_for "the closed session to be dropped" 20 \
  grep -q "sid=$sid node=cmht closed (drain timeout)" "$BROKER_LOG"
dropped=$(grep "sid=$sid node=cmht closed (drain timeout)" "$BROKER_LOG" | head -n 1)

# log_ms LINE: the line's timestamp in ms since the epoch.
log_ms() {
  date -d "${1%% *}" +%s%3N
}
drain_ms=$(($(log_ms "$dropped") - $(log_ms "$closing")))
log "session $sid: '${closing#* batond }', dropped ${drain_ms} ms later"
((drain_ms >= 4900 && drain_ms <= 8000)) ||
  fail "the closed session was dropped ${drain_ms} ms after its close began (5 s drain)"

kill -KILL "$stalled_pid"
wait_pid "$stalled_pid" 10
assert_broker_alive
run "$BATONCTL" node enable --data "$DATA_DIR" --node cmht
assert_rc 0 "batonctl node enable cmht"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id drain-after-1
assert_rc 0 "send after the drain timeout"
assert_json code OK
stop_broker
