#!/usr/bin/env bash
#
# 11-ops-notify (issue 12, part 5): under systemd (Type=notify) batond
# sends READY=1 once it listens, RELOADING=1 then READY=1 with a STATUS=
# naming the outcome around a reload (refused ones too), and STOPPING=1
# at SIGTERM: datagrams to $NOTIFY_SOCKET, received here by a small
# python3 listener, on a socket path and on an abstract name ('@').
# With --log-format journal (or JOURNAL_STREAM naming its stderr) every
# log line starts with its sd-daemon priority and no time. The shipped
# unit passes `systemd-analyze verify` when that is installed.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-ops.sh
source "$(dirname "$0")/lib-ops.sh"

command -v python3 >/dev/null || { log "no python3; skipped"; exit 77; }

# listen_notify ADDR OUT: a datagram listener on ADDR (a path, or @name),
# each datagram appended to OUT followed by a line "--".
listen_notify() {
  local addr=$1 out=$2
  : >"$out"
  spawn "$T/notify.log" "$T/notify.err" python3 -c '
import socket, sys
addr, out, ready = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(ready, "w").close()
while True:
    data = s.recv(4096)
    with open(out, "a") as f:
        f.write(data.decode() + "\n--\n")
' "$addr" "$out" "$T/notify.ready"
  wait_for "the notify listener" 10 test -e "$T/notify.ready"
  rm -f "$T/notify.ready"
}

# notified OUT TEXT: OUT has a datagram holding the line TEXT.
notified() {
  grep -qx -- "$2" "$1"
}

setup_four_nodes
cp "$BATON_SRC/deploy/policy.conf" "$T/policy.conf"
BROKER_POLICY=$T/policy.conf
write_conf "$T/batond.conf" "log-format journal"

listen_notify "$T/notify.sock" "$T/n1"
NOTIFY_SOCKET=$T/notify.sock start_broker_conf "$T/batond.conf"
wait_for "READY=1" 10 notified "$T/n1" "READY=1"
grep -q "^STATUS=serving on 127.0.0.1:0" "$T/n1" || fail "no STATUS with READY: $(cat "$T/n1")"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "a good reload"
wait_for "RELOADING=1" 10 notified "$T/n1" "RELOADING=1"
wait_for "STATUS after reload 1" 10 notified "$T/n1" "STATUS=serving; reload 1 ok"
[[ $(grep -cx "READY=1" "$T/n1") -eq 2 ]] || fail "READY=1 not sent again after the reload"
echo "role broken" >>"$T/policy.conf"
echo "    send nobody any" >>"$T/policy.conf"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 1 "a refused reload"
wait_for "STATUS after reload 2" 10 grep -q "^STATUS=serving; reload 2 refused: $T/policy.conf:" "$T/n1"
stop_broker
wait_for "STOPPING=1" 10 notified "$T/n1" "STOPPING=1"

# journal format: "<N>batond LEVEL: ...", no time; each line of it
grep -q '^<6>batond info: batond ready ' "$BROKER_LOG" || fail "no <6> ready line"
grep -q "^<4>batond warn: $T/policy.conf:" "$BROKER_LOG" || fail "no <4> line per policy error"
bad=$(grep -Ev '^(<[0-7]>batond (debug|info|warn|crit|fatal): |--- start_broker)' "$BROKER_LOG" || true)
[[ -z "$bad" ]] || fail "journal-format lines without a priority: $bad"

# an abstract socket name; log-format auto follows JOURNAL_STREAM when it
# names batond's stderr (device:inode), here the log file
cp "$BATON_SRC/deploy/policy.conf" "$T/policy.conf"
write_conf "$T/batond.conf"
: >"$BROKER_LOG"
js=$(stat -c '%d:%i' "$BROKER_LOG")
abstract="@baton-it-notify-$$-$RANDOM"
listen_notify "$abstract" "$T/n2"
NOTIFY_SOCKET=$abstract JOURNAL_STREAM=$js start_broker_conf "$T/batond.conf"
wait_for "READY=1 on an abstract socket" 10 notified "$T/n2" "READY=1"
stop_broker
wait_for "STOPPING=1 on an abstract socket" 10 notified "$T/n2" "STOPPING=1"
grep -q '^<6>batond info: batond ready ' "$BROKER_LOG" ||
  fail "log-format auto did not follow JOURNAL_STREAM: $(head -n 3 "$BROKER_LOG")"

# config errors, found before log-format is known, are <3> (err) there too
: >"$T/early.log"
js=$(stat -c '%d:%i' "$T/early.log")
JOURNAL_STREAM=$js "$BATOND" -c "$T/batond.conf" --max-frame 1 2>>"$T/early.log" || true
grep -q "^<3>batond: --max-frame: '1' is not a number" "$T/early.log" ||
  fail "a config error under the journal has no <3>: $(cat "$T/early.log")"

# the shipped unit, pointed at these binaries, verifies cleanly
if command -v systemd-analyze >/dev/null; then
  sed -e "s|/usr/local/bin/batond|$(readlink -f "$BATOND")|; s|/usr/local/bin/batonctl|$(readlink -f "$BATONCTL")|" \
    "$BATON_SRC/deploy/batond.service" >"$T/batond.service"
  grep -q '^Type=notify$' "$T/batond.service" || fail "the unit is not Type=notify"
  grep -q '^Documentation=man:batond(8) man:batond.conf(5)$' "$T/batond.service" ||
    fail "the unit's Documentation= is not the man pages"
  for page in batond.8 batond.conf.5; do
    [[ -s "$BATON_SRC/docs/man/$page" ]] || fail "docs/man/$page (the unit's Documentation=) is missing"
  done
  run systemd-analyze verify --man=no "$T/batond.service"
  assert_rc 0 "systemd-analyze verify"
  assert_eq "" "$RUN_OUT$RUN_ERR" "systemd-analyze verify output"
else
  log "no systemd-analyze: the unit check is skipped"
fi
