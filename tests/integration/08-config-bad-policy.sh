#!/usr/bin/env bash
#
# 08-config-bad-policy: a policy with errors stops batond at start with
# every error as file:line: reason (and `batond -n` says the same), and a
# missing --policy is refused; the broker never runs half-configured.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
cat >"$T/bad.conf" <<'POLICY'
deadline high 4h
deadline severe 1h
role provider
    receive all
    send cmht teleport
role cmht
    receive subject secrets
POLICY

args=(--listen 127.0.0.1:0 --data "$DATA_DIR" --ca "$CA_DIR/ca.crt"
  --cert "$SERVER_DIR/server.crt" --key "$SERVER_DIR/server.key")
run "$BATOND" "${args[@]}" --policy "$T/bad.conf" -n
assert_rc 1 "batond -n with a bad policy"
assert_contains "$RUN_ERR" "bad.conf:2: 'severe' is not a risk level" "line 2"
assert_contains "$RUN_ERR" "bad.conf:5: 'teleport' is not a transition kind" "line 5"
assert_contains "$RUN_ERR" "bad.conf:7: 'secrets' is not a dataset section" "line 7"

run "$BATOND" "${args[@]}" --policy "$T/bad.conf"
assert_rc 1 "batond with a bad policy"
assert_contains "$RUN_ERR" "bad.conf:7:" "start refused with the line"

run "$BATOND" "${args[@]}"
assert_rc 2 "batond without --policy"
assert_contains "$RUN_ERR" "--policy" "names the missing flag"

run "$BATOND" "${args[@]}" --policy "$BATON_SRC/deploy/policy.conf" -n
assert_rc 0 "batond -n with the shipped policy"
assert_contains "$RUN_OUT" "configuration OK" "check passes"

# a world-readable broker key is refused
chmod 644 "$SERVER_DIR/server.key"
run "$BATOND" "${args[@]}" --policy "$BATON_SRC/deploy/policy.conf" -n
assert_rc 1 "batond with a world-readable key"
assert_contains "$RUN_ERR" "chmod 600" "tells how to fix the key mode"
