#!/usr/bin/env bash
#
# 13-pathway-correction: one version of the truth. The provider corrects
# handovers it sent to cmht:
#  - before delivery: cmht receives only the new version (with replaces);
#    the old one is superseded and never delivered;
#  - after delivery, before a decision: cmht gets the new version with
#    replaces; deciding on the old one is refused NOT_LATEST_VERSION;
#  - after acceptance: the new version reaches cmht as an update; the old
#    one stays accepted and names its successor;
#  - after a redirect to gp: the correction goes to gp, who holds the case;
#    once gp accepted it, a further correction is an update whose
#    acceptance continues the check-ins already scheduled, not a second set;
#  - refused: a correction by cmht (not the sender) of the provider's
#    handover (NOT_PERMITTED), of a version already corrected
#    (NOT_LATEST_VERSION), of a handover that does not exist
#    (UNKNOWN_MESSAGE), and a chain longer than 16 versions
#    (LIMIT_EXCEEDED).
# Status shows every version, oldest first; the audit log keeps each
# version's records (superseded, detail replaces= / superseded_by=).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# A second version of the example, told apart by its reason.
jq '.transition.reason = "corrected: crisis plan updated"' \
  "$EXAMPLE_HANDOVER" >"$T/v2.json"

# --- 1. corrected before delivery: only the new version is delivered
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id c1
assert_rc 0 "send c1"
run baton_as provider send --replaces c1 --json "$T/v2.json" --id c1-v2
assert_rc 0 "correct c1 before delivery"
assert_json code OK
assert_json reference provider/c1-v2
[[ "$(json_get text)" == *"version 2"*cmht* ]] ||
  fail "receipt text does not say version 2 for cmht: $(json_get text)"
run baton_as cmht recv --wait 10 --max 5
assert_rc 0 "recv as cmht (1)"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries after a correction before delivery"
assert_json reference provider/c1-v2
assert_json replaces provider/c1
assert_json .handover.transition.reason "corrected: crisis plan updated"
run baton_as provider status c1 --json
assert_rc 0 "status of c1"
assert_json state superseded
assert_json '.versions | join(" ")' "provider/c1 provider/c1-v2"
run baton_as provider status c1-v2 --json
assert_json '.versions | join(" ")' "provider/c1 provider/c1-v2"
assert_json state acknowledged

# --- 2. corrected after delivery, before a decision
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id c2
assert_rc 0 "send c2"
run baton_as cmht recv --wait 10 --max 1
assert_json reference provider/c2
run baton_as provider send --replaces provider/c2 --json "$T/v2.json" --id c2-v2
assert_rc 0 "correct c2 after delivery"
run baton_as cmht recv --wait 10 --max 1
assert_json reference provider/c2-v2
assert_json replaces provider/c2
run baton_as cmht accept provider/c2
assert_rc 3 "accept of the superseded version"
assert_json code NOT_LATEST_VERSION
[[ "$(json_get text)" == *provider/c2-v2* ]] ||
  fail "refusal does not name the latest version: $(json_get text)"
run baton_as cmht accept provider/c2-v2
assert_rc 0 "accept of the latest version"
# correcting a version already corrected is refused, naming the latest
run baton_as provider send --replaces c2 --json "$T/v2.json" --id c2-v3
assert_rc 3 "correct a superseded version"
assert_json code NOT_LATEST_VERSION

# --- 3. corrected after acceptance: an update to the team that accepted
run baton_as provider send --replaces c2-v2 --json "$EXAMPLE_HANDOVER" --id c2-v3
assert_rc 0 "correct after acceptance"
run baton_as cmht recv --wait 10 --max 1
assert_json reference provider/c2-v3
assert_json replaces provider/c2-v2
run baton_as provider status c2-v2 --json
assert_json state accepted
assert_json '.versions | join(" ")' "provider/c2 provider/c2-v2 provider/c2-v3"
assert_json '.events | map(.event) | any(. == "superseded")' true

