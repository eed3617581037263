#!/usr/bin/env bash
#
# 09-reload-revoke: revocation. A certificate revoked with batonctl (which
# rewrites the CA's CRL) is refused once the broker reloads on SIGHUP, and
# still refused after a restart; other nodes are unaffected, and the node
# gets back in with a newly issued certificate.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id revoke-1
assert_rc 0 "send before revocation"

ctl "cert revoke --node provider" cert revoke --ca "$CA_DIR" --node provider \
  --reason keyCompromise
kill -HUP "$BROKER_PID"

# The reload is asynchronous: poll, with a probe that changes nothing,
# until the certificate is refused.
refused() {
  run baton_as provider recv --wait 1 --no-ack
  [[ $RUN_RC -eq 2 ]]
}
wait_for "the revoked certificate to be refused after SIGHUP" 20 refused
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id revoke-2
assert_rc 2 "send with the revoked certificate after SIGHUP"
assert_broker_alive

# policy: gp may send cmht a step_up (the example's kind).
run baton_as gp send --to cmht --json "$EXAMPLE_HANDOVER" --id revoke-gp-1
assert_rc 0 "send from gp after the reload"

stop_broker
start_broker
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id revoke-3
assert_rc 2 "send with the revoked certificate after a restart"

# Only revoke-1 was accepted from provider.
RECV_WAIT=5 recv_all cmht --max 2
got=$(printf '%s\n' "$RUN_OUT" | jq -r 'select(.from == "provider") | .message_id' |
  paste -sd' ')
assert_eq revoke-1 "$got" "handovers from provider"

# A new certificate for the same node id is not revoked.
ctl "cert issue --node provider --force" cert issue --ca "$CA_DIR" \
  --node provider --out "$NODE_DIR" --force
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id revoke-4
assert_rc 0 "send with a newly issued certificate"
assert_json code OK
stop_broker
