#!/usr/bin/env bash
#
# 13-pathway-agreement: a route gated by a data-sharing agreement and a
# lawful basis (policy.conf "send housing referral with agreement basis
# consent direct_care"), between a provider of one organisation and a
# housing service of another, through the real broker:
#  - without an agreement in force a referral is refused NO_AGREEMENT,
#    naming both organisations (audit: submit_refused, NO_AGREEMENT); one
#    stating no lawful basis, or one the route does not accept, is refused
#    NO_LAWFUL_BASIS naming the accepted ones; a route without terms
#    (cmht -> housing) is not affected, until 'agreements required' gates
#    every route between organisations (applied by a reload);
#  - under an agreement (batonctl agreement add, with --sections) the
#    referral goes, narrowed to the agreement's sections on top of what the
#    role may receive; its audit records name the basis and the agreement;
#  - an agreement lapsing within 30 days is warned of once (log, audit);
#  - a referral queued when its agreement lapses is not delivered: it is
#    held (status held, the sender told NOTICE_KIND_HELD naming both
#    organisations), the lapse is recorded once, new referrals are refused;
#  - a new agreement releases it (audit released) and it is delivered
#    under that agreement, which narrows nothing.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

ORG_P="Riverside Community Trust"
ORG_H="Sampleton Housing Options"
ORG_C="Northside CMHT"

# The default deploy/policy.conf's roles, with provider's referrals to
# housing gated (its transfers are not).
BROKER_POLICY=$T/policy.conf
cat >"$BROKER_POLICY" <<'EOF'
deadline critical 1h
deadline high 4h
deadline medium 24h
deadline low 72h
escalate crisis
retention 5d
purge 30d

role provider
    receive all
    send cmht any
    send gp referral discharge step_down transfer
    send crisis crisis_handover referral
    send housing referral with agreement basis consent direct_care
    send housing transfer

role cmht
    receive all
    send provider step_down discharge referral transfer
    send gp discharge step_down transfer
    send crisis crisis_handover step_up referral
    send housing referral transfer

role gp
    receive all
    send cmht referral step_up
    send crisis crisis_handover
    send provider referral

role crisis
    receive all
    send cmht step_down discharge transfer
    send gp discharge
    send provider step_down

role housing
    receive subject contacts crisis_plan support_plan transition
    send cmht referral
    send provider referral
EOF

make_pki provider cmht housing
add_node provider provider "$ORG_P"
add_node cmht cmht "$ORG_C"
add_node housing housing "$ORG_H"
start_broker

# referral BASIS: the example handover as a referral with that lawful basis
# (none: no lawful_basis at all), into $T/referral-BASIS.json.
referral() {
  local f=$T/referral-$1.json
  if [[ $1 == none ]]; then
    jq '.transition.kind = "TRANSITION_KIND_REFERRAL" |
      del(.transition.lawful_basis)' "$EXAMPLE_HANDOVER" >"$f"
  else
    jq --arg b "LAWFUL_BASIS_${1^^}" '.transition.kind = "TRANSITION_KIND_REFERRAL" |
      .transition.lawful_basis = $b' "$EXAMPLE_HANDOVER" >"$f"
  fi
  echo "$f"
}

# instant SECONDS: UTC now + SECONDS, as YYYY-MM-DDTHH:MM:SSZ.
instant() {
  date -u -d "@$(($(date +%s) + $1))" +%Y-%m-%dT%H:%M:%SZ
}

# audit_events EVENT: the records of EVENT (whole log) as JSON Lines.
audit_events() {
  run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event "$1"
  assert_rc 0 "audit export --event $1"
}

# audit_count EVENT JQ_FILTER: how many records of EVENT match the filter.
audit_count() {
  audit_events "$1"
  jq -c "select($2)" <<<"$RUN_OUT" | grep -c . || true
}

# audit_count_is EVENT FILTER N: for wait_for.
audit_count_is() {
  [[ $(audit_count "$1" "$2") == "$3" ]]
}

ROLE_WITHHELD="medication_and_physical_health,risk_summary,safeguarding"

