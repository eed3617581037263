#!/usr/bin/env bash
#
# 12-gov-worklist (issue 13 item 5): a partner lists its own work over the
# wire without consuming anything. provider sends seven handovers and they
# are left in known states: wl-a and wl-g queued for gp, wl-b delivered to
# cmht and not acked, wl-c acked by cmht and undecided, wl-d accepted,
# wl-e rejected, wl-f redirected by cmht to crisis (queued there). Proves:
#  - `outbox --undecided` lists exactly a, b, c, f, g with their states and
#    current recipients; `outbox` lists all seven, decided ones without a
#    deadline; `outbox --since T` those received at or after T;
#  - `inbox` as cmht lists exactly b and c (delivered, undecided), with
#    risk level and time to deadline; gp's and crisis's inboxes are empty
#    (their handovers are queued, not delivered);
#  - paging: `--limit 2` over five items asks for three pages (the broker
#    log says so) and yields each item once, as `--limit 1` does;
#  - the table fits 80 columns (a long reference gets a line of its own);
#  - nothing is consumed: gp, crisis and cmht then receive what they would
#    have received anyway, and every list read is recorded as a
#    status_read by the node that asked;
#  - usage errors are refused locally (exit 1).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
start_broker

# The example is a STEP_UP, which provider may not send to gp.
REFERRAL=$T/referral.json
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" \
  >"$REFERRAL"

# send_wl ID TO FILE: provider sends FILE to TO with its own id ID; keeps
# the receipt's received_at in RECEIVED[ID].
declare -A RECEIVED
send_wl() {
  run baton_as provider send --to "$2" --json "$3" --id "$1"
  assert_rc 0 "send $1 to $2"
  assert_json code OK
  RECEIVED[$1]=$(json_get received_at)
}

# c first: after the others are decided it heads cmht's queue.
send_wl wl-c cmht "$EXAMPLE_HANDOVER"
send_wl wl-b cmht "$EXAMPLE_HANDOVER"
send_wl wl-d cmht "$EXAMPLE_HANDOVER"
send_wl wl-e cmht "$EXAMPLE_HANDOVER"
send_wl wl-f cmht "$EXAMPLE_HANDOVER"
send_wl wl-a gp "$REFERRAL"
send_wl wl-g gp "$REFERRAL"

# cmht takes delivery of its five without acking, then decides three.
run baton_as cmht recv --no-ack --wait 10 --max 5
assert_rc 0 "recv --no-ack as cmht"
assert_eq 5 "$(count_lines "$RUN_OUT")" "deliveries to cmht"
run baton_as cmht accept provider/wl-d
assert_rc 0 "accept wl-d"
run baton_as cmht reject provider/wl-e --reason NO_CAPACITY
assert_rc 0 "reject wl-e"
run baton_as cmht redirect provider/wl-f --to crisis
assert_rc 0 "redirect wl-f to crisis"
# one more delivery, acked: c (redelivered from the head of the queue)
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv --max 1 as cmht"
assert_json reference provider/wl-c

# list_json NODE ARGS...: runs `baton NODE outbox|inbox ... --json`; the
# items, one compact JSON object per line, in LIST.
LIST=
list_json() {
  local node=$1
  shift
  run baton_as "$node" "$@" --json
  assert_rc 0 "$node $*"
  LIST=$RUN_OUT
}

# summary: "reference state recipient" of every item in LIST, one a line.
summary() {
  jq -r '"\(.reference) \(.state) \(.recipient)"' <<<"$LIST"
}

# --- outbox --undecided ------------------------------------------------------
list_json provider outbox --undecided
assert_eq "provider/wl-a queued gp
provider/wl-b delivered cmht
provider/wl-c acknowledged cmht
provider/wl-f queued crisis
provider/wl-g queued gp" "$(summary)" "provider outbox --undecided"
# every open item has a deadline still to come (policy: high 4h)
assert_eq "true" "$(jq -s 'all(.deadline_in_ms > 0 and .deadline_in_ms <= 14400000 and .overdue == false)' <<<"$LIST")" \
  "deadlines of the open items"
