# shellcheck shell=bash
#
# lib-ops.sh - helpers for the 11-ops-* tests (issue 12): a batond.conf
# for this run's certificates, and a broker started from it alone.
# Sourced after lib.sh.

# write_conf FILE [LINE...]: a complete batond.conf for this run (a free
# port on 127.0.0.1, its port file, data dir, CA, CRL, certificate, key,
# policy), then each LINE as given.
write_conf() {
  local f=$1 line
  shift
  {
    echo "# written by $TEST_NAME"
    echo "listen 127.0.0.1:0"
    echo "port-file $T/broker.port"
    echo "data $DATA_DIR"
    echo "ca $CA_DIR/ca.crt"
    echo "crl $CA_DIR/crl.pem"
    echo "cert $SERVER_DIR/server.crt"
    echo "key $SERVER_DIR/server.key"
    echo "policy $BROKER_POLICY"
    for line in "$@"; do
      echo "$line"
    done
  } >"$f"
}

# start_broker_conf FILE [FLAG...]: starts `batond -c FILE FLAG...` (no
# other flags: listen, port file and data come from FILE) and waits for
# the port file, as start_broker does. Extra environment may be given by
# exporting it first.
start_broker_conf() {
  local conf=$1 portfile=$T/broker.port deadline
  shift
  rm -f "$portfile"
  printf -- '--- start_broker_conf %s ---\n' "$(date -u +%H:%M:%S)" >>"$BROKER_LOG"
  "$BATOND" -c "$conf" "$@" </dev/null >>"$BROKER_LOG" 2>&1 &
  BROKER_PID=$!
  _pids+=("$BROKER_PID")
  deadline=$((SECONDS + 30))
  until [[ -s "$portfile" ]]; do
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      _await_exit "$BROKER_PID" 5
      BROKER_PID=
      # shellcheck disable=SC2154 # set by lib.sh's _await_exit
      fail "batond -c $conf exited with status $_exit_rc before it was listening"
    fi
    ((SECONDS < deadline)) || fail "batond -c $conf wrote no port file within 30 s"
    sleep 0.05
  done
  BROKER_PORT=$(<"$portfile")
  [[ "$BROKER_PORT" =~ ^[0-9]+$ ]] || fail "port file holds '$BROKER_PORT'"
  BROKER_ADDR=127.0.0.1:$BROKER_PORT
  log "broker pid $BROKER_PID (from $conf) listening on $BROKER_ADDR"
}

# print_config ARG...: `batond --print-config ARG...` into RUN_OUT; the
# exit status must be 0.
print_config() {
  run "$BATOND" --print-config "$@"
  assert_rc 0 "batond --print-config $*"
}

# config_value KEY: KEY's value in RUN_OUT (a --print-config dump).
config_value() {
  printf '%s\n' "$RUN_OUT" | awk -v k="$1" '$1 == k { sub(/^[^ ]+ /, ""); print; exit }'
}
