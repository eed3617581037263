#!/usr/bin/env bash
#
# 08-hostile-status-flood (TESTPLAN N6, DESIGN Guarantee 7): a 4 MiB store
# holds one handover; its sender then asks for its status 10,000 times,
# 64 requests in flight (tests/fault/hostile status-flood). Proves:
#  - every request is answered with its status (code OK);
#  - reads do not eat the store: a new handover is still accepted
#    (receipt OK) afterwards;
#  - the audit log keeps a bounded number of status_read records for the
#    node (at most 200, not 10,000), and, after the broker stops, an
#    audit_suppressed record that accounts for the rest;
#  - the audit log still verifies.
# A broker that writes one audit record per status read fills this store
# with them and then refuses new handovers with STORE_FULL.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

N=10000
MAP=$((4 * 1024 * 1024))

setup_four_nodes
start_broker --map-size "$MAP"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id status-1
assert_rc 0 "send status-1"
assert_json code OK

hostile_run flood provider status-flood 80 --id status-1 --count "$N" \
  --window 64 --seconds 60
hostile_show flood
assert_eq "$N" "$(hv flood receipted)" "status requests answered"
assert_eq "$N" "$(hv flood ok)" "status requests answered OK (first refusal: $(hv flood first_refusal_code) $(hv flood first_refusal))"
assert_broker_alive

# New work is still taken.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id status-2
assert_rc 0 "send after $N status requests (stderr: $RUN_ERR)"
assert_json code OK

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event status_read --node provider
assert_rc 0 "audit export --event status_read"
reads=$(count_lines "$RUN_OUT")
log "$reads status_read records for $N status requests"
((reads <= 200)) ||
  fail "$reads status_read records for $N status requests: reads are not rate-limited in the audit log"

stop_broker
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event audit_suppressed
assert_rc 0 "audit export --event audit_suppressed"
log "audit_suppressed: $(jq -c '{actor, other, reason}' <<<"$RUN_OUT" | tr '\n' ' ')"
[[ -n "$RUN_OUT" ]] ||
  fail "no audit_suppressed record summarises the $((N - reads)) status reads not recorded one by one"
# Its text counts the reads not recorded ("9972 status reads and ..."):
# with those recorded one by one they are all of them.
counted=$(jq -r 'select(.actor == "provider") | .reason' <<<"$RUN_OUT" |
  sed -n 's/.*\b\([0-9][0-9]*\) status reads.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
assert_eq "$N" "$((reads + counted))" "status reads recorded ($reads) plus those summarised ($counted)"
run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify after the status flood"
