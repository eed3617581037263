#!/usr/bin/env bash
#
# 09-reload-bad-crl: a CRL that cannot be loaded (garbage, or cut in half)
# on SIGHUP leaves the broker running on the TLS context and CRL it had:
# it logs that it kept them, valid clients keep working, a live session
# survives, and a certificate the old CRL revoked stays refused. A good
# CRL on the next SIGHUP is taken up.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# crisis is revoked under the CRL the broker will keep.
ctl "cert revoke" cert revoke --ca "$CA_DIR" --node crisis
hup_and_wait 'reload: TLS context and CRL loaded'
run baton_as crisis recv --wait 1
assert_rc 2 "crisis, revoked, before the bad CRL"

baton_as cmht recv --wait 30 >"$T/recv.out" 2>"$T/recv.err" &
recv_pid=$!
_pids+=("$recv_pid")
wait_for "cmht's session" 15 grep -q 'node=cmht role=cmht hello' "$BROKER_LOG"

cp "$CA_DIR/crl.pem" "$T/good-crl.pem"
for bad in garbage truncated; do
  if [[ $bad == garbage ]]; then
    printf 'this is not a CRL\n' >"$CA_DIR/crl.pem"
  else
    head -c 200 "$T/good-crl.pem" >"$CA_DIR/crl.pem"
  fi
  hup_and_wait 'reload: TLS context and CRL not changed'
  grep 'reload: TLS context and CRL not changed' "$BROKER_LOG" | tail -n 1 |
    grep -q 'cannot load CRL' || fail "$bad CRL: the log does not name the CRL as the cause"
  assert_broker_alive
  kill -0 "$recv_pid" 2>/dev/null || fail "$bad CRL: cmht's live session was closed"

  # New connections still work under the old context...
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "bad-crl-$bad"
  assert_rc 0 "$bad CRL: send from provider"
  assert_json code OK
  wait_for "$bad CRL: cmht's delivery" 15 grep -q "bad-crl-$bad" "$T/recv.out"
  # ...and the old CRL still applies.
  run baton_as crisis recv --wait 1
  assert_rc 2 "$bad CRL: crisis is still refused"
done

# A good CRL again (re-signed by batonctl) is loaded on the next SIGHUP.
ctl "crl" crl --ca "$CA_DIR"
hup_and_wait 'reload: TLS context and CRL loaded'
run baton_as gp recv --wait 1
assert_rc 0 "gp after the good CRL"
run baton_as crisis recv --wait 1
assert_rc 2 "crisis after the good CRL"
kill -0 "$recv_pid" 2>/dev/null || fail "cmht's live session was closed by the good CRL"
assert_eq 0 "$(count_in_log 'closing code=CERTIFICATE_REVOKED')" "sessions closed as revoked"
# Each of crisis's four attempts was refused for the revocation.
wait_for "four refusals of crisis as revoked" 10 test \
  "$(count_in_log 'tls handshake refused reason=".*certificate revoked')" -eq 4
stop_broker
