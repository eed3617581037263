#!/usr/bin/env bash
#
# 12-gov-auditor-trail (issue 13 item 4): an auditor node gets a person's
# trail and the governance report over its own mutual-TLS connection, as
# batonctl prints them from the data directory. Proves:
#  - `baton audit trail --subject NHS --format json` holds exactly the
#    person's handovers with the same timeline as `batonctl audit trail
#    --json` (reads of the log are counted in both, so those counts are
#    left out of the comparison); the text form fits 80 columns; a trail
#    of one handover by --message; another person's handover is absent;
#  - `baton audit report --format csv` has the same rows and figures as
#    `batonctl report --format csv` over the same period; the HTML report
#    is one self-contained page (no script, nothing loaded);
#  - a trail with neither a person nor a handover is refused INVALID
#    (exit 3) and the query is recorded as refused;
#  - each answered query is recorded as an audit_read with the auditor as
#    actor; the NHS number is in no record and not in the broker log.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

setup_four_nodes
issue_node_cert ig
add_node ig auditor "Northside Information Governance"
start_broker

NHS=$(jq -r .subject.nhs_number "$EXAMPLE_HANDOVER")	# "999 471 5305"
NHS_DIGITS=${NHS// /}
OTHER=$T/other-person.json
jq '.subject.nhs_number = "943 476 5919"' "$EXAMPLE_HANDOVER" >"$OTHER"

# Three handovers about the person (one accepted, one rejected, one left
# open), one about someone else.
for id in tr-1 tr-2 tr-3; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
  assert_rc 0 "send $id"
done
run baton_as provider send --to cmht --json "$OTHER" --id tr-other
assert_rc 0 "send tr-other"
run baton_as cmht recv --wait 10 --max 4
assert_rc 0 "recv as cmht"
run baton_as cmht accept provider/tr-1
assert_rc 0 "accept tr-1"
run baton_as cmht reject provider/tr-2 --reason duplicate
assert_rc 0 "reject tr-2"

# the trail's handovers and their timelines, without the read counts
# (each query adds one read of the person)
shape='[.handovers[] | {id: (.message_id // .reference // .id), events: [.events[]? | .event]}]'

# --- the trail over TLS and from the data directory -------------------------
run baton_as ig audit trail --subject "$NHS" --format json
assert_rc 0 "audit trail --subject over TLS"
tls_json=$RUN_OUT
jq -e . >/dev/null <<<"$tls_json" || fail "the trail over TLS is not one JSON document"
run bash -c "printf '%s\n' '$NHS' | \"\$0\" audit trail --data '$DATA_DIR' --subject - --json" "$BATONCTL"
assert_rc 0 "batonctl audit trail --subject -"
ctl_json=$RUN_OUT
assert_eq "$(jq -c "$shape" <<<"$ctl_json")" "$(jq -c "$shape" <<<"$tls_json")" \
  "the trail over TLS vs batonctl (handovers and their events)"
assert_eq 3 "$(jq '.handovers | length' <<<"$tls_json")" "the person's handovers"
assert_not_contains "$tls_json" "tr-other" "another person's handover"
for e in submitted delivered accepted rejected; do
  assert_contains "$tls_json" "\"$e\"" "the trail shows $e"
done
assert_not_contains "$tls_json" "$NHS_DIGITS" "no NHS number in the trail"

run baton_as ig audit trail --subject "$NHS"
assert_rc 0 "audit trail as text"
wide=$(awk 'length > 80' <<<"$RUN_OUT")
assert_eq "" "$wide" "the text trail fits 80 columns"
assert_contains "$RUN_OUT" "provider/tr-2" "the text names the handovers"

run baton_as ig audit trail --message provider/tr-1 --format json
assert_rc 0 "audit trail --message"
assert_eq 1 "$(jq '.handovers | length' <<<"$RUN_OUT")" "one handover by --message"

# --- a trail of nobody is refused -------------------------------------------
run baton_as ig audit trail --format json
assert_rc 3 "a trail with neither person nor handover"
assert_contains "$RUN_ERR" "INVALID" "refused INVALID"

# --- the report over TLS and from the data directory ------------------------
today=$(date -u +%Y-%m-%d)
run baton_as ig audit report --since "$today" --until "$today" --format csv
assert_rc 0 "audit report --format csv over TLS"
tls_csv=$RUN_OUT
run "$BATONCTL" report --data "$DATA_DIR" --since "$today" --until "$today" --format csv
assert_rc 0 "batonctl report --format csv"
ctl_csv=$RUN_OUT
# the same rows; the undecided-now figures move only if something was
# decided in between, and nothing was
assert_eq "$ctl_csv" "$tls_csv" "the report over TLS vs batonctl (CSV)"
assert_contains "$tls_csv" "provider" "the report has the provider's route"

run baton_as ig audit report --since "$today" --until "$today" --format html
assert_rc 0 "audit report --format html over TLS"
assert_contains "$RUN_OUT" "<svg" "the HTML report has its charts"
assert_not_contains "$RUN_OUT" "<script" "no script in the HTML report"

# --- what was recorded ------------------------------------------------------
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event audit_read --node ig
assert_rc 0 "batonctl audit export of ig's reads"
for k in trail report; do
  n=$(jq -r --arg k "$k" 'select(.actor == "ig" and (.reason | startswith($k + " over tls"))) | .seq' \
    <<<"$RUN_OUT" | wc -l)
  [[ $n -ge 1 ]] || fail "no audit_read record of the $k query over TLS"
done
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl
assert_not_contains "$RUN_OUT" "$NHS_DIGITS" "no NHS number in any record"
assert_not_contains "$(cat "$BROKER_LOG")" "$NHS_DIGITS" "no NHS number in the broker log"
assert_broker_alive
stop_broker
