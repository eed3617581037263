#!/usr/bin/env bash
#
# 08-store-map-full-commit (issue 9, the "map full at commit" path): the
# store fills at the commit itself, after the pass's submits were taken.
# broker_commit_pass then withdraws every reply the pass held (no receipt
# for anything that is not durable), closes those sessions with
# STORE_FULL, and goes on serving; sends are accepted again once room
# returns, with no restart.
#
# The submit path refuses a handover while the free map is still above a
# reserve (max(map/10, 1 MiB)), so no workload makes the commit itself run
# out of map. The commit's other STORE_FULL cause is reached instead: the
# broker runs under libfiu's POSIX preload (as in 06-crash-fsync-fail) and
# fiu-ctrl makes LMDB's page writes (pwrite, writev) fail with ENOSPC,
# which store.c maps to STORE_FULL like MDB_MAP_FULL. LMDB writes the data
# pages before the meta page, so a failed commit leaves the previous one
# in force. Asserted:
#  - five handovers receipted before the fault;
#  - provider and gp, both past Hello, each submit 20 handovers once the
#    writes fail: none gets a receipt, each connection gets one Error
#    STORE_FULL and is closed; the log has "store full at commit";
#  - the broker stays up while the fault lasts;
#  - once the writes work again, the same ids are accepted as new (not
#    duplicates: nothing of the failed passes was committed), and the five
#    earlier ones are duplicates with their original received_at;
#  - cmht receives every receipted handover exactly once; after a clean
#    stop the audit log verifies and holds one `submitted` record per id.
# Needs fiu-run and fiu-ctrl (Debian: fiu-utils, which pulls in libfiu0).
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-hostile.sh
source "$(dirname "$0")/lib-hostile.sh"

for _t in fiu-run fiu-ctrl; do
  command -v "$_t" >/dev/null ||
    fail "$_t is required (Debian packages fiu-utils and libfiu0)"
done
BURST=20
ENOSPC=28

setup_four_nodes
REFERRAL=$T/referral.json
jq '.transition.kind = "TRANSITION_KIND_REFERRAL"' "$EXAMPLE_HANDOVER" >"$REFERRAL"

# The broker under libfiu; see 06-crash-fsync-fail for why a sanitizer
# build preloads its runtime ahead of libfiu.
REAL_BATOND=$BATOND
asan_rt=$(ldd "$REAL_BATOND" | awk '/libasan\.so/ { print $3; exit }')
if [[ -z "$asan_rt" ]]; then
  cat >"$T/batond-fiu" <<EOF
#!/bin/sh
exec fiu-run -x -f "$T/fiu" "$REAL_BATOND" "\$@"
EOF
else
  fiu_preload=$(fiu-run -n -x -f "$T/fiu" /bin/true |
    sed -n 's/^LD_PRELOAD="\(.*\)" \\$/\1/p')
  [[ -n "$fiu_preload" ]] || fail "cannot learn fiu-run's LD_PRELOAD from fiu-run -n"
  cat >"$T/batond-fiu" <<EOF
#!/bin/sh
FIU_ENABLE= FIU_CTRL_FIFO="$T/fiu" LD_PRELOAD="$asan_rt $fiu_preload"
export FIU_ENABLE FIU_CTRL_FIFO LD_PRELOAD
exec "$REAL_BATOND" "\$@"
EOF
fi
chmod 700 "$T/batond-fiu"
BATOND=$T/batond-fiu
start_broker
[[ -p "$T/fiu-$BROKER_PID.in" ]] ||
  fail "no libfiu control FIFO $T/fiu-$BROKER_PID.in: the preload did not load"

# writes_fail on|off: LMDB's page writes fail with ENOSPC, or work again.
writes_fail() {
  local cmd=(-c "disable name=posix/io/rw/pwrite" -c "disable name=posix/io/rw/writev")
  if [[ $1 = on ]]; then
    cmd=(-c "enable name=posix/io/rw/pwrite,failnum=1,failinfo=$ENOSPC"
      -c "enable name=posix/io/rw/writev,failnum=1,failinfo=$ENOSPC")
  fi
  fiu-ctrl -f "$T/fiu" "${cmd[@]}" "$BROKER_PID" ||
    fail "fiu-ctrl could not turn the write failures $1"
}

# hello_count NODE: how many sessions of NODE the broker has welcomed.
hello_count() {
  count_in_log "node=$1 role=$1 hello"
}

