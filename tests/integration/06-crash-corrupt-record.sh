#!/usr/bin/env bash
#
# 06-crash-corrupt-record (TESTPLAN D8): a stored handover body damaged on
# disk (one byte flipped behind the broker's back, with the LMDB tools) is
# never delivered: its per-record SHA-256 fails on read, the entry is moved
# to the quarantine table with a critical log line and a `quarantined`
# audit record, its sender is told to send it again (an UNDELIVERABLE
# notice; status says quarantined), and the other handovers in the queue
# are delivered as usual.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

if ! command -v mdb_dump >/dev/null || ! command -v mdb_load >/dev/null; then
  fail "mdb_dump and mdb_load (lmdb-utils) are needed"
fi

setup_four_nodes
start_broker
for id in corrupt-1 intact-2; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
  assert_rc 0 "send $id"
done
stop_broker

# Flip one byte in the middle of corrupt-1's stored body (mdb_dump writes
# each key and value as one line of hex, each line led by a space). The
# store keys a handover by its reference, provider/corrupt-1.
key=$(printf '%s' provider/corrupt-1 | xxd -p | tr -d '\n')
mdb_dump -s bodies "$DATA_DIR" >"$T/bodies.dump"
awk -v k=" $key" '
  found == 1 {
    mid = int(length($0) / 2)
    c = substr($0, mid, 1)
    c = (c == "0") ? "1" : "0"
    $0 = substr($0, 1, mid - 1) c substr($0, mid + 1)
    found = 2
  }
  $0 == k { found = 1 }
  { print }
  END { if (found != 2) exit 1 }
' "$T/bodies.dump" >"$T/bodies.bad" || fail "corrupt-1's body is not in the dump"
mdb_load -s bodies -f "$T/bodies.bad" "$DATA_DIR" ||
  fail "mdb_load could not write the damaged body back"

start_broker
RECV_WAIT=3 recv_all cmht
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries after the damage"
assert_json message_id intact-2
grep -q 'handover id=provider/corrupt-1 body missing or corrupt; moved to quarantine' \
  "$BROKER_LOG" || fail "no critical log line for the quarantined handover"

RECV_WAIT=3 recv_all provider
assert_json type notice
assert_json kind NOTICE_KIND_UNDELIVERABLE
assert_json message_id corrupt-1
run baton_as provider status corrupt-1 --json
assert_rc 0 "status of the quarantined handover"
assert_json state quarantined

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event quarantined
assert_rc 0 "audit export"
assert_eq provider/corrupt-1 "$(jq -r .message_id <<<"$RUN_OUT")" "quarantined record in the audit log"
stop_broker

# the damaged bytes are kept aside, not lost
mdb_dump -s quarantine "$DATA_DIR" |
  grep -c "$(printf 'bodies\0provider/corrupt-1' | xxd -p | tr -d '\n')" >/dev/null ||
  fail "the damaged body is not in the quarantine table"
