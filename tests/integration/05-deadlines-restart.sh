#!/usr/bin/env bash
#
# 05-deadlines-restart: deadlines survive restarts. With `deadline high 3s`
# a HIGH handover is sent to cmht (who never collects it) and the broker is
# stopped (SIGTERM) before the deadline. Past the deadline the broker is
# started again: the escalation fires promptly after the restart, and
# crisis and the provider each get exactly one ESCALATED notice. A further
# restart, and time, bring no second one. The audit log records exactly
# one escalation.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

DEADLINE_MS=3000
PROMPT_S=5	# an escalation overdue at start-up is sent within this

now_ms() {
  date +%s%3N
}

BROKER_POLICY=$T/policy.conf
sed 's/^deadline high 4h$/deadline high 3s/' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^deadline high 3s$' "$BROKER_POLICY" ||
  fail "could not shorten the high deadline in the policy copy"

setup_four_nodes
start_broker

id="deadline-restart-1"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "send"
sent_ms=$(date -d "$(json_get received_at)" +%s%3N)
stop_broker
stopped_ms=$(now_ms)
((stopped_ms - sent_ms < DEADLINE_MS)) ||
  fail "test too slow: broker stopped $((stopped_ms - sent_ms)) ms after submit"
if grep -q "escalated id=provider/$id" "$BROKER_LOG"; then
  fail "escalated before the deadline"
fi

# Wait out the deadline on purpose, with the broker down, and a second more.
left_ms=$((sent_ms + DEADLINE_MS + 1000 - $(now_ms)))
((left_ms <= 0)) || sleep "$((left_ms / 1000)).$(printf '%03d' $((left_ms % 1000)))"

start_broker
started_ms=$(now_ms)
recv_until crisis '.kind == "NOTICE_KIND_ESCALATED"' 15
n=$(tail -n 1 "$T/crisis.items")
assert_json message_id "$id" "$n"
assert_json recipient cmht "$n"
at=$(json_get at_ms "$n")
((at - started_ms < PROMPT_S * 1000)) ||
  fail "escalation came $((at - started_ms)) ms after the restart"
((at - sent_ms >= DEADLINE_MS)) || fail "escalated before the deadline"
overdue=$(json_get '.overdue_ms // "0"' "$n")
((overdue >= 1000)) ||
  fail "overdue_ms is '$overdue'; it was overdue by a second at start-up"
recv_until provider '.kind == "NOTICE_KIND_ESCALATED"' 10
assert_json message_id "$id" "$(tail -n 1 "$T/provider.items")"

# Another restart and more time: nothing fires twice.
stop_broker
start_broker
sleep 3
RECV_WAIT=1 recv_all crisis
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/crisis.items"
RECV_WAIT=1 recv_all provider
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/provider.items"
assert_eq 1 "$(items crisis 'true')" "items for crisis"
assert_eq 1 "$(items provider 'true')" "items for provider"
assert_eq 1 "$(grep -c "escalated id=provider/$id" "$BROKER_LOG")" \
  "escalations in the broker log"

# Escalated, still queued for cmht, who gets it as usual.
run baton_as provider status "$id" --json
assert_rc 0 "status after the restarts"
assert_eq "$sent_ms" "$(json_get '.events[0].at_ms')" "submitted at"
assert_json state queued
assert_eq "submitted queued escalated" \
  "$(json_get '.events | map(.event) | join(" ")')" "events"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv as cmht"
assert_json message_id "$id"

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --message "provider/$id"
assert_rc 0 "batonctl audit export --message $id"
assert_eq "submitted queued escalated delivered acknowledged" \
  "$(jq -r 'select(.event | test("^(submitted|queued|escalated|delivered|acknowledged)$")) |
    .event' <<<"$RUN_OUT" | tr '\n' ' ' | sed 's/ $//')" \
  "audit lifecycle of $id"

stop_broker
