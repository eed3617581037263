#!/usr/bin/env bash
#
# 05-deadlines-expire-redirect: a redirected hop is an undelivered handover
# like any other and must expire with a non-delivery notice. With
# `retention 4s`, cmht receives a handover, keeps it past the retention
# (delivered, so it does not expire), then redirects it to crisis, which
# never connects. The provider must get exactly one EXPIRED notice for it,
# within the retention (plus a margin) of the redirect; status shows
# expired and crisis, connecting later, receives nothing.
#
# Whether the hop's retention runs from the submit or from the redirect is
# the broker's choice; either way it must end.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

RETENTION_MS=4000
GRACE_S=6

BROKER_POLICY=$T/policy.conf
sed 's/^retention 5d$/retention 4s/' \
  "$BATON_SRC/deploy/policy.conf" >"$BROKER_POLICY"
grep -q '^retention 4s$' "$BROKER_POLICY" ||
  fail "could not shorten the retention in the policy copy"

setup_four_nodes
start_broker

id="deadline-expire-redirect-1"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "$id"
assert_rc 0 "send to cmht"
sent_ms=$(date -d "$(json_get received_at)" +%s%3N)
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv as cmht"
assert_json message_id "$id"

# Past the retention on purpose: delivered to cmht, so not expired.
left_ms=$((sent_ms + RETENTION_MS + 1000 - $(date +%s%3N)))
((left_ms <= 0)) || sleep "$((left_ms / 1000)).$(printf '%03d' $((left_ms % 1000)))"
run baton_as provider status "$id" --json
assert_rc 0 "status past the retention"
assert_json state acknowledged

run baton_as cmht redirect "provider/$id" --to crisis
assert_rc 0 "redirect to crisis"
redirect_ms=$(date +%s%3N)
recv_until provider '.kind == "NOTICE_KIND_DECIDED"' 10
assert_json outcome DECISION_OUTCOME_REDIRECT "$(tail -n 1 "$T/provider.items")"

# crisis stays away: the new hop must expire.
recv_until provider '.kind == "NOTICE_KIND_EXPIRED"' \
  $((RETENTION_MS / 1000 + GRACE_S))
n=$(tail -n 1 "$T/provider.items")
assert_json message_id "$id" "$n"
assert_json recipient crisis "$n"
at=$(json_get at_ms "$n")
((at >= redirect_ms - 1000)) || fail "expired before the redirect"

run baton_as provider status "$id" --json
assert_rc 0 "status after the expiry"
assert_json state expired
assert_json '.events[-1].event' expired
assert_queue_empty crisis
RECV_WAIT=1 recv_all provider
[[ -z "$RUN_OUT" ]] || printf '%s\n' "$RUN_OUT" >>"$T/provider.items"
assert_eq 1 "$(items provider '.kind == "NOTICE_KIND_EXPIRED"')" \
  "EXPIRED notices to provider"

stop_broker
