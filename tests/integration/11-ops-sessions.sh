#!/usr/bin/env bash
#
# 11-ops-sessions (issue 12, part 3): `batonctl sessions` lists the
# running broker's sessions from DATA/sessions. Two receiving sessions
# held open (cmht with nothing owed, gp with one delivery it does not
# acknowledge) appear with node, role, peer, connection time, bytes in
# flight, unacked and receiving, in the table (80 columns) and --json;
# the file is not rewritten while nothing changes; cmht's session
# disappears within a few seconds of it disconnecting. A file someone
# removed is put back. With no broker running - none started, a
# clean stop, a SIGKILL leaving a stale file, a stale file whose pid now
# belongs to another program - it says so and exits 3; a damaged file
# is an error (exit 1).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

# sessions_json: batonctl sessions --json into RUN_OUT; exit 0.
sessions_json() {
  run "$BATONCTL" sessions --data "$DATA_DIR" --json
  assert_rc 0 "batonctl sessions --json"
}

# has_session NODE UNACKED: NODE has one receiving session with UNACKED
# deliveries owed (for wait_for).
has_session() {
  "$BATONCTL" sessions --data "$DATA_DIR" --json |
    jq -e --arg n "$1" --argjson u "$2" '.sessions | map(select(.node == $n
      and .receiving and .unacked == $u)) | length == 1'
}

# no_session NODE: NODE has no session (for wait_for).
no_session() {
  "$BATONCTL" sessions --data "$DATA_DIR" --json |
    jq -e --arg n "$1" '.sessions | map(select(.node == $n)) | length == 0'
}

# listed_by_broker: DATA/sessions is the running broker's (for wait_for:
# it is written just after the port file).
listed_by_broker() {
  "$BATONCTL" sessions --data "$DATA_DIR" --json |
    jq -e --argjson p "$BROKER_PID" '.broker_pid == $p'
}

# assert_no_broker WHY: exit 3, the reason on stderr, nothing on stdout.
assert_no_broker() {
  run "$BATONCTL" sessions --data "$DATA_DIR"
  assert_rc 3 "batonctl sessions: $1"
  assert_contains "$RUN_ERR" "no broker is running on $DATA_DIR" "$1"
  assert_eq "" "$RUN_OUT" "stdout: $1"
  run "$BATONCTL" sessions --data "$DATA_DIR" --json
  assert_rc 3 "batonctl sessions --json: $1"
  assert_eq "" "$RUN_OUT" "stdout of --json: $1"
}

# recv_session NODE OUT ARGS...: NODE's `baton recv ARGS` in the background.
recv_session() {
  local node=$1 out=$2
  shift 2
  spawn "$T/$out.out" "$T/$out.err" "$BATON" --broker "$BROKER_ADDR" \
    --ca "$CA_DIR/ca.crt" --cert "$NODE_DIR/$node.crt" \
    --key "$NODE_DIR/$node.key" --timeout 15 recv "$@"
}

setup_four_nodes
assert_no_broker "none ever started"
run "$BATONCTL" sessions --data "$T/nowhere"
assert_rc 1 "a data directory that does not exist"
run "$BATONCTL" sessions
assert_rc 2 "no --data"

start_broker
wait_for "the broker's DATA/sessions" 5 listed_by_broker
sessions_json
assert_json '.sessions | length' 0
assert_eq 600 "$(stat -c %a "$DATA_DIR/sessions")" "mode of DATA/sessions"

# gp will owe an acknowledgement for this one.
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" \
  >"$T/referral.json"
run baton_as provider send --to gp --json "$T/referral.json" --id s-gp
assert_rc 0 "send s-gp"

before_ms=$(date +%s%3N)
recv_session cmht cmht --wait 90
cmht_pid=$SPAWN_PID
recv_session gp gp --wait 90 --no-ack
wait_for "cmht's receiving session" 10 has_session cmht 0
wait_for "gp's session owing one ack" 10 has_session gp 1
after_ms=$(date +%s%3N)
assert_json message_id s-gp "$(head -n 1 "$T/gp.out")"

sessions_json
assert_json broker_pid "$BROKER_PID"
assert_json '.sessions | map(.node) | join(" ")' "cmht gp"
for node in cmht gp; do
  s=".sessions[] | select(.node == \"$node\")"
  assert_json "$s.role" "$node"
  [[ $(json_get "$s.peer") =~ ^127\.0\.0\.1:[0-9]+$ ]] ||
    fail "peer of $node is '$(json_get "$s.peer")'"
  since=$(json_get "$s.since_ms")
  ((since >= before_ms - 50 && since <= after_ms)) ||
    fail "$node connected at $since, not between $before_ms and $after_ms"
  assert_json "$s.since" "$(date -u -d "@$((since / 1000))" +%Y-%m-%dT%H:%M:%SZ)"
  assert_json "$s.bytes_in_flight" 0
  assert_json "$s.receiving" true
