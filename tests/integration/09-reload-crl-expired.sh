#!/usr/bin/env bash
#
# 09-reload-crl-expired: a CRL whose nextUpdate has passed fails closed:
# after SIGHUP every live session is closed and every new handshake
# refused, with the reason in the log. `batonctl crl` re-signs the same
# revocation list with a new window and the next SIGHUP lets nodes back in.
# The lapsed CRL is made with `openssl ca -gencrl` and dates in the past,
# signed by the test CA (batonctl will not write one).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

# make_lapsed_crl FILE: a CRL from the test CA, no entries, valid in 2020.
make_lapsed_crl() {
  local d=$T/lapsed
  mkdir -p "$d"
  : >"$d/index.txt"
  echo 1000 >"$d/crlnumber"
  cat >"$d/ca.cnf" <<CNF
[ca]
default_ca = test_ca
[test_ca]
database = $d/index.txt
crlnumber = $d/crlnumber
certificate = $CA_DIR/ca.crt
private_key = $CA_DIR/ca.key
default_md = sha256
CNF
  openssl ca -batch -config "$d/ca.cnf" -gencrl -out "$1" \
      -crl_lastupdate 20200101000000Z -crl_nextupdate 20200201000000Z \
      >"$T/openssl.log" 2>&1 || fail "openssl ca -gencrl failed: $(tail -n 5 "$T/openssl.log")"
}

setup_four_nodes
start_broker

baton_as cmht recv --wait 30 >"$T/recv.out" 2>"$T/recv.err" &
recv_pid=$!
_pids+=("$recv_pid")
wait_for "cmht's session" 15 grep -q 'node=cmht role=cmht hello' "$BROKER_LOG"

make_lapsed_crl "$T/lapsed.pem"
openssl crl -in "$T/lapsed.pem" -CAfile "$CA_DIR/ca.crt" -noout >/dev/null 2>&1 ||
  fail "test setup: the lapsed CRL does not verify against the CA"
cp "$T/lapsed.pem" "$CA_DIR/crl.pem"
hup_and_wait 'reload: TLS context and CRL loaded'

# Fail closed: the live session goes, and so does every new one.
_await_exit "$recv_pid" 15
assert_eq 2 "$_exit_rc" "exit status of cmht's recv under a lapsed CRL"
grep -q 'node=cmht .*closing code=CERTIFICATE_REVOKED reason=".*CRL has expired' "$BROKER_LOG" ||
  fail "broker log does not say the CRL has expired"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id lapsed-1
assert_rc 2 "send under a lapsed CRL"
wait_for "the refusal in the log" 10 \
  grep -q 'tls handshake refused reason=".*CRL has expired' "$BROKER_LOG"
assert_broker_alive

# batonctl re-signs the CRL; after a reload nodes are back.
run "$BATONCTL" crl --ca "$CA_DIR" --crl-days 7
assert_rc 0 "batonctl crl"
assert_contains "$RUN_OUT" "CRL number 2, 0 revoked" "batonctl crl output"
hup_and_wait 'reload: TLS context and CRL loaded'
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id lapsed-2
assert_rc 0 "send after the CRL was re-signed"
assert_json code OK
recv_all cmht
assert_json message_id lapsed-2
stop_broker
