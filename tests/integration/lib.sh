# shellcheck shell=bash
#
# lib.sh - harness for Baton's integration tests, sourced by every
# tests/integration/NN-area-case.sh.
#
# A test starts the real batond on 127.0.0.1 with an ephemeral port and
# certificates made for this run only, drives it through the real `baton`
# and `batonctl`, and asserts exact codes. What it owns and guarantees:
#
#  - a hard deadline for the whole test (BATON_TEST_TIMEOUT seconds, default
#    120): the script re-executes itself under timeout(1), which signals the
#    whole process group, so a hung broker or client cannot hang ctest;
#  - one private temp dir ($T, mode 0700) holding every key, certificate,
#    data dir and log of the run; removed at exit unless BATON_KEEP=1;
#  - every process it starts is recorded by PID and stopped at exit
#    (TERM, up to 5 s, then KILL); nothing is ever killed by name;
#  - waits poll with a deadline, never a fixed sleep;
#  - on failure it prints the tail of the broker's log (which by design
#    carries ids and codes only) and never a handover.
#
# Binaries come from $BATON_BIN (the cmake build dir), sources from
# $BATON_SRC; ctest sets both (tests/CMakeLists.txt). By hand:
#   BATON_BIN=build bash tests/integration/02-submit-send-recv.sh

set -euo pipefail

BATON_TEST_TIMEOUT=${BATON_TEST_TIMEOUT:-120}

# Deadline: run the test in its own process group under timeout(1). On
# expiry timeout sends TERM to the group (test, broker, clients alike),
# then KILL after 10 s more.
if [[ -z "${BATON_IT_WRAPPED:-}" ]]; then
  export BATON_IT_WRAPPED=1
  exec timeout --kill-after=10 "$BATON_TEST_TIMEOUT" bash "$0" "$@"
fi

TEST_NAME=$(basename "$0" .sh)

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BATON_SRC=${BATON_SRC:-$(cd "$_lib_dir/../.." && pwd)}
if [[ -z "${BATON_BIN:-}" ]]; then
  BATON_BIN=$BATON_SRC/build
fi
BATOND=$BATON_BIN/broker/batond
BATON=$BATON_BIN/client/baton
BATONCTL=$BATON_BIN/ctl/batonctl
# shellcheck disable=SC2034 # used by the tests that source this file
EXAMPLE_HANDOVER=$BATON_SRC/deploy/examples/handover.json

T=$(mktemp -d "${TMPDIR:-/tmp}/baton-it.XXXXXX")
chmod 700 "$T"

_pids=()		# every background process we started
BROKER_PID=
BROKER_LOG=$T/broker.log
BROKER_PORT=
BROKER_ADDR=
_failed=0

log() {
  printf '[%s] %s\n' "$TEST_NAME" "$*" >&2
}

# Prints the end of the broker's log and, if a sanitizer reported
# something, the start of its first report.
_broker_tail() {
  local first
  [[ -s "$BROKER_LOG" ]] || return 0
  first=$(grep -n -m1 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
    "$BROKER_LOG" | cut -d: -f1 || true)
  if [[ -n "$first" ]]; then
    printf '[%s] --- sanitizer report in the broker log ---\n' "$TEST_NAME" >&2
    sed -n "${first},$((first + 60))p" "$BROKER_LOG" >&2
  fi
  printf '[%s] --- last 40 lines of the broker log ---\n' "$TEST_NAME" >&2
  tail -n 40 "$BROKER_LOG" >&2
  printf '[%s] --- end of broker log ---\n' "$TEST_NAME" >&2
}

# fail MESSAGE: stop the test with a clear reason.
fail() {
  _failed=1
  printf '[%s] FAIL: %s\n' "$TEST_NAME" "$*" >&2
  exit 1
}

# Stops one PID we started: TERM, wait up to 5 s, then KILL; reaps it.
_stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid ignored SIGTERM for 5 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

