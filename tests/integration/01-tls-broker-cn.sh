#!/usr/bin/env bash
#
# 01-tls-broker-cn (issue 9 finding 9; TESTPLAN S2, client side): `baton`
# accepts the broker only by a subjectAltName, never by the certificate's
# subject CN. OpenSSL's host check falls back to the CN when a certificate
# has no DNS SAN; the client turns that off
# (X509_CHECK_FLAG_NEVER_CHECK_SUBJECT). A broker certificate signed by the
# right CA, for serverAuth, with CN=localhost (or CN=127.0.0.1) and no SAN
# is refused with exit 2 and a message saying the name is missing,
# whichever name the client connects by. The same certificate with the
# name as a DNS SAN is accepted, so the refusal is about the SAN alone.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes

# server_cert NAME CN [SAN]: a broker certificate exactly like batonctl's
# (serverAuth, CA:FALSE) signed by the run's CA, with subject CN=CN and the
# given subjectAltName value or none, into $T/NAME/server.crt/.key.
server_cert() {
  local name=$1 cn=$2 san=${3:-} d=$T/$1
  mkdir -p "$d"
  cat >"$d/ext.cnf" <<CNF
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
${san:+subjectAltName = $san}
CNF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$d/server.key" -subj "/CN=$cn" -out "$d/server.csr" \
      >"$T/openssl.log" 2>&1 || fail "openssl req failed: $(tail -n 5 "$T/openssl.log")"
  openssl x509 -req -in "$d/server.csr" -CA "$CA_DIR/ca.crt" \
      -CAkey "$CA_DIR/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
      -days 2 -sha256 -extfile "$d/ext.cnf" -extensions v3_server \
      -out "$d/server.crt" >"$T/openssl.log" 2>&1 ||
    fail "openssl x509 -req failed: $(tail -n 5 "$T/openssl.log")"
  chmod 600 "$d/server.key"
  openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslserver "$d/server.crt" \
    >/dev/null 2>&1 || fail "setup: $name/server.crt is not a valid server certificate"
}

# refused_by_client WHAT ARGS...: baton whoami (with ARGS) exits 2, prints
# nothing on stdout and says the broker certificate lacks the name.
refused_by_client() {
  local what=$1
  shift
  run baton_as provider "$@" whoami
  assert_rc 2 "baton against $what"
  assert_eq "" "$RUN_OUT" "stdout of a refused broker ($what)"
  assert_contains "$RUN_ERR" "does not carry the name we connected to" \
    "baton's reason ($what)"
  log "$what: refused: ${RUN_ERR:0:160}"
}

server_cert cn-localhost localhost
server_cert cn-ip 127.0.0.1
server_cert san-localhost localhost DNS:localhost
for c in cn-localhost cn-ip; do
  if openssl x509 -in "$T/$c/server.crt" -noout -text | grep -c 'Subject Alternative Name' >/dev/null; then
    fail "setup: $c/server.crt has a SAN"
  fi
done

# CN=localhost, no SAN: refused by host name (the CN fallback is off) and
# by IP (an IP is only ever matched against IP SANs).
SERVER_DIR=$T/cn-localhost start_broker
refused_by_client "CN=localhost, no SAN, as localhost" --server-name localhost
refused_by_client "CN=localhost, no SAN, as 127.0.0.1"
run baton_as provider --server-name localhost send --to cmht \
  --json "$EXAMPLE_HANDOVER" --id cn-1
assert_rc 2 "send to a broker known only by its CN"
stop_broker

# CN=127.0.0.1, no SAN: refused as 127.0.0.1.
SERVER_DIR=$T/cn-ip start_broker
refused_by_client "CN=127.0.0.1, no SAN, as 127.0.0.1"
stop_broker

# The same kind of certificate with DNS:localhost as a SAN is accepted.
SERVER_DIR=$T/san-localhost start_broker
run baton_as provider --server-name localhost whoami
assert_rc 0 "baton --server-name localhost against a DNS:localhost SAN"
refused_by_client "DNS:localhost only, as 127.0.0.1"
# nothing reached cmht through the refused brokers
run baton_as cmht --server-name localhost recv --wait 1 --no-ack
assert_rc 0 "recv as cmht by the name in the SAN"
assert_eq 0 "$(count_lines "$RUN_OUT")" "deliveries waiting for cmht"
stop_broker