assert_eq "high" "$(jq -r -s 'map(.risk_level) | unique | join(",")' <<<"$LIST")" \
  "risk levels"
assert_eq "1" "$(jq -r 'select(.reference == "provider/wl-f") | .hops' <<<"$LIST")" \
  "wl-f was redirected once"
assert_eq "referral" "$(jq -r 'select(.reference == "provider/wl-a") | .transition_kind' <<<"$LIST")" \
  "wl-a's kind"
assert_eq "${RECEIVED[wl-a]}" "$(jq -r 'select(.reference == "provider/wl-a") | .received_at' <<<"$LIST")" \
  "wl-a's received_at is its receipt's"

# --- outbox, everything ------------------------------------------------------
list_json provider outbox
assert_eq "provider/wl-a queued gp
provider/wl-b delivered cmht
provider/wl-c acknowledged cmht
provider/wl-d accepted cmht
provider/wl-e rejected cmht
provider/wl-f queued crisis
provider/wl-g queued gp" "$(summary)" "provider outbox"
assert_eq "null null" "$(jq -r 'select(.state == "accepted" or .state == "rejected") | .deadline_in_ms' <<<"$LIST" | tr '\n' ' ' | sed 's/ $//')" \
  "decided handovers have no deadline left"
[[ "$(jq -r 'select(.reference == "provider/wl-d") | .decided_at' <<<"$LIST")" =~ ^20[0-9-]+T ]] ||
  fail "wl-d has no decided_at"

# --- outbox --since ------------------------------------------------------------
since=${RECEIVED[wl-f]}
want=$(for id in wl-a wl-b wl-c wl-d wl-e wl-f wl-g; do
  [[ ! "${RECEIVED[$id]}" < "$since" ]] && echo "provider/$id"
done)
list_json provider outbox --since "$since"
assert_eq "$want" "$(jq -r .reference <<<"$LIST")" "outbox --since $since"
assert_contains "$want" provider/wl-g "the --since expectation"
assert_not_contains "$want" provider/wl-c "the --since expectation"

# --- inbox -------------------------------------------------------------------
list_json cmht inbox
assert_eq "provider/wl-b delivered cmht
provider/wl-c acknowledged cmht" "$(summary)" "cmht inbox"
assert_eq "provider provider" "$(jq -r .sender <<<"$LIST" | tr '\n' ' ' | sed 's/ $//')" \
  "inbox senders"
assert_eq "true" "$(jq -s 'all(.risk_level == "high" and .deadline_in_ms > 0)' <<<"$LIST")" \
  "inbox risk and time to deadline"
list_json gp inbox
assert_eq "" "$LIST" "gp's inbox (its two are queued, not delivered)"
list_json crisis inbox
assert_eq "" "$LIST" "crisis's inbox (wl-f is queued for it)"

# --- paging ------------------------------------------------------------------
pages_before=$(count_in_log 'node=provider outbox items=')
more_before=$(count_in_log 'node=provider outbox items=2 more')
list_json provider outbox --undecided --limit 2
assert_eq "provider/wl-a provider/wl-b provider/wl-c provider/wl-f provider/wl-g" \
  "$(jq -r .reference <<<"$LIST" | tr '\n' ' ' | sed 's/ $//')" \
  "outbox --undecided --limit 2: every item once, in order"
assert_eq 3 "$(($(count_in_log 'node=provider outbox items=') - pages_before))" \
  "pages asked for with --limit 2 over 5 items"
assert_eq 2 "$(($(count_in_log 'node=provider outbox items=2 more') - more_before))" \
  "full pages that said there was more"
list_json provider outbox --undecided --limit 1
assert_eq 5 "$(count_lines "$LIST")" "outbox --undecided --limit 1"
assert_eq 5 "$(jq -r .reference <<<"$LIST" | sort -u | grep -c .)" \
  "outbox --undecided --limit 1: no item twice"