# ---- 1. no agreement: NO_AGREEMENT, naming both organisations -------------
run baton_as provider send --to housing --json "$(referral consent)" --id ag-ref-1
assert_rc 3 "referral without an agreement"
assert_json code NO_AGREEMENT
text=$(json_get text)
assert_contains "$text" "'$ORG_P'" "NO_AGREEMENT text names the sender's organisation"
assert_contains "$text" "'$ORG_H'" "NO_AGREEMENT text names the recipient's organisation"
assert_contains "$text" "batonctl agreement add" "NO_AGREEMENT text says what to do"
audit_export provider/ag-ref-1
assert_eq "submit_refused" "$(audit_seq submitted submit_refused)" \
  "audit of the refused referral"
assert_eq "NO_AGREEMENT" \
  "$(jq -r 'select(.event == "submit_refused") | .outcome' <<<"$AUDIT_JSONL")" \
  "outcome of the refusal"
assert_contains "$(jq -r 'select(.event == "submit_refused") | .reason' <<<"$AUDIT_JSONL")" \
  "$ORG_H" "the refusal's recorded reason"

# ---- 2. the lawful basis: none, or one the route does not accept ----------
run baton_as provider send --to housing --json "$(referral none)" --id ag-ref-2
assert_rc 3 "referral without a lawful basis"
assert_json code NO_LAWFUL_BASIS
text=$(json_get text)
assert_contains "$text" "consent, direct_care" "NO_LAWFUL_BASIS names the accepted bases"
assert_contains "$text" "states none" "NO_LAWFUL_BASIS says none was stated"
run baton_as provider send --to housing --json "$(referral vital_interests)" --id ag-ref-3
assert_rc 3 "referral on a basis the route does not accept"
assert_json code NO_LAWFUL_BASIS
text=$(json_get text)
assert_contains "$text" "consent, direct_care" "NO_LAWFUL_BASIS names the accepted bases"
assert_contains "$text" "'vital_interests'" "NO_LAWFUL_BASIS names the basis stated"
for id in ag-ref-2 ag-ref-3; do
  audit_export "provider/$id"
  assert_eq "NO_LAWFUL_BASIS" \
    "$(jq -r 'select(.event == "submit_refused") | .outcome' <<<"$AUDIT_JSONL")" \
    "audited refusal of $id"
done

# A route without terms is not affected: cmht -> housing, no basis, no agreement.
run baton_as cmht send --to housing --json "$(referral none)" --id cmht-ref-1
assert_rc 0 "cmht's referral to housing (route without terms)"
assert_json code OK
run baton_as housing recv --wait 10 --max 1
assert_rc 0 "recv cmht's referral"
assert_json reference cmht/cmht-ref-1
assert_json '.withheld | sort | join(",")' "$ROLE_WITHHELD"
audit_export cmht/cmht-ref-1
assert_eq "" "$(jq -r 'select(.event == "delivered") | .detail // ""' <<<"$AUDIT_JSONL")" \
  "no basis or agreement on a route without terms"
assert_queue_empty housing
assert_queue_empty provider

# ---- 3. an agreement narrowing the sections: the referral goes ------------
today=$(date -u +%Y-%m-%d)
until1=$(instant 22)
until1_s=$(date -u -d "$until1" +%s)
run "$BATONCTL" agreement add --data "$DATA_DIR" --between "$ORG_P" \
  --and "$ORG_H" --ref DSA-RCT-SHO-1 --from "$today" --until "$until1" \
  --sections subject,contacts,transition
assert_rc 0 "agreement add ag-1"
assert_contains "$RUN_OUT" "added agreement ag-1" "the first agreement's id"
assert_contains "$RUN_OUT" "until $until1" "ag-1 lapses at the instant given"

run baton_as provider send --to housing --json "$(referral consent)" --id ag-ref-4
assert_rc 0 "referral under ag-1"
assert_json code OK
assert_json reference provider/ag-ref-4
run baton_as housing recv --wait 10 --max 1
assert_rc 0 "recv the referral under ag-1"
assert_eq 1 "$(count_lines "$RUN_OUT")" "deliveries to housing"
assert_json reference provider/ag-ref-4
assert_json '.withheld | sort | join(",")' \
  "crisis_plan,medication_and_physical_health,risk_summary,safeguarding,support_plan"
