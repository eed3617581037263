# shellcheck shell=bash
#
# lib-raw.sh - a raw TLS client for hostile-input tests, sourced after
# lib.sh by the tests that must send the broker bytes `baton` never would.
#
# The client is `openssl s_client -quiet`: it writes what it is given and
# copies everything the broker sends to a file, and (-quiet implies
# -ign_eof) keeps the connection open after its input ends, so the broker
# alone decides when the connection closes. Frames are built and read here
# as hex: a 4-byte big-endian length, then a packed baton.v1.Frame whose
# first key names the body (field 1 hello ... 16 error). Every client is
# recorded in lib.sh's PID list, so it is stopped at exit.

# Frame bodies used by the tests (protobuf, hand-encoded):
#   Hello{protocol_version=2}       field 1:  0a 02 08 02
#   Pull{credit=1000}               field 5:  2a 03 08 e8 07
#   Ping{nonce=1}                   field 14: 72 02 08 01
#   Receipt{}                       field 4:  22 00
# shellcheck disable=SC2034 # used by the tests that source this file
RAW_HELLO=0a020802
# shellcheck disable=SC2034
RAW_PULL_1000=2a0308e807
# shellcheck disable=SC2034
RAW_PING=72020801
# shellcheck disable=SC2034
RAW_RECEIPT=2200

# Frame body field numbers (proto/baton.proto, message Frame).
# shellcheck disable=SC2034
F_WELCOME=2 F_DELIVER=6 F_PING=14 F_ERROR=16

RAW_DIR=$T/raw
mkdir -p "$RAW_DIR"

# raw_frame BODYHEX: the frame (length prefix + body) as hex.
raw_frame() {
  printf '%08x%s' $((${#1} / 2)) "$1"
}

# raw_start NAME CERT KEY HEX [S_CLIENT ARGS...]: connects to the broker
# as CERT/KEY and sends the bytes HEX (may be empty); what the broker
# sends goes to $RAW_DIR/NAME.out. Sets RAW_PID.
RAW_PID=
raw_start() {
  local name=$1 cert=$2 key=$3 hex=$4
  shift 4
  printf '%s' "$hex" | xxd -r -p >"$RAW_DIR/$name.in"
  openssl s_client -quiet -connect "$BROKER_ADDR" -cert "$cert" -key "$key" \
      -CAfile "$CA_DIR/ca.crt" "$@" <"$RAW_DIR/$name.in" \
      >"$RAW_DIR/$name.out" 2>"$RAW_DIR/$name.err" &
  RAW_PID=$!
  _pids+=("$RAW_PID")
}

# raw_start_as NAME NODE HEX [ARGS...]: raw_start with NODE's certificate.
raw_start_as() {
  local name=$1 node=$2
  shift 2
  raw_start "$name" "$NODE_DIR/$node.crt" "$NODE_DIR/$node.key" "$@"
}

# raw_start_drip NAME NODE HEX: like raw_start_as, but writes HEX one byte
# at a time, 50 ms apart, so every byte travels in its own TLS record.
raw_start_drip() {
  local name=$1 node=$2 hex=$3 i
  {
    for ((i = 0; i < ${#hex}; i += 2)); do
      printf '%s' "${hex:i:2}" | xxd -r -p
      sleep 0.05
    done
  } | openssl s_client -quiet -connect "$BROKER_ADDR" \
      -cert "$NODE_DIR/$node.crt" -key "$NODE_DIR/$node.key" \
      -CAfile "$CA_DIR/ca.crt" >"$RAW_DIR/$name.out" 2>"$RAW_DIR/$name.err" &
  RAW_PID=$!
  _pids+=("$RAW_PID")
}

# raw_closed NAME PID SECONDS: the broker closes the connection (the
# client exits) within SECONDS.
raw_closed() {
  wait_pid "$2" "$3"
}

# _varint HEX POS: decodes the protobuf varint at hex offset POS; sets
# _VAL and _POS (the offset after it). Returns 1 if it runs off the end.
_varint() {
  local hex=$1 pos=$2 b shift=0
  _VAL=0
  while ((pos + 2 <= ${#hex})); do
    b=$((16#${hex:pos:2}))
    pos=$((pos + 2))
    _VAL=$((_VAL | ((b & 0x7f) << shift)))
    shift=$((shift + 7))
    if ((b < 0x80)); then
      _POS=$pos
      return 0
    fi
  done
  return 1
}

# raw_frames NAME: one line per complete frame the broker sent on
# connection NAME: "FIELD BODYHEX" (FIELD = the Frame's body field number,
# BODYHEX = the body message's bytes). A trailing partial frame is left out.
raw_frames() {
  local hex i=0 len body
  hex=$(xxd -p "$RAW_DIR/$1.out" | tr -d '\n')
  while ((i + 8 <= ${#hex})); do
    len=$((16#${hex:i:8}))
    i=$((i + 8))
    ((i + 2 * len <= ${#hex})) || break
    body=${hex:i:2*len}
    i=$((i + 2 * len))
    _varint "$body" 0 || break
    local field=$((_VAL >> 3))
    _varint "$body" "$_POS" || break	# the body message's length
    printf '%s %s\n' "$field" "${body:_POS}"
  done
}

# raw_has NAME FIELD: the broker sent connection NAME a frame of FIELD.
raw_has() {
  local frames
  frames=$(raw_frames "$1")
  grep -q "^$2 " <<<"$frames"
}

# raw_error NAME: sets RAW_CODE (number) and RAW_TEXT from the Error frame
# the broker sent on connection NAME; fails the test if there is none.
RAW_CODE=
RAW_TEXT=
raw_error() {
  local frames body pos=0 key
  frames=$(raw_frames "$1")
  body=$(awk -v f="$F_ERROR" '$1 == f { print $2; exit }' <<<"$frames")
  [[ -n "$body" ]] || fail "$1: no Error frame from the broker (got fields: $(raw_frames "$1" | cut -d' ' -f1 | tr '\n' ' '))"
  RAW_CODE=0
  RAW_TEXT=
  while ((pos < ${#body})); do
    _varint "$body" "$pos" || break
    key=$_VAL
    pos=$_POS
    case $key in
    8) _varint "$body" "$pos" || break; RAW_CODE=$_VAL; pos=$_POS ;;
    18) _varint "$body" "$pos" || break
        RAW_TEXT=$(printf '%s' "${body:_POS:_VAL*2}" | xxd -r -p | tr -d '\0')
        pos=$((_POS + _VAL * 2)) ;;
    *) break ;;
    esac
  done
}

# assert_raw_error NAME CODE WHAT: connection NAME got an Error frame with
# code CODE (a number from baton.v1.Code).
assert_raw_error() {
  raw_error "$1"
  assert_eq "$2" "$RAW_CODE" "$3: Error code (text: $RAW_TEXT)"
}

# rss_kb PID [FIELD]: the process's resident set from /proc (VmRSS, or
# FIELD such as RssAnon), in kB.
rss_kb() {
  awk -v f="${2:-VmRSS}:" '$1 == f { print $2 }' "/proc/$1/status"
}

# log_mark: the broker log's current size, for log_since.
log_mark() {
  stat -c %s "$BROKER_LOG"
}

# log_since MARK PATTERN: the broker log has a line matching the extended
# regex PATTERN after MARK.
log_since() {
  local since
  since=$(tail -c "+$(($1 + 1))" "$BROKER_LOG")
  grep -q -E -- "$2" <<<"$since"
}
