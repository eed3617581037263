#!/usr/bin/env bash
#
# 13-pathway-checkin: transition check-ins and the missed-contact protocol
# (policy checkin / review / missed; baton checkin; status .checkins).
# The story: a step-down handover sent by the provider is accepted by the
# CMHT; its check-ins (seconds apart in the test policy) and the review
# before the planned date are scheduled; a missed contact reaches the
# named lead (gp) and the sender, and from the second miss the crisis team.
#
# The policy is deploy/policy.conf without its checkin/review/missed lines,
# plus:
#   checkin step_down 4s then 6s x3 grace 3s   (due +4 +10 +16 +22 s)
#   review before step_down 20d..7d            (planned date 10 days ahead)
#   checkin crisis_handover 2s then 2s x2 grace 3s
#   missed escalate crisis after 2
#
#  1. cmht accepts step_down sd (support_plan.lead_node gp, planned date
#     in 10 days): status (JSON and text) has 4 check-ins then the review,
#     in due order, with indexes, kinds, due times, the review's window
#     and graces.
#  2. cmht records check-in 1 made with a note: made, recorded_by cmht,
#     note shown.
#  3. refusals: the sender NOT_RECIPIENT, the lead and crisis (no party)
#     UNKNOWN_MESSAGE, a recorded index ALREADY_DECIDED, an index past the
#     schedule INVALID, rescheduled without --at a usage error (exit 1),
#     rescheduled to a past time INVALID. Nothing changed.
#  4. cmht records check-in 2 missed: gp (lead) and provider (sender) get
#     one CONTACT_MISSED naming it; crisis none (first miss).
#  5. a crisis handover accepted by crisis has the tighter pattern (3
#     check-ins 2 s apart, grace 3 s); its check-in 3 rescheduled an hour
#     ahead moves its due time and counts once; the old due entry does
#     nothing; the other two go missed unrecorded.
#  6. a referral (no pattern) accepted: no check-ins; baton checkin on it
#     INVALID.
#  7. sd check-in 3 is left unrecorded: after its grace missed_unrecorded,
#     recorded_by broker; gp and provider told; second miss, so crisis gets
#     one CONTACT_MISSED whose note starts "escalated".
#  8. kill -9 while check-in 4 is pending (not yet due), restart on the
#     same data dir: check-in 4 still falls due, on time, and is handled
#     exactly once (one notice each to gp, provider and crisis), and
#     nothing earlier fires again.
#  9. the audit log has checkins_scheduled, checkin_recorded (made,
#     missed), checkin_refused, contact_missed, contact_escalated; no note
#     text is in the audit log or the broker log.
# 10. with libfaketime (else skipped with a log line; the rest still
#     runs): the broker's wall clock stepped +2 days right after an
#     acceptance fires no check-in early; the first one is missed on time,
#     with overdue_ms its grace (the due clock's view), not 2 days.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

DAY_MS=86400000
EARLY_MS=500		# clock granularity allowed before a due time

now_ms() {
  date +%s%3N
}

# --- policy -----------------------------------------------------------------
BROKER_POLICY=$T/policy.conf
grep -Ev '^[[:space:]]*(checkin|review|missed)[[:space:]]' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
cat >>"$BROKER_POLICY" <<'EOF'
checkin step_down 4s then 6s x3 grace 3s
review before step_down 20d..7d
checkin crisis_handover 2s then 2s x2 grace 3s
missed escalate crisis after 2
EOF
assert_eq 4 "$(grep -Ec '^(checkin|review|missed) ' "$BROKER_POLICY")" \
  "contact-pattern lines in the policy copy"

# --- handovers ----------------------------------------------------------------
PLANNED=$(date -u -d '+10 days' +%Y-%m-%d)
PLANNED_MS=$(($(date -u -d "$PLANNED" +%s) * 1000))
NOTE1="seen-at-home-N0TE1x7q"
NOTE2="no-answer-at-door-N0TE2k4w"
NOTE3="moved-by-request-N0TE3p9z"

