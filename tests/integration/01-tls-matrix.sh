#!/usr/bin/env bash
#
# 01-tls-matrix (TESTPLAN S1, S2): what the broker's TLS listener accepts,
# driven with `openssl s_client` so the client offers exactly what a case
# needs, and a Hello frame sent after the handshake tells accepted
# (Welcome comes back) from refused.
#
#  S1: TLS 1.3 accepted; TLS 1.2 refused by default; with --allow-tls12,
#      TLS 1.2 with ECDHE + AEAD accepted but CBC suites refused; TLS 1.1
#      and 1.0 always refused.
#  S2: refused at the handshake: no client certificate, self-signed, from
#      another CA, not yet valid, serverAuth-only EKU; refused after it with
#      Error BAD_CERTIFICATE: a CA:TRUE leaf, two URI SANs, CN=provider and
#      no SAN, a URI SAN of another scheme. Each refusal leaves a reason in
#      the broker log. A valid certificate is accepted.
#  Client side: `baton` refuses a broker certificate without the name it
#  connected to, and one from another CA (exit 2, a message saying which).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

HELLO_FRAME=$(raw_frame "$RAW_HELLO")
BAD_CERTIFICATE=23
CERTS=$T/matrix

setup_four_nodes
mkdir -p "$CERTS"

# ossl WHAT ARGS...: runs openssl; fails the test with its output if it
# fails.
ossl() {
  local what=$1
  shift
  openssl "$@" >"$T/openssl.log" 2>&1 ||
    fail "openssl $what failed: $(tail -n 5 "$T/openssl.log")"
}

# ca_sign NAME CN EXTENSIONS [STARTDATE ENDDATE]: a P-256 key and a
# certificate with subject CN and the given v3 extension lines, signed by
# the run's CA (openssl ca, for arbitrary validity dates), into
# $CERTS/NAME.crt/.key.
ca_sign() {
  local name=$1 cn=$2 ext=$3 start=${4:-} end=${5:-} d=$CERTS/ca-$1
  local dates=(-days 2)
  [[ -z "$start" ]] || dates=(-startdate "$start" -enddate "$end")
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
x509_extensions = v3_leaf
[policy_any]
commonName = supplied
[v3_leaf]
$ext
CNF
  ossl "req ($name)" req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$CERTS/$name.key" -subj "/CN=$cn" -out "$d/req.csr"
  ossl "ca ($name)" ca -batch -config "$d/ca.cnf" -in "$d/req.csr" \
    -out "$CERTS/$name.crt" -notext "${dates[@]}"
  chmod 600 "$CERTS/$name.key"
}

# The extensions batonctl gives a node certificate, less the SAN.
CLIENT_EXT='basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid'

# Self-signed, otherwise a proper node certificate for provider.
ossl "req -x509 (self-signed)" req -x509 -newkey ec \
  -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$CERTS/selfsigned.key" -out "$CERTS/selfsigned.crt" \
  -subj "/CN=provider" -addext "basicConstraints=critical,CA:FALSE" \
  -addext "keyUsage=critical,digitalSignature" \
  -addext "extendedKeyUsage=clientAuth" \
  -addext "subjectAltName=URI:urn:baton:node:provider"
chmod 600 "$CERTS/selfsigned.key"
# From another CA made by the same tool.
ctl "ca init (other CA)" ca init --dir "$T/otherca"
issue_node_cert provider "$T/otherca" "$CERTS/otherca"
# Valid only from 2099.
ca_sign notyet provider "$CLIENT_EXT
subjectAltName = URI:urn:baton:node:provider" 20990101000000Z 20990201000000Z
# For servers only.
ca_sign serveronly provider "basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = URI:urn:baton:node:provider"
# A CA certificate used as a client certificate.
ca_sign catrue provider "basicConstraints = critical, CA:TRUE
keyUsage = critical, digitalSignature, keyCertSign
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = URI:urn:baton:node:provider"
# Two identities in one certificate.
ca_sign twouri provider "$CLIENT_EXT
subjectAltName = URI:urn:baton:node:provider, URI:urn:baton:node:cmht"
# The CN says provider; there is no SAN.
ca_sign nosan provider "$CLIENT_EXT"
# A URI SAN from another trust domain naming the same id.
ca_sign spiffe provider "$CLIENT_EXT
subjectAltName = URI:spiffe://x/provider"

