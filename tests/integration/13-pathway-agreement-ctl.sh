#!/usr/bin/env bash
#
# 13-pathway-agreement-ctl: batonctl agreement add / list / end on a fresh data
# directory (no broker runs; the store is made by node add):
#  - add prints the id and the period; dates mean whole UTC days (--until
#    to the end of its day), instants exactly; an organisation no node
#    belongs to is recorded with a warning naming the ones there are;
#  - add refuses a date not in the calendar, --until not after --from, an
#    agreement already lapsed, the same organisation twice and an unknown
#    section (exit 2, with the rule or the valid names);
#  - list shows what is in force (and when it lapses) or pending; --json
#    is one object per line; an ended or lapsed one only with --all;
#  - end is refused for an unknown id and one already ended or lapsed
#    (exit 1);
#  - each add and end is in the audit log (detail agreement=ID), and the
#    log verifies.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

D=$DATA_DIR
A="North Trust"
B="South Council"

# json_lines: every line of RUN_OUT parses as a JSON object.
json_lines() {
  python3 -c '
import json, sys
for line in sys.stdin:
    assert isinstance(json.loads(line), dict), line
' <<<"$RUN_OUT"
}

# json_field ID FIELD: FIELD of agreement ID in RUN_OUT (list --json).
json_field() {
  python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    if o["id"] == sys.argv[1]:
        print(json.dumps(o.get(sys.argv[2])))
' "$1" "$2" <<<"$RUN_OUT"
}

# instant SECONDS: UTC now + SECONDS, as YYYY-MM-DDTHH:MM:SSZ.
instant() {
  date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ
}

# ---- the store: two nodes of two organisations ----
ctl "node add a" node add --data "$D" --node nt-gp --role gp --org "$A" --force
ctl "node add b" node add --data "$D" --node sc-cmht --role cmht --org "$B" --force

run "$BATONCTL" agreement list --data "$D"
assert_rc 0 "list with none"
assert_eq "no agreements" "$RUN_OUT" "list with none"

# ---- add ----
year=$(($(date -u +%Y) + 1))
run "$BATONCTL" agreement add --data "$D" --between "$A" --and "$B" \
  --ref DSA-2026-014 --from 2026-01-01 --until "$year-03-31" \
  --sections risk_summary,crisis_plan
assert_rc 0 "add"
assert_contains "$RUN_OUT" "added agreement ag-1 between '$A' and '$B' (ref DSA-2026-014): in force from 2026-01-01T00:00:00Z until $year-04-01T00:00:00Z" \
  "add: the id, and --until to the end of its day"
assert_contains "$RUN_OUT" "sections shared: risk_summary, crisis_plan" "add: the sections"
assert_eq "" "$RUN_ERR" "add between known organisations warns of nothing"

# an organisation no node belongs to: recorded, with a warning
run "$BATONCTL" agreement add --data "$D" --between "$A" --and "Suoth Council" \
  --ref "DSA 7" --from 2026-01-01 --until "$year-01-01"
assert_rc 0 "add with an organisation no node has"
assert_contains "$RUN_OUT" "added agreement ag-2" "the second id"
assert_contains "$RUN_ERR" "warning: no registered node belongs to organisation 'Suoth Council'" \
  "the warning"
assert_contains "$RUN_ERR" "'North Trust', 'South Council'" "the warning names the organisations"

# refusals: the command line is wrong
add_refused() {
  local what=$1 want=$2
  shift 2
  run "$BATONCTL" agreement add --data "$D" --between "$A" --and "$B" --ref R "$@"
  assert_rc 2 "$what"
  assert_contains "$RUN_ERR" "$want" "$what: the message"
  assert_contains "$RUN_ERR" "usage: batonctl agreement add" "$what: the usage line"
}
add_refused "a date not in the calendar" "invalid --from '2026-02-30'" \
  --from 2026-02-30 --until "$year-01-01"
add_refused "a malformed instant" "invalid --until" \
  --from 2026-01-01 --until "$year-01-01T24:00:00Z"
add_refused "until before from" "is not after --from" \
  --from "$year-06-01" --until "$year-05-31"
add_refused "an instant until at from" "is not after --from" \
  --from "$year-06-01T00:00:00Z" --until "$year-06-01T00:00:00Z"
add_refused "an agreement already lapsed" "has already passed" \
  --from 2020-01-01 --until 2020-12-31
add_refused "an unknown section" "unknown section 'risk'" \
  --from 2026-01-01 --until "$year-01-01" --sections risk,contacts
assert_contains "$RUN_ERR" "subject, risk_summary, safeguarding" "the valid section names"
run "$BATONCTL" agreement add --data "$D" --between "$A" --and "$A" --ref R \
  --from 2026-01-01 --until "$year-01-01"
assert_rc 2 "the same organisation twice"
assert_contains "$RUN_ERR" "name the same organisation" "the same organisation: the message"
run "$BATONCTL" agreement add --data "$D" --between "$A" --and "$B" --ref 'R;rm' \
  --from 2026-01-01 --until "$year-01-01"
assert_rc 2 "a reference with a forbidden character"
run "$BATONCTL" agreement add --data "$T/nowhere" --between "$A" --and "$B" --ref R \
  --from 2026-01-01 --until "$year-01-01"
assert_rc 1 "a data directory that does not exist"
[[ ! -e "$T/nowhere" ]] || fail "add made the missing data directory"
mkdir "$T/empty"
run "$BATONCTL" agreement add --data "$T/empty" --between "$A" --and "$B" --ref R \
  --from 2026-01-01 --until "$year-01-01"
assert_rc 1 "a directory with no store"
assert_contains "$RUN_ERR" "no Baton store in $T/empty" "no store: the message"
[[ ! -e "$T/empty/data.mdb" ]] || fail "add started a store in an empty directory"

