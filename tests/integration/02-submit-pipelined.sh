#!/usr/bin/env bash
#
# 02-submit-pipelined: provider sends 1,000 handovers with one
# `baton send --jsonl` (window 64, half the lines envelopes naming their
# own id, half bare handovers numbered by --id-prefix): every one is
# receipted exactly once, with its input line, accepted and not a
# duplicate. cmht receives all 1,000 (each reference once, each handover as
# sent) with `baton recv`, whose acks are pipelined and checked before it
# exits; nothing is left queued. Sending the same file again answers every
# line with its original receipt (duplicate) and delivers nothing. A file
# mixing a good line, a refused one and a bad one prints a receipt for the
# first, the refusal code for the second, names the third on stderr, and
# exits 3; stdin works as a source.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

N=1000

setup_four_nodes
start_broker

# The input: odd lines {"message_id":"pipe-I","handover":...}, even lines
# the bare handover (its id then is pp-LINE).
jsonl=$T/handovers.jsonl
jq -c . "$EXAMPLE_HANDOVER" >"$T/one.json"
for ((i = 1; i <= N; i++)); do
  if ((i % 2)); then
    printf '{"message_id":"pipe-%d","handover":%s}\n' "$i" "$(<"$T/one.json")"
  else
    cat "$T/one.json"
  fi
done >"$jsonl"
for ((i = 1; i <= N; i++)); do
  if ((i % 2)); then echo "pipe-$i"; else echo "pp-$i"; fi
done | sort >"$T/ids.want"

run baton_as provider send --to cmht --jsonl "$jsonl" --window 64 --id-prefix pp
assert_rc 0 "baton send --jsonl"
printf '%s\n' "$RUN_OUT" >"$T/receipts"
assert_eq "$N" "$(count_lines "$RUN_OUT")" "receipt lines"
assert_eq "$N" "$(jq -c 'select(.code == "OK" and .duplicate == false and (.received_at | type) == "string")' "$T/receipts" | grep -c .)" \
  "accepted, first-time receipts"
jq -r .message_id "$T/receipts" | sort >"$T/ids.got"
cmp -s "$T/ids.want" "$T/ids.got" || fail "receipted ids differ from the ids sent (or one came twice)"
assert_eq "$N" "$(jq -r .line "$T/receipts" | sort -un | grep -c .)" "distinct input lines receipted"
assert_eq "1 $N" "$(jq -r .line "$T/receipts" | sort -n | sed -n '1p;$p' | tr '\n' ' ' | sed 's/ $//')" \
  "first and last line numbers"
# each receipt names its own line's id, and the reference is provider's
bad=$(jq -r 'select((.line % 2 == 1 and .message_id != "pipe-\(.line)") or
  (.line % 2 == 0 and .message_id != "pp-\(.line)") or
  .reference != "provider/\(.message_id)") | .line' "$T/receipts" | head -n 3)
[[ -z "$bad" ]] || fail "receipts not matched to their lines: lines $bad"

# cmht takes them all; every ack is answered before recv exits 0
run baton_as cmht recv --wait 90 --max "$N"
assert_rc 0 "baton recv"
printf '%s\n' "$RUN_OUT" >"$T/deliveries"
assert_eq "$N" "$(count_lines "$RUN_OUT")" "deliveries"
assert_eq "$N" "$(jq -c 'select(.type == "handover" and .from == "provider" and .attempt == 1)' "$T/deliveries" | grep -c .)" \
  "first-attempt handovers from provider"
jq -r .message_id "$T/deliveries" | sort >"$T/ids.delivered"
cmp -s "$T/ids.want" "$T/ids.delivered" || fail "delivered ids differ from the ids sent (or one came twice)"
same_handover "$EXAMPLE_HANDOVER" "$(sed -n '500p' "$T/deliveries" | jq -c .handover)" \
  "the 500th delivered handover"
assert_queue_empty cmht

# the same file again: every line its original receipt, nothing delivered
run baton_as provider send --to cmht --jsonl "$jsonl" --window 64 --id-prefix pp
assert_rc 0 "baton send --jsonl again"
printf '%s\n' "$RUN_OUT" >"$T/receipts2"
assert_eq "$N" "$(jq -c 'select(.code == "OK" and .duplicate == true)' "$T/receipts2" | grep -c .)" \
  "duplicate receipts on resend"
jq -r .message_id "$T/receipts2" | sort >"$T/ids.got2"
cmp -s "$T/ids.want" "$T/ids.got2" || fail "resend receipted other ids"
assert_queue_empty cmht

# a mixed file from stdin: accepted, refused (unknown recipient), skipped
{
  printf '{"message_id":"mix-1","handover":%s}\n' "$(<"$T/one.json")"
  printf '{"to":"nosuch","message_id":"mix-2","handover":%s}\n' "$(<"$T/one.json")"
  printf '{"message_id":"mix-3","handover":{"risk_summary":{"level":"SEVERE"}}}\n'
  printf '\n'
} >"$T/mixed.jsonl"
run baton_as provider send --to cmht --jsonl - <"$T/mixed.jsonl"
assert_rc 3 "baton send --jsonl with a refused line"
assert_eq 2 "$(count_lines "$RUN_OUT")" "result lines for the mixed file"
assert_eq OK "$(printf '%s\n' "$RUN_OUT" | jq -r 'select(.line == 1) | .code')" "line 1"
assert_eq UNKNOWN_RECIPIENT "$(printf '%s\n' "$RUN_OUT" | jq -r 'select(.line == 2) | .code')" "line 2"
assert_eq mix-2 "$(printf '%s\n' "$RUN_OUT" | jq -r 'select(.line == 2) | .message_id')" "line 2 id"
assert_contains "$RUN_ERR" "<stdin>:3:" "stderr names the bad line"
assert_contains "$RUN_ERR" "risk_summary.level" "stderr names the JSON path"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv the mixed file's accepted handover"
assert_json message_id mix-1
assert_queue_empty cmht

assert_broker_alive
stop_broker
