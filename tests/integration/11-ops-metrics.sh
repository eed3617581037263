#!/usr/bin/env bash
#
# 11-ops-metrics (issue 12, part 2): the Prometheus endpoint. A broker with
# `metrics 127.0.0.1:0` (the port read from DATA/metrics.port) and a high
# deadline of 3 s goes through a known set of events: a refused TLS
# connection from another CA's certificate; eight handovers accepted (three
# MEDIUM to cmht, received, acked and accepted; one HIGH to cmht, received
# and acked, left undecided past its deadline and escalated; a backlog of
# LOW, LOW, MEDIUM and CRITICAL for housing, which never connects); one
# resend of an id with the same content; one ROUTE_NOT_ALLOWED; one
# UNKNOWN_RECIPIENT. A scrape then shows exactly those counts and gauges,
# and `promtool check metrics` passes on it (skipped, saying so, only
# without promtool). /healthz answers 200 "ok"; HEAD works; a malformed
# request, an unknown path and a POST get 4xx. 50 idle connections held to
# the metrics port stop neither a node's submit nor, once closed, a scrape.
# `metrics 0.0.0.0:0` without metrics-allow-remote is refused at start.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 is required (scripts/deps.sh installs it)"

BROKER_POLICY=$T/policy.conf
sed 's/^deadline high 4h$/deadline high 3s/' "$BATON_SRC/deploy/policy.conf" \
  >"$BROKER_POLICY"
grep -q '^deadline high 3s$' "$BROKER_POLICY" ||
  fail "could not shorten the high deadline in the policy copy"

# http METHOD PATH: one request to the metrics port; prints the status,
# the body goes to $T/http.body and the headers to $T/http.head.
http() {
  python3 - "$MPORT" "$1" "$2" "$T/http" <<'EOF'
import http.client, sys
port, method, path, out = sys.argv[1:]
c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
c.request(method, path)
r = c.getresponse()
open(out + ".body", "wb").write(r.read())
open(out + ".head", "w").write("".join("%s: %s\n" % h for h in r.getheaders()))
print(r.status)
EOF
}

# http_raw BYTES: sends BYTES (printf escapes) as the whole request;
# prints the status code of the answer.
http_raw() {
  python3 - "$MPORT" "$1" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
data = b""
while b"\r\n" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(data.split(b" ")[1].decode() if data.startswith(b"HTTP/1.") else "none")
EOF
}

# scrape: GET /metrics into $T/scrape.txt; the status must be 200.
scrape() {
  local code
  code=$(http GET /metrics) || fail "GET /metrics failed"
  assert_eq 200 "$code" "GET /metrics status"
  cp "$T/http.body" "$T/scrape.txt"
}

# m SERIES: the value of SERIES (name and labels, exactly as exposed) in
# the last scrape, or "absent".
m() {
  awk -v s="$1" '$1 == s { print $2; f = 1 } END { if (!f) print "absent" }' \
    "$T/scrape.txt"
}

# expect VALUE SERIES: the series has exactly that value.
expect() {
  assert_eq "$1" "$(m "$2")" "$2"
}

# scraped_value_is SERIES VALUE: a fresh scrape shows it (for wait_for).
scraped_value_is() {
  scrape && [[ "$(m "$1")" == "$2" ]]
}

setup_four_nodes
issue_node_cert housing
add_node housing housing "Sampleton Housing Options"
start_broker --metrics 127.0.0.1:0
[[ -s "$DATA_DIR/metrics.port" ]] || fail "no $DATA_DIR/metrics.port once listening"
MPORT=$(<"$DATA_DIR/metrics.port")
if ! [[ "$MPORT" =~ ^[0-9]+$ ]] || ((MPORT < 1 || MPORT > 65535)); then
  fail "metrics.port holds '$MPORT', not a port number"
fi
[[ $(count_in_log "metrics listening on 127.0.0.1:$MPORT ") == 1 ]] ||
  fail "the log does not say where metrics listen"
log "metrics on 127.0.0.1:$MPORT"

# Nothing has happened yet: counters at zero.
scrape
expect 0 baton_handovers_submitted_total
expect 0 baton_connections_accepted_total

