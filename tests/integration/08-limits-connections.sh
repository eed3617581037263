#!/usr/bin/env bash
#
# 08-limits-connections (TESTPLAN N2 a/b and the connection limits):
#  - --handshake-timeout 2: a TCP connection that sends nothing, and one
#    that sends half a ClientHello, are closed by the broker about 2 s
#    later, with a "handshake timeout" refusal in the log;
#  - --max-per-node 2: a third live session of one node is refused at
#    Hello with LIMIT_EXCEEDED (audited), while another node still gets in;
#  - --max-connections 3: connection 4 is closed at accept ("connection
#    limit reached" in the log) and gets in once a slot is free;
#  - --idle-timeout 2: a session that goes silent after Hello is sent a
#    Ping, and, not answering it, is closed.
# The broker serves normal requests after each.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

HELLO_FRAME=$(raw_frame "$RAW_HELLO")

setup_four_nodes

# now_ms: a monotonic-enough wall clock in milliseconds for elapsed times.
now_ms() {
  date +%s%3N
}

# tcp_hold NAME HEX: a plain TCP connection to the broker that sends HEX
# (may be empty), then only reads, until the broker closes it. Sets
# TCP_PID; its stdout (what the broker sent) goes to $RAW_DIR/NAME.out.
tcp_hold() {
  local name=$1 hex=$2
  printf '%s' "$hex" | xxd -r -p >"$RAW_DIR/$name.in"
  (
    exec 3<>"/dev/tcp/127.0.0.1/$BROKER_PORT"
    cat "$RAW_DIR/$name.in" >&3
    cat <&3
  ) >"$RAW_DIR/$name.out" 2>"$RAW_DIR/$name.err" &
  TCP_PID=$!
  _pids+=("$TCP_PID")
}

# closed_within NAME PID T0 MIN_MS MAX_S: PID (a connection) ends between
# MIN_MS after T0 and MAX_S seconds after now; sets ELAPSED_MS.
closed_within() {
  local name=$1 pid=$2 t0=$3 min_ms=$4 max_s=$5
  wait_pid "$pid" "$max_s"
  ELAPSED_MS=$(($(now_ms) - t0))
  log "$name closed after ${ELAPSED_MS} ms"
  if ((ELAPSED_MS < min_ms)); then
    fail "$name: closed after ${ELAPSED_MS} ms, before the timeout (${min_ms} ms)"
  fi
}

# serves NODE ID: a send from NODE to cmht gets an OK receipt.
serves() {
  run baton_as "$1" send --to cmht --json "$EXAMPLE_HANDOVER" --id "$2"
  assert_rc 0 "send $2"
  assert_json code OK
}

# --- handshake timeout ------------------------------------------------------
start_broker --handshake-timeout 2
mark=$(log_mark)

t0=$(now_ms)
tcp_hold silent ""
silent_pid=$TCP_PID
# A TLS 1.2-style record header announcing a 512-byte ClientHello, and its
# first 7 bytes: the broker waits for the rest that never comes.
tcp_hold partial "160301020001000001fc0303"
partial_pid=$TCP_PID

# Both close after the 2 s timeout, not before, and well within 2 s + 3 s.
closed_within "silent TCP connection" "$silent_pid" "$t0" 1800 6
closed_within "partial ClientHello" "$partial_pid" "$t0" 1800 6
[[ ! -s "$RAW_DIR/silent.out" ]] || fail "the broker sent bytes to a silent TCP connection"
wait_for "two handshake-timeout refusals in the log" 5 \
  test "$(tail -c "+$((mark + 1))" "$BROKER_LOG" | grep -c 'tls handshake refused reason="handshake timeout"')" = 2

serves provider conn-1
stop_broker

# --- connections per node ---------------------------------------------------
start_broker --max-per-node 2
mark=$(log_mark)
raw_start_as pn-1 provider "$HELLO_FRAME"
pn1=$RAW_PID
wait_for "the first provider session's Welcome" 15 raw_has pn-1 "$F_WELCOME"
raw_start_as pn-2 provider "$HELLO_FRAME"
pn2=$RAW_PID
wait_for "the second provider session's Welcome" 15 raw_has pn-2 "$F_WELCOME"