SD=$T/sd.json
jq --arg d "$PLANNED" '.transition.kind = "TRANSITION_KIND_STEP_DOWN" |
  .transition.planned_date = $d | .support_plan.lead_node = "gp"' \
  "$EXAMPLE_HANDOVER" >"$SD"
CH=$T/ch.json
jq '.transition.kind = "TRANSITION_KIND_CRISIS_HANDOVER"' \
  "$EXAMPLE_HANDOVER" >"$CH"
REF=$T/ref.json
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$REF"

# --- helpers ----------------------------------------------------------------
# send_accept SENDER TO ID FILE: SENDER sends FILE to TO as ID, TO receives
# and accepts it; sets ACCEPTED_MS (the broker's time of the acceptance).
ACCEPTED_MS=
send_accept() {
  local from=$1 to=$2 id=$3 file=$4
  run baton_as "$from" send --to "$to" --json "$file" --id "$id"
  assert_rc 0 "send $id"
  assert_json code OK
  recv_until "$to" ".type == \"handover\" and .message_id == \"$id\"" 15
  run baton_as "$to" accept "$from/$id"
  assert_rc 0 "accept $from/$id"
  run baton_as "$to" status "$from/$id" --json
  assert_rc 0 "status of $from/$id"
  ACCEPTED_MS=$(json_get '. | [.events[] | select(.event == "accepted")][0].at_ms')
  [[ "$ACCEPTED_MS" =~ ^[0-9]+$ ]] || fail "$id: no accepted event in its status"
}

# checkin_as NODE REF ARGS...: baton checkin, as NODE.
checkin_as() {
  local node=$1 ref=$2
  shift 2
  run baton_as "$node" checkin "$ref" "$@"
}

# status_json NODE REF: the status of REF as NODE, into RUN_OUT.
status_json() {
  run baton_as "$1" status "$2" --json
  assert_rc 0 "status of $2 as $1"
}

# ck I FIELD [DEFAULT]: field of check-in I (1-based) of the status in RUN_OUT.
ck() {
  json_get ".checkins[$(($1 - 1))].$2 // \"${3-}\""
}

# assert_ck I FIELD VALUE: ditto, equals VALUE.
assert_ck() {
  local got
  got=$(ck "$1" "$2")
  [[ "$got" == "$3" ]] || fail "check-in $1 .$2: expected '$3', got '$got'"
}

