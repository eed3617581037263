#!/usr/bin/env bash
#
# 11-ops-config-user (issue 12, part 1): `batond -n --user nobody` checks
# as the run-as user what the real start (and a reload) will need: a data
# directory nobody cannot reach, one it cannot create, and a CRL it cannot
# read are each reported (exit 1), where the check used to say
# "configuration OK" and the real start then failed. With everything
# reachable the check passes. Needs root (CI runs as root); skipped (77)
# otherwise.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-ops.sh
source "$(dirname "$0")/lib-ops.sh"

if [[ $(id -u) != 0 ]]; then
  log "not root: cannot test another run-as user; skipped"
  exit 77
fi
id nobody >/dev/null 2>&1 || { log "no user 'nobody'; skipped"; exit 77; }

setup_four_nodes
# as 08-config-privileges: nobody owns its data and key, reads the rest
chmod 1777 "$T"
chmod -R a+rX "$CA_DIR" "$NODE_DIR" "$SERVER_DIR"
chmod 600 "$CA_DIR/ca.key" "$SERVER_DIR/server.key"
chown nobody "$SERVER_DIR/server.key"
chown -R nobody "$DATA_DIR"
write_conf "$T/batond.conf" "user nobody"
chmod 644 "$T/batond.conf"

run "$BATOND" -n -c "$T/batond.conf"
assert_rc 0 "batond -n as nobody with everything reachable"
assert_contains "$RUN_OUT" "configuration OK" "the check passes"

# a data directory inside a directory only root may enter
mkdir -m 700 "$T/locked"
cp -a "$DATA_DIR" "$T/locked/data"
run "$BATOND" -n -c "$T/batond.conf" --data "$T/locked/data"
assert_rc 1 "batond -n with a data dir nobody cannot reach"
assert_contains "$RUN_ERR" "$T/locked/data: the broker's user (uid $(id -u nobody)) cannot reach the data directory" \
  "names the data dir and the user"
assert_not_contains "$RUN_OUT" "configuration OK" "no OK for an unreachable data dir"
# and the real start agrees (LeakSanitizer cannot trace a process that
# gave up root)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
  run "$BATOND" -c "$T/batond.conf" --data "$T/locked/data"
assert_rc 1 "the real start with that data dir"

# a data directory to be created where nobody may look but not write
mkdir -m 755 "$T/readonly"
run "$BATOND" -n -c "$T/batond.conf" --data "$T/readonly/new"
assert_rc 1 "batond -n with a data dir nobody cannot create"
assert_contains "$RUN_ERR" "$T/readonly/new: the data directory does not exist and the broker's user" \
  "names the missing data dir"
[[ ! -e "$T/readonly/new" ]] || fail "batond -n created the data dir as root"

# a CRL root may read but nobody may not: a reload would fail
chmod 600 "$CA_DIR/crl.pem"
run "$BATOND" -n -c "$T/batond.conf"
assert_rc 1 "batond -n with a CRL nobody cannot read"
assert_contains "$RUN_ERR" "$CA_DIR/crl.pem: the CRL is not readable by the broker's user" \
  "names the CRL"
chmod 644 "$CA_DIR/crl.pem"

# the config file itself is re-read at reload, as nobody
chmod 600 "$T/batond.conf"
run "$BATOND" -n -c "$T/batond.conf"
assert_rc 1 "batond -n with a config file nobody cannot read"
assert_contains "$RUN_ERR" "the config file is not readable by the broker's user" "names the config file"
