#!/usr/bin/env bash
#
# 11-ops-queue (issue 12, part 3): `batonctl queue` on a known backlog,
# read while the broker runs and again after it stopped. cmht has not
# pulled its newest handovers: LOW, MEDIUM and HIGH waiting, a CRITICAL
# one waiting past its 2 s acceptance deadline (escalated), a HIGH one
# delivered and not acknowledged (in flight), a HIGH one acknowledged and
# not decided; gp has one MEDIUM waiting; provider and crisis nothing.
# The table (80 columns) and --json must show exactly those numbers per
# node, per risk level and in total, the oldest waiting and oldest
# undecided handovers by their receive times, and --node must narrow the
# view to one node. A bad or unknown --node is refused.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

BROKER_POLICY=$T/policy.conf
sed 's/^deadline critical 1h$/deadline critical 2s/' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^deadline critical 2s$' "$BROKER_POLICY" ||
  fail "could not shorten the critical deadline in the policy copy"

setup_four_nodes
start_broker

# handover LEVEL FILE [KIND]: the example handover at another risk level.
handover() {
  jq --arg l "RISK_LEVEL_$1" --arg k "TRANSITION_KIND_${3:-STEP_UP}" \
    '.risk_summary.level = $l | .transition.kind = $k' \
    "$EXAMPLE_HANDOVER" >"$T/$2.json" || fail "jq could not write $2.json"
}
handover LOW low
handover MEDIUM medium
handover HIGH high
handover CRITICAL critical
handover MEDIUM gp-medium REFERRAL

# send_to NODE FILE ID: provider submits FILE to NODE as ID.
send_to() {
  run baton_as provider send --to "$1" --json "$T/$2.json" --id "$3"
  assert_rc 0 "send $3 to $1"
  assert_json code OK
}

# received_ms ID: when the broker took provider's ID (its first event).
received_ms() {
  run baton_as provider status "$1" --json
  assert_rc 0 "status of $1"
  json_get '.events[0].at_ms'
}

# queue_json [ARGS...]: batonctl queue --json into RUN_OUT; exit 0.
queue_json() {
  run "$BATONCTL" queue --data "$DATA_DIR" --json "$@"
  assert_rc 0 "batonctl queue --json $*"
  [[ -z "$RUN_ERR" ]] || fail "batonctl queue --json wrote to stderr: $RUN_ERR"
}

# An empty broker: every registered node, nothing anywhere.
queue_json
assert_json '.nodes | map(.node) | join(" ")' "cmht crisis gp provider"
assert_json '.total.depth' 0
assert_json '.total.undecided' 0
assert_json '.total.oldest_waiting_at_ms' null

# Acknowledged, undecided: cmht takes and acks it.
send_to cmht high q-acked
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "cmht receives q-acked"
assert_json message_id q-acked
# In flight: delivered, never acknowledged (stays in cmht's queue).
send_to cmht high q-inflight
run baton_as cmht recv --wait 10 --max 1 --no-ack
assert_rc 0 "cmht receives q-inflight without acking"
assert_json message_id q-inflight
# Waiting: cmht pulls nothing more.
send_to cmht low q-low
send_to cmht medium q-medium
send_to cmht high q-high
send_to cmht critical q-crit
send_to gp gp-medium q-gp

# The CRITICAL one passes its 2 s deadline: the broker escalates it.
recv_until crisis '.kind == "NOTICE_KIND_ESCALATED"' 20
assert_json message_id q-crit "$(tail -n 1 "$T/crisis.items")"

acked_ms=$(received_ms q-acked)
low_ms=$(received_ms q-low)
gp_ms=$(received_ms q-gp)
crit_ms=$(received_ms q-crit)

# check_json: the backlog above in `queue --json`.
check_json() {
  local n='.nodes[] | select(.node == "cmht")'
  queue_json
  assert_json '.nodes | map(.node) | join(" ")' "cmht crisis gp provider"
  assert_json '.nodes | map(.registered) | all' true
  assert_json "$n | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv" \
    "5,4,1,6,1"
  assert_json "$n.by_risk.critical | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv" \
    "1,1,0,1,1"
  assert_json "$n.by_risk.high | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv" \
    "2,1,1,3,0"
  assert_json "$n.by_risk.medium | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv" \
    "1,1,0,1,0"
  assert_json "$n.by_risk.low | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv" \
    "1,1,0,1,0"
  assert_json "$n.by_risk.unspecified.undecided" 0
  assert_json "$n.oldest_waiting_at_ms" "$low_ms"
  assert_json "$n.oldest_undecided_at_ms" "$acked_ms"
  assert_json "$n.by_risk.high.oldest_undecided_at_ms" "$acked_ms"
  assert_json "$n.by_risk.critical.oldest_waiting_at_ms" "$crit_ms"
  assert_json "$n | (.oldest_waiting_age_s >= 0 and .oldest_waiting_age_s < 600)" true
  queue_json
  assert_json '.nodes[] | select(.node == "gp") | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv' \
    "1,1,0,1,0"
  assert_json '.nodes[] | select(.node == "gp") | .oldest_waiting_at_ms' "$gp_ms"
  assert_json '.nodes[] | select(.node == "crisis") | .undecided' 0
  assert_json '.nodes[] | select(.node == "provider") | .undecided' 0
  assert_json '.total | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv' \
    "6,5,1,7,1"
  assert_json '.total.by_risk | [.critical, .high, .medium, .low, .unspecified] | map(.overdue) | @csv' \
    "1,0,0,0,0"
  assert_json '.total.by_risk.medium.waiting' 2
  assert_json '.scan | [.unreadable, .truncated, .nodes_dropped] | @csv' "0,false,0"
}