assert_json '.handover | keys | join(",")' "contacts,subject,transition"
assert_json '.handover.transition.lawful_basis' LAWFUL_BASIS_CONSENT
jq -c '{subject, contacts, transition}' "$T/referral-consent.json" >"$T/narrowed.json"
same_handover "$T/narrowed.json" "$(json_get .handover)" "sections ag-1 shares"
audit_export provider/ag-ref-4
assert_eq "submitted queued delivered acknowledged" \
  "$(audit_seq submitted queued delivered acknowledged)" "records of ag-ref-4"
delivered=$(jq -c 'select(.event == "delivered")' <<<"$AUDIT_JSONL")
assert_json detail "lawful_basis=consent agreement=ag-1" "$delivered"
assert_json detail "lawful_basis=consent agreement=ag-1" \
  "$(jq -c 'select(.event == "submitted")' <<<"$AUDIT_JSONL")"

# ---- 4. lapsing within 30 days: warned once --------------------------------
wait_for "the lapse warning in the broker log" 10 \
  log_count_above 'agreement ag-1 between .* lapses at' 0
wait_for "an agreement_lapsing record for ag-1" 10 \
  audit_count_is agreement_lapsing '.detail == "agreement=ag-1"' 1
sleep 2.5	# the review runs each second: it must not warn again
assert_eq 1 "$(count_in_log 'agreement ag-1 between .* lapses at')" "lapse warnings logged"
audit_events agreement_lapsing
assert_eq 1 "$(count_lines "$RUN_OUT")" "agreement_lapsing records"
rec=$RUN_OUT
assert_json actor broker "$rec"
assert_json reason "lapses at $until1" "$rec"
assert_eq 0 "$(audit_count agreement_lapsed 'true')" "agreement_lapsed records before the lapse"

# ---- 5. queued when the agreement lapses: held -----------------------------
run baton_as provider send --to housing --json "$(referral direct_care)" --id ag-ref-5
assert_rc 0 "referral queued under ag-1"
assert_json code OK
now=$(date +%s)
((until1_s - now >= 3)) || fail "test too slow: ag-1 lapses ${until1_s}-${now} s after ag-ref-5 was sent"
log "waiting $((until1_s + 2 - now)) s for ag-1 to lapse"
sleep $((until1_s + 2 - now))

run baton_as provider send --to housing --json "$(referral consent)" --id ag-ref-6
assert_rc 3 "referral after ag-1 lapsed"
assert_json code NO_AGREEMENT
wait_for "an agreement_lapsed record for ag-1" 10 \
  audit_count_is agreement_lapsed '.detail == "agreement=ag-1"' 1
wait_for "the lapse in the broker log" 10 \
  log_count_above "agreement ag-1 between .* lapsed at $until1" 0

# housing asks: the lapsed agreement's handover is not delivered
RECV_WAIT=3 recv_all housing
assert_eq 0 "$(count_lines "$RUN_OUT")" "deliveries to housing after ag-1 lapsed"
run baton_as provider status ag-ref-5 --json
assert_rc 0 "status of the held referral"
assert_json state held
assert_eq "submitted queued held" "$(status_events)" "history of the held referral"
assert_json '.events[2].actor' broker
assert_contains "$(json_get '.events[2].note // .events[2].reason // ""')" "$ORG_H" \
  "the held event says why"
# the sender is told, once
recv_until provider '.kind == "NOTICE_KIND_HELD"' 10
notice=$RUN_OUT
assert_json type notice "$notice"
assert_json message_id ag-ref-5 "$notice"
assert_json reference provider/ag-ref-5 "$notice"
assert_json recipient housing "$notice"
assert_contains "$(json_get note "$notice")" "'$ORG_P'" "HELD notice names the sender's organisation"
assert_contains "$(json_get note "$notice")" "'$ORG_H'" "HELD notice names the recipient's organisation"
assert_queue_empty provider
sleep 1.5	# still held, and the lapse not recorded twice
assert_queue_empty housing
assert_eq 1 "$(audit_count agreement_lapsed 'true')" "agreement_lapsed records"
assert_eq 1 "$(audit_count agreement_lapsing 'true')" "agreement_lapsing records after the lapse"
audit_export provider/ag-ref-5
assert_eq "submitted queued held notice_queued notice_delivered notice_acknowledged" \
  "$(audit_seq submitted queued held released delivered notice_queued notice_delivered notice_acknowledged)" \
  "records of the held referral"
