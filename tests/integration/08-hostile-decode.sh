#!/usr/bin/env bash
#
# 08-hostile-decode (issue 9 finding 2): frames protobuf-c would take a
# minute to unpack. protobuf-c merges each repeat of a singular
# sub-message into the one before at a cost that grows with all merged so
# far, so a 4.1 MB Submit repeating one small risk_summary 595,000 times
# stalled the whole broker for 55 s. Now the wire check (proto/wire_check.c)
# refuses it at the second repeat. A registered node says Hello and, once
# welcomed, sends (tests/fault/hostile frame-file, which times the answer
# from the frame's last byte written):
#  - that Submit: it gets Error MALFORMED_FRAME ("repeats a field") and is
#    closed within REFUSE_BOUND_MS of its last byte (the broker still has
#    to read and decrypt what the socket buffers hold of the 4.1 MB; the
#    check itself takes microseconds, unit_frame holds it to 50 ms); and
#    another node's send, made as soon as the frame is written, gets its
#    receipt within 5 s (it waited the whole minute before the fix);
#  - a Submit whose one risk_summary holds 1,000,000 empty entries (2 MB,
#    no repeat, but over the 65,536-tag budget): MALFORMED_FRAME too.
# The broker stays up, and a normal send and receive work after.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

OTHER_BOUND_MS=5000
# From the last byte written to the Error and to the close: 40 to 150 ms
# measured on a shared 2-core machine (the 4.1 MB goes through TLS and the
# read buffer; the 2 MB tag-budget frame is refused in under 10 ms). The
# bound leaves room for load; an ASan build reads several times slower.
# Before the wire check the Error came after 55 s.
REFUSE_BOUND_MS=1000
if is_asan_build; then
  REFUSE_BOUND_MS=3000
fi

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

# refused_in NAME WHAT TEXT: hostile run NAME got exactly one Error,
# MALFORMED_FRAME with TEXT, and the broker answered and closed within
# REFUSE_BOUND_MS of the frame's last byte.
refused_in() {
  local name=$1 what=$2 text=$3 err closed
  hostile_show "$name"
  assert_eq 1 "$(hv "$name" written)" "$what: the whole frame was written"
  assert_eq MALFORMED_FRAME "$(hv "$name" error_code)" "$what: Error code"
  assert_contains "$(hv "$name" error_text)" "$text" "$what: error text"
  assert_eq MALFORMED_FRAME:1 "$(hv "$name" errors)" "$what: Error frames sent"
  assert_eq 1 "$(hv "$name" broker_closed)" "$what: the broker closed the connection"
  err=$(hv "$name" error_after_ms)
  closed=$(hv "$name" closed_after_ms)
  log "$what: Error ${err} ms and close ${closed} ms after the last byte (bound ${REFUSE_BOUND_MS} ms)"
  ((err >= 0 && err < REFUSE_BOUND_MS)) ||
    fail "$what: the Error came ${err} ms after the frame's last byte (bound ${REFUSE_BOUND_MS} ms)"
  ((closed >= 0 && closed < REFUSE_BOUND_MS)) ||
    fail "$what: the connection closed ${closed} ms after the frame's last byte (bound ${REFUSE_BOUND_MS} ms)"
}

# written NAME: hostile run NAME has written all of its frame.
written() {
  [[ "$(hv "$1" written 2>/dev/null)" = 1 ]]
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
mark=$(stat -c %s "$BROKER_LOG")
hostile_spawn repeats provider frame-file --file "$T/repeats.bin" --seconds 60
repeats_pid=$HOSTILE_PID
wait_for "the 4.1 MB frame to be written" 30 written repeats

# Another node, right away: the broker must not be busy unpacking.
t0=$(date +%s%3N)
run baton_as gp send --to provider --json "$REFERRAL" --id decode-other-1
ms=$(($(date +%s%3N) - t0))
assert_rc 0 "gp's send while the broker has the 4.1 MB frame"
assert_json code OK
log "gp's send took ${ms} ms right after the 4.1 MB frame was written"
((ms < OTHER_BOUND_MS)) ||
  fail "gp's send took ${ms} ms right after the hostile frame (bound ${OTHER_BOUND_MS} ms)"

hostile_wait repeats "$repeats_pid" 90
refused_in repeats "595,000 repeats of risk_summary" \
  "repeats a field that may occur only once"
since=$(tail -c "+$((mark + 1))" "$BROKER_LOG")
assert_contains "$since" 'closing code=MALFORMED_FRAME reason="frame repeats a field' \
  "the broker log after the repeats frame"
assert_broker_alive

# Over the tag budget without any repeat: one risk_summary holding
# 1,000,000 empty current_risks (12 00 each).
hostile_submit "$T/tags.bin" 1200 1000000 2
hostile_run tags provider frame-file 90 --file "$T/tags.bin" --seconds 60
refused_in tags "1,000,000 entries in one list" "more than 65536 fields"
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
