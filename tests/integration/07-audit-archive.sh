#!/usr/bin/env bash
#
# 07-audit-archive: audit retention while the broker runs. Records younger
# than --keep-days are not archived by default; --dry-run changes nothing;
# an archive up to the last signed checkpoint is written, verifies on its
# own with the public key, is recorded (audit_archived, with the file's
# SHA-256), and the log left in the store chains onto it; a second archive
# continues from the first and never overwrites a file; the broker keeps
# working throughout; an archive altered afterwards fails verification.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
mkdir -p "$T/keys"
cp "$DATA_DIR/audit-signing.pub" "$T/keys/"
PUB=$T/keys/audit-signing.pub

# send_one: one handover from provider to cmht, received and acked.
send_one() {
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER"
  assert_rc 0 "baton send"
  run baton_as cmht recv --wait 10 --max 1
  assert_rc 0 "baton recv"
}

# A restart between handovers: stop and start checkpoints to cut at.
start_broker
send_one
stop_broker
start_broker
send_one

run "$BATONCTL" audit head --data "$DATA_DIR"
assert_rc 0 "audit head"
head_before=$RUN_OUT

# By default a year of records stays: nothing archived, nothing changed.
run "$BATONCTL" audit archive --data "$DATA_DIR" --out "$T/a1.jsonl" \
  --upto 1000000
assert_rc 0 "audit archive of recent records"
assert_contains "$RUN_OUT" "nothing archived" "archive with the default --keep-days"
assert_contains "$RUN_OUT" "--keep-days 365" "archive says why"
[[ ! -e "$T/a1.jsonl" ]] || fail "an archive was written though nothing was archived"
run "$BATONCTL" audit head --data "$DATA_DIR"
assert_eq "$head_before" "$RUN_OUT" "head after archiving nothing"

# Usage errors: no bound, no --out.
run "$BATONCTL" audit archive --data "$DATA_DIR" --out "$T/a1.jsonl"
assert_rc 2 "audit archive without --before or --upto"
run "$BATONCTL" audit archive --data "$DATA_DIR" --upto 5
assert_rc 2 "audit archive without --out"

# A dry run says what it would take, and takes nothing.
run "$BATONCTL" audit archive --data "$DATA_DIR" --out "$T/a1.jsonl" \
  --upto 1000000 --keep-days 0 --dry-run
assert_rc 0 "audit archive --dry-run"
assert_contains "$RUN_OUT" "would archive seq 1 to " "dry run"
[[ ! -e "$T/a1.jsonl" ]] || fail "--dry-run wrote an archive"

# The archive, with the broker running: up to its start checkpoint.
run "$BATONCTL" audit archive --data "$DATA_DIR" --out "$T/a1.jsonl" \
  --upto 1000000 --keep-days 0
assert_rc 0 "audit archive"
assert_contains "$RUN_OUT" "archiving seq 1 to " "archive output"
[[ -s "$T/a1.jsonl" ]] || fail "no archive written"
last1=$(jq -s -r 'last | .seq' "$T/a1.jsonl")
assert_eq checkpoint "$(jq -s -r 'last | .event' "$T/a1.jsonl")" \
  "the archive's last record"
assert_eq 1 "$(jq -s -r 'first | .seq' "$T/a1.jsonl")" "the archive's first seq"
sha1=$(sha256sum "$T/a1.jsonl" | cut -d' ' -f1)
assert_contains "$RUN_OUT" "sha256 $sha1" "archive prints the file's SHA-256"
assert_broker_alive

# The archive verifies alone, with the public key kept elsewhere.
run "$BATONCTL" audit verify --archive "$T/a1.jsonl" --pubkey "$PUB"
assert_rc 0 "audit verify --archive"
assert_contains "$RUN_OUT" "seq 1 to $last1 intact" "archive verified"
assert_contains "$RUN_OUT" "sha256 $sha1" "verify prints the archive's SHA-256"

# The store's log chains onto it; with it, the whole chain from seq 1.
run "$BATONCTL" audit verify --data "$DATA_DIR" --pubkey "$PUB"
assert_rc 0 "audit verify after the archive"
assert_contains "$RUN_OUT" "(seq $((last1 + 1)) to " "the store's log starts after it"
assert_contains "$RUN_OUT" "archived: seq 1 to $last1" "verify names the archived part"
run "$BATONCTL" audit verify --data "$DATA_DIR" --pubkey "$PUB" \
  --archive "$T/a1.jsonl"
