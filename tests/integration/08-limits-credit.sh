#!/usr/bin/env bash
#
# 08-limits-credit (docs/limits.md, "Credit a session may hold"): Pull
# credit above 1024 is capped, so a receiver cannot make the broker push
# more than 1024 deliveries it has not asked for in steps. With
# --max-unacked 5000 (so the in-flight limit does not bind first) and 1100
# handovers queued for cmht:
#  - a raw session of cmht sends one Pull{credit=5000} and never acks
#    (tests/fault/hostile pull-count): exactly 1024 deliveries come (in
#    one pass, so together), and no more in the 3 s after the last;
#  - once it is gone, all 1100 are still there for a normal receiver
#    (the 1024 unacked come back, the 76 never sent wait).
# Without the cap the session would get all 1100.
# An ASan build takes about 25 ms a submit and a delivery here.
: "${BATON_TEST_TIMEOUT:=170}"
export BATON_TEST_TIMEOUT
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

QUEUED=1100
CAP=1024

setup_four_nodes
start_broker --max-unacked 5000

hostile_run fill provider submit-burst 120 --to cmht --json "$EXAMPLE_HANDOVER" \
  --prefix credit --count "$QUEUED" --window 64 --seconds 90
hostile_show fill
assert_eq "$QUEUED" "$(hv fill ok)" "handovers queued for cmht"

# Until 3 s pass without a delivery (they take 0.2 to 0.5 s here, 30 s
# with ASan).
hostile_run pull cmht pull-count 90 --count 1 --window 5000 --seconds 60 \
  --interval-ms 3000
hostile_show pull
assert_eq 1 "$(hv pull pulls)" "Pull frames sent"
assert_eq "$CAP" "$(hv pull delivered)" "deliveries for Pull{credit=5000} with $QUEUED queued"
assert_eq 0 "$(hv pull broker_closed)" "the broker closed the pulling session"

RECV_WAIT=60 recv_all cmht --max "$QUEUED"
got=$(jq -r .message_id <<<"$RUN_OUT" | sort -u | grep -c . || true)
assert_eq "$QUEUED" "$got" "distinct handovers cmht received after the capped session"
assert_queue_empty cmht
assert_broker_alive
stop_broker
