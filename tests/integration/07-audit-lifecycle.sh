#!/usr/bin/env bash
#
# 07-audit-lifecycle: one handover from provider to cmht, received and
# accepted, leaves submitted, queued, delivered, acknowledged, accepted in
# the audit log in that order, all with the same subject reference and no
# NHS number; `batonctl audit list --subject` finds them from the NHS
# number; the read itself is audited; verify passes while the broker runs,
# after it stops and on an mdb_copy backup, with the head as anchor; a
# record removed from a copy is named by seq; neither the audit table nor
# the broker log holds the patient's identifiers.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

command -v mdb_dump >/dev/null || fail "mdb_dump is required (lmdb-utils)"
command -v mdb_copy >/dev/null || fail "mdb_copy is required (lmdb-utils)"

setup_four_nodes
start_broker

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER"
assert_rc 0 "baton send"
assert_json code OK
msg_id=$(json_get message_id)
# the broker names it by reference, provider/<its own id>
ref=$(json_get reference)
assert_eq "provider/$msg_id" "$ref" "reference in the receipt"

run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "baton recv"
assert_json message_id "$msg_id"
assert_json reference "$ref"
run baton_as cmht accept "$ref"
assert_rc 0 "baton accept"

# Queried while the broker runs: LMDB readers do not block it. The audit
# log names the handover by its reference.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --message "$ref"
assert_rc 0 "audit export --message"
export_jsonl=$RUN_OUT
# (Notices to the sender are recorded too; this checks the handover's own
# lifecycle.)
lifecycle='submitted queued delivered acknowledged accepted rejected'
events=$(jq -r --arg l "$lifecycle" \
  'select(.event as $e | $l | split(" ") | index($e)) | .event' \
  <<<"$export_jsonl" | tr '\n' ' ')
assert_eq "submitted queued delivered acknowledged accepted " "$events" \
  "lifecycle events for $msg_id, in order"
# This very read is recorded, last, with the message it asked about.
assert_eq audit_read "$(jq -r .event <<<"$export_jsonl" | tail -n 1)" \
  "the export's own audit_read record"

# One subject reference on every lifecycle record: 64 hex digits.
refs=$(jq -r 'select(.event != "audit_read") | .subject_ref' \
  <<<"$export_jsonl" | sort -u)
assert_eq 1 "$(count_lines "$refs")" "distinct subject refs"
[[ "$refs" =~ ^[0-9a-f]{64}$ ]] || fail "subject ref is not 64 hex digits"

# Delivered: to cmht, with the sections disclosed named.
delivered=$(jq -c 'select(.event == "delivered")' <<<"$export_jsonl")
assert_contains "$(jq -r '.actor + " " + .other' <<<"$delivered")" cmht \
  "delivered record names cmht"
[[ -n "$(jq -r .disclosed <<<"$delivered")" ]] ||
  fail "delivered record names no disclosed sections"
assert_contains "$(jq -r .disclosed <<<"$delivered")" risk_summary \
  "disclosed sections"

# By NHS number, as written in the handover (spaces and all): the same
# records, and the read recorded with the reference, not the number.
nhs=$(jq -r '.subject.nhs_number' "$EXAMPLE_HANDOVER")
run "$BATONCTL" audit list --data "$DATA_DIR" --subject "$nhs"
assert_rc 0 "audit list --subject"
list_out=$RUN_OUT
for e in submitted queued delivered acknowledged accepted; do
  assert_contains "$list_out" " $e " "audit list --subject shows $e"
done
assert_contains "$list_out" "$refs" "audit list shows the subject ref"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event audit_read
assert_rc 0 "audit export --event audit_read"
reads=$RUN_OUT
assert_eq "$refs" "$(jq -r 'select(.subject_ref != "") | .subject_ref' \
  <<<"$reads" | sort -u)" "audit_read of a subject records its reference"
# A number that is not an NHS number is refused as usage, nothing listed.
run "$BATONCTL" audit list --data "$DATA_DIR" --subject 1234567890
assert_rc 2 "audit list --subject with an invalid number"

run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify while the broker runs"
assert_contains "$RUN_OUT" "audit log intact" "verify output"

stop_broker

# After a clean stop: a signed checkpoint, and the head as an anchor.
run "$BATONCTL" audit head --data "$DATA_DIR"
assert_rc 0 "audit head"
head=$RUN_OUT
[[ "$head" =~ ^[0-9]+:[0-9a-f]{64}$ ]] || fail "audit head printed '$head'"
run "$BATONCTL" audit verify --data "$DATA_DIR" --expect-head "$head"
assert_rc 0 "audit verify --expect-head"
assert_contains "$RUN_OUT" "signatures verified" "checkpoint verified"
assert_contains "$RUN_OUT" "head: $head" "verify prints the head"

# A backup made with mdb_copy verifies the same, with the key kept apart.
mkdir -p "$T/backup" "$T/keys"
cp "$DATA_DIR/audit-signing.pub" "$T/keys/"
mdb_copy "$DATA_DIR" "$T/backup"
run "$BATONCTL" audit verify --data "$T/backup" \
  --pubkey "$T/keys/audit-signing.pub" --expect-head "$head"
assert_rc 0 "audit verify of an mdb_copy backup"

# A record removed (seq 3, by rewriting a dump without it): named.
mdb_dump -a "$DATA_DIR" >"$T/all.dump"
awk '/^database=/ { db = substr($0, 10) }
  db == "audit" && $0 == " 0000000000000003" { skip = 2 }
  skip > 0 { skip--; next }
  { print }' "$T/all.dump" >"$T/cut.dump"
mkdir -p "$T/cut"
mdb_load -f "$T/cut.dump" "$T/cut" 2>/dev/null
run "$BATONCTL" audit verify --data "$T/cut" \
  --pubkey "$T/keys/audit-signing.pub"
assert_rc 1 "audit verify of a log with seq 3 removed"
assert_contains "$RUN_ERR" "damaged at seq 3" "verify names the removed seq"

# No identifier of the person in the audit table, the exports or the log.
mdb_dump -p -s audit "$DATA_DIR" >"$T/audit.dump"
for v in "$nhs" "${nhs// /}" \
    "$(jq -r '.subject.family_name' "$EXAMPLE_HANDOVER")" \
    "$(jq -r '.subject.given_name' "$EXAMPLE_HANDOVER")" \
    "$(jq -r '.subject.date_of_birth' "$EXAMPLE_HANDOVER")" \
    "$(jq -r '.subject.address.postcode' "$EXAMPLE_HANDOVER")"; do
  [[ -n "$v" && "$v" != null ]] || fail "example handover lacks a subject field"
  if grep -qF -- "$v" "$T/audit.dump"; then
    fail "the audit table holds a patient identifier from the handover"
  fi
  assert_not_contains "$export_jsonl$list_out$reads" "$v" \
    "audit list/export output"
  if grep -qF -- "$v" "$BROKER_LOG"; then
    fail "broker log contains a patient identifier from the handover"
  fi
done