assert_rc 0 "audit verify --data --archive"
assert_contains "$RUN_OUT" "(seq 1 to " "archive and store verified together"

# The archiving is itself in the log, with the file's SHA-256.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event audit_archived
assert_rc 0 "audit export --event audit_archived"
assert_eq 1 "$(count_lines "$RUN_OUT")" "audit_archived records"
assert_contains "$(jq -r .reason <<<"$RUN_OUT")" "seq 1-$last1 " "the range archived"
assert_contains "$(jq -r .reason <<<"$RUN_OUT")" "file_sha256=$sha1" \
  "the archive's SHA-256 recorded"
assert_eq batonctl "$(jq -r .actor <<<"$RUN_OUT")" "actor of audit_archived"

# The broker still works; a restart gives a later checkpoint to cut at.
send_one
stop_broker
start_broker

# An existing file is never overwritten, and nothing is removed then.
run "$BATONCTL" audit head --data "$DATA_DIR"
head_before=$RUN_OUT
run "$BATONCTL" audit archive --data "$DATA_DIR" --out "$T/a1.jsonl" \
  --before 2999-01-01 --keep-days 0
assert_rc 1 "audit archive onto an existing file"
assert_contains "$RUN_ERR" "never overwritten" "archive refuses to overwrite"
assert_eq "$sha1" "$(sha256sum "$T/a1.jsonl" | cut -d' ' -f1)" "the first archive"
run "$BATONCTL" audit head --data "$DATA_DIR"
assert_eq "$head_before" "$RUN_OUT" "head after a refused archive"

# The second archive continues from the first.
run "$BATONCTL" audit archive --data "$DATA_DIR" --out "$T/a2.jsonl" \
  --before 2999-01-01 --keep-days 0
assert_rc 0 "second audit archive"
assert_eq $((last1 + 1)) "$(jq -s -r 'first | .seq' "$T/a2.jsonl")" \
  "the second archive's first seq"
run "$BATONCTL" audit verify --data "$DATA_DIR" --pubkey "$PUB" \
  --archive "$T/a1.jsonl" --archive "$T/a2.jsonl"
assert_rc 0 "audit verify of both archives and the store"
assert_contains "$RUN_OUT" "(seq 1 to " "the whole chain from seq 1"
# Alone, the second one says where it continues from.
run "$BATONCTL" audit verify --archive "$T/a2.jsonl" --pubkey "$PUB"
assert_rc 0 "audit verify of the second archive alone"
assert_contains "$RUN_OUT" "continues from seq $last1" "second archive's start"
# Only the first with the store: the archives do not reach its anchor.
run "$BATONCTL" audit verify --data "$DATA_DIR" --pubkey "$PUB" \
  --archive "$T/a1.jsonl"
assert_rc 1 "audit verify with an archive missing"
assert_contains "$RUN_ERR" "give every archive since" "verify says what is missing"

send_one
assert_broker_alive
stop_broker
run "$BATONCTL" audit head --data "$DATA_DIR"
head=$RUN_OUT
run "$BATONCTL" audit verify --data "$DATA_DIR" --pubkey "$PUB" --expect-head "$head"
assert_rc 0 "audit verify after a clean stop, with the head as anchor"

# An archive altered afterwards (one record's actor) fails, naming it.
sed '3s/"actor":"[^"]*"/"actor":"someone"/' "$T/a1.jsonl" >"$T/bad.jsonl"
run "$BATONCTL" audit verify --archive "$T/bad.jsonl" --pubkey "$PUB"
assert_rc 1 "audit verify of an altered archive"
assert_contains "$RUN_ERR" "damaged at seq 3" "verify names the altered record"
# One cut short (its final checkpoint removed) fails too.
head -n -1 "$T/a1.jsonl" >"$T/short.jsonl"
run "$BATONCTL" audit verify --archive "$T/short.jsonl" --pubkey "$PUB"
assert_rc 1 "audit verify of an archive cut short"
assert_contains "$RUN_ERR" "does not end with a signed checkpoint" \
  "verify says the archive is cut short"
