#!/usr/bin/env bash
#
# 09-reload-revoke-live: revoking a node's certificate with batonctl and
# reloading the broker (SIGHUP) ends that node's LIVE session with
# CERTIFICATE_REVOKED and refuses its next handshake; the broker log says
# why. Another node's live session carries on. The revocation is in the
# CRL (verifiable with openssl), in `cert list`, and in the audit log.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# gp's receiving session, live across the reload.
baton_as gp recv --wait 30 >"$T/recv.out" 2>"$T/recv.err" &
recv_pid=$!
_pids+=("$recv_pid")
wait_for "gp's session" 15 grep -q 'node=gp role=gp hello' "$BROKER_LOG"

# cmht also stays connected, and must survive the reload.
baton_as cmht recv --wait 30 >"$T/cmht-recv.out" 2>"$T/cmht-recv.err" &
cmht_pid=$!
_pids+=("$cmht_pid")
wait_for "cmht's session" 15 grep -q 'node=cmht role=cmht hello' "$BROKER_LOG"

# An audit log that cannot be opened stops the revocation before it starts.
run "$BATONCTL" cert revoke --ca "$CA_DIR" --node gp --data "$T/nowhere"
assert_rc 1 "cert revoke with no audit log"
assert_contains "$RUN_ERR" "cannot open the audit log" "cert revoke error"
[[ ! -e "$T/nowhere" ]] || fail "cert revoke created $T/nowhere"
assert_eq 1 "$(tr -d '\n' <"$CA_DIR/crlnumber")" "CRL number after the refused revocation"

run "$BATONCTL" cert revoke --ca "$CA_DIR" --node gp --reason keyCompromise \
    --data "$DATA_DIR"
assert_rc 0 "batonctl cert revoke"
serial=$(openssl x509 -in "$NODE_DIR/gp.crt" -noout -serial | cut -d= -f2)
assert_contains "$RUN_OUT" "revoked node certificate $serial of gp" "revoke output"
assert_contains "$RUN_OUT" "CRL number 2" "revoke output"

# The new CRL lists the serial and verifies against the CA.
openssl crl -in "$CA_DIR/crl.pem" -CAfile "$CA_DIR/ca.crt" -noout >/dev/null 2>&1 ||
  fail "crl.pem does not verify against ca.crt"
openssl crl -in "$CA_DIR/crl.pem" -noout -text | grep -c "Serial Number: $serial" >/dev/null ||
  fail "crl.pem does not list gp's serial $serial"

run "$BATONCTL" cert list --ca "$CA_DIR" --json
assert_rc 0 "batonctl cert list"
assert_eq true "$(printf '%s\n' "$RUN_OUT" | jq -r "select(.serial == \"$serial\") | .revoked")" \
  "cert list shows gp's certificate revoked"
assert_eq false "$(printf '%s\n' "$RUN_OUT" | jq -r 'select(.id == "cmht") | .revoked')" \
  "cert list shows cmht's certificate not revoked"

# The revocation is in the broker's audit log, by batonctl.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event certificate_changed
assert_rc 0 "batonctl audit export"
assert_eq 1 "$(count_lines "$RUN_OUT")" "certificate_changed records"
assert_json other gp
assert_json actor batonctl
assert_json cert_serial "$serial"
assert_contains "$(json_get reason)" "revoked node" "audit reason"
assert_json detail revocation_reason=keyCompromise

# Nothing changes until the broker reloads.
sleep 0.5
kill -0 "$recv_pid" 2>/dev/null || fail "gp's session ended before the reload"

kill -HUP "$BROKER_PID"
wait_for "the reload" 15 grep -q 'reload: TLS context and CRL loaded' "$BROKER_LOG"

# The live session is closed: recv exits with the connection error status.
_await_exit "$recv_pid" 15
assert_eq 2 "$_exit_rc" "exit status of gp's recv after revocation"
assert_contains "$(cat "$T/recv.err")" "CERTIFICATE_REVOKED" "recv's error names the code"
grep -q 'node=gp .*closing code=CERTIFICATE_REVOKED reason="client certificate no longer accepted' "$BROKER_LOG" ||
  fail "broker log does not say why gp's session was closed"

# cmht's session is untouched.
sleep 0.5
kill -0 "$cmht_pid" 2>/dev/null || fail "cmht's session was closed by the reload"
assert_broker_alive

# A new connection with the revoked certificate fails at the handshake.
run baton_as gp recv --wait 1
assert_rc 2 "recv with a revoked certificate"
assert_eq "" "$RUN_OUT" "stdout of a refused connection"
wait_for "the refused handshake in the log" 10 \
  grep -q 'tls handshake refused reason=".*revoked' "$BROKER_LOG"

# Others still work: provider sends to cmht, whose live session receives it.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id revoke-live-1
assert_rc 0 "send from provider after the reload"
assert_json code OK
wait_for "cmht's delivery" 15 grep -q 'revoke-live-1' "$T/cmht-recv.out"

# A fresh certificate for the node (reissued, not revoked) is accepted.
ctl "cert issue --force" cert issue --ca "$CA_DIR" --node gp --out "$NODE_DIR" --force
run baton_as gp recv --wait 1 --no-ack
assert_rc 0 "recv with a reissued certificate (no reload needed)"
stop_broker