# --- 4. after a redirect the correction goes to who holds the case
jq '.transition.kind = "TRANSITION_KIND_DISCHARGE"' "$EXAMPLE_HANDOVER" \
  >"$T/discharge.json"
run baton_as provider send --to cmht --json "$T/discharge.json" --id c4
run baton_as cmht recv --wait 10 --max 1
assert_json reference provider/c4
run baton_as cmht redirect provider/c4 --to gp
assert_rc 0 "redirect c4 to gp"
jq '.transition.reason = "corrected"' "$T/discharge.json" >"$T/discharge2.json"
run baton_as provider send --replaces c4 --json "$T/discharge2.json" --id c4-v2
assert_rc 0 "correct c4"
[[ "$(json_get text)" == *"for gp"* ]] ||
  fail "correction after a redirect not for gp: $(json_get text)"
run baton_as gp recv --wait 10 --max 5
assert_eq 1 "$(count_lines "$RUN_OUT")" "gp gets only the latest version"
assert_json reference provider/c4-v2
assert_json replaces provider/c4

# An accepted discharge is followed up (the shipped policy's check-ins);
# an update the same team accepts continues that schedule, not a second.
run baton_as gp accept provider/c4-v2
assert_rc 0 "gp accepts c4-v2"
run baton_as gp status provider/c4-v2 --json
n_checkins=$(json_get '.checkins | length')
(( n_checkins > 0 )) || fail "an accepted discharge has no check-ins"
run baton_as provider send --replaces c4-v2 --json "$T/discharge.json" --id c4-v3
assert_rc 0 "correct c4 after acceptance"
run baton_as gp recv --wait 10 --max 1
assert_json reference provider/c4-v3
run baton_as gp accept provider/c4-v3
assert_rc 0 "gp accepts the update"
run baton_as gp status provider/c4-v3 --json
assert_json '.checkins | length' 0
assert_json '.events | map(select(.event == "checkins_scheduled")) | .[0].reason' \
  "check-ins continue under the earlier version provider/c4-v2"
run baton_as gp status provider/c4-v2 --json
assert_json '.checkins | length' "$n_checkins"
assert_json state accepted

# --- 5. refusals
run baton_as cmht send --replaces provider/c2-v3 --json "$T/v2.json" --id steal
assert_rc 3 "correction by a recipient"
assert_json code NOT_PERMITTED
run baton_as gp send --replaces provider/c1-v2 --json "$T/v2.json" --id probe
assert_rc 3 "correction by a stranger"
assert_json code UNKNOWN_MESSAGE
run baton_as provider send --replaces never-sent --json "$T/v2.json" --id orphan
assert_rc 3 "correction of nothing"
assert_json code UNKNOWN_MESSAGE
run baton_as provider send --replaces c1 --to cmht --json "$T/v2.json"
assert_rc 1 "--replaces with --to"

# A chain is at most 16 versions.
prev=c1-v2
for n in $(seq 3 16); do
  run baton_as provider send --replaces "$prev" --json "$T/v2.json" --id "c1-v$n"
  assert_rc 0 "version $n"
  prev=c1-v$n
done
run baton_as provider send --replaces "$prev" --json "$T/v2.json" --id c1-v17
assert_rc 3 "version 17"
assert_json code LIMIT_EXCEEDED
run baton_as provider status c1-v16 --json
assert_json '.versions | length' 16

stop_broker

# The audit log keeps every version's records.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --message provider/c1
assert_rc 0 "audit export c1"
grep -q '"event":"superseded"' <<<"$RUN_OUT" || fail "no superseded record for c1"
grep -q 'superseded_by=provider/c1-v2' <<<"$RUN_OUT" ||
  fail "superseded record does not name the new version"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --message provider/c1-v2
grep -q '"event":"submitted".*replaces=provider/c1"' <<<"$RUN_OUT" ||
  fail "the new version's submitted record does not name what it replaces"