# --- before: five receipts ------------------------------------------------
declare -A received_at
for i in 1 2 3 4 5; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "before-$i"
  assert_rc 0 "send before-$i"
  assert_json code OK
  received_at[before-$i]=$(json_get .received_at)
done

# --- the fault: sessions past Hello submit while every commit fails --------
p0=$(hello_count provider) g0=$(hello_count gp)
hostile_spawn burst-p provider submit-burst --to cmht --json "$EXAMPLE_HANDOVER" \
  --prefix full-p --count "$BURST" --window "$BURST" --go-file "$T/go" --seconds 30
burst_p=$HOSTILE_PID
hostile_spawn burst-g gp submit-burst --to cmht --json "$REFERRAL" \
  --prefix full-g --count "$BURST" --window "$BURST" --go-file "$T/go" --seconds 30
burst_g=$HOSTILE_PID
wait_for "provider's session to be welcomed" 15 log_count_above "node=provider role=provider hello" "$p0"
wait_for "gp's session to be welcomed" 15 log_count_above "node=gp role=gp hello" "$g0"
mark=$(stat -c %s "$BROKER_LOG")
writes_fail on
log "LMDB's page writes now fail with ENOSPC"
touch "$T/go"
hostile_wait burst-p "$burst_p" 60
hostile_wait burst-g "$burst_g" 60
for n in burst-p burst-g; do
  hostile_show "$n"
  (($(hv "$n" sent) >= 1)) || fail "$n sent nothing"
  assert_eq 0 "$(hv "$n" receipted)" "$n: receipts for submits whose commit failed"
  assert_eq STORE_FULL "$(hv "$n" error_code)" "$n: the Error that closed it"
  assert_eq STORE_FULL:1 "$(hv "$n" errors)" "$n: Error frames"
  assert_eq 1 "$(hv "$n" broker_closed)" "$n: closed by the broker"
done
since=$(tail -c "+$((mark + 1))" "$BROKER_LOG")
assert_contains "$since" "crit: store full at commit: mdb_txn_commit: No space left on device" \
  "the broker log once the writes fail"
(($(grep -c 'node=\(provider\|gp\) peer=.* closing code=STORE_FULL' <<<"$since") == 2)) ||
  fail "provider's and gp's sessions were not both closed with STORE_FULL"
# It serves on: a second later, with the writes still failing, it is up.
sleep 1
assert_broker_alive
writes_fail off
log "LMDB's page writes work again"

# --- after: the same ids are new; the earlier ones stand -------------------
hostile_run again-p provider submit-burst 60 --to cmht --json "$EXAMPLE_HANDOVER" \
  --prefix full-p --count "$BURST" --window "$BURST" --seconds 30
hostile_run again-g gp submit-burst 60 --to cmht --json "$REFERRAL" \
  --prefix full-g --count "$BURST" --window "$BURST" --seconds 30
for n in again-p again-g; do
  hostile_show "$n"
  assert_eq "$BURST" "$(hv "$n" ok)" "$n: receipts once the writes work"
  assert_eq 0 "$(hv "$n" duplicate)" "$n: ids committed by the failed passes"
done
for i in 1 2 3 4 5; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id "before-$i"
  assert_rc 0 "resend before-$i"
  assert_json code OK
  assert_json duplicate true
  assert_json received_at "${received_at[before-$i]}"
done

# Every receipted handover reaches cmht, once.
recv_all cmht --max $((5 + 2 * BURST))
got=$(jq -r .message_id <<<"$RUN_OUT" | sort)
want=$( (printf 'before-%s\n' 1 2 3 4 5; seq -f 'full-p-%.0f' 1 "$BURST"
  seq -f 'full-g-%.0f' 1 "$BURST") | sort)
assert_eq "$want" "$got" "what cmht received"
assert_queue_empty cmht
assert_broker_alive
stop_broker
if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$BROKER_LOG"; then
  fail "sanitizer report in the broker log"
fi

ctl "audit verify" audit verify --data "$DATA_DIR"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --event submitted
assert_rc 0 "audit export --event submitted"
# The audit log names each handover by its reference, SENDER/ID; a resend
# that got the original receipt has a record of its own, "resubmitted".
ids_where() {
  jq -r "select(.reason // \"\" | startswith(\"resubmitted\") | $1) |
    .message_id | sub(\"^[^/]*/\"; \"\")" <<<"$RUN_OUT" | sort
}
assert_eq "$want" "$(ids_where not)" "first submitted records, one per receipted id"
assert_eq "$(printf 'before-%s\n' 1 2 3 4 5)" "$(ids_where .)" "resubmitted records"
