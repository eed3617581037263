#!/usr/bin/env bash
#
# 11-ops-reload (issue 12, part 5): `batonctl reload --data DIR` signals
# the running broker (DATA/batond.pid), waits for its outcome
# (DATA/reload.status) and reports it: exit 0 for a good reload, exit 1
# naming file and line for a policy with an error or a config file with
# an error (nothing changes: the old policy keeps routing), 0 again once
# fixed. Each outcome is logged with its generation, each policy error on
# a line of its own with time and level, at the line where it is. No
# broker running, or a stale pid file, is an error without any signal.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-ops.sh
source "$(dirname "$0")/lib-ops.sh"

setup_four_nodes
cp "$BATON_SRC/deploy/policy.conf" "$T/policy.conf"
BROKER_POLICY=$T/policy.conf
write_conf "$T/batond.conf"

run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 1 "batonctl reload with no broker"
assert_contains "$RUN_ERR" "no broker is running on $DATA_DIR" "says no broker runs"

start_broker_conf "$T/batond.conf"
assert_eq "$BROKER_PID" "$(<"$DATA_DIR/batond.pid")" "batond.pid"
assert_eq 600 "$(stat -c %a "$DATA_DIR/batond.pid")" "mode of batond.pid"

run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "a good reload"
assert_eq "reload 1: ok" "$RUN_OUT" "batonctl reload output"
grep -q "reload generation=1 result=ok" "$BROKER_LOG" || fail "no log line for reload 1"

# a policy whose routes name an undeclared role, twice: refused
good=$(grep -n '^ *send ' "$T/policy.conf" | head -n 2)
l1=$(sed -n 1p <<<"$good" | cut -d: -f1)
l2=$(sed -n 2p <<<"$good" | cut -d: -f1)
[[ -n "$l1" && -n "$l2" ]] || fail "test setup: no two send lines in the policy"
sed -i -E "${l1}s/send +[a-z_]+/send provder/; ${l2}s/send +[a-z_]+/send hosuing/" "$T/policy.conf"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 1 "a reload with a bad policy"
assert_contains "$RUN_OUT" "reload 2: refused: $T/policy.conf:$l1: " "names the policy line"
assert_contains "$RUN_ERR" "refused the reload" "says it was refused"
grep -q "reload generation=2 result=refused" "$BROKER_LOG" || fail "no log line for reload 2"
# each policy error is an event of its own, with its real line
grep -Eq "^[0-9T:.-]+Z batond warn: $T/policy.conf:$l1: role '[a-z_]+' sends to undeclared role 'provder'\$" "$BROKER_LOG" ||
  fail "no timestamped warn line for policy.conf:$l1"
grep -Eq "^[0-9T:.-]+Z batond warn: $T/policy.conf:$l2: role '[a-z_]+' sends to undeclared role 'hosuing'\$" "$BROKER_LOG" ||
  fail "no timestamped warn line for policy.conf:$l2"
bad=$(grep -Ev '^([0-9T:.-]+Z batond (debug|info|warn|crit|fatal): |--- start_broker)' "$BROKER_LOG" || true)
[[ -z "$bad" ]] || fail "log lines without time and level: $bad"
# the old policy still routes
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id reload-1
assert_rc 0 "send under the policy kept after a refused reload"

# fixed: accepted again
cp "$BATON_SRC/deploy/policy.conf" "$T/policy.conf"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "a reload with the policy fixed"
assert_eq "reload 3: ok" "$RUN_OUT" "batonctl reload output"

# a config file with an error: refused, nothing changed
echo "max-unacked lots" >>"$T/batond.conf"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 1 "a reload with a bad config file"
assert_contains "$RUN_OUT" "reload 4: refused: $T/batond.conf:$(wc -l <"$T/batond.conf"): max-unacked:" \
  "names the config line"
sed -i '$d' "$T/batond.conf"
# a key only a restart applies is named, the reload still succeeds
echo "max-connections 99" >>"$T/batond.conf"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "a reload changing a restart-only key"
grep -q "reload: max-connections changed in $T/batond.conf; applied at the next restart" "$BROKER_LOG" ||
  fail "no warning that max-connections needs a restart"
assert_broker_alive

stop_broker
[[ ! -e "$DATA_DIR/batond.pid" ]] || fail "batond.pid left after a clean stop"
# a stale pid file naming a process that is not batond: no signal sent
sleep 30 &
sleeper=$!
_pids+=("$sleeper")
echo "$sleeper" >"$DATA_DIR/batond.pid"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 1 "batonctl reload with a stale pid file"
assert_contains "$RUN_ERR" "not a running batond" "says the pid file is stale"
kill -0 "$sleeper" || fail "batonctl reload signalled a process that is not batond"
