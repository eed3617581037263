#!/usr/bin/env bash
#
# 08-config-data-modes (issue 9 finding 8; TESTPLAN S9): data.mdb holds
# every handover, NHS numbers included, so batond refuses to start, and
# `batond -n` reports the same, when the data directory grants anything to
# group or others, when a file in it (data.mdb, lock.mdb, the audit keys)
# does, or when one is not owned by the broker's user. The error names the
# path, the mode found and the command that fixes it. With the modes fixed
# the broker starts and serves. A data directory batond or batonctl creates
# is 0700 and its files 0600, even under umask 000.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
mode() { stat -c %a "$1"; }
assert_eq 700 "$(mode "$DATA_DIR")" "mode of the data dir batonctl created"
assert_eq 600 "$(mode "$DATA_DIR/data.mdb")" "mode of data.mdb"
assert_eq 600 "$(mode "$DATA_DIR/lock.mdb")" "mode of lock.mdb"

BROKER_ARGS=(--data "$DATA_DIR" --ca "$CA_DIR/ca.crt" --crl "$CA_DIR/crl.pem"
  --cert "$SERVER_DIR/server.crt" --key "$SERVER_DIR/server.key"
  --policy "$BROKER_POLICY")

# refused WHAT PATH MODE FIX: both `batond -n` and a real start exit 1,
# naming PATH, MODE and the fix command FIX; nothing starts listening.
refused() {
  local what=$1 path=$2 mode=$3 fix=$4
  run "$BATOND" "${BROKER_ARGS[@]}" -n
  assert_rc 1 "batond -n with $what"
  assert_not_contains "$RUN_OUT" "configuration OK" "batond -n with $what"
  assert_contains "$RUN_ERR" "$path:" "batond -n names the path ($what)"
  assert_contains "$RUN_ERR" "$mode" "batond -n names what it found ($what)"
  assert_contains "$RUN_ERR" "$fix" "batond -n names the fix ($what)"
  run "$BATOND" "${BROKER_ARGS[@]}" --listen 127.0.0.1:0 --port-file "$T/refused.port"
  assert_rc 1 "batond with $what"
  assert_contains "$RUN_ERR" "$path:" "batond names the path ($what)"
  assert_contains "$RUN_ERR" "$fix" "batond names the fix ($what)"
  [[ ! -e "$T/refused.port" ]] || fail "batond with $what wrote a port file"
  log "$what: ${RUN_ERR##*batond }"
}

# A world-open data directory.
chmod 0777 "$DATA_DIR"
refused "a data dir of mode 0777" "$DATA_DIR" "mode 0777" "chmod 0700 $DATA_DIR"
chmod 0750 "$DATA_DIR"
refused "a data dir of mode 0750" "$DATA_DIR" "mode 0750" "chmod 0700 $DATA_DIR"
chmod 0700 "$DATA_DIR"

# Files others may read or write.
chmod 0644 "$DATA_DIR/data.mdb"
refused "data.mdb of mode 0644" "$DATA_DIR/data.mdb" "mode 0644" \
  "chmod 0600 $DATA_DIR/data.mdb"
chmod 0600 "$DATA_DIR/data.mdb"
chmod 0602 "$DATA_DIR/lock.mdb"
refused "lock.mdb of mode 0602" "$DATA_DIR/lock.mdb" "mode 0602" \
  "chmod 0600 $DATA_DIR/lock.mdb"
chmod 0600 "$DATA_DIR/lock.mdb"
printf 'left here\n' >"$DATA_DIR/notes.txt"
chmod 0640 "$DATA_DIR/notes.txt"
refused "another file of mode 0640" "$DATA_DIR/notes.txt" "mode 0640" \
  "chmod 0600 $DATA_DIR/notes.txt"
rm -f "$DATA_DIR/notes.txt"

# Not owned by the broker's user (needs root to give a file away).
if [[ $(id -u) == 0 ]] && id nobody >/dev/null 2>&1; then
  chown nobody "$DATA_DIR/data.mdb"
  refused "data.mdb owned by nobody" "$DATA_DIR/data.mdb" "owned by uid $(id -u nobody)" \
    "chown -R $(id -u) $DATA_DIR/data.mdb"
  chown "$(id -u)" "$DATA_DIR/data.mdb"
  chown nobody "$DATA_DIR"
  refused "a data dir owned by nobody" "$DATA_DIR" "owned by uid $(id -u nobody)" \
    "chown -R $(id -u) $DATA_DIR"
  chown "$(id -u)" "$DATA_DIR"
  # With --user the broker's user is that user, not root (the key check
  # passes: the key is given to nobody too).
  chown nobody "$SERVER_DIR/server.key"
  run "$BATOND" "${BROKER_ARGS[@]}" --user nobody -n
  assert_rc 1 "batond --user nobody -n with a data dir root owns"
  assert_contains "$RUN_ERR" "$DATA_DIR: data directory is owned by uid 0, not by the broker's user (uid $(id -u nobody))" \
    "batond --user nobody names the owner problem"
  assert_contains "$RUN_ERR" "chown -R $(id -u nobody) $DATA_DIR" "batond --user names the fix"
  chown "$(id -u)" "$SERVER_DIR/server.key"
else
  log "not root: the ownership cases are skipped"
fi

# Fixed modes: the check passes and the broker serves.
run "$BATOND" "${BROKER_ARGS[@]}" -n
assert_rc 0 "batond -n with the modes fixed"
assert_contains "$RUN_OUT" "configuration OK" "batond -n with the modes fixed"
start_broker
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id modes-1
assert_rc 0 "send once the modes are fixed"
RECV_WAIT=3 recv_all cmht
assert_json message_id modes-1
stop_broker

# Data dirs made from nothing under umask 000, by batond -n and by
# batonctl: the directory 0700, every file in it 0600.
assert_private_dir() {
  local f
  assert_eq 700 "$(mode "$1")" "mode of a data dir made by $2 under umask 000"
  for f in "$1"/*; do
    assert_eq 600 "$(mode "$f")" "mode of ${f##*/} made by $2 under umask 000"
  done
}
BROKER_ARGS[1]=$T/fresh-batond
(umask 000 && exec "$BATOND" "${BROKER_ARGS[@]}" -n) >"$T/fresh.out" 2>"$T/fresh.err" ||
  fail "batond -n on a new data dir: $(tail -n 3 "$T/fresh.err")"
[[ -s "$T/fresh-batond/data.mdb" ]] || fail "batond -n made no data.mdb"
assert_private_dir "$T/fresh-batond" "batond -n"
(umask 000 && exec "$BATONCTL" node add --data "$T/fresh-ctl" --node gp2 --role gp \
  --org "Fresh GP") >"$T/fresh.out" 2>"$T/fresh.err" ||
  fail "batonctl node add into a new data dir: $(tail -n 3 "$T/fresh.err")"
assert_private_dir "$T/fresh-ctl" "batonctl node add"
