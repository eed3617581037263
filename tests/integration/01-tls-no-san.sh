#!/usr/bin/env bash
#
# 01-tls-no-san: a certificate signed by the real CA with CN=provider but no
# subjectAltName is refused, and so is one whose CN spells the identity URI
# itself: identity comes only from the SAN URI, never from the CN.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
make_cert_without_san provider
make_cert_without_san provider-uri-cn urn:baton:node:provider
start_broker

for c in provider provider-uri-cn; do
  run baton_with "$T/nosan/$c.crt" "$T/nosan/$c.key" \
    send --to cmht --json "$EXAMPLE_HANDOVER" --id "no-san-$c"
  assert_rc 2 "send with certificate $c (no SAN)"
  assert_contains "$RUN_ERR" "baton:" "error on stderr"
  assert_eq "" "$RUN_OUT" "stdout of a refused connection"

  run baton_with "$T/nosan/$c.crt" "$T/nosan/$c.key" recv --wait 1
  assert_rc 2 "recv with certificate $c (no SAN)"
done

assert_broker_alive
assert_queue_empty cmht

# Control: the same CA's proper certificate for provider works.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id no-san-2
assert_rc 0 "send with the real provider certificate"
assert_json code OK
stop_broker
