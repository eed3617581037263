#!/usr/bin/env bash
#
# 04-policy-matrix: table-driven over every ordered pair of the shipped
# roles (provider, cmht, gp, crisis, housing, auditor). The expected result
# is read from deploy/policy.conf here, independently of the broker's
# parser: where the policy lets the sender's role send some kind of
# handover to the recipient's role, the handover is accepted and arrives
# with exactly the sections the recipient's role may receive, each one
# byte-equal to what was sent, and the rest named as withheld; where it
# does not, the submit is refused with ROUTE_NOT_ALLOWED and nothing is
# queued. A role that may receive nothing (auditor) cannot pull at all.
# shellcheck source=lib.sh disable=SC2119
BATON_TEST_TIMEOUT=${BATON_TEST_TIMEOUT:-170}
source "$(dirname "$0")/lib.sh"

ROLES=(provider cmht gp crisis housing auditor)
ALL_SECTIONS="subject risk_summary safeguarding crisis_plan contacts support_plan medication_and_physical_health transition"
POLICY=$BATON_SRC/deploy/policy.conf

# receives ROLE: the sections ROLE may receive, sorted, comma-separated.
receives() {
  local line
  line=$(awk -v r="$1" '
    { sub(/#.*/, "") }
    $1 == "role" { cur = $2; next }
    $1 != "receive" && $1 != "send" { cur = "" }
    cur == r && $1 == "receive" { for (i = 2; i <= NF; i++) print $i }
  ' "$POLICY")
  if grep -qx all <<<"$line"; then
    line=$ALL_SECTIONS
  fi
  tr ' ' '\n' <<<"$line" | grep -v '^none$' | grep . | sort | paste -sd, - || true
}

# first_kind FROM TO: a transition kind FROM may send to TO, or nothing.
first_kind() {
  awk -v f="$1" -v t="$2" '
    { sub(/#.*/, "") }
    $1 == "role" { cur = $2; next }
    $1 != "receive" && $1 != "send" { cur = "" }
    cur == f && $1 == "send" && $2 == t {
      k = $3; if (k == "any") k = "referral"; print k; exit
    }
  ' "$POLICY"
}

make_pki "${ROLES[@]}"
for r in "${ROLES[@]}"; do
  add_node "$r" "$r" "Matrix test $r"
done
start_broker

allowed_pairs=0 refused_pairs=0 n=0
for from in "${ROLES[@]}"; do
  for to in "${ROLES[@]}"; do
    [[ "$from" == "$to" ]] && continue
    n=$((n + 1))
    id="matrix-$from-$to"
    kind=$(first_kind "$from" "$to")
    if [[ -z "$kind" ]]; then
      jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$T/h.json"
      run baton_as "$from" send --to "$to" --json "$T/h.json" --id "$id"
      assert_rc 3 "$from -> $to (not in policy) must be refused"
      assert_json code ROUTE_NOT_ALLOWED
      assert_contains "$RUN_OUT" "role '$from'" "refusal names the sender role"
      assert_contains "$RUN_OUT" "role '$to'" "refusal names the recipient role"
      refused_pairs=$((refused_pairs + 1))
      continue
    fi
    upper=$(tr '[:lower:]' '[:upper:]' <<<"$kind")
    jq --arg k "TRANSITION_KIND_$upper" '.transition.kind = $k' \
      "$EXAMPLE_HANDOVER" >"$T/h.json"
    run baton_as "$from" send --to "$to" --json "$T/h.json" --id "$id"
    assert_rc 0 "$from -> $to ($kind) is allowed by the policy"
    assert_json code OK

    run baton_as "$to" recv --wait 10 --max 1
    assert_rc 0 "recv as $to"
    assert_json message_id "$id"
    want=$(receives "$to")
    got=$(json_get '.handover | keys | sort | join(",")')
    assert_eq "$want" "$got" "sections delivered $from -> $to"
    withheld=$(json_get '.withheld | sort | join(",")')
    expect_withheld=$(comm -23 <(tr ' ' '\n' <<<"$ALL_SECTIONS" | sort) \
      <(tr ',' '\n' <<<"$want" | sort) | paste -sd, -)
    assert_eq "$expect_withheld" "$withheld" "sections withheld $from -> $to"
    # every permitted section is byte-equal to what was sent
    jq -c --arg keep "$want" \
      'with_entries(select(.key as $k | $keep | split(",") | index($k)))' \
      "$T/h.json" >"$T/permitted.json"
    same_handover "$T/permitted.json" "$(json_get .handover)" \
      "permitted sections $from -> $to"
    allowed_pairs=$((allowed_pairs + 1))
  done
done
log "$n pairs: $allowed_pairs allowed, $refused_pairs refused"
[[ $allowed_pairs -gt 0 && $refused_pairs -gt 0 ]] ||
  fail "the matrix should have both allowed and refused pairs"

# Nothing refused was queued anywhere.
for r in provider cmht gp crisis housing; do
  assert_queue_empty "$r"
done

# auditor receives nothing: a pull is refused with NOT_PERMITTED.
run baton_as auditor recv --wait 2
assert_rc 2 "auditor recv must be refused"
assert_contains "$RUN_ERR" "NOT_PERMITTED" "auditor refusal"
stop_broker