# --- the events -------------------------------------------------------------
conns=0	# connections that passed TLS and Hello
send_as() {	# send_as NODE TO FILE ID: one send, its exit status in RUN_RC
  run baton_as "$1" send --to "$2" --json "$3" --id "$4"
  conns=$((conns + 1))
}
with_level() {	# with_level LEVEL KIND OUT: the example at another risk level
  jq --arg l "RISK_LEVEL_$1" --arg k "TRANSITION_KIND_$2" \
    '.risk_summary.level = $l | .transition.kind = $k' "$EXAMPLE_HANDOVER" >"$3"
}
with_level MEDIUM STEP_UP "$T/medium.json"
with_level LOW REFERRAL "$T/low-ref.json"
with_level MEDIUM REFERRAL "$T/medium-ref.json"
with_level CRITICAL REFERRAL "$T/critical-ref.json"
[[ $(jq -r .risk_summary.level "$EXAMPLE_HANDOVER") == RISK_LEVEL_HIGH ]] ||
  fail "the example handover is not HIGH risk"

# a certificate of another CA, for a registered node id: refused at TLS
ctl "ca init (second CA)" ca init --dir "$T/otherca"
issue_node_cert provider "$T/otherca" "$T/othernodes"
run baton_with "$T/othernodes/provider.crt" "$T/othernodes/provider.key" \
  send --to cmht --json "$EXAMPLE_HANDOVER" --id wrong-ca
assert_rc 2 "send with another CA's certificate"

for i in 1 2 3; do
  send_as provider cmht "$T/medium.json" "med-$i"
  assert_rc 0 "send med-$i"
done
send_as provider cmht "$T/medium.json" med-1
assert_rc 0 "resend of med-1"
assert_json duplicate true
send_as provider gp "$EXAMPLE_HANDOVER" no-route	# provider may not step_up to gp
assert_rc 3 "send to gp"
assert_json code ROUTE_NOT_ALLOWED
send_as provider nobody "$EXAMPLE_HANDOVER" no-such-node
assert_rc 3 "send to an unknown node"
assert_json code UNKNOWN_RECIPIENT
send_as provider housing "$T/low-ref.json" house-low-1
assert_rc 0 "send house-low-1"
send_as provider housing "$T/low-ref.json" house-low-2
assert_rc 0 "send house-low-2"
send_as provider housing "$T/medium-ref.json" house-medium
assert_rc 0 "send house-medium"
send_as provider housing "$T/critical-ref.json" house-critical
assert_rc 0 "send house-critical"

RECV_WAIT=1 recv_all cmht --max 3
conns=$((conns + 1))
assert_eq 3 "$(count_lines "$RUN_OUT")" "MEDIUM deliveries to cmht"
for i in 1 2 3; do
  run baton_as cmht accept "provider/med-$i"
  conns=$((conns + 1))
  assert_rc 0 "accept med-$i"
done

send_as provider cmht "$EXAMPLE_HANDOVER" high-late
assert_rc 0 "send high-late"
RECV_WAIT=1 recv_all cmht --max 1
conns=$((conns + 1))
assert_json message_id high-late

# --- the scrape ---------------------------------------------------------------
# The escalation comes last; once a scrape shows it, it shows all the rest.
wait_for "the HIGH handover to be escalated" 30 \
  scraped_value_is baton_handovers_escalated_total 1
wait_for "every client connection to be gone" 15 \
  scraped_value_is baton_connections_open 0
cp "$T/scrape.txt" "$T/events.txt"

expect 1 baton_healthy
expect "$conns" baton_connections_accepted_total
expect 1 'baton_connections_refused_total{reason="TLS_HANDSHAKE"}'
assert_eq 1 "$(grep -c '^baton_connections_refused_total{' "$T/scrape.txt")" \
  "refusal reasons shown"
expect 8 baton_handovers_submitted_total
expect 1 baton_handovers_resubmitted_total
expect 1 'baton_handovers_refused_total{code="ROUTE_NOT_ALLOWED"}'
expect 1 'baton_handovers_refused_total{code="UNKNOWN_RECIPIENT"}'
assert_eq 2 "$(grep -c '^baton_handovers_refused_total{' "$T/scrape.txt")" \
  "refusal codes shown"