# Setup checks: each certificate is what its case says.
openssl verify -CAfile "$CA_DIR/ca.crt" -purpose sslclient \
  "$CERTS/twouri.crt" >/dev/null 2>&1 || fail "setup: twouri.crt does not verify"
if openssl verify -CAfile "$CA_DIR/ca.crt" "$CERTS/notyet.crt" >/dev/null 2>&1; then
  fail "setup: notyet.crt verifies now"
fi
openssl x509 -in "$CERTS/nosan.crt" -noout -ext subjectAltName 2>/dev/null |
  grep -q URI && fail "setup: nosan.crt has a SAN"

# accepted NAME CERT KEY WHAT [S_CLIENT ARGS...]: the handshake succeeds
# and Hello is answered with Welcome.
accepted() {
  local name=$1 cert=$2 key=$3 what=$4 pid
  shift 4
  raw_start "$name" "$cert" "$key" "$HELLO_FRAME" "$@"
  pid=$RAW_PID
  wait_for "Welcome ($what)" 15 raw_has "$name" "$F_WELCOME"
  kill -TERM "$pid"
  wait_pid "$pid" 10
}

# refused NAME CERT KEY WHAT LOGPATTERN [S_CLIENT ARGS...]: the broker
# closes the connection without a Welcome, and its log gets a line
# matching LOGPATTERN (an extended regex) with the reason. CERT may be ""
# for no client certificate. Sets REFUSED_ERROR to the Error code the
# broker sent after the handshake, or "" if it refused the handshake.
REFUSED_ERROR=
refused() {
  local name=$1 cert=$2 key=$3 what=$4 pattern=$5 mark
  shift 5
  mark=$(log_mark)
  if [[ -n "$cert" ]]; then
    raw_start "$name" "$cert" "$key" "$HELLO_FRAME" "$@"
  else
    printf '%s' "$HELLO_FRAME" | xxd -r -p >"$RAW_DIR/$name.in"
    openssl s_client -quiet -connect "$BROKER_ADDR" -CAfile "$CA_DIR/ca.crt" \
        "$@" <"$RAW_DIR/$name.in" >"$RAW_DIR/$name.out" 2>"$RAW_DIR/$name.err" &
    RAW_PID=$!
    _pids+=("$RAW_PID")
  fi
  raw_closed "$name" "$RAW_PID" 15
  raw_has "$name" "$F_WELCOME" && fail "$what: the broker welcomed it"
  REFUSED_ERROR=
  if raw_has "$name" "$F_ERROR"; then
    raw_error "$name"
    REFUSED_ERROR=$RAW_CODE
  fi
  wait_for "the broker's reason for refusing $what" 10 log_since "$mark" "$pattern"
}

# refused_handshake ...: refused, at the TLS handshake (no Error frame).
refused_handshake() {
  refused "$@"
  assert_eq "" "$REFUSED_ERROR" "$4: refused at the handshake, so no Error frame"
}

# refused_identity ...: refused after the handshake with BAD_CERTIFICATE.
#
# The client has usually sent its Hello before the refusal: the broker must
# still deliver the Error (it closes with a linger, not a reset). A missing
# Error frame is collected here and fails the test at the end, after the
# rest of the matrix has run; a wrong code fails at once.
MISSING_ERROR=()
refused_identity() {
  refused "$@"
  if [[ -z "$REFUSED_ERROR" ]]; then
    log "$4: refused, but the Error frame did not arrive"
    MISSING_ERROR+=("$4")
    return 0
  fi
  assert_eq "$BAD_CERTIFICATE" "$REFUSED_ERROR" "$4: Error code"
  assert_contains "$RAW_TEXT" "client certificate" "$4: Error text says what is wrong"
}