_cleanup() {
  local rc=$? pid
  trap - EXIT
  set +e
  if [[ $rc -ne 0 ]]; then
    _failed=1
  fi
  for pid in "${_pids[@]}"; do
    _stop_pid "$pid"
  done
  if [[ $_failed -ne 0 ]]; then
    _broker_tail
  fi
  if [[ "${BATON_KEEP:-0}" = 1 ]]; then
    log "kept temp dir $T"
  else
    rm -rf "$T"
  fi
  if [[ $_failed -eq 0 ]]; then
    log "PASS"
  fi
  exit "$rc"
}
trap _cleanup EXIT
# A TERM (the deadline, or ctest giving up) must still run the cleanup.
trap 'printf "[%s] FAIL: terminated (deadline %ss?)\n" "$TEST_NAME" "$BATON_TEST_TIMEOUT" >&2; exit 124' TERM
trap 'exit 130' INT
# A command that fails outside the assertions still says where.
set -E
# Reported once, by the test's own shell, not again by each subshell or
# function it unwinds through.
_err_seen=
_on_err() {
  local rc=$1 line=$2
  [[ $BASH_SUBSHELL -eq 0 && -z "$_err_seen" ]] || return 0
  _err_seen=1
  printf '[%s] FAIL: exit %s from "%s" at %s line %s\n' "$TEST_NAME" "$rc" \
    "$BASH_COMMAND" "${BASH_SOURCE[1]##*/}" "$line" >&2
}
trap '_on_err $? $LINENO' ERR

for _b in "$BATOND" "$BATON" "$BATONCTL"; do
  [[ -x "$_b" ]] || fail "$_b not found or not executable (set BATON_BIN to the cmake build dir)"
done
command -v jq >/dev/null || fail "jq is required (scripts/deps.sh installs it)"
command -v openssl >/dev/null || fail "openssl is required (scripts/deps.sh installs it)"

# ---------------------------------------------------------------------------
# Running commands and assertions
# ---------------------------------------------------------------------------

# run CMD...: runs a command without stopping the test on failure; sets
# RUN_RC, RUN_OUT (stdout) and RUN_ERR (stderr).
RUN_RC=0
RUN_OUT=
RUN_ERR=
run() {
  RUN_RC=0
  "$@" >"$T/run.out" 2>"$T/run.err" || RUN_RC=$?
  RUN_OUT=$(cat "$T/run.out")
  RUN_ERR=$(cat "$T/run.err")
}

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
  if [[ "$1" != "$2" ]]; then
    fail "$3: expected '$1', got '$2'"
  fi
}

# assert_rc EXPECTED WHAT: checks RUN_RC from the last run; on a mismatch
# shows the command's stderr (client errors carry no dataset content).
assert_rc() {
  if [[ "$RUN_RC" != "$1" ]]; then
    fail "$2: expected exit $1, got $RUN_RC; stderr: ${RUN_ERR:-<empty>}"
  fi
}

# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() {
  if [[ "$1" != *"$2"* ]]; then
    fail "$3: '$2' not found in '$1'"
  fi
}

# assert_not_contains HAYSTACK NEEDLE WHAT
assert_not_contains() {
  if [[ "$1" == *"$2"* ]]; then
    fail "$3: '$2' must not appear"
  fi
}

# json_get FILTER [JSON]: jq -r of FILTER over JSON (default RUN_OUT).
json_get() {
  local filter=$1 json=${2-$RUN_OUT}
  [[ "$filter" == .* ]] || filter=.$filter
  printf '%s\n' "$json" | jq -r "$filter" 2>/dev/null ||
    fail "not valid JSON where $filter was expected"
}

# assert_json FIELD VALUE [JSON]: the field (a jq path, leading dot
# optional) of JSON (default RUN_OUT, which must be one JSON document)
# equals VALUE as printed by jq -r (strings bare, true/false, null).
assert_json() {
  local got
  got=$(json_get "$1" "${3-$RUN_OUT}")
  if [[ "$got" != "$2" ]]; then
    fail "JSON field $1: expected '$2', got '$got'"
  fi
}

# count_lines TEXT: number of non-empty lines.
count_lines() {
  if [[ -z "$1" ]]; then
    echo 0
  else
    printf '%s\n' "$1" | grep -c .
  fi
}

# wait_for WHAT SECONDS CMD...: polls CMD every 0.1 s until it succeeds;
# fails the test after SECONDS.
wait_for() {
  local what=$1 secs=$2 deadline
  shift 2
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then
      fail "timed out after ${secs}s waiting for $what"
    fi
    sleep 0.1
  done
}

