#!/usr/bin/env bash
#
# 07-audit-verify-wiped: verify fails a log that was wiped or cut back,
# with no anchor given. Seven nodes, a handover, a clean stop; then, on
# copies of the data directory: every record removed (the copy of the last
# checkpoint kept outside the chain names what is missing); every record
# and that copy removed (the seven registered nodes give it away); a
# broker restarted on the wiped log cannot cover it up; the stop
# checkpoint and everything after it removed (truncated); an empty store
# with nothing in it still verifies.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

AUDIT_CUT=$BATON_BIN/tests/fault/audit_cut
[[ -x "$AUDIT_CUT" ]] || fail "$AUDIT_CUT not built"

setup_four_nodes
for n in housing ward pharmacy; do issue_node_cert "$n"; done
add_node housing housing "Sampleton Housing Options"
add_node ward cmht "Northside Inpatient Ward"
add_node pharmacy gp "Riverside Pharmacy"
mkdir -p "$T/keys"
cp "$DATA_DIR/audit-signing.pub" "$T/keys/"
PUB=$T/keys/audit-signing.pub

start_broker
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER"
assert_rc 0 "baton send"
stop_broker

run "$BATONCTL" audit verify --data "$DATA_DIR" --pubkey "$PUB"
assert_rc 0 "audit verify of the intact log"
run "$BATONCTL" audit head --data "$DATA_DIR"
assert_rc 0 "audit head"
head_seq=${RUN_OUT%%:*}

# copy NAME: a copy of the (stopped) broker's data directory in $T/NAME.
copy() {
  rm -rf "${T:?}/$1"
  cp -a "$DATA_DIR" "$T/$1"
}

# Every record removed: fails, naming the checkpoint that was written.
copy wiped
run "$AUDIT_CUT" "$T/wiped" wipe
assert_rc 0 "audit_cut wipe"
assert_eq "$head_seq" "$RUN_OUT" "records removed by the wipe"
run "$BATONCTL" audit verify --data "$T/wiped" --pubkey "$PUB"
assert_rc 1 "audit verify of a wiped log"
assert_contains "$RUN_ERR" "damaged at seq 1: missing" "verify names seq 1"
assert_contains "$RUN_ERR" "checkpoint $head_seq was written" \
  "verify names the last checkpoint written"
assert_contains "$RUN_ERR" "wiped" "verify says the log was wiped"
assert_contains "$RUN_ERR" "backup" "verify says what to do"
assert_not_contains "$RUN_OUT" "intact" "verify output for a wiped log"

# A broker started on the wiped log begins a new chain; its checkpoints
# must not cover up the old one.
saved_data=$DATA_DIR
DATA_DIR=$T/wiped
start_broker
stop_broker
DATA_DIR=$saved_data
run "$BATONCTL" audit verify --data "$T/wiped" --pubkey "$PUB"
assert_rc 1 "audit verify after a broker restart on the wiped log"
assert_contains "$RUN_ERR" "checkpoint $head_seq was written" \
  "the old checkpoint is still the evidence"

# Every record and the copy of the last checkpoint removed: the seven
# registered nodes show the store is not new.
copy wiped-all
run "$AUDIT_CUT" "$T/wiped-all" wipe-all
assert_rc 0 "audit_cut wipe-all"
run "$BATONCTL" audit verify --data "$T/wiped-all" --pubkey "$PUB"
assert_rc 1 "audit verify of a wiped log without its checkpoint copy"
assert_contains "$RUN_ERR" "7 registered nodes" "verify counts the nodes"
assert_contains "$RUN_ERR" "wiped" "verify says the log was wiped"

# The stop checkpoint (the last record) removed: truncated, no anchor
# needed. The stop record before it goes too, as a careful cut would.
copy cut
run "$AUDIT_CUT" "$T/cut" from $((head_seq - 1))
assert_rc 0 "audit_cut from the stop record"
assert_eq 2 "$RUN_OUT" "records cut"
run "$BATONCTL" audit verify --data "$T/cut" --pubkey "$PUB"
assert_rc 1 "audit verify of a log cut before the stop checkpoint"
assert_contains "$RUN_ERR" "damaged at seq $((head_seq - 1))" \
  "verify names the first missing seq"
assert_contains "$RUN_ERR" "truncated" "verify says the log was truncated"

# A new, empty store (nothing in it at all) verifies: 0 records.
run "$AUDIT_CUT" "$T/new" wipe
assert_rc 0 "audit_cut creating an empty store"
run "$BATONCTL" audit verify --data "$T/new" --pubkey "$PUB"
assert_rc 0 "audit verify of a new, empty store"
assert_contains "$RUN_OUT" "audit log intact: 0 records" "verify of a new store"
