#!/usr/bin/env bash
#
# 12-gov-auditor (issue 13 item 4): a node registered with the role
# auditor (deploy/policy.conf declares it: receives nothing) queries the
# audit log over its own mutual-TLS connection, with no access to the data
# directory. Proves:
#  - `baton audit list --subject NHS` and `audit export --subject -` (the
#    number on stdin) show exactly the records `batonctl audit export`
#    shows for the same person, up to the head the query started at
#    (byte for byte for JSON Lines); repeated --event means any of them;
#    `audit head` is the chain head, SEQ:HASH, as the log holds it;
#  - every query is recorded as an audit_read with the auditor as actor,
#    the filters in its reason and the person as subject_ref only: the NHS
#    number is in no record and not in the broker log;
#  - the auditor's `recv` (a Pull) is refused NOT_PERMITTED, the
#    connection closed, and recorded as pull_refused; its send gets the
#    policy's usual ROUTE_NOT_ALLOWED;
#  - a provider's audit query is refused NOT_PERMITTED (exit 3, the
#    broker's text), recorded as status_refused;
#  - a protocol 2 client (raw frames: Hello{2}) is welcomed in version 2
#    and its Submit is receipted and delivered as before; its version 3
#    WorkListRequest is refused UNEXPECTED_FRAME;
#  - an export of some 16,000 records (over 12 MiB) streams whole to a
#    reader that stalls for 4 s, while the broker's anonymous memory
#    (RssAnon) grows by less than 8 MiB and its VmRSS stays under the
#    150 MB of docs/limits.md: the broker reads the log only as fast as
#    the auditor takes it (a broker that buffered the answer grows by
#    about the export's size). An ASan build submits some 50 times more
#    slowly and its allocator and shadow memory move RssAnon by
#    megabytes, so there the export is smaller (3,000 records) and only
#    its completeness and the VmRSS bound are checked.
# shellcheck source=lib.sh disable=SC2119
BATON_TEST_TIMEOUT=${BATON_TEST_TIMEOUT:-170}
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

BULK=8000			# handovers for the long export (2 records each)
EXPORT_MIN=$((12 * 1024 * 1024))
RSS_GROWTH_BOUND_KB=$((8 * 1024))
RSS_BOUND_KB=$((150 * 1024))
ASAN=0
if [[ "$(ldd "$BATOND" 2>/dev/null)" == *libasan* ]]; then
  ASAN=1
  BULK=1500
  EXPORT_MIN=$((2 * 1024 * 1024))
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1
fi

setup_four_nodes
issue_node_cert ig
add_node ig auditor "Northside Information Governance"
start_broker

