#!/usr/bin/env bash
#
# 08-store-disk-full (TESTPLAN D5): the data directory is on a 16 MiB
# tmpfs, and a filler file grows while provider sends, until a send is
# refused STORE_FULL with a text about the disk (before the disk is
# actually full: the broker keeps a reserve). Then receiving and acking
# still work, every OK-receipted id is delivered, and once the filler is
# removed the same broker, not restarted, accepts sends again.
#
# Needs to mount a tmpfs (root, or CAP_SYS_ADMIN); without that it is
# skipped with exit status 77 (ctest: SKIP_RETURN_CODE).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

MAX_SENDS=600
STEP_KB=256

MNT=$T/disk
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=16m,mode=0700 tmpfs "$MNT" 2>"$T/mount.err"; then
  log "SKIP: cannot mount a tmpfs here ($(cat "$T/mount.err")); needs root"
  exit 77
fi

# The broker holds the store open: stop what we started, then unmount,
# then the harness's own cleanup (which removes $T).
_disk_cleanup() {
  local rc=$? pid
  set +e
  trap - ERR
  for pid in "${_pids[@]}"; do
    _stop_pid "$pid"
  done
  umount "$MNT" || log "could not unmount $MNT"
  _rc() { return "$1"; }
  _rc "$rc"
  _cleanup
}
trap _disk_cleanup EXIT

DATA_DIR=$MNT/data
FILLER=$MNT/filler
setup_four_nodes
# --max-frame 1 MiB: the disk reserve is 2 x 1 MiB + 1 MiB.
start_broker --max-frame 1048576

# free_kb: free space on the tmpfs.
free_kb() {
  df -k --output=avail "$MNT" | tail -n 1 | tr -d ' '
}

send_one() {
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$1"
}

# Send, and after each accepted send take another 256 KiB of the disk.
ok_ids=()
full=
filler_kb=0
for ((i = 1; i <= MAX_SENDS; i++)); do
  send_one "disk-$i"
  if [[ $RUN_RC -ne 0 ]]; then
    assert_rc 3 "send disk-$i onto a filling disk"
    full=disk-$i
    break
  fi
  assert_json code OK
  ok_ids+=("disk-$i")
  if ((filler_kb + STEP_KB < 16 * 1024)) &&
      fallocate -l "$(((filler_kb + STEP_KB) * 1024))" "$FILLER" 2>/dev/null; then
    filler_kb=$((filler_kb + STEP_KB))
  fi
done
[[ -n "$full" ]] || fail "$MAX_SENDS sends onto a 16 MiB tmpfs were all accepted"
log "${#ok_ids[@]} sends accepted, then $full refused with $(free_kb) kB free (filler ${filler_kb} kB)"
assert_json code STORE_FULL
assert_contains "$(json_get .text)" "disk" "STORE_FULL text names the disk"
assert_contains "$(json_get .text)" "retry later" "STORE_FULL text"
assert_contains "$RUN_ERR" "STORE_FULL" "baton's message for STORE_FULL"
wait_for "the disk-full line in the log" 5 \
  grep -q 'store: refusing new handovers: disk' "$BROKER_LOG"
# Refused before the disk was full: the reserve is still there.
(($(free_kb) > 1024)) || fail "only $(free_kb) kB left when sends were refused: no reserve"
assert_broker_alive

# Receiving and acking work on the nearly full disk, and every OK receipt
# is delivered.
out=$T/recv.jsonl
"$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
  --cert "$NODE_DIR/cmht.crt" --key "$NODE_DIR/cmht.key" --timeout 30 \
  recv --wait 90 --max "${#ok_ids[@]}" >"$out" 2>"$T/recv.err" ||
  fail "cmht recv on a nearly full disk: exit $?; $(cat "$T/recv.err")"
got=$(jq -r .message_id "$out" | sort)
want=$(printf '%s\n' "${ok_ids[@]}" | sort)
[[ "$got" == "$want" ]] ||
  fail "deliveries differ from the OK receipts: $(diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | grep '^[<>]' | head -5 | tr '\n' ' ')"
n=$(grep -c 'node=cmht ack id=provider/disk-' "$BROKER_LOG" || true)
assert_eq "${#ok_ids[@]}" "$n" "acks recorded on a nearly full disk"
assert_queue_empty cmht

# Still refused while the filler is there.
send_one "$full"
assert_rc 3 "resend of $full with the filler still there"
assert_json code STORE_FULL

# The filler goes; within seconds the same broker accepts again.
rm -f "$FILLER"
pid_before=$BROKER_PID
deadline=$((SECONDS + 20))
while :; do
  send_one "$full"
  [[ $RUN_RC -eq 0 ]] && break
  assert_rc 3 "resend of $full after the filler was removed"
  assert_json code STORE_FULL
  ((SECONDS < deadline)) || fail "sends still refused 20 s after the filler was removed"
  sleep 0.5
done
assert_json code OK
assert_eq "$pid_before" "$BROKER_PID" "broker pid (not restarted)"
assert_broker_alive
run baton_as cmht recv --wait 3
assert_rc 0 "recv after the disk has room again"
assert_json message_id "$full"
stop_broker
