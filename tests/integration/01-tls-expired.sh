#!/usr/bin/env bash
#
# 01-tls-expired: a certificate from the real CA, for a registered node,
# whose validity has ended is refused at the handshake; so is one whose
# validity has not begun. batonctl will not issue either, so `openssl ca`
# signs them with the test CA's key and dates set in the past/future.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

# make_dated_cert ID STARTDATE ENDDATE: a node certificate for ID exactly
# like batonctl's (URI SAN urn:baton:node:ID, clientAuth) but with the
# given validity (YYYYMMDDHHMMSSZ), into $T/dated/ID.crt/.key.
make_dated_cert() {
  local id=$1 start=$2 end=$3 d=$T/dated
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
      -startdate "$start" -enddate "$end" -notext \
      >"$T/openssl.log" 2>&1 || fail "openssl ca failed: $(tail -n 5 "$T/openssl.log")"
  chmod 600 "$d/$id.key"
}

setup_four_nodes
make_dated_cert expired 20200101000000Z 20200201000000Z
make_dated_cert notyet 20990101000000Z 20990201000000Z
add_node expired provider "Expired Trust"
add_node notyet provider "Future Trust"

# The test is only about time: with time checks off both certificates
# verify against the CA as client certificates, and with them on, neither.
for id in expired notyet; do
  openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslclient -no_check_time \
      "$T/dated/$id.crt" >/dev/null 2>&1 ||
    fail "test setup: $id.crt does not verify even without time checks"
  if openssl verify -CAfile "$CA_DIR/ca.crt" "$T/dated/$id.crt" >/dev/null 2>&1; then
    fail "test setup: $id.crt verifies now"
  fi
done

start_broker

run baton_with "$T/dated/expired.crt" "$T/dated/expired.key" send --to cmht \
    --json "$EXAMPLE_HANDOVER" --id expired-1
assert_rc 2 "send with an expired certificate"
assert_eq "" "$RUN_OUT" "stdout of a refused connection"
assert_contains "$RUN_ERR" "baton:" "error on stderr"
wait_for "the expired refusal in the log" 10 \
  grep -q 'tls handshake refused reason=".*certificate has expired' "$BROKER_LOG"

run baton_with "$T/dated/notyet.crt" "$T/dated/notyet.key" recv --wait 1
assert_rc 2 "recv with a certificate not valid yet"
wait_for "the not-yet-valid refusal in the log" 10 \
  grep -q 'tls handshake refused reason=".*certificate is not yet valid' "$BROKER_LOG"

# Neither got in: nothing was submitted, and no session said hello.
assert_not_contains "$(cat "$BROKER_LOG")" "node=expired role=" "hello from the expired node"
assert_not_contains "$(cat "$BROKER_LOG")" "node=notyet role=" "hello from the not-yet-valid node"
assert_broker_alive
assert_queue_empty cmht

# The broker goes on serving valid certificates.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id expired-2
assert_rc 0 "send with a valid certificate"
assert_json code OK
stop_broker