held=$(jq -c 'select(.event == "held")' <<<"$AUDIT_JSONL")
assert_json outcome NO_AGREEMENT "$held"
assert_json actor broker "$held"
assert_json detail "lawful_basis=direct_care agreement=ag-1" "$held"

# ---- 6. a new agreement releases it ----------------------------------------
year=$(($(date -u +%Y) + 1))
run "$BATONCTL" agreement add --data "$DATA_DIR" --between "$ORG_H" \
  --and "$ORG_P" --ref DSA-RCT-SHO-2 --from "$today" --until "$year-12-31"
assert_rc 0 "agreement add ag-2"
assert_contains "$RUN_OUT" "added agreement ag-2" "the second agreement's id"

wait_for "ag-ref-5 released" 10 \
  audit_count_is released '.message_id == "provider/ag-ref-5"' 1
recv_until housing '.reference == "provider/ag-ref-5"' 10
delivery=$RUN_OUT
assert_json '.withheld | sort | join(",")' "$ROLE_WITHHELD" "$delivery"
assert_json '.handover | keys | join(",")' \
  "contacts,crisis_plan,subject,support_plan,transition" "$delivery"
jq -c '{subject, contacts, crisis_plan, support_plan, transition}' \
  "$T/referral-direct_care.json" >"$T/permitted.json"
same_handover "$T/permitted.json" "$(json_get .handover "$delivery")" \
  "the released referral, under ag-2"
assert_eq 1 "$(items housing '.reference == "provider/ag-ref-5"')" \
  "deliveries of the released referral"

run baton_as provider status ag-ref-5 --json
assert_rc 0 "status of the released referral"
assert_json state acknowledged
assert_eq "submitted queued held released delivered acknowledged" "$(status_events)" \
  "history of the released referral"
audit_export provider/ag-ref-5
assert_eq "submitted queued held released delivered acknowledged" \
  "$(audit_seq submitted queued held released delivered acknowledged)" \
  "records of the released referral"
assert_json detail "lawful_basis=direct_care agreement=ag-2" \
  "$(jq -c 'select(.event == "delivered")' <<<"$AUDIT_JSONL")"
assert_json actor broker "$(jq -c 'select(.event == "released")' <<<"$AUDIT_JSONL")"

# ... and new referrals go under ag-2, whole for the role
run baton_as provider send --to housing --json "$(referral consent)" --id ag-ref-7
assert_rc 0 "referral under ag-2"
RECV_WAIT=5 recv_all housing --max 1
assert_json reference provider/ag-ref-7
assert_json '.withheld | sort | join(",")' "$ROLE_WITHHELD"
audit_export provider/ag-ref-7
assert_json detail "lawful_basis=consent agreement=ag-2" \
  "$(jq -c 'select(.event == "delivered")' <<<"$AUDIT_JSONL")"

assert_queue_empty housing
assert_queue_empty provider

# 'agreements required': every route between two organisations is gated.
# cmht -> housing, ungated above, now needs an agreement between Northside
# CMHT and the housing organisation; provider -> housing goes on under
# ag-2. A reload applies it.
printf 'agreements required\n' >>"$BROKER_POLICY"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "reload with agreements required"
run baton_as cmht send --to housing --json "$(referral none)" --id cmht-ref-2
assert_rc 3 "cmht -> housing under agreements required"
assert_json code NO_AGREEMENT
[[ "$(json_get text)" == *"$ORG_C"* ]] ||
  fail "NO_AGREEMENT does not name cmht's organisation: $(json_get text)"
run baton_as provider send --to housing --json "$(referral consent)" --id ag-ref-8
assert_rc 0 "provider -> housing under ag-2 and agreements required"

run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify"
assert_broker_alive
stop_broker

# No handover content in the broker's log.
v=$(jq -r '.safeguarding.concerns[0]' "$EXAMPLE_HANDOVER")
if grep -qF -- "$v" "$BROKER_LOG"; then
  fail "broker log contains handover content"
fi
