#!/usr/bin/env bash
#
# 08-hostile-ping-flood (TESTPLAN N4, DESIGN Guarantee 7): provider says
# Hello, then writes Pings as fast as it can for 15 s and never reads a
# byte (tests/fault/hostile ping-flood). Meanwhile gp times Ping round
# trips on its own session, one every 20 ms. Proves:
#  - fairness: gp's slowest round trip stays under 200 ms (1000 ms for an
#    ASan build, which runs several times slower), none is lost;
#  - memory: batond's VmRSS, sampled every 0.2 s through the flood, stays
#    under the bound docs/limits.md states (150 MB);
#  - backpressure: once the flooder's unread Pongs pass the output bound
#    the broker stops reading it and closes it (LIMIT_EXCEEDED, then the
#    5 s closing grace), so its writes stall or fail well before the end;
#  - the broker is alive and serves a normal send afterwards.
# On a broker that reads every Ping and queues every Pong unbounded, gp's
# Pings wait behind the flood and the Pongs pile up in memory.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

FLOOD_S=15
RTT_BOUND_MS=200
# An ASan build is several times slower, and its quarantine keeps freed
# memory resident: a looser round trip, and a smaller quarantine so the
# memory bound still means something.
if is_asan_build; then
  RTT_BOUND_MS=1000
  export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16
fi
RSS_BOUND_KB=$((150 * 1024))

setup_four_nodes
start_broker
rss0=$(rss_kb "$BROKER_PID")

hostile_spawn flood provider ping-flood --seconds "$FLOOD_S"
flood_pid=$HOSTILE_PID
hostile_spawn rtt gp ping-rtt --seconds $((FLOOD_S - 2)) --count 100000 \
  --interval-ms 20
rtt_pid=$HOSTILE_PID

# Sample the broker's RSS until the flood ends.
rss_max=$rss0
while kill -0 "$flood_pid" 2>/dev/null; do
  rss=$(rss_kb "$BROKER_PID" || echo 0)
  ((rss > rss_max)) && rss_max=$rss
  sleep 0.2
done
hostile_wait rtt "$rtt_pid" 30
hostile_wait flood "$flood_pid" 30
hostile_show flood
hostile_show rtt
log "batond VmRSS ${rss0} kB before, at most ${rss_max} kB during the flood"
assert_broker_alive

# Fairness: gp's round trips.
assert_eq 0 "$(hv rtt lost)" "gp's Pings left without a Pong during the flood"
(($(hv rtt count) >= 100)) ||
  fail "gp completed only $(hv rtt count) round trips during the flood"
(($(hv rtt max_ms) < RTT_BOUND_MS)) ||
  fail "gp's slowest round trip was $(hv rtt max_ms) ms during the flood (bound $RTT_BOUND_MS ms; p99 $(hv rtt p99_ms) ms)"

# Memory.
((rss_max < RSS_BOUND_KB)) ||
  fail "batond VmRSS reached ${rss_max} kB during the flood (bound $RSS_BOUND_KB kB)"

# Backpressure: the flooder was stopped being read, and stayed stopped.
if [[ "$(hv flood broker_closed)" != 1 ]]; then
  (($(hv flood stalled_at_end_ms) >= 3000)) ||
    fail "the flooder's writes were still taken $(hv flood stalled_at_end_ms) ms before the end of the flood ($(hv flood bytes_written) bytes written): the broker went on reading a client that reads nothing"
fi
(($(count_in_log 'closing code=LIMIT_EXCEEDED reason="[0-9]* bytes of replies are waiting') >= 1)) ||
  fail "the broker did not close the flooder at its output bound"

run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id flood-after-1
assert_rc 0 "send after the ping flood"
assert_json code OK
stop_broker