P_CRT=$NODE_DIR/provider.crt
P_KEY=$NODE_DIR/provider.key
HS='tls handshake refused reason='
OLD_TLS=(-cipher 'DEFAULT:@SECLEVEL=0')	# let the client offer TLS 1.0/1.1

# --- S1 and S2 with the default broker ------------------------------------
start_broker

accepted tls13 "$P_CRT" "$P_KEY" "TLS 1.3 with a valid certificate" -tls1_3
accepted default "$P_CRT" "$P_KEY" "a valid certificate, client defaults"

refused_handshake tls12-default "$P_CRT" "$P_KEY" "TLS 1.2 without --allow-tls12" \
  "${HS}\".*(unsupported protocol|wrong version)" -tls1_2
refused_handshake tls11 "$P_CRT" "$P_KEY" "TLS 1.1" \
  "${HS}\".*(unsupported protocol|wrong version)" -tls1_1 "${OLD_TLS[@]}"
refused_handshake tls10 "$P_CRT" "$P_KEY" "TLS 1.0" \
  "${HS}\".*(unsupported protocol|wrong version)" -tls1 "${OLD_TLS[@]}"

refused_handshake nocert "" "" "no client certificate" \
  "${HS}\".*peer did not return a certificate"
refused_handshake selfsigned "$CERTS/selfsigned.crt" "$CERTS/selfsigned.key" \
  "a self-signed client certificate" \
  'client certificate refused depth=0 .*reason="self.signed certificate"'
refused_handshake otherca "$CERTS/otherca/provider.crt" "$CERTS/otherca/provider.key" \
  "a client certificate from another CA" \
  'client certificate refused depth=0 .*reason="unable to get local issuer certificate"'
refused_handshake notyet "$CERTS/notyet.crt" "$CERTS/notyet.key" \
  "a client certificate not valid yet" \
  'client certificate refused depth=0 .*reason="certificate is not yet valid"'
refused_handshake serveronly "$CERTS/serveronly.crt" "$CERTS/serveronly.key" \
  "a serverAuth-only certificate" \
  'client certificate refused depth=0 .*reason="unsuitable certificate purpose"'

refused_identity catrue "$CERTS/catrue.crt" "$CERTS/catrue.key" \
  "a CA:TRUE leaf" \
  'closing code=BAD_CERTIFICATE reason="client certificate is a CA certificate'
refused_identity twouri "$CERTS/twouri.crt" "$CERTS/twouri.key" \
  "two URI SANs" \
  'closing code=BAD_CERTIFICATE reason="client certificate has 2 URI SANs'
refused_identity nosan "$CERTS/nosan.crt" "$CERTS/nosan.key" \
  "CN=provider and no SAN" \
  'closing code=BAD_CERTIFICATE reason="client certificate has no subjectAltName'
refused_identity spiffe "$CERTS/spiffe.crt" "$CERTS/spiffe.key" \
  "a spiffe:// URI SAN" \
  'closing code=BAD_CERTIFICATE reason="client certificate URI SAN is not of the form'

# None of them said hello as anyone; all the refusals after the handshake
# are audited as BAD_CERTIFICATE.
n=$(grep -c 'node=provider role=provider hello' "$BROKER_LOG" || true)
assert_eq 2 "$n" "sessions welcomed as provider (the two valid ones)"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event connection_refused
assert_rc 0 "audit export of refused connections"
assert_eq 4 "$(jq -r 'select(.outcome == "BAD_CERTIFICATE") | .outcome' <<<"$RUN_OUT" | wc -l)" \
  "BAD_CERTIFICATE refusals in the audit log"