# same_handover EXPECTED_FILE ACTUAL_JSON WHAT: the two handovers are equal
# after key sorting; on a mismatch names the sections that differ, never
# their content.
same_handover() {
  local want got sec diffs=
  want=$(jq -S . "$1") || fail "$3: $1 is not valid JSON"
  got=$(printf '%s\n' "$2" | jq -S .) || fail "$3: received handover is not valid JSON"
  if [[ "$want" == "$got" ]]; then
    return 0
  fi
  for sec in $(jq -rn --argjson a "$want" --argjson b "$got" \
      '($a | keys) + ($b | keys) | unique | .[]'); do
    if [[ $(jq -n --argjson a "$want" --argjson b "$got" --arg s "$sec" \
        '$a[$s] == $b[$s]') != true ]]; then
      diffs="$diffs $sec"
    fi
  done
  fail "$3: handover differs from what was sent in section(s):$diffs"
}

# ---------------------------------------------------------------------------
# PKI and registry
# ---------------------------------------------------------------------------

CA_DIR=$T/ca
NODE_DIR=$T/nodes
SERVER_DIR=$T/server
DATA_DIR=$T/data

# ctl WHAT ARGS...: runs batonctl; fails the test with its exit status and
# the tail of its output if it fails.
ctl() {
  local what=$1 rc=0
  shift
  "$BATONCTL" "$@" >"$T/ctl.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    fail "batonctl $what failed (exit $rc): $(tail -n 5 "$T/ctl.log")"
  fi
}

# make_pki ID...: a CA, the broker's certificate for localhost/127.0.0.1,
# and a client certificate for each node id.
make_pki() {
  local id
  ctl "ca init" ca init --dir "$CA_DIR"
  ctl "cert issue --server" cert issue --ca "$CA_DIR" --server \
    --dns localhost --ip 127.0.0.1 --out "$SERVER_DIR"
  [[ -s "$SERVER_DIR/server.crt" && -s "$SERVER_DIR/server.key" ]] ||
    fail "batonctl cert issue --server wrote no $SERVER_DIR/server.crt/.key"
  for id in "$@"; do
    issue_node_cert "$id"
  done
}

# issue_node_cert ID [CA_DIR [OUT_DIR]]: a node certificate from the CA.
issue_node_cert() {
  local id=$1 ca=${2:-$CA_DIR} out=${3:-$NODE_DIR}
  ctl "cert issue --node $id" cert issue --ca "$ca" --node "$id" --out "$out"
  [[ -s "$out/$id.crt" && -s "$out/$id.key" ]] ||
    fail "batonctl cert issue --node $id wrote no $out/$id.crt/.key"
}