# collect NODE: receives (and acks) whatever is queued for NODE now, into
# $T/NODE.items.
collect() {
  RECV_WAIT=1 recv_all "$1"
  [[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/$1.items"
}

# missed_filter ID [CHECKIN_NO]: jq filter for CONTACT_MISSED notices about
# ID (and, if given, check-in CHECKIN_NO).
missed_filter() {
  local f=".kind == \"NOTICE_KIND_CONTACT_MISSED\" and .message_id == \"$1\""
  [[ -z "${2:-}" ]] || f="$f and (.note | test(\"(^|: )(check-in|review) $2 of \"))"
  printf '%s' "$f"
}

# sleep_until MS: sleeps until the real clock reads MS (Unix ms).
sleep_until() {
  local left=$(($1 - $(now_ms)))
  ((left <= 0)) || sleep "$((left / 1000)).$(printf '%03d' $((left % 1000)))"
}

setup_four_nodes
start_broker

# === 1. the step-down is accepted; its schedule ==============================
send_accept provider cmht sd "$SD"
A=$ACCEPTED_MS
status_json cmht provider/sd
assert_json state accepted
assert_eq 5 "$(json_get '.checkins | length')" "check-ins of sd"
assert_eq "1 2 3 4 5" "$(json_get '. | [.checkins[].index] | map(tostring) | join(" ")')" \
  "indexes of sd's check-ins"
assert_eq "checkin checkin checkin checkin review" \
  "$(json_get '. | [.checkins[].kind] | join(" ")')" "kinds of sd's check-ins"
assert_eq true "$(json_get '. | [.checkins[].due_at_ms | tonumber] | . == sort')" \
  "sd's check-ins in due order"
i=1
for off in 4000 10000 16000 22000; do
  assert_ck $i due_at_ms $((A + off))
  assert_ck $i grace_ms 3000
  assert_ck $i state pending
  assert_eq 0 "$(ck $i window_from_ms 0)" "check-in $i window_from_ms"
  i=$((i + 1))
done
# the review: due 7 days before the planned date, its window opening 20
assert_ck 5 due_at_ms $((PLANNED_MS - 7 * DAY_MS))
assert_ck 5 window_from_ms $((PLANNED_MS - 20 * DAY_MS))
assert_ck 5 grace_ms $DAY_MS		# no grace of its own: missed grace (24h)
assert_ck 5 state pending
assert_contains "$(status_events)" "accepted checkins_scheduled" "events of sd"
assert_contains "$(json_get '.events[] | select(.event == "checkins_scheduled") | .reason')" \
  "5 check-ins" "checkins_scheduled reason"
# the sender sees the schedule too
status_json provider sd
assert_eq 5 "$(json_get '.checkins | length')" "check-ins of sd as the sender"
# text form: one line per check-in, in order, with kind and index
run baton_as cmht status provider/sd
assert_rc 0 "status (text) of sd"
assert_eq "checkin 1 pending|checkin 2 pending|checkin 3 pending|checkin 4 pending|review 5 pending" \
  "$(awk '$1 ~ /^(checkin|review)$/ && $3 == "due" { printf "%s%s %s %s", sep, $1, $2, $5; sep = "|" }' <<<"$RUN_OUT")" \
  "check-in lines of the text status"
log "sd accepted at $A: 4 check-ins and the review scheduled"

# === 2. check-in 1 made, with a note ==========================================
checkin_as cmht provider/sd --outcome made --note "$NOTE1"
assert_rc 0 "cmht records check-in 1 made"
assert_json code OK
assert_json index 1
status_json cmht provider/sd
assert_ck 1 state made
assert_ck 1 recorded_by cmht
assert_ck 1 note "$NOTE1"
assert_ck 2 state pending
run baton_as cmht status provider/sd
assert_contains "$RUN_OUT" "made (cmht)  note: $NOTE1" "text status of check-in 1"

# === 3. refusals ==============================================================
checkin_as provider provider/sd --outcome made --index 2
assert_rc 3 "the sender records a check-in"
assert_json code NOT_RECIPIENT
checkin_as gp provider/sd --outcome made --index 2
assert_rc 3 "the lead (no party) records a check-in"
assert_json code UNKNOWN_MESSAGE
checkin_as crisis provider/sd --outcome missed --index 2
assert_rc 3 "crisis (no party) records a check-in"
assert_json code UNKNOWN_MESSAGE
checkin_as cmht provider/sd --outcome missed --index 1
assert_rc 3 "check-in 1 recorded again"
assert_json code ALREADY_DECIDED
checkin_as cmht provider/sd --outcome made --index 9
assert_rc 3 "check-in 9 of 5"
assert_json code INVALID
checkin_as cmht provider/sd --outcome rescheduled --index 2
assert_rc 1 "rescheduled without --at"
checkin_as cmht provider/sd --outcome made --at "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)"
assert_rc 1 "--at without rescheduled"
checkin_as cmht provider/sd --outcome rescheduled --index 2 \
  --at "$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)"
assert_rc 3 "rescheduled to a past time"
assert_json code INVALID
status_json cmht provider/sd
assert_eq "made pending pending pending pending" \
  "$(json_get '. | [.checkins[].state] | join(" ")')" "states after the refusals"
assert_eq 0 "$(json_get '. | [.checkins[].rescheduled // 0] | add')" \
  "reschedules after the refusals"
assert_ck 2 due_at_ms $((A + 10000))

# === 4. check-in 2 recorded missed: the lead and the sender are told ==========
checkin_as cmht provider/sd --outcome missed --index 2 --note "$NOTE2"
assert_rc 0 "cmht records check-in 2 missed"
assert_json code OK
assert_json index 2
recv_until gp "$(missed_filter sd 2)" 10
recv_until provider "$(missed_filter sd 2)" 10
n=$(jq -c "select($(missed_filter sd 2))" "$T/gp.items" | head -n 1)
assert_json sender provider "$n"
assert_json recipient cmht "$n"
assert_contains "$(json_get note "$n")" "recorded missed by cmht" "note of the lead's notice"
assert_not_contains "$(json_get note "$n")" "$NOTE2" "the lead's notice"
status_json cmht provider/sd
assert_ck 2 state missed
assert_ck 2 recorded_by cmht
assert_ck 2 note "$NOTE2"
assert_eq 1 "$(json_get '. | [.events[] | select(.event == "contact_missed")] | length')" \
  "contact_missed events after the first miss"
assert_eq gp "$(json_get '.events[] | select(.event == "contact_missed") | .other')" \
  "the contact_missed event names the lead"
assert_eq 0 "$(json_get '. | [.events[] | select(.event == "contact_escalated")] | length')" \
  "contact_escalated events after the first miss"
collect crisis
assert_eq 0 "$(items crisis "$(missed_filter sd)")" "crisis told of sd's first miss"
log "check-in 2 recorded missed: gp and provider told, crisis not"

# === 5. the crisis handover: tighter pattern, reschedule =====================
send_accept provider crisis ch "$CH"
B=$ACCEPTED_MS
AT=$(date -u -d '@'$((B / 1000 + 3600)) +%Y-%m-%dT%H:%M:%SZ)
AT_MS=$(($(date -u -d "$AT" +%s) * 1000))
checkin_as crisis provider/ch --outcome rescheduled --index 3 --at "$AT" \
  --note "$NOTE3"
assert_rc 0 "crisis reschedules check-in 3 of ch"
assert_json index 3
status_json crisis provider/ch
assert_eq 3 "$(json_get '.checkins | length')" "check-ins of ch"
assert_eq "checkin checkin checkin" "$(json_get '. | [.checkins[].kind] | join(" ")')" \
  "kinds of ch's check-ins"
assert_ck 1 due_at_ms $((B + 2000))
assert_ck 2 due_at_ms $((B + 4000))
assert_ck 3 due_at_ms "$AT_MS"
for i in 1 2 3; do
  assert_ck $i grace_ms 3000
done
assert_ck 3 rescheduled 1
assert_ck 3 state pending
assert_ck 3 note "$NOTE3"
checkin_as crisis provider/ch --outcome rescheduled --index 3 \
  --at "$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)"
assert_rc 3 "ch check-in 3 rescheduled to the past"
assert_json code INVALID

# === 6. a referral has no pattern ==============================================
send_accept provider cmht ref1 "$REF"
status_json cmht provider/ref1
assert_eq 0 "$(json_get '.checkins // [] | length')" "check-ins of the referral"
assert_not_contains "$(status_events)" checkins_scheduled "events of the referral"
checkin_as cmht provider/ref1 --outcome made
assert_rc 3 "checkin on the referral"
assert_json code INVALID
assert_contains "$(json_get text)" "no check-ins" "refusal text"

# === 7. check-in 3 unrecorded: missed by the broker, second miss escalates ====
# (due A+16 s, grace 3 s)
wait_for "sd check-in 3 missed in the broker log" 30 \
  grep -q "contact missed id=provider/sd checkin=3 " "$BROKER_LOG"
# === 8. kill -9 while check-in 4 (due A+22 s) is pending ======================
((A + 22000 - $(now_ms) > 1000)) ||
  fail "test too slow: check-in 4 of sd is (nearly) due before the kill"
kill_broker
log "broker killed $(($(now_ms) - A)) ms after acceptance, check-in 4 of sd pending"
start_broker
restarted_ms=$(now_ms)
((restarted_ms < A + 25000)) ||
  log "note: the restart took until after check-in 4's grace; it falls due at start-up"

# check-in 3: lead, sender and (second miss) crisis
recv_until gp "$(missed_filter sd 3)" 10
recv_until provider "$(missed_filter sd 3)" 10
recv_until crisis "$(missed_filter sd 3)" 10
n=$(jq -c "select($(missed_filter sd 3))" "$T/crisis.items" | head -n 1)
[[ "$(json_get note "$n")" == "escalated ("* ]] ||
  fail "crisis's notice of the second miss: note '$(json_get note "$n")' does not start with 'escalated ('"
assert_contains "$(json_get note "$n")" "missed contact 2" "escalation reason"
assert_contains "$(json_get note "$n")" "was not recorded within 3s" "escalation note"
n=$(jq -c "select($(missed_filter sd 3))" "$T/gp.items" | head -n 1)
at=$(json_get at_ms "$n")
((at >= A + 19000 - EARLY_MS)) || fail "check-in 3 missed $((at - A)) ms after acceptance: early"
status_json cmht provider/sd
assert_ck 3 state missed_unrecorded
assert_ck 3 recorded_by broker
assert_eq "" "$(ck 3 note)" "note of the unrecorded check-in"
checkin_as cmht provider/sd --outcome made --index 3
assert_rc 3 "recording a check-in missed unrecorded"
assert_json code ALREADY_DECIDED

# check-in 4 after the restart: on time, once
recv_until gp "$(missed_filter sd 4)" 15
recv_until provider "$(missed_filter sd 4)" 10
recv_until crisis "$(missed_filter sd 4)" 10
n=$(jq -c "select($(missed_filter sd 4))" "$T/gp.items" | head -n 1)
at=$(json_get at_ms "$n")
((at >= A + 25000 - EARLY_MS)) ||
  fail "check-in 4 missed $((at - A)) ms after acceptance: before due + grace"
[[ "$(jq -r "select($(missed_filter sd 4)) | .note" "$T/crisis.items")" == "escalated ("* ]] ||
  fail "crisis's notice of check-in 4 is not an escalation"
status_json cmht provider/sd
assert_eq "made missed missed_unrecorded missed_unrecorded pending" \
  "$(json_get '. | [.checkins[].state] | join(" ")')" "states of sd after check-in 4"
assert_ck 4 recorded_by broker
# more time: nothing fires twice (the ch check-ins also have passed now)
sleep_until $((B + 9000 + 1000))
sleep 2
for node in gp provider crisis; do
  collect "$node"
done
for c in 2 3 4; do
  assert_eq 1 "$(items gp "$(missed_filter sd $c)")" "notices to gp about sd check-in $c"
  assert_eq 1 "$(items provider "$(missed_filter sd $c)")" \
    "notices to provider about sd check-in $c"
done
assert_eq 0 "$(items crisis "$(missed_filter sd 2)")" "notices to crisis about sd check-in 2"
assert_eq 1 "$(items crisis "$(missed_filter sd 3)")" "notices to crisis about sd check-in 3"
assert_eq 1 "$(items crisis "$(missed_filter sd 4)")" "notices to crisis about sd check-in 4"
assert_eq 3 "$(items gp "$(missed_filter sd)")" "notices to gp about sd"
assert_eq 3 "$(items provider "$(missed_filter sd)")" "CONTACT_MISSED notices to provider about sd"
assert_eq 2 "$(items crisis "$(missed_filter sd)")" "notices to crisis about sd"
assert_eq 0 "$(items cmht "$(missed_filter sd)")" "notices to cmht about sd"
for c in 3 4; do
  assert_eq 1 "$(count_in_log "contact missed id=provider/sd checkin=$c ")" \
    "broker log lines for sd check-in $c"
done
assert_eq 2 "$(count_in_log "contact escalated id=provider/sd to=crisis")" \
  "escalations of sd in the broker log"
status_json cmht provider/sd
assert_eq 3 "$(json_get '. | [.events[] | select(.event == "contact_missed")] | length')" \
  "contact_missed events of sd"
assert_eq 2 "$(json_get '. | [.events[] | select(.event == "contact_escalated")] | length')" \
  "contact_escalated events of sd"
assert_eq "crisis crisis" \
  "$(json_get '. | [.events[] | select(.event == "contact_escalated") | .other] | join(" ")')" \
  "contact_escalated events name crisis"
log "check-ins 3 and 4 of sd missed once each across the kill -9; crisis escalated"

# the crisis handover: 1 and 2 missed unrecorded (told to crisis, the
# accepting team, as no lead is named, and to provider); 3 was moved, so
# its first due entry did nothing
status_json crisis provider/ch
assert_eq "missed_unrecorded missed_unrecorded pending" \
  "$(json_get '. | [.checkins[].state] | join(" ")')" "states of ch"
assert_ck 3 due_at_ms "$AT_MS"
assert_ck 3 rescheduled 1
assert_eq 1 "$(items crisis "$(missed_filter ch 1)")" "notices to crisis about ch check-in 1"
assert_eq 1 "$(items provider "$(missed_filter ch 2)")" "notices to provider about ch check-in 2"
assert_eq 0 "$(items crisis "$(missed_filter ch 3)")" "notices about the rescheduled check-in"
assert_eq 2 "$(json_get '. | [.events[] | select(.event == "contact_missed")] | length')" \
  "contact_missed events of ch"
assert_eq 0 "$(json_get '. | [.events[] | select(.event == "contact_escalated")] | length')" \
  "contact_escalated events of ch (crisis is the lead)"

# === 9. the audit log ==========================================================
audit_export provider/sd
assert_eq 1 "$(jq -c 'select(.event == "checkins_scheduled")' <<<"$AUDIT_JSONL" | grep -c .)" \
  "checkins_scheduled records of sd"
assert_eq "made missed" \
  "$(jq -r 'select(.event == "checkin_recorded") | .outcome' <<<"$AUDIT_JSONL" | tr '\n' ' ' | sed 's/ $//')" \
  "checkin_recorded outcomes of sd"
assert_eq 3 "$(jq -c 'select(.event == "contact_missed")' <<<"$AUDIT_JSONL" | grep -c .)" \
  "contact_missed records of sd"
assert_eq 2 "$(jq -c 'select(.event == "contact_escalated")' <<<"$AUDIT_JSONL" | grep -c .)" \
  "contact_escalated records of sd"
assert_eq "NOT_RECIPIENT UNKNOWN_MESSAGE UNKNOWN_MESSAGE ALREADY_DECIDED INVALID INVALID ALREADY_DECIDED" \
  "$(jq -r 'select(.event == "checkin_refused") | .outcome' <<<"$AUDIT_JSONL" | tr '\n' ' ' | sed 's/ $//')" \
  "checkin_refused outcomes of sd"
assert_eq "accepted checkins_scheduled checkin_recorded checkin_recorded contact_missed contact_missed contact_escalated contact_missed contact_escalated" \
  "$(audit_seq accepted checkins_scheduled checkin_recorded contact_missed contact_escalated)" \
  "audit sequence of sd"
audit_export provider/ch
assert_eq rescheduled "$(jq -r 'select(.event == "checkin_recorded") | .outcome' <<<"$AUDIT_JSONL")" \
  "checkin_recorded of ch"
audit_export provider/ref1
assert_eq 0 "$(jq -c 'select(.event | test("^(checkins_scheduled|checkin_recorded|contact_)"))' <<<"$AUDIT_JSONL" | grep -c . || true)" \
  "check-in records of the referral"
assert_eq INVALID "$(jq -r 'select(.event == "checkin_refused") | .outcome' <<<"$AUDIT_JSONL")" \
  "checkin_refused of the referral"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl
assert_rc 0 "batonctl audit export"
for note in "$NOTE1" "$NOTE2" "$NOTE3"; do
  assert_not_contains "$RUN_OUT" "$note" "the audit log"
  assert_eq 0 "$(count_in_log "$note")" "note text in the broker log"
done
stop_broker

# === 10. a +2 day wall-clock step fires no check-in early (libfaketime) =======
faketime_lib=$(dpkg -L libfaketime 2>/dev/null |
  grep -m1 '/libfaketime\.so\.1$' || true)
if [[ -z "$faketime_lib" ]]; then
  for _f in /usr/lib/*/faketime/libfaketime.so.1 /usr/lib/faketime/libfaketime.so.1; do
    [[ -e "$_f" ]] && { faketime_lib=$_f; break; }
  done
fi
if [[ -z "$faketime_lib" || ! -e "$faketime_lib" ]]; then
  log "SKIP (clock-step part only): libfaketime not installed (scripts/deps.sh installs faketime)"
  exit 0
fi

FAKE_FILE=$T/faketime
set_offset() {
  printf '%s\n' "$1" >"$FAKE_FILE.new"
  mv -f "$FAKE_FILE.new" "$FAKE_FILE"
  log "broker wall clock: real time $1"
}
REAL_BATOND=$BATOND
preload=$faketime_lib
asan_rt=$(ldd "$REAL_BATOND" | awk '/libasan\.so/ { print $3; exit }')
[[ -z "$asan_rt" ]] || preload="$asan_rt $faketime_lib"
cat >"$T/batond-faketime" <<EOF
#!/bin/sh
LD_PRELOAD="$preload" DONT_FAKE_MONOTONIC=1 FAKETIME_NO_CACHE=1
FAKETIME_TIMESTAMP_FILE="$FAKE_FILE"
export LD_PRELOAD DONT_FAKE_MONOTONIC FAKETIME_NO_CACHE FAKETIME_TIMESTAMP_FILE
exec "$REAL_BATOND" "\$@"
EOF
chmod 700 "$T/batond-faketime"
BATOND=$T/batond-faketime
set_offset +0
STEP_MS=$((2 * DAY_MS))

start_broker
send_accept provider cmht sd-clock "$SD"
C=$ACCEPTED_MS
set_offset +2d
(($(now_ms) - C < 2500)) ||
  fail "test too slow: wall clock stepped $(($(now_ms) - C)) ms after the acceptance"
# check-in 1 is due C+4 s and missed at C+7 s: until C+5 s (a second to
# spare for a slow status) nothing may fire
polls=0
while (($(now_ms) < C + 5000)); do
  status_json cmht provider/sd-clock
  assert_eq "pending pending pending pending pending" \
    "$(json_get '. | [.checkins[].state] | join(" ")')" \
    "sd-clock check-ins $(($(now_ms) - C)) ms after acceptance, wall clock +2 days"
  polls=$((polls + 1))
  sleep 0.3
done
((polls > 0)) || fail "test too slow: sd-clock was never polled before C+5 s"
assert_eq 0 "$(count_in_log 'contact missed id=provider/sd-clock ')" \
  "sd-clock misses before C+5 s"
# ... and check-in 1 is then missed on time, by the due clock
recv_until gp "$(missed_filter sd-clock 1)" 15
n=$(tail -n 1 "$T/gp.items")
at=$(($(json_get at_ms "$n") - STEP_MS))
((at - C >= 7000 - EARLY_MS)) || fail "sd-clock check-in 1 missed $((at - C)) ms after acceptance: early"
((at - C < 7000 + 4000)) || fail "sd-clock check-in 1 missed $((at - C)) ms after acceptance: late"
overdue=$(json_get '.overdue_ms // "0"' "$n")
((overdue >= 3000 - EARLY_MS && overdue < 3000 + 4000)) ||
  fail "sd-clock check-in 1: overdue_ms is '$overdue', not its 3 s grace (the wall clock's view?)"
status_json cmht provider/sd-clock
assert_eq "missed_unrecorded pending pending pending pending" \
  "$(json_get '. | [.checkins[].state] | join(" ")')" "sd-clock check-ins after check-in 1"
assert_ck 1 due_at_ms $((C + 4000))
stop_broker
