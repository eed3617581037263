#!/usr/bin/env bash
#
# 08-hostile-reconnect (TESTPLAN N4 "one node reconnecting in a loop", N6,
# DESIGN Guarantee 7): gp opens 2,000 sessions, four loops of 500 one
# after another, each to Welcome and then closed (tests/fault/hostile
# reconnect-loop), while provider sends handovers to cmht with
# `baton send` meanwhile. (Four loops, because one session takes about
# 45 ms: the Welcome waits out a delayed ACK behind the TLS tickets.)
# Proves:
#  - the loop does not stall the other partner: each of provider's sends
#    during the loop gets its receipt (OK) within 5 s;
#  - every one of gp's sessions is welcomed (none refused);
#  - the audit log does not gain a record per connection: gp has at most
#    200 connection_accepted records, and after the broker stops an
#    audit_suppressed record counts the rest;
#  - the audit log still verifies.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

LOOPS=4
PER=500
# Under ASan a handshake costs several times as much; the loops' time cap
# (50 s) may then end them early, and the audit bounds below still apply
# to however many sessions they made (at least 500).
MIN_DONE=$((LOOPS * PER))
if is_asan_build; then
  MIN_DONE=500
fi

# running_loops: how many of the loops still run.
running_loops() {
  local p n=0
  for p in "${loop_pids[@]}"; do
    kill -0 "$p" 2>/dev/null && n=$((n + 1))
  done
  echo "$n"
}

setup_four_nodes
start_broker

loop_pids=()
for ((k = 1; k <= LOOPS; k++)); do
  hostile_spawn "loop-$k" gp reconnect-loop --count "$PER" --seconds 50
  loop_pids+=("$HOSTILE_PID")
done
sends=0
while (($(running_loops) > 0)); do
  sends=$((sends + 1))
  t0=$(date +%s%3N)
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "reconnect-$sends"
  ms=$(($(date +%s%3N) - t0))
  assert_rc 0 "send reconnect-$sends during gp's reconnect loop (stderr: $RUN_ERR)"
  assert_json code OK
  ((ms < 5000)) || fail "send reconnect-$sends took $ms ms during gp's reconnect loop"
  sleep 0.2
done
done_n=0
for ((k = 1; k <= LOOPS; k++)); do
  hostile_wait "loop-$k" "${loop_pids[$((k - 1))]}" 70
  hostile_show "loop-$k"
  assert_eq 0 "$(hv "loop-$k" failed)" "gp sessions not welcomed in loop $k (error: $(hv "loop-$k" error_code) $(hv "loop-$k" error_text))"
  done_n=$((done_n + $(hv "loop-$k" ok)))
done
log "provider sent $sends handovers during the loops"
((sends >= 3)) || fail "only $sends sends overlapped the reconnect loops"
((done_n >= MIN_DONE)) || fail "gp's loops made only $done_n sessions (wanted $MIN_DONE)"

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event connection_accepted --node gp
assert_rc 0 "audit export --event connection_accepted"
accepted=$(count_lines "$RUN_OUT")
log "$accepted connection_accepted records for gp's $done_n sessions"
((accepted <= 200)) ||
  fail "$accepted connection_accepted records for gp's $done_n sessions: connection records are not rate-limited"
assert_broker_alive
stop_broker

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event audit_suppressed --node gp
assert_rc 0 "audit export --event audit_suppressed"
log "audit_suppressed for gp: $(jq -c '.reason' <<<"$RUN_OUT" | tr '\n' ' ')"
counted=$(jq -r '.reason' <<<"$RUN_OUT" |
  sed -n 's/.*\b\([0-9][0-9]*\) connections.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
assert_eq "$done_n" "$((accepted + counted))" "gp's connections recorded ($accepted) plus those summarised ($counted)"
run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify after the reconnect loop"
