#!/usr/bin/env bash
#
# 08-hostile-preauth (TESTPLAN N7, DESIGN Guarantee 7): connections that
# never authenticate cannot crowd out a node that does.
#  A. --max-per-node 2 --hello-timeout 2: crisis opens 6 TLS sessions and
#     never says Hello (tests/fault/hostile prehello-hold). Sessions not
#     yet past Hello count against the node's limit, so 4 are refused at
#     once (LIMIT_EXCEEDED, within 1 s); the hello deadline closes the
#     other 2 (TIMEOUT) after about 2 s, never before 1.8 s. Meanwhile
#     provider sends to cmht and cmht receives, from 127.0.0.1.
#  B. --max-preauth-per-address 4: from 127.0.0.2, 12 bare TCP
#     connections (tcp-hold) and then 4 TLS sessions without Hello; from
#     127.0.0.3, 4 sessions holding a 16,000-byte frame all but its last
#     byte (partial-hold, under the broker's limit before Hello); from
#     127.0.0.4, 2 declaring 70,000 bytes (over it). At most 4 from
#     127.0.0.2 stay open, its TLS sessions are refused; the partial
#     frames are held (until the 10 s Hello deadline); the 70,000-byte
#     ones get FRAME_TOO_LARGE at once; a legitimate node from 127.0.0.1
#     still sends and receives; RSS grows by less than 32 MiB; the
#     refusals are in the audit log as connection_refused.
#  C. --max-connections 6: 6 bare TCP connections from 127.0.0.2 fill the
#     broker; a legitimate node still gets in, because the oldest
#     connection not yet past Hello gives way.
# A broker that counts only welcomed sessions, has no Hello deadline and
# no per-address cap fails each part.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

for flag in --hello-timeout --max-preauth-per-address; do
  broker_supports "$flag" || fail "batond has no $flag option (pre-authentication limits not implemented)"
done

setup_four_nodes

# sends_and_receives ID: provider sends ID to cmht (OK) and cmht receives it.
sends_and_receives() {
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$1"
  assert_rc 0 "send $1 while unauthenticated connections are held (stderr: $RUN_ERR)"
  assert_json code OK
  run baton_as cmht recv --wait 10 --max 1
  assert_rc 0 "cmht recv $1 while unauthenticated connections are held"
  assert_json message_id "$1"
}

# closed_under NAME MS: how many of run NAME's connections were closed
# within MS of opening.
closed_under() {
  hv "$1" closed_ms | tr ',' '\n' | awk -v m="$2" '$1 != "" && $1 < m' | wc -l
}

# code_count NAME CODE: how many Error frames with CODE run NAME got.
code_count() {
  hv "$1" errors | tr ',' '\n' | awk -F: -v c="$2" '$1 == c { n += $2 } END { print n + 0 }'
}

# --- A: per-node limit before Hello, and the Hello deadline ---------------
start_broker --max-per-node 2 --hello-timeout 2
hostile_spawn node-hold crisis prehello-hold --conns 6 --seconds 8
node_pid=$HOSTILE_PID
sends_and_receives preauth-1
hostile_wait node-hold "$node_pid" 30
hostile_show node-hold
assert_eq 6 "$(($(hv node-hold opened) + $(hv node-hold refused)))" "crisis sessions attempted"
assert_eq 0 "$(hv node-hold open_at_end)" "crisis sessions still open 8 s after the handshake with --hello-timeout 2"
fast=$(closed_under node-hold 1000)
((fast + $(hv node-hold refused) >= 4)) ||
  fail "only $((fast + $(hv node-hold refused))) of crisis's 6 sessions before Hello were refused at once with --max-per-node 2"
(($(code_count node-hold LIMIT_EXCEEDED) >= 3)) ||
  fail "crisis's sessions over the node limit got errors $(hv node-hold errors), not LIMIT_EXCEEDED"
(($(code_count node-hold TIMEOUT) >= 1)) ||
  fail "no crisis session was told TIMEOUT by the hello deadline (errors $(hv node-hold errors))"
slow=$(hv node-hold closed_ms | tr ',' '\n' | awk '$1 >= 1000')
for ms in $slow; do
  ((ms >= 1800 && ms <= 6000)) ||
    fail "a session without Hello was closed ${ms} ms after the handshake with --hello-timeout 2"
done
assert_broker_alive
stop_broker

