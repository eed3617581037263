#!/usr/bin/env bash
#
# 01-tls-expiry-live (TESTPLAN S6): a client certificate that expires
# during a session. The test CA signs (openssl ca, as 01-tls-expired does)
# a node certificate valid from a minute ago until about 20 s from now. A
# receiving session with it works until then; once its notAfter passes,
# the broker closes it with Error BAD_CERTIFICATE "client certificate has
# expired" (sessions are re-checked every 2 s: closed within 10 s, never
# before notAfter), and a new connection with it is refused at the
# handshake. Other sessions go on.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

VALID_S=20

# short_cert ID ENDDATE: a node certificate for ID exactly like batonctl's
# (URI SAN urn:baton:node:ID, clientAuth), valid from a minute ago until
# ENDDATE (YYYYMMDDHHMMSSZ), into $T/short/ID.crt/.key.
short_cert() {
  local id=$1 end=$2 d=$T/short
  mkdir -p "$d"
  : >"$d/index.txt"
  openssl rand -hex 16 | sed 's/^./4/' >"$d/serial"
  cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $d/index.txt
new_certs_dir = $d
serial = $d/serial
certificate = $CA_DIR/ca.crt
private_key = $CA_DIR/ca.key
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
x509_extensions = v3_node
[policy_any]
commonName = supplied
[v3_node]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:urn:baton:node:$id
CNF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$d/$id.key" -subj "/CN=$id" -out "$d/$id.csr" \
      >"$T/openssl.log" 2>&1 || fail "openssl req failed: $(tail -n 5 "$T/openssl.log")"
  openssl ca -batch -config "$d/ca.cnf" -in "$d/$id.csr" -out "$d/$id.crt" \
      -startdate "$(date -u -d '-1 minute' +%Y%m%d%H%M%SZ)" -enddate "$end" \
      -notext >"$T/openssl.log" 2>&1 ||
    fail "openssl ca failed: $(tail -n 5 "$T/openssl.log")"
  chmod 600 "$d/$id.key"
}

# log_ms LINE: the broker log line's timestamp as Unix milliseconds.
log_ms() {
  local ts=${1%%Z *}
  echo $(($(date -u -d "${ts}Z" +%s%3N)))
}

setup_four_nodes
add_node shortlived cmht "Short Certificate CMHT"
short_cert shortlived "$(date -u -d "+$VALID_S seconds" +%Y%m%d%H%M%SZ)"
S_CRT=$T/short/shortlived.crt
S_KEY=$T/short/shortlived.key
not_after=$(openssl x509 -in "$S_CRT" -noout -enddate | sed 's/^notAfter=//')
not_after_ms=$(($(date -u -d "$not_after" +%s) * 1000))
openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslclient "$S_CRT" >/dev/null 2>&1 ||
  fail "test setup: the short-lived certificate does not verify now"

start_broker
# A receiving session with it, waiting longer than the certificate lives.
spawn "$T/recv.out" "$T/recv.err" "$BATON" --broker "$BROKER_ADDR" \
  --ca "$CA_DIR/ca.crt" --cert "$S_CRT" --key "$S_KEY" --timeout 15 \
  recv --wait $((VALID_S + 60))
recv_pid=$SPAWN_PID
wait_for "the short-lived session's hello" 15 \
  grep -q 'node=shortlived role=cmht hello' "$BROKER_LOG"
# It works while valid: a handover sent to it is delivered on that session.
run baton_as provider send --to shortlived --json "$EXAMPLE_HANDOVER" --id live-1
assert_rc 0 "send to the short-lived node"
wait_for "delivery on the short-lived session" 15 grep -q '"live-1"' "$T/recv.out"
now_ms=$(date +%s%3N)
((now_ms < not_after_ms - 2000)) ||
  fail "test setup too slow: the session was up only $((not_after_ms - now_ms)) ms before notAfter"
# A long-lived session of another node, to see it is not touched.
spawn "$T/cmht.out" "$T/cmht.err" "$BATON" --broker "$BROKER_ADDR" \
  --ca "$CA_DIR/ca.crt" --cert "$NODE_DIR/cmht.crt" --key "$NODE_DIR/cmht.key" \
  --timeout 15 recv --wait $((VALID_S + 60))
cmht_pid=$SPAWN_PID
wait_for "cmht's hello" 15 grep -q 'node=cmht role=cmht hello' "$BROKER_LOG"

# Expiry: the broker closes the session, with the reason, soon after.
log "certificate expires at $not_after; waiting"
wait_pid "$recv_pid" $((VALID_S + 20))
closed=$(grep -m1 'node=shortlived .*closing code=BAD_CERTIFICATE reason="client certificate has expired"' \
  "$BROKER_LOG") || fail "no 'client certificate has expired' closing line for the session"
closed_ms=$(log_ms "$closed")
log "closed $((closed_ms - not_after_ms)) ms after notAfter; baton exit $WAIT_RC: $(head -c 200 "$T/recv.err")"
((closed_ms >= not_after_ms)) ||
  fail "session closed $((not_after_ms - closed_ms)) ms before its certificate expired"
((closed_ms <= not_after_ms + 10000)) ||
  fail "session closed $((closed_ms - not_after_ms)) ms after its certificate expired (bound 10 s)"
((WAIT_RC != 0)) || fail "baton recv exited 0 when the broker closed its session"
assert_contains "$(cat "$T/recv.err")" "expired" "baton's message names the expiry"

# A new connection with it is refused at the handshake.
run "$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" --cert "$S_CRT" \
  --key "$S_KEY" --timeout 15 recv --wait 1
assert_rc 2 "reconnecting with the expired certificate"
wait_for "the handshake refusal of the expired certificate" 10 \
  grep -q 'client certificate refused depth=0 .*reason="certificate has expired"' "$BROKER_LOG"

# The other session is still open and the broker still serves.
kill -0 "$cmht_pid" 2>/dev/null || fail "cmht's session ended: $(cat "$T/cmht.err")"
assert_not_contains "$(grep 'node=cmht ' "$BROKER_LOG")" "closing code=" "cmht's session"
assert_broker_alive
stop_broker