raw_start_as pn-3 provider "$HELLO_FRAME"
raw_closed pn-3 "$RAW_PID" 10
assert_raw_error pn-3 20 "third session of provider with --max-per-node 2"
assert_contains "$RAW_TEXT" "already has 2 connections" "LIMIT_EXCEEDED text"
raw_has pn-3 "$F_WELCOME" && fail "the third provider session was welcomed"
wait_for "the LIMIT_EXCEEDED line in the log" 5 \
  log_since "$mark" "node=provider .*closing code=LIMIT_EXCEEDED reason=\"node 'provider' already has 2 connections"

# baton as provider is refused the same way (exit 2) while both are open ...
run baton_as provider whoami
assert_rc 2 "baton whoami as a third provider session"
assert_contains "$RUN_ERR" "LIMIT_EXCEEDED" "baton's message for the per-node limit"

# ... and the limit is per node: cmht gets in.
run baton_as cmht whoami
assert_rc 0 "baton whoami as cmht while provider is at its limit"

# The first two sessions are still open and were not disturbed.
kill -0 "$pn1" 2>/dev/null || fail "the first provider session was closed"
kill -0 "$pn2" 2>/dev/null || fail "the second provider session was closed"
raw_has pn-1 "$F_ERROR" && fail "the first provider session got an Error"

# Once one closes, provider may connect again.
kill -TERM "$pn1"
wait_pid "$pn1" 10
wait_for "a provider session after one of two closed" 15 \
  "$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/provider.crt" --key "$NODE_DIR/provider.key" --timeout 5 whoami
kill -TERM "$pn2"
wait_pid "$pn2" 10

# The refusal is in the audit log.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event connection_refused --node provider
assert_rc 0 "audit export of refused connections"
assert_eq LIMIT_EXCEEDED "$(jq -r .outcome <<<"$RUN_OUT" | grep -m1 LIMIT_EXCEEDED || true)" \
  "audit record of the per-node refusal"
stop_broker

# --- total connections ------------------------------------------------------
start_broker --max-connections 3
mark=$(log_mark)
conn_pids=()
for i in 1 2 3; do
  raw_start_as "mc-$i" gp "$HELLO_FRAME"
  conn_pids+=("$RAW_PID")
  wait_for "Welcome on connection $i of 3" 15 raw_has "mc-$i" "$F_WELCOME"
done

# Connection 4 is accepted by the kernel and closed by the broker at once,
# before any TLS: it reads EOF without a byte.
t0=$(now_ms)
tcp_hold mc-4 ""
closed_within "connection 4 of 3" "$TCP_PID" "$t0" 0 5
if ((ELAPSED_MS > 2000)); then
  fail "connection 4 of 3 took ${ELAPSED_MS} ms to be closed; expected at accept"
fi
[[ ! -s "$RAW_DIR/mc-4.out" ]] || fail "the broker sent bytes on connection 4 of 3"
wait_for "the connection-limit line in the log" 5 \
  log_since "$mark" "peer=127\.0\.0\.1:[0-9]+ refused: connection limit reached"

run baton_as provider whoami
assert_rc 2 "baton whoami with 3 of 3 connections in use"

for i in 0 1 2; do
  kill -0 "${conn_pids[$i]}" 2>/dev/null || fail "connection $((i + 1)) of 3 was closed"
done
kill -TERM "${conn_pids[0]}"
wait_pid "${conn_pids[0]}" 10
wait_for "a connection after one of 3 closed" 15 \
  "$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/provider.crt" --key "$NODE_DIR/provider.key" --timeout 5 whoami
for i in 1 2; do
  kill -TERM "${conn_pids[$i]}"
  wait_pid "${conn_pids[$i]}" 10
done
stop_broker

# --- idle timeout -----------------------------------------------------------
start_broker --idle-timeout 2
mark=$(log_mark)
t0=$(now_ms)
raw_start_as idle crisis "$HELLO_FRAME"
idle_pid=$RAW_PID
wait_for "Welcome to the idle session" 15 raw_has idle "$F_WELCOME"
# A Ping after 2 s of silence ...
wait_for "a Ping to the idle session" 10 raw_has idle "$F_PING"
ping_ms=$(($(now_ms) - t0))
if ((ping_ms < 1800)); then
  fail "Ping after ${ping_ms} ms, before the 2 s idle timeout"
fi
# ... and, unanswered, a close 2 s after that.
closed_within "idle session" "$idle_pid" "$t0" 3800 10
raw_has idle "$F_ERROR" && fail "the idle session got an Error frame instead of a close"
wait_for "the idle close in the log" 5 \
  log_since "$mark" "node=crisis closed: idle, no answer to ping"

# A session that keeps talking is not idle: baton's requests go through.
serves provider conn-2
stop_broker
