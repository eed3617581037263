#!/usr/bin/env bash
#
# 08-limits-trickle (TESTPLAN N2 c): a client that sends Hello, then the
# next frame one byte at a time, each byte well inside the idle timeout,
# never completes the frame. With --frame-timeout 2 the broker closes it
# with TIMEOUT about 2 s after the frame's first byte, though every byte
# resets the idle timer (--idle-timeout 30); other clients are served.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-raw.sh
source "$(dirname "$0")/lib-raw.sh"

setup_four_nodes
start_broker --frame-timeout 2 --idle-timeout 30

hello=$(raw_frame "$RAW_HELLO")
# a header promising 200 bytes, then bytes of a body that never ends
trickle=$(printf '%08x' 200)$(printf '00%.0s' $(seq 1 40))
{
  printf '%s' "$hello" | xxd -r -p
  for ((i = 0; i < ${#trickle}; i += 2)); do
    printf '%s' "${trickle:i:2}" | xxd -r -p
    sleep 0.4
  done
} | openssl s_client -quiet -connect "$BROKER_ADDR" \
    -cert "$NODE_DIR/provider.crt" -key "$NODE_DIR/provider.key" \
    -CAfile "$CA_DIR/ca.crt" >"$RAW_DIR/trickle.out" 2>"$RAW_DIR/trickle.err" &
pid=$!
_pids+=("$pid")
start=$SECONDS

wait_for "the broker to close the trickling session" 12 \
  grep -q 'closing code=TIMEOUT reason="a frame did not arrive whole within 2 s"' \
  "$BROKER_LOG"
elapsed=$((SECONDS - start))
((elapsed >= 2)) || fail "closed after ${elapsed}s, before the frame timeout"
raw_closed trickle "$pid" 15
assert_raw_error trickle 21 "trickling client"

# the broker still serves others
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id trickle-ok
assert_rc 0 "send after the trickler was closed"
stop_broker