# one lapsing a few seconds from now (an instant, exactly)
soon=$(instant 3)
run "$BATONCTL" agreement add --data "$D" --between "$B" --and "$A" \
  --ref DSA-SHORT --from 2026-01-01 --until "$soon"
assert_rc 0 "add until an instant"
assert_contains "$RUN_OUT" "added agreement ag-3" "the third id"
assert_contains "$RUN_OUT" "until $soon" "an instant is kept exactly"

# ---- list ----
run "$BATONCTL" agreement list --data "$D"
assert_rc 0 "list"
assert_contains "$RUN_OUT" "ID    STATE" "list: the header"
line=$(grep '^ag-1 ' <<<"$RUN_OUT") || fail "list: no row for ag-1"
assert_contains "$line" "in force" "ag-1 is in force"
assert_contains "$line" "$A <-> $B" "ag-1: BETWEEN"
assert_contains "$line" "DSA-2026-014" "ag-1: REF"
assert_contains "$line" "risk_summary, crisis_plan" "ag-1: SECTIONS"
line=$(grep '^ag-2 ' <<<"$RUN_OUT") || fail "list: no row for ag-2"
assert_contains "$line" "all the role may receive" "ag-2 narrows nothing"
line=$(grep '^ag-3 ' <<<"$RUN_OUT") || fail "list: no row for ag-3"
assert_contains "$line" "in force (lapses in" "ag-3 says it lapses soon"

run "$BATONCTL" agreement list --data "$D" --json
assert_rc 0 "list --json"
json_lines || fail "list --json: a line is not a JSON object: $RUN_OUT"
assert_eq 3 "$(wc -l <<<"$RUN_OUT")" "list --json: one line each"
assert_eq '"in force"' "$(json_field ag-1 state)" "json: state"
assert_eq '["risk_summary", "crisis_plan"]' "$(json_field ag-1 sections)" "json: sections"
assert_eq "\"$year-04-01T00:00:00Z\"" "$(json_field ag-1 until)" "json: until"
assert_eq 'null' "$(json_field ag-1 end_reason)" "json: not ended"
[[ "$(json_field ag-1 lapses_in_days)" =~ ^[0-9]+$ ]] || fail "json: lapses_in_days"
assert_eq '[]' "$(json_field ag-2 sections)" "json: no sections"

# ---- lapse (until is exclusive) ----
lapsed() {
  "$BATONCTL" agreement list --data "$D" --all | grep -q '^ag-3  *lapsed'
}
wait_for "ag-3 to lapse" 10 lapsed
run "$BATONCTL" agreement list --data "$D"
assert_not_contains "$RUN_OUT" "ag-3" "a lapsed agreement is hidden"
assert_contains "$RUN_OUT" "not shown: --all shows them" "list says some are hidden"
run "$BATONCTL" agreement end --data "$D" --id ag-3
assert_rc 1 "end a lapsed agreement"
assert_contains "$RUN_ERR" "already lapsed at $soon" "end a lapsed one: the message"

# ---- end ----
run "$BATONCTL" agreement end --data "$D" --id ag-1 --reason "superseded by DSA-2027-002"
assert_rc 0 "end"
assert_eq "ended agreement ag-1 between '$A' and '$B'; handovers on routes that need it are held from now until another agreement between them is in force" \
  "$RUN_OUT" "end: the message"
run "$BATONCTL" agreement list --data "$D"
assert_not_contains "$RUN_OUT" "ag-1" "an ended agreement is hidden"
run "$BATONCTL" agreement list --data "$D" --all
line=$(grep '^ag-1 ' <<<"$RUN_OUT") || fail "list --all: no row for ag-1"
assert_contains "$line" "ended" "list --all shows ag-1 ended"
run "$BATONCTL" agreement list --data "$D" --all --json
json_lines || fail "list --all --json: a line is not a JSON object"
assert_eq '"superseded by DSA-2027-002"' "$(json_field ag-1 end_reason)" "json: end_reason"
assert_eq '"ended"' "$(json_field ag-1 state)" "json: ended"

run "$BATONCTL" agreement end --data "$D" --id ag-1
assert_rc 1 "end again"
assert_contains "$RUN_ERR" "agreement ag-1 was already ended at" "end again: the message"
run "$BATONCTL" agreement end --data "$D" --id ag-42
assert_rc 1 "end an unknown id"
assert_contains "$RUN_ERR" "no agreement 'ag-42'" "end an unknown id: the message"
assert_contains "$RUN_ERR" "batonctl agreement list" "end an unknown id: where the ids are"
run "$BATONCTL" agreement end --data "$D" --id 42
assert_rc 2 "end with a malformed id"

# ---- the audit log ----
run "$BATONCTL" audit list --data "$D" --event agreement_added --event agreement_ended
assert_rc 0 "audit list"
grep -q 'agreement_added .*agreement=ag-1$' <<<"$RUN_OUT" ||
  fail "no agreement_added record for ag-1: $RUN_OUT"
grep -q 'agreement_ended .*superseded by DSA-2027-002 uid=.*agreement=ag-1$' <<<"$RUN_OUT" ||
  fail "no agreement_ended record for ag-1: $RUN_OUT"
assert_contains "$RUN_OUT" "(4 records)" "three adds and one end; the refused ones left none"
grep -q 'between North Trust and South Council ref DSA-2026-014 from 2026-01-01T00:00:00Z until '"$year"'-04-01T00:00:00Z sections risk_summary,crisis_plan uid=' <<<"$RUN_OUT" ||
  fail "the add's reason: $RUN_OUT"
run "$BATONCTL" audit verify --data "$D"
assert_rc 0 "the audit log verifies"
