#!/usr/bin/env bash
#
# 08-limits-slow-reader (TESTPLAN N2 d): a recipient that asks for
# everything and then stops reading. 80 handovers of about 800 KB (64 MB)
# are queued for cmht; a raw client says Hello, grants Pull{credit=1000}
# and is SIGSTOPped. With --max-unacked 1000 the only bound on what the
# broker reads from the store for it is the per-session output limit, so:
#  - batond's RSS stays within 100 MB of what it was before (not the 64 MB
#    queue plus copies of it);
#  - other nodes are served meanwhile: a send gets its receipt promptly;
#  - once the stalled client is killed, a new cmht session receives every
#    handover, each exactly once, those already sent to the stalled
#    session as attempt 2, and the queue is empty after the acks.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

COUNT=80
RSS_BOUND_KB=$((100 * 1024))

setup_four_nodes
start_broker --max-unacked 1000

# A large but valid handover: 100 risk entries of 8000 bytes of filler
# (no one's data) on the example.
BIG=$T/big.json
jq --arg s "$(head -c 8000 /dev/zero | tr '\0' 'r')" \
  '.risk_summary.current_risks = [range(100) | $s]' "$EXAMPLE_HANDOVER" >"$BIG"

for ((i = 1; i <= COUNT; i++)); do
  run baton_as provider send --to cmht --json "$BIG" --id "slow-$i"
  assert_rc 0 "send slow-$i"
  assert_json code OK
done
log "queued $COUNT handovers of $(stat -c %s "$BIG") bytes (JSON) for cmht"

rss0=$(rss_kb "$BROKER_PID")
anon0=$(rss_kb "$BROKER_PID" RssAnon)

# The stalled reader: Hello, Pull{credit=1000}, then stopped as soon as
# deliveries start, so almost everything it is sent stays in buffers.
mark=$(log_mark)
raw_start_as stalled cmht "$(raw_frame "$RAW_HELLO")$(raw_frame "$RAW_PULL_1000")"
stalled=$RAW_PID
wait_for "the first delivery to the stalled reader" 20 \
  log_since "$mark" "node=cmht deliver id=provider/slow-"
kill -STOP "$stalled"

# delivered_count: deliveries logged to the stalled session so far.
delivered_count() {
  local since
  since=$(tail -c "+$((mark + 1))" "$BROKER_LOG")
  grep -c 'node=cmht deliver id=provider/slow-' <<<"$since" || true
}

# Wait until the broker has stopped pumping: no new delivery for 2 s
# (deadline 30 s). Reading from the store is what would make RSS grow, so
# RSS is measured after it has stopped.
deadline=$((SECONDS + 30))
last=-1
stable_since=$SECONDS
while :; do
  n=$(delivered_count)
  if [[ "$n" != "$last" ]]; then
    last=$n
    stable_since=$SECONDS
  elif ((SECONDS - stable_since >= 2)); then
    break
  fi
  ((SECONDS < deadline)) || fail "the broker kept delivering to a stopped reader for 30 s ($n deliveries)"
  sleep 0.2
done
log "the broker stopped after $last of $COUNT deliveries to the stalled reader"
if ((last >= COUNT)); then
  fail "all $COUNT handovers (64 MB) were pushed to a reader that does not read: no output bound"
fi

rss1=$(rss_kb "$BROKER_PID")
anon1=$(rss_kb "$BROKER_PID" RssAnon)
log "batond VmRSS ${rss0} -> ${rss1} kB, RssAnon ${anon0} -> ${anon1} kB"
if ((rss1 - rss0 > RSS_BOUND_KB)); then
  fail "batond VmRSS grew by $((rss1 - rss0)) kB with a stalled reader (bound $RSS_BOUND_KB kB)"
fi

# Meanwhile others are served promptly (gp may refer to provider).
REFERRAL=$T/referral.json
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$REFERRAL"
t0=$(date +%s%3N)
run baton_as gp send --to provider --json "$REFERRAL" --id slow-other-1
assert_rc 0 "send by gp while cmht's reader is stalled"
assert_json code OK
ms=$(($(date +%s%3N) - t0))
log "gp's send took ${ms} ms while cmht's reader was stalled"
((ms < 5000)) || fail "gp's send took ${ms} ms while cmht's reader was stalled"
run baton_as provider recv --wait 10 --max 1
assert_rc 0 "provider recv while cmht's reader is stalled"
assert_json message_id slow-other-1
same_handover "$REFERRAL" "$(json_get .handover)" "handover from gp"

rss2=$(rss_kb "$BROKER_PID")
((rss2 - rss0 <= RSS_BOUND_KB)) ||
  fail "batond VmRSS grew by $((rss2 - rss0)) kB with a stalled reader (bound $RSS_BOUND_KB kB)"

# The stalled reader dies; its unacked handovers go to the next session.
kill -KILL "$stalled"
{ wait_pid "$stalled" 10; } 2>/dev/null	# no "Killed" job notice
wait_for "the stalled session to be gone" 15 \
  log_since "$mark" "node=cmht (disconnected|closed)"
# What the stalled session was sent, before anyone else receives.
stalled_log=$(tail -c "+$((mark + 1))" "$BROKER_LOG")

out=$T/recv.jsonl
"$BATON" --broker "$BROKER_ADDR" --ca "$CA_DIR/ca.crt" \
  --cert "$NODE_DIR/cmht.crt" --key "$NODE_DIR/cmht.key" --timeout 30 \
  recv --wait 60 --max "$COUNT" >"$out" 2>"$T/recv.err" ||
  fail "cmht recv after the stalled reader: exit $?; $(cat "$T/recv.err")"
pairs=$(jq -r '"\(.message_id) \(.attempt)"' "$out")
got=$(cut -d" " -f1 <<<"$pairs" | sort -u | wc -l)
assert_eq "$COUNT" "$(count_lines "$pairs")" "deliveries to the new cmht session"
assert_eq "$COUNT" "$got" "distinct handovers delivered to the new cmht session"
# Every one the stalled session was sent (logged delivery) comes back as
# attempt 2; the rest as attempt 1.
for ((i = 1; i <= COUNT; i++)); do
  want=1
  if grep -q "node=cmht deliver id=provider/slow-$i from=provider attempt=1 " <<<"$stalled_log"; then
    want=2
  fi
  assert_eq "$want" "$(awk -v id="slow-$i" '$1 == id { print $2 }' <<<"$pairs")" \
    "attempt of slow-$i on the new session"
done
n2=$(awk '$2 >= 2' <<<"$pairs" | wc -l)
log "$n2 handovers redelivered as attempt 2"
((n2 >= 1)) || fail "no handover was redelivered after the stalled reader was killed"
assert_queue_empty cmht
assert_broker_alive
stop_broker
