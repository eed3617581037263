# shellcheck shell=bash
#
# lib-hostile.sh - helpers for the 08-hostile-*.sh stress tests, sourced
# after lib.sh. They drive tests/fault/hostile (a raw mutual-TLS client
# that floods, holds and pipelines Baton frames; every mode ends by itself
# at --count or --seconds) and read its key=value results.

HOSTILE=$BATON_BIN/tests/fault/hostile
[[ -x "$HOSTILE" ]] || fail "$HOSTILE not found (build the hostile target)"
HOSTILE_DIR=$T/hostile
mkdir -p "$HOSTILE_DIR"

# hostile_args NODE: the connection options for NODE's certificate.
hostile_args() {
  printf '%s\n' --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
    --cert "$NODE_DIR/$1.crt" --key "$NODE_DIR/$1.key"
}

# hostile_spawn NAME NODE MODE ARGS...: runs hostile MODE as NODE in the
# background; results go to $HOSTILE_DIR/NAME.out. Sets HOSTILE_PID.
HOSTILE_PID=
hostile_spawn() {
  local name=$1 node=$2 mode=$3 conn
  shift 3
  mapfile -t conn < <(hostile_args "$node")
  spawn "$HOSTILE_DIR/$name.out" "$HOSTILE_DIR/$name.err" \
    "$HOSTILE" "$mode" "${conn[@]}" "$@"
  HOSTILE_PID=$SPAWN_PID
}

# hostile_wait NAME PID SECONDS: waits for a spawned hostile run to end and
# requires exit status 0 (it ran; its results say what happened).
hostile_wait() {
  wait_pid "$2" "$3"
  [[ "$WAIT_RC" = 0 ]] ||
    fail "hostile $1 exited $WAIT_RC: $(tail -n 3 "$HOSTILE_DIR/$1.err")"
}

# hostile_run NAME NODE MODE SECONDS ARGS...: hostile_spawn, then
# hostile_wait with SECONDS as the ceiling.
hostile_run() {
  local name=$1 node=$2 mode=$3 secs=$4
  shift 4
  hostile_spawn "$name" "$node" "$mode" "$@"
  hostile_wait "$name" "$HOSTILE_PID" "$secs"
}

# hv NAME KEY: the value of KEY in hostile run NAME's results.
hv() {
  awk -v k="$2" 'index($0, k "=") == 1 { print substr($0, length(k) + 2); exit }' \
    "$HOSTILE_DIR/$1.out"
}

# hostile_show NAME: logs run NAME's results on one line (without the
# list of close times).
hostile_show() {
  log "$1: $(grep -v '^closed_ms=' "$HOSTILE_DIR/$1.out" | tr '\n' ' ')"
}

# is_asan_build: batond is built with AddressSanitizer (slower, and its
# quarantine keeps freed memory resident).
is_asan_build() {
  # (no `ldd | grep -q`: under pipefail grep's early exit can fail the pipe)
  [[ "$(ldd "$BATOND" 2>/dev/null)" == *libasan* ]]
}

# broker_supports FLAG: batond --help lists FLAG.
broker_supports() {
  [[ "$("$BATOND" --help 2>&1 || true)" == *"$1"* ]]
}
