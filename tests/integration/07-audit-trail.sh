#!/usr/bin/env bash
#
# 07-audit-trail: `batonctl audit trail --subject` tells one person's
# story exactly. A policy with deadlines in seconds (critical 3s,
# retention 6s) and five handovers about the same person, across roles
# and risk levels: one accepted (low, provider -> cmht), one rejected with
# its reason (medium, provider -> gp), one redirected twice (high, cmht ->
# crisis -> gp -> provider, then accepted), one escalated (critical,
# provider -> crisis, left undecided) and one expired (medium, gp ->
# housing, which never connects). A sixth handover, about another person,
# is not in the trail. The JSON names every event in order with its
# actor, role, organisation, reason, sections and times since submit and
# delivery; status reads and notices are counts; the text fits 80
# columns; --message gives one handover; the query is recorded as
# audit_read with the subject's reference, never the number.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

CRITICAL_MS=3000
RETENTION_MS=6000
OTHER_NHS="943 476 5919"	# a valid NHS number that is not the example's

BROKER_POLICY=$T/policy.conf
cat >"$BROKER_POLICY" <<'EOF'
deadline critical 3s
deadline high 1h
deadline medium 1h
deadline low 1h
escalate crisis
retention 6s
purge 30d
role provider
    receive all
    send cmht any
    send gp any
    send crisis any
role cmht
    receive all
    send crisis any
    send gp any
role gp
    receive all
    send provider any
    send housing any
role crisis
    receive all
    send gp any
role housing
    receive subject contacts crisis_plan support_plan transition
EOF

setup_four_nodes
issue_node_cert housing
add_node housing housing "Sampleton Housing Options"
start_broker

nhs=$(jq -r '.subject.nhs_number' "$EXAMPLE_HANDOVER")

# handover NAME RISK KIND [NHS]: the example handover with this risk level
# and kind (and subject), as $T/NAME.json.
handover() {
  jq --arg r "RISK_LEVEL_$2" --arg k "TRANSITION_KIND_$3" \
     --arg n "${4:-$nhs}" \
     '.risk_summary.level = $r | .transition.kind = $k |
      .subject.nhs_number = $n' "$EXAMPLE_HANDOVER" >"$T/$1.json"
}

# send FROM TO NAME: submits $T/NAME.json as id NAME.
send() {
  run baton_as "$1" send --to "$2" --json "$T/$3.json" --id "$3"
  assert_rc 0 "send $3 from $1 to $2"
}

# take NODE REF: NODE receives (and acknowledges) its items up to the
# handover REF (notices about earlier ones may come first).
take() {
  recv_until "$1" ".reference == \"$2\"" 15
}

# state_is FROM ID STATE: the sender's status of ID is STATE.
state_is() {
  [[ "$(baton_as "$1" status "$2" --json | jq -r .state)" == "$3" ]]
}

# escalated FROM ID: the status of ID shows its escalation.
escalated() {
  baton_as "$1" status "$2" --json |
    jq -e '.events | map(.event) | index("escalated")' >/dev/null
}

handover h-accept LOW REFERRAL
handover h-reject MEDIUM DISCHARGE
handover h-bounce HIGH CRISIS_HANDOVER
handover h-late CRITICAL STEP_UP
handover h-expire MEDIUM TRANSFER
handover h-other LOW REFERRAL "$OTHER_NHS"

# The expiring one first: it has the full retention to sit unread.
send gp housing h-expire
send provider cmht h-accept
take cmht provider/h-accept
run baton_as cmht accept provider/h-accept
assert_rc 0 "accept h-accept"
send provider gp h-reject
take gp provider/h-reject
run baton_as gp reject provider/h-reject --reason WRONG_SERVICE
assert_rc 0 "reject h-reject"
send cmht crisis h-bounce
take crisis cmht/h-bounce
run baton_as crisis redirect cmht/h-bounce --to gp
assert_rc 0 "redirect h-bounce to gp"
take gp cmht/h-bounce
run baton_as gp redirect cmht/h-bounce --to provider
assert_rc 0 "redirect h-bounce to provider"
take provider cmht/h-bounce
run baton_as provider accept cmht/h-bounce
assert_rc 0 "accept h-bounce"
send provider cmht h-other
take cmht provider/h-other
# The escalated one last: its 3 s run while the others are checked.
send provider crisis h-late
take crisis provider/h-late
# Two status reads of one handover, by its sender.
for _ in 1 2; do
  run baton_as provider status h-accept --json
  assert_rc 0 "status of h-accept"
done

wait_for "h-late escalated" 20 escalated provider h-late
wait_for "h-expire expired" 20 state_is gp h-expire expired

