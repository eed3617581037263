#!/usr/bin/env bash
#
# 01-tls-broker-expiry-warn (docs/limits.md, "Certificate and CRL lapse"):
# the broker warns, at start and after each reload, when its own
# certificate lapses within 30 days or the CRL in force within 7 days,
# while it still serves. The short-lived material comes from batonctl:
# `cert issue --server --days 10` and `crl --crl-days 3`.
#  - started with a certificate for 365 days and a CRL for 30: neither
#    warning;
#  - reloaded (SIGHUP) with a certificate for 10 days and a CRL for 3:
#    "warn: tls: the broker certificate ... expires in 9 days" (or 10) and
#    "warn: crl: ... lapses in N hours" (N within 3 days); nodes still
#    connect and send;
#  - restarted with that material: both warnings again, at start;
#  - reloaded with a certificate for 31 days and a CRL for 8 (just past
#    the thresholds): no new warning.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
CERT_WARN="batond warn: tls: the broker certificate $SERVER_DIR/server.crt expires in"
CRL_WARN="batond warn: crl: $CA_DIR/crl.pem lapses in"

# material CERT_DAYS CRL_DAYS: a new broker certificate and a re-signed CRL.
material() {
  ctl "cert issue --server --days $1" cert issue --ca "$CA_DIR" --server \
    --dns localhost --ip 127.0.0.1 --out "$SERVER_DIR" --days "$1" --force
  ctl "crl --crl-days $2" crl --ca "$CA_DIR" --crl-days "$2"
}

# warnings: the broker log's two warning counts, "CERT CRL".
warnings() {
  echo "$(count_in_log "$CERT_WARN") $(count_in_log "$CRL_WARN")"
}

# works ID: provider's send of ID is receipted.
works() {
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$1"
  assert_rc 0 "send $1"
  assert_json code OK
}

# assert_in WHAT LINE LO HI: LINE says "in N days|hours" with LO <= N <= HI.
assert_in() {
  local n
  n=$(sed -n 's/.* \(expires\|lapses\) in \([0-9]*\) \(days\|hours\).*/\2/p' <<<"$2")
  [[ -n "$n" ]] || fail "$1: no count in '$2'"
  ((n >= $3 && n <= $4)) || fail "$1: $n, not within $3 to $4, in '$2'"
}

# --- long-lived material: quiet ----------------------------------------------
material 365 30
start_broker
works quiet-1
assert_eq "0 0" "$(warnings)" "expiry warnings with a 365-day certificate and a 30-day CRL"

# --- reloaded with short-lived material: both warnings ----------------------
material 10 3
hup_and_wait 'reload: TLS context and CRL loaded'
wait_for "the certificate and CRL warnings after the reload" 10 \
  test "$(warnings)" = "1 1"
assert_in "certificate warning" "$(grep -- "$CERT_WARN" "$BROKER_LOG" | tail -n 1)" 9 10
assert_in "CRL warning" "$(grep -- "$CRL_WARN" "$BROKER_LOG" | tail -n 1)" 71 72
works short-1
assert_eq "1 1" "$(warnings)" "expiry warnings after one send (they are not per connection)"
stop_broker

# --- restarted with it: the warnings come at start --------------------------
start_broker
wait_for "the certificate and CRL warnings at start" 10 test "$(warnings)" = "2 2"
works short-2

# --- just past the thresholds: quiet again ----------------------------------
material 31 8
hup_and_wait 'reload: TLS context and CRL loaded'
works long-1
assert_eq "2 2" "$(warnings)" "expiry warnings with a 31-day certificate and an 8-day CRL"
assert_broker_alive
stop_broker