done
assert_json '.sessions[] | select(.node == "cmht") | .unacked' 0
assert_json '.sessions[] | select(.node == "gp") | .unacked' 1
[[ $(json_get '.sessions | map(.peer) | unique | length') == 2 ]] ||
  fail "the two sessions share a peer address"

run "$BATONCTL" sessions --data "$DATA_DIR"
assert_rc 0 "batonctl sessions"
TABLE=$RUN_OUT
assert_eq "NODE  ROLE  PEER" "$(head -n 1 <<<"$TABLE" | awk '{print $1"  "$2"  "$3}')" \
  "table header"
assert_eq "CONNECTED IN-FLIGHT UNACKED RECV" \
  "$(head -n 1 <<<"$TABLE" | awk '{print $4, $5, $6, $7}')" "table header"
assert_eq "cmht 0 0 yes" "$(awk '$1 == "cmht" {print $2, $5, $6, $7}' <<<"$TABLE")" \
  "cmht's line"
assert_eq "gp 0 1 yes" "$(awk '$1 == "gp" {print $2, $5, $6, $7}' <<<"$TABLE")" \
  "gp's line"
[[ $(awk '$1 == "gp" {print $4}' <<<"$TABLE") =~ ^([0-9]+m)?[0-9]+s$ ]] ||
  fail "gp's line has no connection time: $TABLE"
assert_eq "2 sessions, 2 receiving; batond pid $BROKER_PID" \
  "$(tail -n 1 <<<"$TABLE")" "table footer"
assert_eq 4 "$(count_lines "$TABLE")" "table lines"
awk 'length($0) > 80 { exit 1 }' <<<"$TABLE" ||
  fail "the table is wider than 80 columns"

# Idle sessions change nothing, so the file is not rewritten (no fsync a
# second for nothing).
written=$(stat -c %y "$DATA_DIR/sessions")
sleep 2.5
assert_eq "$written" "$(stat -c %y "$DATA_DIR/sessions")" \
  "DATA/sessions rewritten while nothing changed"

# cmht disconnects: gone within a few seconds; gp stays.
kill -TERM "$cmht_pid"
wait_pid "$cmht_pid" 10
gone_from=$SECONDS
wait_for "cmht's session to disappear" 5 no_session cmht
log "cmht's session left the list after $((SECONDS - gone_from)) s"
has_session gp 1 >/dev/null || fail "gp's session went with cmht's"

# A removed file is put back while the broker runs.
rm "$DATA_DIR/sessions"
wait_for "DATA/sessions to be rewritten" 5 has_session gp 1

# A damaged file is an error, not "no broker".
kill -STOP "$BROKER_PID"	# no rewrite while the file is damaged
printf 'baton-sessions 1\npid %s\nsession gp\n' "$BROKER_PID" \
  >"$DATA_DIR/sessions"
run "$BATONCTL" sessions --data "$DATA_DIR"
kill -CONT "$BROKER_PID"
assert_rc 1 "a damaged DATA/sessions"
assert_contains "$RUN_ERR" "$DATA_DIR/sessions:3: not a sessions record" \
  "names the damaged line"
rm "$DATA_DIR/sessions"
wait_for "DATA/sessions to be rewritten" 5 has_session gp 1

# A crash leaves the file behind: stale, so no broker.
old_pid=$BROKER_PID
kill_broker
[[ -e "$DATA_DIR/sessions" ]] || fail "SIGKILL left no DATA/sessions to be stale"
assert_no_broker "after SIGKILL"
assert_contains "$RUN_ERR" "left by batond pid $old_pid, which has stopped" \
  "names the stale pid"

# A stale file whose pid is now another program's.
sleep 1000 &
other=$!
_pids+=("$other")
printf 'baton-sessions 1\npid %s\nwritten_ms 1\n' "$other" >"$DATA_DIR/sessions"
assert_no_broker "a stale file naming a live non-batond pid"

# A new broker replaces the stale file; a clean stop removes it.
start_broker
wait_for "the new broker's DATA/sessions" 5 listed_by_broker
sessions_json
assert_json '.sessions | length' 0
stop_broker
[[ ! -e "$DATA_DIR/sessions" ]] || fail "a clean stop left DATA/sessions"
assert_no_broker "after a clean stop"
assert_contains "$RUN_ERR" "(no $DATA_DIR/sessions)" "says the file is missing"
