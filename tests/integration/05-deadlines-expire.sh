#!/usr/bin/env bash
#
# 05-deadlines-expire: with `retention 4s`, a handover sent to cmht, which
# does not connect, expires: after the retention (not before) the provider
# gets exactly one EXPIRED notice (a non-delivery report); cmht connecting
# later receives nothing and cannot decide on it; status shows expired.
# A handover delivered in time (to gp) does not expire. Nothing is
# escalated (the high deadline stays at 4h). The audit log records the
# expiry once, after submitted and queued, and no delivery.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

RETENTION_MS=4000

BROKER_POLICY=$T/policy.conf
sed 's/^retention 5d$/retention 4s/' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^retention 4s$' "$BROKER_POLICY" ||
  fail "could not shorten the retention in the policy copy"

setup_four_nodes
start_broker

# To cmht, which stays away until the end.
id="deadline-expire-1"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "send to cmht"
run baton_as provider status "$id" --json
assert_rc 0 "status"
assert_json state queued
sent_ms=$(json_get '.events[0].at_ms')

# To gp (a referral, which provider may send it), collected at once.
kept="deadline-expire-kept"
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" \
  >"$T/referral.json"
run baton_as provider send --to gp --json "$T/referral.json" --id "$kept"
assert_rc 0 "send to gp"
run baton_as gp recv --wait 10 --max 1
assert_rc 0 "recv as gp"
assert_json message_id "$kept"

recv_until provider '.kind == "NOTICE_KIND_EXPIRED"' 20
n=$(tail -n 1 "$T/provider.items")
assert_json type notice "$n"
assert_json message_id "$id" "$n"
assert_json sender provider "$n"
assert_json recipient cmht "$n"
at=$(json_get at_ms "$n")
((at - sent_ms >= RETENTION_MS)) ||
  fail "expired $((at - sent_ms)) ms after submit, before the 4 s retention"

# Well past the retention of both, on purpose: no second notice, and the
# delivered one has not expired.
sleep 3
RECV_WAIT=1 recv_all provider
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/provider.items"
assert_eq 1 "$(items provider 'true')" "notices to provider"
run baton_as provider status "$kept" --json
assert_rc 0 "status of $kept"
assert_json state acknowledged

# cmht, connecting now, receives nothing and cannot decide on it.
assert_queue_empty cmht
run baton_as cmht accept "provider/$id"
assert_rc 3 "accept of an expired handover"
assert_json code ALREADY_DECIDED
assert_queue_empty crisis
assert_queue_empty gp

for node in provider cmht; do
  run baton_as "$node" status "provider/$id" --json
  assert_rc 0 "status as $node"
  assert_json state expired
  assert_eq "submitted queued expired" \
    "$(json_get '.events | map(.event) | join(" ")')" "events as $node"
  assert_json '.events[2].actor' broker
done

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --message "provider/$id"
assert_rc 0 "batonctl audit export --message $id"
assert_eq "submitted queued expired" \
  "$(jq -r 'select(.event | test("^(submitted|queued|delivered|acknowledged|escalated|expired)$")) |
    .event' <<<"$RUN_OUT" | tr '\n' ' ' | sed 's/ $//')" \
  "audit lifecycle of $id"
assert_eq provider "$(jq -r 'select(.event == "notice_queued") | .other' \
  <<<"$RUN_OUT")" "the non-delivery notice, audited"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --message "$kept"
assert_rc 0 "batonctl audit export --message $kept"
assert_eq "" "$(jq -r 'select(.event == "expired") | .event' <<<"$RUN_OUT")" \
  "expiry records of $kept"

stop_broker
