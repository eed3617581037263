#!/usr/bin/env bash
#
# 08-config-privileges (TESTPLAN S9): started as root with --user nobody,
# batond loads its key, then runs as nobody with no supplementary groups,
# no effective capabilities and no_new_privs set, and still serves. A key
# not owned by the broker's user, or readable by others, is refused at
# start. Needs root (CI runs as root); skipped (77) otherwise.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

if [[ $(id -u) != 0 ]]; then
  log "not root: cannot test switching users; skipped"
  exit 77
fi
id nobody >/dev/null 2>&1 || { log "no user 'nobody'; skipped"; exit 77; }

setup_four_nodes
# the broker's user owns its data and key; everything else it only reads
chmod 1777 "$T"
chmod -R a+rX "$CA_DIR" "$NODE_DIR" "$SERVER_DIR"
chmod 600 "$CA_DIR/ca.key" "$SERVER_DIR/server.key"
chown nobody "$SERVER_DIR/server.key"
chown -R nobody "$DATA_DIR"

# a key root owns is refused when the broker will run as nobody
chown root "$SERVER_DIR/server.key"
run "$BATOND" --data "$DATA_DIR" --ca "$CA_DIR/ca.crt" --cert "$SERVER_DIR/server.crt" \
  --key "$SERVER_DIR/server.key" --policy "$BROKER_POLICY" --user nobody -n
assert_rc 1 "key owned by root, broker user nobody"
assert_contains "$RUN_ERR" "not by the broker's user" "names the owner problem"
chown nobody "$SERVER_DIR/server.key"

# LeakSanitizer cannot trace a process that gave up root, so a sanitizer
# build checks leaks everywhere but here.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
start_broker --user nobody
status=/proc/$BROKER_PID/status
assert_eq "65534" "$(awk '$1 == "Uid:" { print $2 }' "$status")" "real uid"
assert_eq "65534" "$(awk '$1 == "Uid:" { print $3 }' "$status")" "effective uid"
assert_eq "" "$(awk '$1 == "Groups:" { $1 = ""; print }' "$status" | tr -d ' ')" \
  "supplementary groups"
assert_eq "0000000000000000" "$(awk '$1 == "CapEff:" { print $2 }' "$status")" \
  "effective capabilities"
assert_eq 1 "$(awk '$1 == "NoNewPrivs:" { print $2 }' "$status")" "no_new_privs"
grep -q "running as user nobody" "$BROKER_LOG" || fail "no log line for the switch"

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id priv-1
assert_rc 0 "send to a broker running as nobody"
RECV_WAIT=3 recv_all cmht
assert_json message_id priv-1
stop_broker