expect 4 baton_handovers_delivered_total
expect 4 baton_handovers_acked_total
expect 3 'baton_handovers_decided_total{decision="accepted"}'
expect 0 'baton_handovers_decided_total{decision="rejected"}'
expect 0 'baton_handovers_decided_total{decision="redirected"}'
expect 1 baton_handovers_escalated_total
expect 0 baton_handovers_expired_total
expect 0 baton_handovers_quarantined_total
assert_eq 0 "$(grep -c '^baton_requests_refused_total{' "$T/scrape.txt" || true)" \
  "refused requests"

# every new handover was in exactly one commit
expect 8 baton_commit_handovers_sum
commits=$(m baton_commit_duration_seconds_count)
((commits >= 8)) || fail "only $commits commits observed"
expect "$commits" baton_commit_handovers_count
expect "$commits" 'baton_commit_duration_seconds_bucket{le="+Inf"}'
expect "$commits" 'baton_commit_handovers_bucket{le="+Inf"}'

# housing's backlog, by risk level; nothing in flight, nothing overdue
for g in baton_queue_depth baton_queue_waiting baton_queue_undecided; do
  expect 2 "$g{node=\"housing\",risk=\"low\"}"
  expect 1 "$g{node=\"housing\",risk=\"medium\"}"
  expect 0 "$g{node=\"housing\",risk=\"high\"}"
  expect 1 "$g{node=\"housing\",risk=\"critical\"}"
done
for r in low medium high critical; do
  expect 0 "baton_queue_in_flight{node=\"housing\",risk=\"$r\"}"
  expect 0 "baton_queue_overdue{node=\"housing\",risk=\"$r\"}"
done
for r in low medium critical; do
  age=$(m "baton_queue_oldest_waiting_age_seconds{node=\"housing\",risk=\"$r\"}")
  awk -v a="$age" 'BEGIN { exit !(a > 0 && a < 180) }' ||
    fail "age of the oldest $r handover waiting for housing is '$age'"
done
expect 0.000 'baton_queue_oldest_waiting_age_seconds{node="housing",risk="high"}'

# cmht: its queue is empty, one HIGH handover undecided and overdue
for r in low medium high critical; do
  expect 0 "baton_queue_depth{node=\"cmht\",risk=\"$r\"}"
done
expect 1 'baton_queue_undecided{node="cmht",risk="high"}'
expect 0 'baton_queue_undecided{node="cmht",risk="medium"}'
expect 1 'baton_queue_overdue{node="cmht",risk="high"}'
age=$(m 'baton_queue_oldest_undecided_age_seconds{node="cmht",risk="high"}')
awk -v a="$age" 'BEGIN { exit !(a >= 3 && a < 180) }' ||
  fail "age of cmht's undecided HIGH handover is '$age'"
expect 1 'baton_handovers_overdue{risk="high"}'
for r in low medium critical; do
  expect 0 "baton_handovers_overdue{risk=\"$r\"}"
done
# the other nodes are shown, empty; no handover is without a risk level
for n in provider gp crisis; do
  expect 0 "baton_queue_undecided{node=\"$n\",risk=\"critical\"}"
done
assert_eq 0 "$(grep -c 'risk="unspecified"' "$T/scrape.txt" || true)" \
  "series for an unspecified risk level"
expect 0 baton_queue_nodes_omitted
expect 0 baton_queue_scan_truncated

# certificate and CRL lifetimes, start time
left=$(m baton_certificate_remaining_seconds)
awk -v s="$left" 'BEGIN { exit !(s > 86400) }' ||
  fail "broker certificate remaining seconds '$left'"
left=$(m baton_crl_remaining_seconds)
awk -v s="$left" 'BEGIN { exit !(s > 3600) }' || fail "CRL remaining seconds '$left'"
started=$(m baton_start_time_seconds)
awk -v s="$started" -v now="$(date +%s)" 'BEGIN { exit !(s > now - 300 && s <= now) }' ||
  fail "start time '$started'"

# nothing in the exposition names a handover or a patient
assert_not_contains "$(cat "$T/scrape.txt")" "med-1" "scrape"
assert_not_contains "$(cat "$T/scrape.txt")" "$(jq -r .subject.nhs_number "$EXAMPLE_HANDOVER")" "scrape"

if command -v promtool >/dev/null; then
  promtool check metrics <"$T/events.txt" >"$T/promtool.out" 2>&1 ||
    fail "promtool check metrics: $(head -n 20 "$T/promtool.out")"
  log "promtool check metrics: clean"