# make_cert_without_san NAME [CN]: a client certificate signed by the real
# CA with CN=CN (default NAME) and no subjectAltName at all, into
# $T/nosan/NAME.crt/.key.
make_cert_without_san() {
  local id=$1 cn=${2:-$1} d=$T/nosan
  mkdir -p "$d"
  cat >"$d/ext.cnf" <<'EOF'
[v3_client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout "$d/$id.key" -subj "/CN=$cn" -out "$d/$id.csr" \
      >"$T/openssl.log" 2>&1 || fail "openssl req failed: $(tail -n 5 "$T/openssl.log")"
  openssl x509 -req -in "$d/$id.csr" -CA "$CA_DIR/ca.crt" \
      -CAkey "$CA_DIR/ca.key" -set_serial "0x$(openssl rand -hex 12)" \
      -days 2 -sha256 -extfile "$d/ext.cnf" -extensions v3_client \
      -out "$d/$id.crt" >"$T/openssl.log" 2>&1 ||
    fail "openssl x509 -req failed: $(tail -n 5 "$T/openssl.log")"
  chmod 600 "$d/$id.key"
  if openssl x509 -in "$d/$id.crt" -noout -text | grep -c 'Subject Alternative Name' >/dev/null; then
    fail "test setup: certificate without SAN has a SAN"
  fi
}

# add_node ID ROLE [ORG]: registers a node in the broker's data dir.
add_node() {
  local id=$1 role=$2 org=${3:-"Test organisation $1"}
  ctl "node add $id" node add --data "$DATA_DIR" --node "$id" \
    --role "$role" --org "$org"
}

# setup_four_nodes: the quick start's nodes, certificates and registry.
setup_four_nodes() {
  make_pki provider cmht gp crisis
  add_node provider provider "Northside Community Wellbeing"
  add_node cmht cmht "Northside CMHT"
  add_node gp gp "Riverside GP Practice"
  add_node crisis crisis "Crisis Resolution and Home Treatment"
}

# ---------------------------------------------------------------------------
# Broker
# ---------------------------------------------------------------------------

# The policy the broker runs with; a test may point this at its own file.
BROKER_POLICY=$BATON_SRC/deploy/policy.conf

# start_broker [EXTRA ARGS...]: starts batond on 127.0.0.1 with an
# ephemeral port, the run's CA, CRL and broker certificate and
# $BROKER_POLICY; waits (deadline 30 s) for its port file; sets BROKER_PID,
# BROKER_PORT, BROKER_ADDR. The log is appended to, so a restart keeps the
# earlier run's lines.
start_broker() {
  local portfile=$T/broker.port deadline
  rm -f "$portfile"
  printf -- '--- start_broker %s ---\n' "$(date -u +%H:%M:%S)" >>"$BROKER_LOG"
  "$BATOND" --listen 127.0.0.1:0 --port-file "$portfile" --data "$DATA_DIR" \
      --ca "$CA_DIR/ca.crt" --crl "$CA_DIR/crl.pem" \
      --cert "$SERVER_DIR/server.crt" --key "$SERVER_DIR/server.key" \
      --policy "$BROKER_POLICY" "$@" </dev/null >>"$BROKER_LOG" 2>&1 &
  BROKER_PID=$!
  _pids+=("$BROKER_PID")
  deadline=$((SECONDS + 30))
  until [[ -s "$portfile" ]]; do
    if ! kill -0 "$BROKER_PID" 2>/dev/null; then
      local rc=0
      wait "$BROKER_PID" || rc=$?
      _forget_pid "$BROKER_PID"
      BROKER_PID=
      fail "batond exited with status $rc before it was listening"
    fi
    if ((SECONDS >= deadline)); then
      fail "batond did not write its port file within 30 s"
    fi
    sleep 0.05
  done
  BROKER_PORT=$(<"$portfile")
  if ! [[ "$BROKER_PORT" =~ ^[0-9]+$ ]] || ((BROKER_PORT < 1 || BROKER_PORT > 65535)); then
    fail "port file holds '$BROKER_PORT', not a port number"
  fi
  BROKER_ADDR=127.0.0.1:$BROKER_PORT
  log "broker pid $BROKER_PID listening on $BROKER_ADDR"
}

_forget_pid() {
  local p keep=()
  for p in "${_pids[@]}"; do
    [[ "$p" == "$1" ]] || keep+=("$p")
  done
  _pids=("${keep[@]}")
}

# _await_exit PID SECONDS: waits for PID to exit; sets _exit_rc. Fails the
# test if it is still running after SECONDS.
_await_exit() {
  local pid=$1 secs=$2 deadline
  deadline=$((SECONDS + secs))
  while kill -0 "$pid" 2>/dev/null; do
    if ((SECONDS >= deadline)); then
      fail "pid $pid still running ${secs}s after it was signalled"
    fi
    sleep 0.05
  done
  _exit_rc=0
  wait "$pid" 2>/dev/null || _exit_rc=$?
  _forget_pid "$pid"
}

# stop_broker: SIGTERM, wait (deadline 15 s) and require exit status 0.
stop_broker() {
  [[ -n "$BROKER_PID" ]] || fail "stop_broker: no broker running"
  kill -TERM "$BROKER_PID"
  _await_exit "$BROKER_PID" 15
  BROKER_PID=
  assert_eq 0 "$_exit_rc" "batond exit status after SIGTERM"
}

# spawn OUT ERR CMD...: starts CMD in the background, stdout to OUT and
# stderr to ERR; its PID is recorded (stopped at exit) and set in SPAWN_PID.
SPAWN_PID=
spawn() {
  local out=$1 err=$2
  shift 2
  "$@" </dev/null >"$out" 2>"$err" &
  SPAWN_PID=$!
  _pids+=("$SPAWN_PID")
}

# wait_pid PID SECONDS: waits for a spawned PID to exit and sets WAIT_RC to
# its exit status; fails the test if it still runs after SECONDS.
# shellcheck disable=SC2034 # read by the tests
WAIT_RC=
wait_pid() {
  _await_exit "$1" "$2"
  # shellcheck disable=SC2034
  WAIT_RC=$_exit_rc
}

# kill_broker: SIGKILL, as a crash; waits for it to be gone.
kill_broker() {
  [[ -n "$BROKER_PID" ]] || fail "kill_broker: no broker running"
  kill -KILL "$BROKER_PID"
  _await_exit "$BROKER_PID" 15
  BROKER_PID=
  assert_eq 137 "$_exit_rc" "batond exit status after SIGKILL"
}

# count_in_log PATTERN: lines of the broker log matching PATTERN (grep).
count_in_log() {
  grep -c -- "$1" "$BROKER_LOG" || true
}

# log_count_above PATTERN N: more than N broker log lines match PATTERN
# now (recounted on every call, so it can be polled with wait_for).
log_count_above() {
  (($(count_in_log "$1") > $2))
}

# hup_and_wait PATTERN: sends the broker SIGHUP and waits (15 s) for one
# more log line matching PATTERN than there was before.
hup_and_wait() {
  local before
  before=$(count_in_log "$1")
  kill -HUP "$BROKER_PID"
  wait_for "'$1' after SIGHUP" 15 log_count_above "$1" "$before"
}

# assert_broker_alive: the broker is still running (refusals must never
# stop it).
assert_broker_alive() {
  if [[ -z "$BROKER_PID" ]] || ! kill -0 "$BROKER_PID" 2>/dev/null; then
    fail "batond is no longer running"
  fi
}

# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

# baton_with CERT KEY ARGS...: runs baton against the broker with the given
# client certificate, trusting the run's CA.
baton_with() {
  local cert=$1 key=$2
  shift 2
  "$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" --cert "$cert" \
      --key "$key" --timeout 15 "$@"
}

# baton_as NODE ARGS...: runs baton as NODE (its certificate from make_pki).
baton_as() {
  local node=$1
  shift
  baton_with "$NODE_DIR/$node.crt" "$NODE_DIR/$node.key" "$@"
}

# recv_all NODE [ARGS...]: receives (and acks) what is queued for NODE,
# waiting WAIT seconds (default 2) for more; sets RUN_* like run.
recv_all() {
  local node=$1
  shift
  run baton_as "$node" recv --wait "${RECV_WAIT:-2}" "$@"
  assert_rc 0 "baton recv as $node"
}

# assert_queue_empty NODE: nothing is waiting for NODE.
assert_queue_empty() {
  RECV_WAIT=1 recv_all "$1" --no-ack
  assert_eq 0 "$(count_lines "$RUN_OUT")" "deliveries waiting for $1"
}

# ---------------------------------------------------------------------------
# Lifecycle helpers (the 05-* tests)
# ---------------------------------------------------------------------------

# recv_until NODE FILTER SECS: receives (and acks) NODE's items one at a
# time, appending each to $T/NODE.items, until one matches the jq FILTER;
# fails after SECS.
recv_until() {
  local node=$1 filter=$2 deadline=$((SECONDS + $3)) left
  while :; do
    left=$((deadline - SECONDS))
    ((left > 0)) || fail "$node received nothing matching $filter within $3 s"
    run baton_as "$node" recv --wait "$left" --max 1
    assert_rc 0 "recv as $node"
    [[ -n "$RUN_OUT" ]] || continue
    printf '%s\n' "$RUN_OUT" >>"$T/$node.items"
    if jq -e "$filter" <<<"$RUN_OUT" >/dev/null; then
      return 0
    fi
  done
}

# items NODE FILTER: how many of NODE's received items match FILTER.
items() {
  [[ -s "$T/$1.items" ]] || { echo 0; return; }
  jq -c "select($2)" "$T/$1.items" | grep -c . || true
}

# audit_seq EVENT...: the events of AUDIT_JSONL that are one of EVENT...,
# in log order, space-separated.
audit_seq() {
  jq -r --arg l "$*" 'select(.event as $e | $l | split(" ") | index($e)) |
    .event' <<<"$AUDIT_JSONL" | tr '\n' ' ' | sed 's/ $//'
}

# audit_export MESSAGE_ID: the audit records of one handover as JSON Lines,
# in AUDIT_JSONL.
AUDIT_JSONL=
audit_export() {
  run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --message "$1"
  assert_rc 0 "batonctl audit export --message $1"
  AUDIT_JSONL=$RUN_OUT
}

# status_events: the event names of the status in RUN_OUT, space-separated.
status_events() {
  json_get '.events | map(.event) | join(" ")'
}