# ---- the trail, for scripts ------------------------------------------------
run "$BATONCTL" audit trail --data "$DATA_DIR" --subject "$nhs" --json
assert_rc 0 "audit trail --subject --json"
trail=$RUN_OUT
jq -e . >/dev/null <<<"$trail" || fail "audit trail --json is not one JSON document"

# t FILTER: jq -r FILTER over the trail.
t() {
  jq -r "$1" <<<"$trail"
}
# h ID FILTER: jq -r FILTER over the handover ID of the trail.
h() {
  jq -r --arg id "$1" ".handovers[] | select(.message_id == \$id) | $2" \
    <<<"$trail"
}

assert_eq "gp/h-expire provider/h-accept provider/h-reject cmht/h-bounce provider/h-late" \
  "$(t '.handovers | map(.message_id) | join(" ")')" "handovers in the trail, in order"
refs=$(t .subject_ref)
[[ "$refs" =~ ^[0-9a-f]{64}$ ]] || fail "trail subject_ref is '$refs'"
assert_eq false "$(t .truncated)" "trail truncated"

# Accepted: provider -> cmht, low referral.
assert_eq "submitted delivered acknowledged accepted" \
  "$(h provider/h-accept '.events | map(.event) | join(" ")')" "events of h-accept"
assert_eq "low referral accepted cmht" \
  "$(h provider/h-accept '"\(.risk) \(.kind) \(.state) \(.recipient)"')" "h-accept"
assert_eq "provider provider Northside Community Wellbeing" \
  "$(h provider/h-accept '"\(.sender.node) \(.sender.role) \(.sender.org)"')" \
  "sender of h-accept"
assert_eq "cmht cmht Northside CMHT" \
  "$(h provider/h-accept '.events[1] | "\(.actor) \(.actor_role) \(.actor_org)"')" \
  "h-accept delivered to"
assert_eq 2 "$(h provider/h-accept .status_reads)" "status reads of h-accept"
assert_eq 1 "$(h provider/h-accept .notices.queued)" "notices queued about h-accept"
assert_contains "$(h provider/h-accept '.events[1].disclosed | join(",")')" \
  risk_summary "sections disclosed to cmht"
assert_eq 0 "$(h provider/h-accept '.events[1].withheld | length')" \
  "sections withheld from cmht"

# Rejected by gp, with its reason.
assert_eq "submitted delivered acknowledged rejected" \
  "$(h provider/h-reject '.events | map(.event) | join(" ")')" "events of h-reject"
assert_eq "medium discharge rejected" \
  "$(h provider/h-reject '"\(.risk) \(.kind) \(.state)"')" "h-reject"
assert_eq "gp gp wrong_service" \
  "$(h provider/h-reject '.events[3] | "\(.actor) \(.actor_role) \(.reason)"')" \
  "the rejection"

# Redirected twice, then accepted.
assert_eq "submitted delivered acknowledged redirected delivered acknowledged redirected delivered acknowledged accepted" \
  "$(h cmht/h-bounce '.events | map(.event) | join(" ")')" "events of h-bounce"
assert_eq "crisis gp provider" "$(h cmht/h-bounce '.recipients | join(" ")')" \
  "recipients of h-bounce, in turn"
assert_eq "crisis>gp gp>provider" \
  "$(h cmht/h-bounce '[.events[] | select(.event == "redirected") |
     "\(.actor)>\(.other)"] | join(" ")')" "who redirected to whom"
assert_eq "high crisis_handover accepted provider cmht" \
  "$(h cmht/h-bounce '"\(.risk) \(.kind) \(.state) \(.recipient) \(.sender.node)"')" \
  "h-bounce"

# Escalated: critical, acknowledged by crisis, undecided past 3 s.
assert_eq "submitted delivered acknowledged escalated" \
  "$(h provider/h-late '.events | map(.event) | join(" ")')" "events of h-late"
assert_eq "critical step_up acknowledged true" \
  "$(h provider/h-late '"\(.risk) \(.kind) \(.state) \(.escalated)"')" "h-late"
assert_contains "$(h provider/h-late '.events[3].reason')" "critical risk" \
  "escalation reason"
esc=$(h provider/h-late '.events[3].since_submit_ms')
((esc >= CRITICAL_MS && esc < CRITICAL_MS + 15000)) ||
  fail "escalated $esc ms after submit (deadline $CRITICAL_MS)"

# Expired: never delivered to housing.
assert_eq "submitted expired" \
  "$(h gp/h-expire '.events | map(.event) | join(" ")')" "events of h-expire"
assert_eq "medium transfer expired housing" \
  "$(h gp/h-expire '"\(.risk) \(.kind) \(.state) \(.recipient)"')" "h-expire"
