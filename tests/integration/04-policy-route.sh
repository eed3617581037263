#!/usr/bin/env bash
#
# 04-policy-route: routes come from deploy/policy.conf by role and kind of
# transition. A route the sender's role may not use is refused with
# ROUTE_NOT_ALLOWED (exit 3) and nothing is queued; the allowed kind on the
# same pair of nodes goes through.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

with_kind() {
  jq --arg k "$1" '.transition.kind = $k' "$EXAMPLE_HANDOVER" >"$T/$1.json"
  echo "$T/$1.json"
}

# policy: provider may send gp only referral discharge step_down transfer.
run baton_as provider send --to gp --json "$(with_kind TRANSITION_KIND_STEP_UP)" \
  --id route-1
assert_rc 3 "step_up from provider to gp"
assert_json code ROUTE_NOT_ALLOWED
text=$(json_get text)
[[ -n "$text" && "$text" != null ]] || fail "ROUTE_NOT_ALLOWED refusal has no text"

# policy: gp may send crisis only crisis_handover.
run baton_as gp send --to crisis --json "$(with_kind TRANSITION_KIND_DISCHARGE)" \
  --id route-2
assert_rc 3 "discharge from gp to crisis"
assert_json code ROUTE_NOT_ALLOWED

assert_queue_empty gp
assert_queue_empty crisis

run baton_as provider send --to gp --json "$(with_kind TRANSITION_KIND_DISCHARGE)" \
  --id route-3
assert_rc 0 "discharge from provider to gp"
assert_json code OK
run baton_as gp send --to crisis \
  --json "$(with_kind TRANSITION_KIND_CRISIS_HANDOVER)" --id route-4
assert_rc 0 "crisis handover from gp to crisis"
assert_json code OK

RECV_WAIT=5 recv_all gp --max 1
assert_json message_id route-3
RECV_WAIT=5 recv_all crisis --max 1
assert_json message_id route-4
stop_broker
