#!/usr/bin/env bash
#
# 01-tls-wrong-ca: a client certificate for a registered node id, issued by
# another CA, is refused at the handshake: baton exits 2 with "baton: ..."
# on stderr, nothing is queued, and the broker keeps serving.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# A second CA, made by the same tool, issuing a certificate for "provider".
ctl "ca init (second CA)" ca init --dir "$T/otherca"
issue_node_cert provider "$T/otherca" "$T/othernodes"

run baton_with "$T/othernodes/provider.crt" "$T/othernodes/provider.key" \
  send --to cmht --json "$EXAMPLE_HANDOVER" --id wrong-ca-1
assert_rc 2 "send with a certificate from another CA"
assert_contains "$RUN_ERR" "baton:" "error on stderr"
assert_eq "" "$RUN_OUT" "stdout of a refused connection"

# recv with the foreign certificate is refused the same way.
run baton_with "$T/othernodes/provider.crt" "$T/othernodes/provider.key" \
  recv --wait 1
assert_rc 2 "recv with a certificate from another CA"

assert_broker_alive
assert_queue_empty cmht

# Control: the real provider certificate gets through, so the refusal
# above was the certificate's doing.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id wrong-ca-2
assert_rc 0 "send with the real provider certificate"
assert_json code OK
recv_all cmht
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to cmht"
assert_json message_id wrong-ca-2
stop_broker
