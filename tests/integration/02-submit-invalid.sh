#!/usr/bin/env bash
#
# 02-submit-invalid: a handover that fails validation is refused by the
# broker with INVALID (exit 3) and a text naming the field (sent with
# --no-check so the client's own check does not stop it first); without
# --no-check the client refuses it locally (exit 1) naming the field. JSON
# that does not parse or does not fit the dataset is a local error (exit 1)
# naming the JSON path. Nothing refused is queued.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# send_invalid ID FILE FIELD: refused by the broker as INVALID naming
# FIELD, and by the client's local check too.
send_invalid() {
  run baton_as provider send --to cmht --json "$2" --id "$1" --no-check
  assert_rc 3 "send --no-check of $1"
  assert_eq 1 "$(count_lines "$RUN_OUT")" "refusal lines for $1"
  assert_json message_id "$1"
  assert_json code INVALID
  assert_contains "$(json_get text)" "$3" "INVALID text for $1"

  run baton_as provider send --to cmht --json "$2" --id "$1-local"
  assert_rc 1 "send of $1 with the local check"
  assert_contains "$RUN_ERR" "$3" "local check error for $1"
  assert_eq "" "$RUN_OUT" "stdout for a local error"
}

jq 'del(.risk_summary.level)' "$EXAMPLE_HANDOVER" >"$T/no-level.json"
send_invalid invalid-no-level "$T/no-level.json" risk_summary.level

# 1234567890 fails the Modulus 11 check (its check digit would be 10).
jq '.subject.nhs_number = "1234567890"' "$EXAMPLE_HANDOVER" >"$T/bad-nhs.json"
send_invalid invalid-bad-nhs "$T/bad-nhs.json" subject.nhs_number

jq '.transition.planned_date = "2025-02-30"' "$EXAMPLE_HANDOVER" >"$T/bad-date.json"
send_invalid invalid-bad-date "$T/bad-date.json" transition.planned_date

# Local errors: the client refuses before connecting.
head -c 200 "$EXAMPLE_HANDOVER" >"$T/truncated.json"
run baton_as provider send --to cmht --json "$T/truncated.json" --id local-1
assert_rc 1 "send of truncated JSON"
assert_contains "$RUN_ERR" "baton:" "error on stderr"
assert_eq "" "$RUN_OUT" "stdout for a local error"

jq '.risk_summary.level = "SEVERE"' "$EXAMPLE_HANDOVER" >"$T/bad-enum.json"
run baton_as provider send --to cmht --json "$T/bad-enum.json" --id local-2
assert_rc 1 "send with an unknown enum value"
assert_contains "$RUN_ERR" '$.risk_summary.level' "error names the JSON path"

jq '.subject.shoe_size = 9' "$EXAMPLE_HANDOVER" >"$T/unknown-field.json"
run baton_as provider send --to cmht --json "$T/unknown-field.json" --id local-3
assert_rc 1 "send with an unknown field"
assert_contains "$RUN_ERR" '$.subject.shoe_size' "error names the JSON path"

jq '.subject.family_name = 42' "$EXAMPLE_HANDOVER" >"$T/wrong-type.json"
run baton_as provider send --to cmht --json "$T/wrong-type.json" --id local-4
assert_rc 1 "send with a number for a string"
assert_contains "$RUN_ERR" '$.subject.family_name' "error names the JSON path"

assert_broker_alive
assert_queue_empty cmht

# Control: the unmodified example is accepted and arrives alone.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id valid-1
assert_rc 0 "send of the valid example"
assert_json code OK
recv_all cmht
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to cmht"
assert_json message_id valid-1
stop_broker