exp=$(h gp/h-expire '.events[1].since_submit_ms')
((exp >= RETENTION_MS && exp < RETENTION_MS + 15000)) ||
  fail "expired $exp ms after submit (retention $RETENTION_MS)"

# Times: every delivery and decision says how long after submit; every
# decision how long after its delivery to the node deciding, no longer.
assert_eq 0 "$(t '[.handovers[].events[] | select(.event == "delivered" or
  .event == "accepted" or .event == "rejected" or .event == "redirected") |
  select(.since_submit_ms == null)] | length')" "deliveries and decisions without since_submit_ms"
assert_eq 0 "$(t '[.handovers[].events[] | select(.event == "accepted" or
  .event == "rejected" or .event == "redirected") |
  select(.since_delivery_ms == null or .since_delivery_ms > .since_submit_ms)] |
  length')" "decisions without a sound since_delivery_ms"
assert_eq 0 "$(t '[.handovers[].events[] | select(.event == "submitted" or
  .event == "acknowledged") | select(.since_submit_ms != null)] | length')" \
  "since_submit_ms where it does not apply"
# The last hop's delivery is after the first: its decision counts from it.
first=$(h cmht/h-bounce '.events[1].since_submit_ms')
last=$(h cmht/h-bounce '.events[7].since_submit_ms')
accept_s=$(h cmht/h-bounce '.events[9].since_submit_ms')
accept_d=$(h cmht/h-bounce '.events[9].since_delivery_ms')
((last >= first && accept_s - accept_d >= last - 50 && accept_s - accept_d <= last + 50)) ||
  fail "h-bounce accepted $accept_s ms after submit, $accept_d after delivery; last delivery at $last"

# Another person's handover is not in it, and the number is nowhere.
assert_not_contains "$trail" "h-other" "trail of another person"
assert_not_contains "$trail" "$nhs" "trail output"
assert_not_contains "$trail" "${nhs// /}" "trail output"

# ---- the trail, for people -------------------------------------------------
run "$BATONCTL" audit trail --data "$DATA_DIR" --subject "$nhs"
assert_rc 0 "audit trail --subject"
text=$RUN_OUT
wide=$(awk 'length > 80' <<<"$text" | head -n 1)
[[ -z "$wide" ]] || fail "trail line wider than 80 columns: '$wide'"
for want in "cmht/h-bounce" "rejected" "wrong_service" "redirected" \
    "to crisis (crisis, Crisis" "escalated" "expired" "status reads 2;" \
    "disclosed:" "5 handovers"; do
  assert_contains "$text" "$want" "trail text"
done
assert_not_contains "$text" "h-other" "trail text of another person"

# One handover by its reference.
run "$BATONCTL" audit trail --data "$DATA_DIR" --message cmht/h-bounce --json
assert_rc 0 "audit trail --message"
assert_json '.handovers | map(.message_id) | join(" ")' cmht/h-bounce
assert_json '.handovers[0].events | length' 10

# The NHS number from standard input gives the same handovers.
run bash -c "printf '%s\n' '$nhs' | '$BATONCTL' audit trail --data '$DATA_DIR' --subject - --json"
assert_rc 0 "audit trail --subject -"
assert_eq "$(t '.handovers | map(.message_id) | join(" ")')" \
  "$(json_get '.handovers | map(.message_id) | join(" ")')" "trail with --subject -"
# It counts the reads of this person's records, itself included.
assert_json audit_reads 3

# Usage: one of --subject and --message, a valid number.
run "$BATONCTL" audit trail --data "$DATA_DIR"
assert_rc 2 "audit trail with neither --subject nor --message"
run "$BATONCTL" audit trail --data "$DATA_DIR" --subject "$nhs" --message cmht/h-bounce
assert_rc 2 "audit trail with both"
run "$BATONCTL" audit trail --data "$DATA_DIR" --subject 1234567890
assert_rc 2 "audit trail of an invalid NHS number"
run "$BATONCTL" audit trail --data "$DATA_DIR" --subject "$nhs" --event accepted
assert_rc 2 "audit trail --event"

# Every trail is recorded: its subject's reference, never the number.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event audit_read
assert_rc 0 "audit export --event audit_read"
reads=$(jq -c 'select(.reason | startswith("trail "))' <<<"$RUN_OUT")
assert_eq 4 "$(count_lines "$reads")" "trail reads recorded"
assert_eq "$refs" "$(jq -r 'select(.subject_ref != "") | .subject_ref' <<<"$reads" | sort -u)" \
  "trail reads record the subject's reference"
assert_contains "$reads" "message=cmht/h-bounce" "trail --message recorded"
assert_not_contains "$RUN_OUT" "${nhs// /}" "audit_read records"

run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify"
assert_broker_alive