# row LABEL: the numbers of the table's line for LABEL (a node, "total",
# or a risk level under the node named before it, e.g. "cmht critical").
row() {
  awk -v want="$1" '
    /^[^ ]/ { node = $1 }
    /^  [a-z]/ { if (node " " $1 == want) { $1 = ""; print substr($0, 2) } }
    /^[^ ]/ { if ($1 == want) { $1 = ""; print substr($0, 2) } }
  ' <<<"$TABLE"
}

# numbers LABEL EXPECTED: the five counts of LABEL's line, and an age or
# "-" in the OLDEST column.
numbers() {
  local got
  got=$(row "$1")
  [[ -n "$got" ]] || fail "no table line for '$1' in:"$'\n'"$TABLE"
  assert_eq "$2" "$(cut -d' ' -f1-5 <<<"$got")" "table counts of $1"
  [[ "$(cut -d' ' -f6 <<<"$got")" =~ ^(-|([0-9]+[dhm])?[0-9]+[hms])$ ]] ||
    fail "table line of $1 has no age: '$got'"
}

check_table() {
  run "$BATONCTL" queue --data "$DATA_DIR"
  assert_rc 0 "batonctl queue"
  TABLE=$RUN_OUT
  assert_eq "NODE           DEPTH  WAITING  IN-FLIGHT  UNDECIDED  OVERDUE   OLDEST" \
    "$(head -n 1 <<<"$TABLE")" "table header"
  numbers cmht "5 4 1 6 1"
  numbers "cmht critical" "1 1 0 1 1"
  numbers "cmht high" "2 1 1 3 0"
  numbers "cmht medium" "1 1 0 1 0"
  numbers "cmht low" "1 1 0 1 0"
  numbers crisis "0 0 0 0 0"
  numbers gp "1 1 0 1 0"
  numbers "gp medium" "1 1 0 1 0"
  numbers provider "0 0 0 0 0"
  numbers total "6 5 1 7 1"
  assert_eq "-" "$(row crisis | cut -d' ' -f6)" "no age where nothing waits"
  assert_eq 12 "$(count_lines "$TABLE")" "table lines (header, 9 rows, total, overdue)"
  assert_eq "overdue by risk: critical 1, high 0, medium 0, low 0" \
    "$(tail -n 1 <<<"$TABLE")" "overdue by risk"
  # risk levels most urgent first, only where something is undecided
  assert_eq "critical high medium low" \
    "$(sed -n '/^cmht /,/^crisis /p' <<<"$TABLE" | awk '/^  /{print $1}' | tr '\n' ' ' | sed 's/ $//')" \
    "cmht's risk lines"
  awk 'length($0) > 80 { exit 1 }' <<<"$TABLE" ||
    fail "the table is wider than 80 columns"
}

log "while the broker runs"
check_json
check_table

# One node only.
run "$BATONCTL" queue --data "$DATA_DIR" --node gp
assert_rc 0 "batonctl queue --node gp"
TABLE=$RUN_OUT
numbers gp "1 1 0 1 0"
numbers "gp medium" "1 1 0 1 0"
assert_eq 4 "$(count_lines "$TABLE")" "lines for gp alone"
assert_not_contains "$TABLE" "cmht" "--node gp shows cmht"
assert_eq "overdue by risk: critical 0, high 0, medium 0, low 0" \
  "$(tail -n 1 <<<"$TABLE")" "gp's overdue by risk"
queue_json --node cmht
assert_json '.nodes | map(.node) | join(" ")' cmht
assert_json '.total | [.depth, .waiting, .in_flight, .undecided, .overdue] | @csv' \
  "5,4,1,6,1"

# Mistakes.
run "$BATONCTL" queue --data "$DATA_DIR" --node nobody
assert_rc 1 "--node of an unknown node"
assert_contains "$RUN_ERR" "no node 'nobody'" "names the unknown node"
run "$BATONCTL" queue --data "$DATA_DIR" --node "Not Valid"
assert_rc 2 "--node with an invalid id"
run "$BATONCTL" queue --data "$T/nowhere"
assert_rc 1 "a data directory without a store"
assert_contains "$RUN_ERR" "no Baton data in $T/nowhere" "names the directory"
[[ ! -e "$T/nowhere" ]] || fail "batonctl queue created $T/nowhere"
run "$BATONCTL" queue
assert_rc 2 "no --data"

# The store, not the broker, holds the backlog: the same after a stop.
stop_broker
log "after the broker stopped"
check_json
check_table