NHS=$(jq -r .subject.nhs_number "$EXAMPLE_HANDOVER")	# "999 471 5305"
NHS_DIGITS=${NHS// /}
OTHER=$T/other-person.json
jq '.subject.nhs_number = "943 476 5919"' "$EXAMPLE_HANDOVER" >"$OTHER"

# Two handovers about the person, one about someone else; one accepted.
for id in gov-1 gov-2; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
  assert_rc 0 "send $id"
done
run baton_as provider send --to cmht --json "$OTHER" --id gov-other
assert_rc 0 "send gov-other"
run baton_as cmht recv --wait 10 --max 3
assert_rc 0 "recv as cmht"
run baton_as cmht accept provider/gov-1
assert_rc 0 "accept gov-1"

# upto_of QUERY_KIND: the head the auditor's last QUERY_KIND query read up
# to, from its own audit_read record ("list over tls upto=N ...").
upto_of() {
  run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
    --event audit_read --node ig
  assert_rc 0 "batonctl audit export of ig's reads"
  jq -r --arg k "$1" 'select(.actor == "ig" and (.reason | startswith($k + " over tls"))) | .reason' \
    <<<"$RUN_OUT" | tail -n 1 | sed -n 's/.* upto=\([0-9]*\).*/\1/p'
}

# ctl_seqs ARGS...: "seq event" of batonctl audit export's records (same
# filters) up to seq $UPTO, one a line.
ctl_seqs() {
  run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl "$@"
  assert_rc 0 "batonctl audit export $*"
  jq -r --argjson u "$UPTO" 'select(.seq <= $u) | "\(.seq) \(.event)"' <<<"$RUN_OUT"
}

# --- list --subject: the table ------------------------------------------------
run baton_as ig audit list --subject "$NHS"
assert_rc 0 "audit list --subject as the auditor"
list_out=$RUN_OUT
UPTO=$(upto_of list)
[[ "$UPTO" =~ ^[0-9]+$ ]] || fail "no audit_read record of the list query"
got=$(awk '$1 ~ /^[0-9]+$/ { print $1, $3 }' <<<"$list_out")
want=$(ctl_seqs --subject "$NHS")
assert_eq "$want" "$got" "audit list --subject over TLS vs batonctl (seq event)"
for e in submitted queued delivered acknowledged accepted; do
  assert_contains "$got" " $e" "the person's records include $e"
done
assert_eq "($(count_lines "$want") records)" "$(tail -n 1 <<<"$list_out")" \
  "the list's record count"
assert_contains "$(head -n 1 <<<"$list_out")" "SEQ" "the table's header"
# the other person's handover is not among them
assert_not_contains "$list_out" "gov-other" "another person's handover"

# --- export --subject -, JSON Lines: byte for byte ------------------------------
run bash -c "printf '%s\n' '$NHS' | \"\$0\" --broker '$BROKER_ADDR' --ca '$CA_DIR/ca.crt' --cert '$NODE_DIR/ig.crt' --key '$NODE_DIR/ig.key' audit export --subject - --format jsonl" "$BATON"
assert_rc 0 "audit export --subject - (stdin)"
export_out=$RUN_OUT
UPTO=$(upto_of export)
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --subject "$NHS"
assert_rc 0 "batonctl audit export --subject"
assert_eq "$(jq -c --argjson u "$UPTO" 'select(.seq <= $u)' <<<"$RUN_OUT")" \
  "$(jq -c . <<<"$export_out")" "audit export --subject over TLS vs batonctl"
[[ -n "$export_out" ]] || fail "the export is empty"

# --- export, CSV, repeated --event: any of them ------------------------------------
run baton_as ig audit export --format csv --event submitted --event accepted
assert_rc 0 "audit export --format csv --event submitted --event accepted"
csv_out=$RUN_OUT
UPTO=$(upto_of export)
assert_eq "seq,time,event" "$(head -n 1 <<<"$csv_out" | cut -d, -f1-3)" "CSV header"
got=$(tail -n +2 <<<"$csv_out" | awk -F, '{ gsub(/"/, "", $3); print $1, $3 }')
want=$(ctl_seqs --event submitted --event accepted)
assert_eq "$want" "$got" "CSV export of two events over TLS vs batonctl"
assert_eq "accepted submitted" "$(awk '{ print $2 }' <<<"$got" | sort -u | tr '\n' ' ' | sed 's/ $//')" \
  "both events, and only they"

# --- --since/--until/--node: the same times and filters as batonctl's -----------------
run baton_as provider status gov-2 --json
since=$(json_get '.events[0].at')
today=$(date -u +%Y-%m-%d)
run baton_as ig audit export --since "$since" --until "$today" --node cmht --node gp
assert_rc 0 "audit export --since --until --node --node"
UPTO=$(upto_of export)
got=$(jq -r '"\(.seq) \(.event)"' <<<"$RUN_OUT")
want=$(ctl_seqs --since "$since" --until "$today" --node cmht --node gp)
assert_eq "$want" "$got" "export --since $since --until $today over TLS vs batonctl"
assert_not_contains "$got" " checkpoint" "records of neither node"
[[ $(count_lines "$got") -ge 5 ]] || fail "too few records since $since: $got"

# --- head ---------------------------------------------------------------------------
run baton_as ig audit head
assert_rc 0 "audit head"
head_out=$RUN_OUT
[[ "$head_out" =~ ^([0-9]+):([0-9a-f]{64})$ ]] || fail "audit head printed '$head_out'"
head_seq=${BASH_REMATCH[1]}
head_hash=${BASH_REMATCH[2]}
assert_eq "$head_seq" "$(upto_of head)" "the head query's record names the head it read"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl
assert_rc 0 "batonctl audit export"
assert_eq "$head_hash" "$(jq -r --argjson s "$head_seq" 'select(.seq == $s) | .hash' <<<"$RUN_OUT")" \
  "the head's hash is record $head_seq's"

# --- every query recorded, the person never named -------------------------------------
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event audit_read --node ig
assert_rc 0 "batonctl audit export of ig's reads"
reads=$RUN_OUT
assert_eq 5 "$(jq -r 'select(.actor == "ig") | .actor_role' <<<"$reads" | grep -c '^auditor$')" \
  "the auditor's five queries, each an audit_read with role auditor"
subject_ref=$(jq -r 'select(.event == "submitted" and .message_id == "provider/gov-1") | .subject_ref' \
  <<<"$export_out")
[[ "$subject_ref" =~ ^[0-9a-f]{64}$ ]] || fail "no subject_ref on gov-1's submitted record"
assert_eq "$subject_ref $subject_ref" \
  "$(jq -r 'select(.reason | test("^(list|export) over tls")) | .subject_ref' <<<"$reads" | head -n 2 | tr '\n' ' ' | sed 's/ $//')" \
  "a query about a person records its pseudonym"
assert_contains "$(jq -r .reason <<<"$reads")" "event=submitted,accepted" \
  "the query's filters in its record"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl
assert_not_contains "$RUN_OUT" "$NHS_DIGITS" "the NHS number in the audit log"
assert_not_contains "$RUN_OUT" "$NHS" "the NHS number in the audit log"
assert_not_contains "$(cat "$BROKER_LOG")" "$NHS_DIGITS" "the NHS number in the broker log"

# --- what an auditor may not do -------------------------------------------------------
run baton_as ig recv --wait 2
assert_rc 2 "recv as the auditor"
assert_contains "$RUN_ERR" "NOT_PERMITTED" "recv refusal code"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event pull_refused
assert_rc 0 "batonctl audit export --event pull_refused"
assert_eq "ig NOT_PERMITTED" "$(jq -r '"\(.actor) \(.outcome)"' <<<"$RUN_OUT")" \
  "the refused Pull, recorded"
run baton_as ig send --to cmht --json "$EXAMPLE_HANDOVER" --id ig-1
assert_rc 3 "send as the auditor"
assert_json code ROUTE_NOT_ALLOWED

# --- a provider may not query ------------------------------------------------------------
run baton_as provider audit list
assert_rc 3 "audit list as a provider"
assert_contains "$RUN_ERR" "NOT_PERMITTED" "provider's audit query refusal code"
assert_contains "$RUN_ERR" "role 'provider' may not query the audit log" \
  "the broker's text"
assert_eq "" "$RUN_OUT" "nothing listed for a provider"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event status_refused --node provider
assert_rc 0 "batonctl audit export --event status_refused"
assert_contains "$(jq -r .reason <<<"$RUN_OUT")" "audit query: role 'provider'" \
  "the refused query, recorded"

# --- usage, refused before anything is sent --------------------------------------------
run baton_as ig audit head --node cmht
assert_rc 1 "audit head with a filter"
run baton_as ig audit list --since 2026-13-01
assert_rc 1 "audit list --since with a bad date"
run baton_as ig audit list --subject 1234567890
assert_rc 1 "audit list --subject with a number that is not an NHS number"
run baton_as ig audit export --format html
assert_rc 1 "audit export --format html"
run baton_as ig audit erase
assert_rc 1 "audit erase"
# an unknown event is the broker's to refuse: INVALID
run baton_as ig audit list --event no_such_event
assert_rc 3 "audit list --event no_such_event"
assert_contains "$RUN_ERR" "INVALID" "unknown event refusal code"

# --- protocol 2 -------------------------------------------------------------------------
# pb_varint N, pb_len FIELD HEX, pb_str FIELD TEXT, pb_uint FIELD N:
# protobuf encodings, as hex.
pb_varint() {
  local n=$1 out=
  while ((n >= 128)); do
    out+=$(printf '%02x' $(((n & 127) | 128)))
    n=$((n >> 7))
  done
  printf '%s%02x' "$out" "$n"
}
pb_len() { printf '%s%s%s' "$(pb_varint $((($1 << 3) | 2)))" "$(pb_varint $((${#2} / 2)))" "$2"; }
pb_str() { pb_len "$1" "$(printf '%s' "$2" | xxd -p | tr -d '\n')"; }
pb_uint() { printf '%s%s' "$(pb_varint $(($1 << 3)))" "$(pb_varint "$2")"; }
# pb_field BODYHEX FIELD: the varint value of FIELD in a message.
pb_field() {
  local body=$1 pos=0 key
  while ((pos < ${#body})); do
    _varint "$body" "$pos" || return 1
    key=$_VAL
    _varint "$body" "$_POS" || return 1
    if ((key & 7)); then
      pos=$((_POS + _VAL * 2))	# length-delimited: skip it
    elif (((key >> 3) == $2)); then
      echo "$_VAL"
      return 0
    else
      pos=$_POS
    fi
  done
}

# Handover{subject{nhs_number, family_name}, risk_summary{level high},
# transition{kind referral}}, in an Envelope, in a Submit (Frame field 3).
handover=$(pb_len 1 "$(pb_str 1 9434765919)$(pb_str 3 Version-Two)")$(pb_len 2 "$(pb_uint 1 3)")$(pb_len 8 "$(pb_uint 1 1)")
submit=$(pb_len 3 "$(pb_len 1 "$(pb_str 1 v2-1)$(pb_str 3 cmht)$(pb_len 5 "$handover")")")
raw_start_as v2 provider "$(raw_frame "$RAW_HELLO")$(raw_frame "$submit")"
v2_pid=$RAW_PID
wait_for "a Receipt on the protocol 2 connection" 15 raw_has v2 4
welcome=$(raw_frames v2 | awk '$1 == 2 { print $2; exit }')
assert_eq 2 "$(pb_field "$welcome" 1)" "Welcome's version for a version 2 Hello"
receipt=$(raw_frames v2 | awk '$1 == 4 { print $2; exit }')
assert_eq 1 "$(pb_field "$receipt" 2)" "the protocol 2 Submit's Receipt code (1: OK)"
kill "$v2_pid" 2>/dev/null || true
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv of the protocol 2 handover"
assert_json reference provider/v2-1
# a version 3 frame on a version 2 session: UNEXPECTED_FRAME, closed
raw_start_as v2wl provider "$(raw_frame "$RAW_HELLO")$(raw_frame "$(pb_len 20 "$(pb_uint 1 1)")")"
raw_closed v2wl "$RAW_PID" 15
assert_raw_error v2wl 9 "WorkListRequest on a protocol 2 session"
assert_contains "$RAW_TEXT" "protocol version 3" "the refusal's text"

# --- a long export, bounded memory --------------------------------------------------------
jq -nc --argjson n "$BULK" 'range($n) | {to: "cmht", message_id: "bulk-\(.)",
  handover: {subject: {nhs_number: "9434765919", family_name: "Bulk"},
    risk_summary: {level: "RISK_LEVEL_LOW"},
    transition: {kind: "TRANSITION_KIND_REFERRAL"}}}' >"$T/bulk.jsonl"
run baton_as provider send --jsonl "$T/bulk.jsonl" --window 256
assert_rc 0 "send --jsonl of $BULK handovers"
assert_eq "$BULK" "$(grep -c '"code":"OK"' <<<"$RUN_OUT")" "bulk receipts"

anon0=$(rss_kb "$BROKER_PID" RssAnon)
# The reader stalls 4 s before it takes anything: the broker must stop
# reading the log once the connection's window is full, not buffer it all.
spawn "$T/slow.out" "$T/slow.err" bash -c "\"\$0\" --broker '$BROKER_ADDR' --ca '$CA_DIR/ca.crt' --cert '$NODE_DIR/ig.crt' --key '$NODE_DIR/ig.key' --timeout 30 audit export --format jsonl | { sleep 4; cat >'$T/slow.jsonl'; }; echo \"\${PIPESTATUS[0]}\" >'$T/slow.rc'" "$BATON"
slow_pid=$SPAWN_PID
anon_max=$anon0
vm_max=0
while kill -0 "$slow_pid" 2>/dev/null; do
  a=$(rss_kb "$BROKER_PID" RssAnon || echo 0)
  v=$(rss_kb "$BROKER_PID" || echo 0)
  ((a > anon_max)) && anon_max=$a
  ((v > vm_max)) && vm_max=$v
  sleep 0.1
done
wait_pid "$slow_pid" 60
assert_eq 0 "$(cat "$T/slow.rc")" "baton audit export to the stalled reader (stderr: $(cat "$T/slow.err"))"
size=$(stat -c %s "$T/slow.jsonl")
log "export of $(wc -l <"$T/slow.jsonl") records, $size bytes; broker RssAnon ${anon0} kB before, at most ${anon_max} kB during; VmRSS at most ${vm_max} kB"
((size > EXPORT_MIN)) || fail "the long export is only $size bytes"
((ASAN || anon_max - anon0 < RSS_GROWTH_BOUND_KB)) ||
  fail "the broker's RssAnon grew by $((anon_max - anon0)) kB while streaming (bound $RSS_GROWTH_BOUND_KB kB)"
((vm_max < RSS_BOUND_KB)) || fail "the broker's VmRSS reached $vm_max kB (bound $RSS_BOUND_KB kB)"
# Complete: every record from 1 to the head it started at, exactly as
# batonctl writes them.
UPTO=$(upto_of export)
assert_eq "$UPTO" "$(wc -l <"$T/slow.jsonl")" "records in the long export"
"$BATONCTL" audit export --data "$DATA_DIR" --format jsonl >"$T/ctl.jsonl" ||
  fail "batonctl audit export failed"
head -n "$UPTO" "$T/ctl.jsonl" | cmp -s - "$T/slow.jsonl" ||
  fail "the long export over TLS differs from batonctl's first $UPTO records"

assert_broker_alive
stop_broker