else
  log "SKIP promtool check metrics: promtool not installed (Debian package prometheus)"
fi

# --- HTTP -------------------------------------------------------------------
assert_eq 200 "$(http GET /healthz)" "GET /healthz"
assert_eq ok "$(cat "$T/http.body")" "/healthz body"
assert_eq 200 "$(http HEAD /metrics)" "HEAD /metrics"
assert_eq 0 "$(wc -c <"$T/http.body")" "HEAD /metrics body bytes"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/http.head" ||
  fail "HEAD /metrics: no text format content type: $(cat "$T/http.head")"
grep -Eqi '^content-length: [1-9][0-9]*$' "$T/http.head" ||
  fail "HEAD /metrics: no content length: $(cat "$T/http.head")"
assert_eq 200 "$(http HEAD /healthz)" "HEAD /healthz"
grep -qi '^content-length: 3$' "$T/http.head" || fail "HEAD /healthz: length of 'ok\\n'"
assert_eq 404 "$(http GET /nope)" "GET /nope"
assert_eq 404 "$(http GET /)" "GET /"
assert_eq 405 "$(http POST /metrics)" "POST /metrics"
assert_eq 400 "$(http_raw 'NONSENSE\r\n\r\n')" "a malformed request line"
assert_eq 400 "$(http_raw 'GET /metrics HTTP/9\r\n\r\n')" "an unknown HTTP version"
assert_eq 200 "$(http GET '/metrics?x=1')" "a query string is ignored"

# --- idle connections hold no one up -------------------------------------------
cat >"$T/hold.py" <<'EOF'
import os, socket, sys, time
port, n, ready, release = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
socks = []
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex(("127.0.0.1", port))	# past the backlog it stays pending
    socks.append(s)
open(ready, "w").write("%d\n" % len(socks))
deadline = time.time() + 60
while not os.path.exists(release) and time.time() < deadline:
    time.sleep(0.05)
for s in socks:
    s.close()
EOF
spawn "$T/hold.out" "$T/hold.err" python3 "$T/hold.py" "$MPORT" 50 \
  "$T/hold.ready" "$T/hold.release"
hold_pid=$SPAWN_PID
wait_for "50 connections to the metrics port" 15 test -s "$T/hold.ready"
sleep 0.5	# let the broker accept what it will
t0=$SECONDS
run baton_as gp send --to cmht --json "$EXAMPLE_HANDOVER" --id during-hold
assert_rc 0 "a submit while 50 metrics connections are held"
assert_json code OK
((SECONDS - t0 < 10)) || fail "the submit took $((SECONDS - t0)) s"
touch "$T/hold.release"
wait_pid "$hold_pid" 15
assert_eq 0 "$WAIT_RC" "the holder's exit status"
wait_for "a scrape after the idle connections closed" 20 \
  scraped_value_is baton_handovers_submitted_total 9
assert_broker_alive

# --- a remote address needs metrics-allow-remote ---------------------------------
for flags in "" "-n"; do
  # shellcheck disable=SC2086 # flags is one word or none
  run "$BATOND" $flags --metrics 0.0.0.0:0 --listen 127.0.0.1:0 \
    --data "$T/data-remote" --ca "$CA_DIR/ca.crt" --cert "$SERVER_DIR/server.crt" \
    --key "$SERVER_DIR/server.key" --policy "$BROKER_POLICY"
  assert_rc 2 "batond $flags --metrics 0.0.0.0:0"
  assert_contains "$RUN_ERR" "metrics 0.0.0.0:0 is not a loopback address" \
    "batond $flags --metrics 0.0.0.0:0"
  assert_contains "$RUN_ERR" "metrics-allow-remote yes" "the way out is named"
done
run "$BATOND" --print-config --metrics localhost:9474 --data /d --ca /c \
  --cert /c --key /k --policy /p
assert_rc 2 "--metrics localhost:9474"
assert_contains "$RUN_ERR" "metrics 'localhost:9474' is not ADDR:PORT" \
  "a host name is refused"
[[ ! -e "$T/data-remote" ]] || fail "a refused start created its data directory"

stop_broker
[[ ! -e "$DATA_DIR/metrics.port" ]] || fail "metrics.port left behind after a clean stop"
