#!/usr/bin/env bash
#
# 08-hostile-decode (issue 9 finding 2): frames protobuf-c would take a
# minute to unpack. protobuf-c merges each repeat of a singular
# sub-message into the one before at a cost that grows with all merged so
# far, so a 4.1 MB Submit repeating one small risk_summary 595,000 times
# stalled the whole broker for 55 s. Now the wire check (proto/wire_check.c)
# refuses it at the second repeat. A registered node says Hello and, once
# welcomed, sends:
#  - that Submit: it gets Error MALFORMED_FRAME ("repeats a field"), and
#    another node's send, made as soon as the frame is written, gets its
#    receipt within 5 s (it waited the whole minute before the fix);
#  - a Submit whose one risk_summary holds 1,000,000 empty entries (2 MB,
#    no repeat, but over the 65,536-tag budget): MALFORMED_FRAME too.
# The broker stays up, and a normal send and receive work after.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

OTHER_BOUND_MS=5000

setup_four_nodes
start_broker

# hostile_submit FILE UNIT COUNT [FIELD]: writes the frame (length prefix
# and body) Frame{submit{envelope{message_id, to: cmht, handover{H}}}},
# where H is the hex bytes UNIT repeated COUNT times, or with FIELD, one
# Handover field FIELD (a sub-message) holding them.
hostile_submit() {
  python3 - "$1" "$2" "$3" "${4:-0}" <<'EOF'
import struct, sys

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7f
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def field(num, payload):
    return varint(num << 3 | 2) + varint(len(payload)) + payload

path, unit, count, wrap = sys.argv[1], bytes.fromhex(sys.argv[2]), \
    int(sys.argv[3]), int(sys.argv[4])
handover = unit * count
if wrap:
    handover = field(wrap, handover)
envelope = field(1, b"hostile") + field(3, b"cmht") + field(5, handover)
body = field(3, field(1, envelope))
with open(path, "wb") as f:
    f.write(struct.pack(">I", len(body)) + body)
EOF
}

# raw_start_after_welcome NAME NODE FILE: connects as NODE, says Hello,
# waits (up to 10 s) for the Welcome, then writes FILE's bytes; touches
# $RAW_DIR/NAME.sent once they are all written. Sets RAW_PID.
raw_start_after_welcome() {
  local name=$1 node=$2 file=$3
  : >"$RAW_DIR/$name.out"
  rm -f "$RAW_DIR/$name.sent"
  {
    raw_frame "$RAW_HELLO" | xxd -r -p
    for ((i = 0; i < 100; i++)); do
      raw_has "$name" "$F_WELCOME" && break
      sleep 0.1
    done
    cat "$file"
    : >"$RAW_DIR/$name.sent"
  } | openssl s_client -quiet -connect "$BROKER_ADDR" \
      -cert "$NODE_DIR/$node.crt" -key "$NODE_DIR/$node.key" \
      -CAfile "$CA_DIR/ca.crt" >"$RAW_DIR/$name.out" 2>"$RAW_DIR/$name.err" &
  RAW_PID=$!
  _pids+=("$RAW_PID")
}

# refused_after_welcome NAME WHAT TEXT: connection NAME was welcomed, then
# got one Error MALFORMED_FRAME whose text has TEXT, and was closed.
refused_after_welcome() {
  local name=$1 what=$2 text=$3 nerr
  raw_closed "$name" "$RAW_PID" 30
  raw_has "$name" "$F_WELCOME" || fail "$what: no Welcome before the frame"
  assert_raw_error "$name" 8 "$what"
  assert_contains "$RAW_TEXT" "$text" "$what: error text"
  nerr=$(raw_frames "$name" | grep -c "^$F_ERROR " || true)
  assert_eq 1 "$nerr" "$what: Error frames sent"
}

# Meanwhile-check material: gp may refer to provider.
REFERRAL=$T/referral.json
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$REFERRAL"

# The issue's frame: risk_summary{level: HIGH, current_risks: ["a"]}
# (12 05 08 03 12 01 61) 595,000 times inside one handover.
hostile_submit "$T/repeats.bin" 12050803120161 595000
size=$(stat -c %s "$T/repeats.bin")
((size > 4000000 && size <= 4194304)) ||
  fail "test setup: the repeats frame is $size bytes, not 4.1 MB within max_frame"
mark=$(log_mark)
raw_start_after_welcome repeats provider "$T/repeats.bin"
repeats_pid=$RAW_PID
wait_for "the 4.1 MB frame to be written" 30 test -e "$RAW_DIR/repeats.sent"

# Another node, right away: the broker must not be busy unpacking.
t0=$(date +%s%3N)
run baton_as gp send --to provider --json "$REFERRAL" --id decode-other-1
ms=$(($(date +%s%3N) - t0))
assert_rc 0 "gp's send while the broker has the 4.1 MB frame"
assert_json code OK
log "gp's send took ${ms} ms right after the 4.1 MB frame was written"
((ms < OTHER_BOUND_MS)) ||
  fail "gp's send took ${ms} ms right after the hostile frame (bound ${OTHER_BOUND_MS} ms)"

RAW_PID=$repeats_pid
refused_after_welcome repeats "595,000 repeats of risk_summary" \
  "repeats a field that may occur only once"
wait_for "the log line for the repeats frame" 10 \
  log_since "$mark" "closing code=MALFORMED_FRAME reason=\"frame repeats a field"
assert_broker_alive

# Over the tag budget without any repeat: one risk_summary holding
# 1,000,000 empty current_risks (12 00 each).
hostile_submit "$T/tags.bin" 1200 1000000 2
raw_start_after_welcome tags provider "$T/tags.bin"
refused_after_welcome tags "1,000,000 entries in one list" \
  "more than 65536 fields"
assert_broker_alive

# Normal work goes on: provider gets gp's referral; a send and receive.
run baton_as provider recv --wait 10 --max 1
assert_rc 0 "provider recv after the hostile frames"
same_handover "$REFERRAL" "$(json_get .handover)" "referral from gp"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id decode-after-1
assert_rc 0 "send after the hostile frames"
assert_json code OK
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv after the hostile frames"
same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover)" "handover after the hostile frames"

assert_broker_alive
stop_broker