# --- B: per-address limit, partial frames before Hello, memory ------------
start_broker --max-preauth-per-address 4
rss0=$(rss_kb "$BROKER_PID")
mark=$(log_mark)
hostile_spawn tcp-2 crisis tcp-hold --bind 127.0.0.2 --conns 12 --seconds 8
tcp_pid=$HOSTILE_PID
# The 8 over the cap are refused at accept; then TLS from the same address.
# refused_at_accept N: the log has N refusals of 127.0.0.2 since mark.
refused_at_accept() {
  (($(tail -c "+$((mark + 1))" "$BROKER_LOG" | grep -c 'peer=127\.0\.0\.2:[0-9]* refused') >= $1))
}
wait_for "8 refusals of 127.0.0.2 at accept" 15 refused_at_accept 8
hostile_spawn tls-2 crisis prehello-hold --bind 127.0.0.2 --conns 4 --seconds 5
tls_pid=$HOSTILE_PID
hostile_spawn partial-3 cmht partial-hold --bind 127.0.0.3 --conns 4 \
  --length 16000 --seconds 6
partial_pid=$HOSTILE_PID
hostile_spawn large-4 gp partial-hold --bind 127.0.0.4 --conns 2 \
  --length 70000 --seconds 5
large_pid=$HOSTILE_PID
sends_and_receives preauth-2
rss1=$(rss_kb "$BROKER_PID")
# A refusal flood: 300 connections from 127.0.0.5 in well under a second,
# all but 4 refused at accept; they are audited at a limited rate.
hostile_run flood-5 crisis tcp-hold 30 --bind 127.0.0.5 --conns 300 --seconds 3
hostile_wait tls-2 "$tls_pid" 30
hostile_wait partial-3 "$partial_pid" 30
hostile_wait large-4 "$large_pid" 30
hostile_wait tcp-2 "$tcp_pid" 30
for n in tcp-2 tls-2 partial-3 large-4 flood-5; do
  hostile_show "$n"
done
log "batond VmRSS ${rss0} kB before, ${rss1} kB with the connections held"
(($(hv tcp-2 open_at_end) <= 4)) ||
  fail "$(hv tcp-2 open_at_end) bare TCP connections from 127.0.0.2 stayed open with --max-preauth-per-address 4"
(($(hv tcp-2 open_at_end) >= 1)) ||
  fail "the first bare TCP connections from 127.0.0.2 were closed before the handshake timeout"
assert_eq 0 "$(hv tls-2 open_at_end)" "TLS sessions from 127.0.0.2 open while 4 bare connections from it are held"
assert_eq 4 "$(hv partial-3 open_at_end)" "sessions holding a 16,000-byte partial frame before Hello, 6 s in (errors $(hv partial-3 errors))"
assert_eq 2 "$(code_count large-4 FRAME_TOO_LARGE)" "FRAME_TOO_LARGE for 70,000 bytes declared before Hello (errors $(hv large-4 errors))"
assert_eq 2 "$(closed_under large-4 1000)" "70,000-byte frames before Hello closed within 1 s"
((rss1 - rss0 < 32768)) ||
  fail "batond VmRSS grew by $((rss1 - rss0)) kB with unauthenticated connections held"
assert_broker_alive
stop_broker
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event connection_refused
assert_rc 0 "audit export --event connection_refused"
refused=$(jq -c 'select(.peer // "" | startswith("127.0.0.2:"))' <<<"$RUN_OUT" | grep -c . || true)
flood=$(jq -c 'select(.peer // "" | startswith("127.0.0.5:"))' <<<"$RUN_OUT" | grep -c . || true)
log "connection_refused records: $refused for 127.0.0.2, $flood for 127.0.0.5's $(($(hv flood-5 closed))) refusals"
((refused >= 1)) || fail "no connection_refused record for the per-address refusals of 127.0.0.2"
((flood >= 1)) || fail "no connection_refused record for 127.0.0.5's refusals"
((flood <= 150)) || fail "$flood connection_refused records for 127.0.0.5's refusals: not rate-limited"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event audit_suppressed
assert_rc 0 "audit export --event audit_suppressed"
log "audit_suppressed: $(jq -c '.reason' <<<"$RUN_OUT" | tr '\n' ' ')"
[[ -n "$RUN_OUT" ]] || fail "no audit_suppressed record counts the refusals not recorded one by one"

# --- C: at the connection limit the oldest unauthenticated one gives way --
start_broker --max-connections 6
hostile_spawn fill-2 crisis tcp-hold --bind 127.0.0.2 --conns 6 --seconds 12
fill_pid=$HOSTILE_PID
# filled: the broker holds 6 connections from 127.0.0.2.
filled() {
  (($(ss -Htn state established "( sport = :$BROKER_PORT )" dst 127.0.0.2 | wc -l) >= 6))
}
wait_for "6 connections from 127.0.0.2" 15 filled
wait_for "provider to get in at the connection limit" 20 \
  "$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/provider.crt" --key "$NODE_DIR/provider.key" --timeout 5 whoami
sends_and_receives preauth-3
hostile_wait fill-2 "$fill_pid" 30
hostile_show fill-2
(($(hv fill-2 closed) >= 1)) || fail "no connection from 127.0.0.2 gave way at the connection limit"
assert_broker_alive
stop_broker