list_json cmht inbox --limit 1
assert_eq "provider/wl-b provider/wl-c" \
  "$(jq -r .reference <<<"$LIST" | tr '\n' ' ' | sed 's/ $//')" "cmht inbox --limit 1"

# --- the table -----------------------------------------------------------------
# a reference longer than its column gets a line of its own
send_wl a-rather-long-own-message-id-0001 cmht "$EXAMPLE_HANDOVER"
run baton_as provider outbox --undecided
assert_rc 0 "provider outbox (table)"
table=$RUN_OUT
long=$(awk 'length > 80' <<<"$table")
[[ -z "$long" ]] || fail "outbox table lines wider than 80 columns: $long"
assert_eq "REFERENCE        OTHER     STATE        RISK KIND      RECEIVED    DEADLINE" \
  "$(head -n 1 <<<"$table")" "table header"
assert_eq "(6 handovers)" "$(tail -n 1 <<<"$table")" "table footer"
row=$(grep '^provider/wl-b ' <<<"$table") || fail "no row for wl-b in: $table"
[[ "$row" =~ ^provider/wl-b\ +cmht\ +delivered\ +high\ step_up\ +[0-9]{2}-[0-9]{2}\ [0-9]{2}:[0-9]{2}\ +in\ [0-9]h[0-9]{2}m$ ]] ||
  fail "wl-b's row: '$row'"
assert_eq "provider/a-rather-long-own-message-id-0001" \
  "$(grep -A1 -- '-0001$' <<<"$table" | head -n 1)" "the long reference's own line"
[[ "$(grep -A1 -- '-0001$' <<<"$table" | tail -n 1)" =~ ^\ {17}cmht\ +queued ]] ||
  fail "the long reference's row does not continue under it: $table"
run baton_as cmht inbox
assert_rc 0 "cmht inbox (table)"
assert_eq "(2 handovers)" "$(tail -n 1 <<<"$RUN_OUT")" "inbox table footer"
assert_contains "$RUN_OUT" "provider/wl-c    provider  acknowledged high step_up" \
  "inbox table shows the sender"

# --- usage ------------------------------------------------------------------
run baton_as cmht inbox --undecided
assert_rc 1 "inbox --undecided"
run baton_as provider outbox --limit 0
assert_rc 1 "outbox --limit 0"
run baton_as provider outbox --limit 101
assert_rc 1 "outbox --limit 101"
run baton_as provider outbox --since yesterday
assert_rc 1 "outbox --since yesterday"
assert_contains "$RUN_ERR" "YYYY-MM-DD" "--since error names the syntax"

# --- nothing was consumed ------------------------------------------------------
recv_all gp
assert_eq "provider/wl-a provider/wl-g" \
  "$(jq -r .reference <<<"$RUN_OUT" | tr '\n' ' ' | sed 's/ $//')" \
  "gp still receives its two queued handovers"
recv_all crisis
assert_eq "provider/wl-f" "$(jq -r 'select(.type == "handover") | .reference' <<<"$RUN_OUT")" \
  "crisis still receives the redirected one"
recv_all cmht
assert_eq "provider/wl-b provider/a-rather-long-own-message-id-0001" \
  "$(jq -r 'select(.type == "handover") | .reference' <<<"$RUN_OUT" | tr '\n' ' ' | sed 's/ $//')" \
  "cmht still gets wl-b, never acked, again"

# The reads are recorded, as status_read by the node that asked.
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event status_read --node cmht
assert_rc 0 "audit export of cmht's status reads"
assert_contains "$(jq -r 'select(.actor == "cmht") | .reason' <<<"$RUN_OUT")" \
  "inbox items=2" "cmht's inbox read in the audit log"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event status_read --node provider
assert_rc 0 "audit export of provider's status reads"
assert_contains "$(jq -r 'select(.actor == "provider") | .reason' <<<"$RUN_OUT")" \
  "outbox undecided items=5" "provider's outbox read in the audit log"

assert_broker_alive
stop_broker