nhs=$(jq -r 'select(.outcome == "TLS_HANDSHAKE") | .outcome' <<<"$RUN_OUT" | wc -l)
((nhs >= 8)) || fail "TLS handshake refusals in the audit log: $nhs, expected at least 8"

assert_broker_alive
stop_broker

# --- S1 with --allow-tls12 --------------------------------------------------
start_broker --allow-tls12
accepted tls12-allowed "$P_CRT" "$P_KEY" "TLS 1.2 with --allow-tls12" -tls1_2
accepted tls12-chacha "$P_CRT" "$P_KEY" "TLS 1.2 ECDHE-ECDSA-CHACHA20-POLY1305" \
  -tls1_2 -cipher ECDHE-ECDSA-CHACHA20-POLY1305
accepted tls13-allowed "$P_CRT" "$P_KEY" "TLS 1.3 with --allow-tls12" -tls1_3
refused_handshake tls12-cbc256 "$P_CRT" "$P_KEY" "TLS 1.2 with a CBC suite (SHA384)" \
  "${HS}\".*no shared cipher" -tls1_2 -cipher ECDHE-ECDSA-AES256-SHA384
refused_handshake tls12-cbc128 "$P_CRT" "$P_KEY" "TLS 1.2 with a CBC suite (SHA1)" \
  "${HS}\".*no shared cipher" -tls1_2 -cipher ECDHE-ECDSA-AES128-SHA
refused_handshake tls11-allowed "$P_CRT" "$P_KEY" "TLS 1.1 with --allow-tls12" \
  "${HS}\".*(unsupported protocol|wrong version)" -tls1_1 "${OLD_TLS[@]}"
refused_handshake tls10-allowed "$P_CRT" "$P_KEY" "TLS 1.0 with --allow-tls12" \
  "${HS}\".*(unsupported protocol|wrong version)" -tls1 "${OLD_TLS[@]}"
refused_handshake otherca-12 "$CERTS/otherca/provider.crt" "$CERTS/otherca/provider.key" \
  "a client certificate from another CA over TLS 1.2" \
  'client certificate refused depth=0 .*reason="unable to get local issuer certificate"' -tls1_2
stop_broker

# --- client side: the broker's certificate -----------------------------------
# A broker certificate for "otherhost" only, connected to as 127.0.0.1.
ctl "cert issue --server otherhost" cert issue --ca "$CA_DIR" --server \
  --dns otherhost --out "$T/server-otherhost"
SERVER_DIR=$T/server-otherhost start_broker
run baton_as provider whoami
assert_rc 2 "baton against a broker certificate without 127.0.0.1"
assert_eq "" "$RUN_OUT" "stdout of a refused broker"
assert_contains "$RUN_ERR" "baton:" "error on stderr"
assert_contains "$RUN_ERR" "IP address mismatch" "baton's reason for the wrong broker name"
# The certificate itself is fine: naming it works.
run baton_as provider --server-name otherhost whoami
assert_rc 0 "baton --server-name otherhost against that broker"
stop_broker

# A broker certificate from another CA, for the right names.
ctl "cert issue --server (other CA)" cert issue --ca "$T/otherca" --server \
  --dns localhost --ip 127.0.0.1 --out "$T/server-otherca"
SERVER_DIR=$T/server-otherca start_broker
run baton_as provider whoami
assert_rc 2 "baton against a broker certificate from another CA"
assert_eq "" "$RUN_OUT" "stdout of a refused broker"
assert_contains "$RUN_ERR" "not signed by the CA" "baton's reason for a broker from another CA"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id matrix-1
assert_rc 2 "send to a broker certificate from another CA"
stop_broker

# Nothing reached cmht through any of it.
start_broker
assert_queue_empty cmht
stop_broker

# See refused_identity: the client must be told why it was refused.
if ((${#MISSING_ERROR[@]} > 0)); then
  fail "no BAD_CERTIFICATE Error frame reached the client for: $(printf '%s; ' "${MISSING_ERROR[@]}")(known broker bug: close with unread input sends RST)"
fi
