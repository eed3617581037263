#!/usr/bin/env bash
#
# quickstart.sh - Baton end to end on one machine, in a minute.
#
# Installs missing Debian packages (scripts/deps.sh), builds, and in a work
# directory (default ./demo under the repository, removed and re-created on
# each run) makes a CA, the broker's certificate and four nodes: provider,
# cmht, gp and crisis. It registers them with their roles, starts batond on
# 127.0.0.1 on an ephemeral port, sends deploy/examples/handover.json from
# provider to cmht, receives it as cmht, prints it, and stops the broker.
#
# Environment:
#   BATON_DEMO_DIR=DIR  work directory (default: <repo>/demo)
#   BATON_BIN=DIR       use binaries already built in DIR (a cmake build dir)
#                       and skip installing packages and building
#
# The example handover is fictional. Keys are made in the work directory
# only (mode 0700) and are for this demonstration only.

set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
demo=${BATON_DEMO_DIR:-$root/demo}
example=$root/deploy/examples/handover.json
n=0
broker_pid=

step() {
  n=$((n + 1))
  printf '\n[%d] %s\n' "$n" "$*"
}

die() {
  printf 'quickstart: %s\n' "$*" >&2
  exit 1
}

# Stops the broker we started, by its PID, whatever happens.
cleanup() {
  local i
  if [[ -n "$broker_pid" ]] && kill -0 "$broker_pid" 2>/dev/null; then
    kill -TERM "$broker_pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$broker_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [[ -z "${BATON_BIN:-}" ]]; then
  step "Installing missing packages (scripts/deps.sh)"
  "$root/scripts/deps.sh"

  step "Building (cmake -B build && make -j2)"
  cmake -S "$root" -B "$root/build" >/dev/null
  make -C "$root/build" -j2 --no-print-directory >/dev/null
  BATON_BIN=$root/build
  echo "built: build/broker/batond build/client/baton build/ctl/batonctl"
fi
batond=$BATON_BIN/broker/batond
baton=$BATON_BIN/client/baton
batonctl=$BATON_BIN/ctl/batonctl
for b in "$batond" "$baton" "$batonctl"; do
  [[ -x "$b" ]] || die "$b is missing"
done
command -v jq >/dev/null || die "jq is missing (scripts/deps.sh installs it)"

step "Preparing the work directory $demo"
# Only a directory this script made (it carries a marker) is ever removed.
if [[ -e "$demo" ]]; then
  if [[ -f "$demo/.baton-demo" ]]; then
    rm -rf "$demo"
  elif [[ -d "$demo" && -z "$(ls -A "$demo")" ]]; then
    rmdir "$demo"
  else
    die "$demo exists and was not made by quickstart.sh; remove it or set BATON_DEMO_DIR"
  fi
fi
mkdir -p "$demo"
chmod 700 "$demo"
: >"$demo/.baton-demo"

step "Creating the certificate authority ($demo/ca)"
"$batonctl" ca init --dir "$demo/ca"

step "Issuing the broker's certificate for localhost / 127.0.0.1"
"$batonctl" cert issue --ca "$demo/ca" --server --dns localhost \
  --ip 127.0.0.1 --out "$demo/server"

step "Issuing node certificates: provider, cmht, gp, crisis"
for node in provider cmht gp crisis; do
  "$batonctl" cert issue --ca "$demo/ca" --node "$node" --out "$demo/nodes"
done

step "Registering the nodes with their roles and organisations"
"$batonctl" node add --data "$demo/data" --node provider --role provider \
  --policy "$root/deploy/policy.conf" --org "Riverside Wellbeing Hub"
"$batonctl" node add --data "$demo/data" --node cmht --role cmht \
  --policy "$root/deploy/policy.conf" --org "Sampleton Community Mental Health Team"
"$batonctl" node add --data "$demo/data" --node gp --role gp \
  --policy "$root/deploy/policy.conf" --org "Example Lane Surgery"
"$batonctl" node add --data "$demo/data" --node crisis --role crisis \
  --policy "$root/deploy/policy.conf" --org "Sampleton Crisis Resolution and Home Treatment Team"
"$batonctl" node list --data "$demo/data"

step "Starting the broker on 127.0.0.1 (log: $demo/batond.log)"
"$batond" --listen 127.0.0.1:0 --port-file "$demo/batond.port" \
  --data "$demo/data" --ca "$demo/ca/ca.crt" --crl "$demo/ca/crl.pem" \
  --cert "$demo/server/server.crt" --key "$demo/server/server.key" \
  --policy "$root/deploy/policy.conf" </dev/null >"$demo/batond.log" 2>&1 &
broker_pid=$!
deadline=$((SECONDS + 30))
until [[ -s "$demo/batond.port" ]]; do
  if ! kill -0 "$broker_pid" 2>/dev/null; then
    broker_pid=
    tail -n 20 "$demo/batond.log" >&2
    die "batond exited during start-up"
  fi
  ((SECONDS < deadline)) || die "batond did not start listening within 30 s"
  sleep 0.1
done
broker=127.0.0.1:$(<"$demo/batond.port")
echo "batond (pid $broker_pid) is listening on $broker"

# as NODE ARGS...: baton with NODE's certificate.
as() {
  local node=$1
  shift
  "$baton" --broker "$broker" --ca "$demo/ca/ca.crt" \
    --cert "$demo/nodes/$node.crt" --key "$demo/nodes/$node.key" "$@"
}

step "provider sends deploy/examples/handover.json to cmht"
rc=0
receipt=$(as provider send --to cmht --json "$example") || rc=$?
[[ -z "$receipt" ]] || printf '%s\n' "$receipt" | jq .
[[ $rc -eq 0 ]] || die "baton send failed (exit $rc)"

step "cmht receives it (and acknowledges it)"
rc=0
delivery=$(as cmht recv --wait 10 --max 1) || rc=$?
[[ $rc -eq 0 ]] || die "baton recv failed (exit $rc)"
[[ -n "$delivery" ]] || die "nothing was delivered to cmht"
printf '%s\n' "$delivery" | jq .

step "Stopping the broker (SIGTERM to pid $broker_pid)"
kill -TERM "$broker_pid"
rc=0
wait "$broker_pid" || rc=$?
broker_pid=
[[ $rc -eq 0 ]] || die "batond exited with status $rc"
echo "batond stopped cleanly"

cat <<EOF

Done. In $demo:
  ca/          the demo CA (ca.crt, ca.key, crl.pem)
  server/      the broker's certificate and key
  nodes/       provider, cmht, gp and crisis certificates and keys
  data/        the broker's LMDB store (registry, messages, audit log)
  batond.log   the broker's log

Try it again by hand:
  $batond --listen 127.0.0.1:0 --port-file $demo/batond.port \\
    --data $demo/data --ca $demo/ca/ca.crt --crl $demo/ca/crl.pem \\
    --cert $demo/server/server.crt --key $demo/server/server.key \\
    --policy $root/deploy/policy.conf &
  $baton --broker 127.0.0.1:\$(cat $demo/batond.port) --ca $demo/ca/ca.crt \\
    --cert $demo/nodes/cmht.crt --key $demo/nodes/cmht.key recv --wait 5
EOF
