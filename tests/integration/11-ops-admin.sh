#!/usr/bin/env bash
#
# 11-ops-admin (issue 12, part 6): admin safety.
#  - node add / set-role refuse a role the policy in force does not
#    declare, naming the declared roles and the nearest ("did you mean
#    'housing'?"); --force registers it; before the broker's first start
#    no policy is known and --policy FILE (or --force) is needed;
#  - batond warns at start and at each reload about an escalation node
#    that is not registered (or disabled) and a registered role the policy
#    lacks, and keeps DATA/policy.in-force, the policy it parsed;
#  - node remove is refused while handovers are queued or in flight,
#    goes through with --force (saying what becomes of them), is in the
#    audit log, and closes the node's live session;
#  - node list shows a revoked certificate, from the audit log and from
#    the CA;
#  - cert renew: the node connects with the new certificate, then
#    --finish revokes the old one, refused at the next connection;
#  - the CRL timer and service pass systemd-analyze verify.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

cp "$BATON_SRC/deploy/policy.conf" "$T/policy.conf"
BROKER_POLICY=$T/policy.conf

# new_node ID ROLE [ARGS...]: node add, checked against BROKER_POLICY.
new_node() {
  local id=$1 role=$2
  shift 2
  ctl "node add $id" node add --data "$DATA_DIR" --node "$id" --role "$role" \
    --org "Test organisation $id" "$@"
}

# serial_of CERT: the certificate's serial as the CA writes it.
serial_of() {
  openssl x509 -in "$1" -noout -serial | cut -d= -f2
}

make_pki provider cmht gp crisis

# ---- roles, before the broker ever ran: no policy in force is known ----
run "$BATONCTL" node add --data "$DATA_DIR" --node early --role hosuing
assert_rc 0 "node add with no policy known registers, unchecked"
assert_contains "$RUN_ERR" "no policy in force is known" "the warning says why"
assert_contains "$RUN_ERR" "--policy FILE" "and how to have it checked"
run "$BATONCTL" node remove --data "$DATA_DIR" --node early
assert_rc 0 "the unchecked node is removed again"
run "$BATONCTL" node add --data "$DATA_DIR" --node house1 --role hosuing \
  --policy "$BROKER_POLICY"
assert_rc 1 "node add with a role typo"
assert_contains "$RUN_ERR" "role 'hosuing' is not declared" "the refusal"
assert_contains "$RUN_ERR" "did you mean 'housing'?" "the suggestion"
assert_contains "$RUN_ERR" "declared roles: provider, cmht, gp, crisis, housing, auditor" \
  "the declared roles"
run "$BATONCTL" node add --data "$DATA_DIR" --node house1 --role hosuing \
  --policy "$BROKER_POLICY" --force
assert_rc 0 "node add --force with an undeclared role"
assert_contains "$RUN_ERR" "warning: role 'hosuing' is not declared" "the --force warning"
for n in provider cmht gp; do
  new_node "$n" "$n" --policy "$BROKER_POLICY"
done
# crisis, the policy's escalation node, is not registered yet

# ---- warnings at start; the copy of the policy in force ----
start_broker
wait_for "the start's warnings" 10 grep -q 'policy: node=house1 has role=hosuing' "$BROKER_LOG"
grep -q "policy: escalation node=crisis is not registered" "$BROKER_LOG" ||
  fail "no warning about the unregistered escalation node"
grep -q "node=house1 has role=hosuing, which the policy does not declare.*did you mean 'housing'?" \
  "$BROKER_LOG" || fail "the undeclared-role warning has no suggestion"
[[ -f "$DATA_DIR/policy.in-force" ]] || fail "no DATA/policy.in-force after start"
tail -n +4 "$DATA_DIR/policy.in-force" | cmp -s - "$BROKER_POLICY" ||
  fail "DATA/policy.in-force is not the policy loaded"

# now the copy is the policy in force: no --policy needed
run "$BATONCTL" node set-role --data "$DATA_DIR" --node house1 --role housng
assert_rc 1 "set-role with a typo"
assert_contains "$RUN_ERR" "did you mean 'housing'?" "set-role's suggestion"
assert_contains "$RUN_ERR" "policy.in-force" "set-role names the policy in force"
run "$BATONCTL" node set-role --data "$DATA_DIR" --node house1 --role housing
assert_rc 0 "set-role to a declared role"
new_node crisis crisis
ctl "disable crisis" node disable --data "$DATA_DIR" --node crisis

# ---- warnings at reload, from the policy now in force ----
sed -i 's/^role auditor$/role auditors/' "$BROKER_POLICY"
new_node audit1 auditor
before=$(count_in_log "escalation node=crisis is disabled")
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "reload"
wait_for "the reload's warnings" 10 log_count_above "escalation node=crisis is disabled" "$before"
grep -q "policy: node=audit1 has role=auditor, which the policy does not declare.*did you mean 'auditors'?" \
  "$BROKER_LOG" || fail "no warning at reload about a role the new policy lacks"
grep -q "node=house1 has role=" "$BROKER_LOG" && (($(count_in_log "node=house1 has role=") == 1)) ||
  fail "house1's role, now declared, was warned about again"
run "$BATONCTL" node add --data "$DATA_DIR" --node audit2 --role auditor
assert_rc 1 "node add against the reloaded policy in force"
assert_contains "$RUN_ERR" "did you mean 'auditors'?" "the suggestion follows the reload"
ctl "enable crisis" node enable --data "$DATA_DIR" --node crisis

# ---- node remove ----
for i in 1 2; do
  run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id remove-$i
  assert_rc 0 "send remove-$i to cmht"
done
run "$BATONCTL" node remove --data "$DATA_DIR" --node cmht
assert_rc 1 "node remove with handovers queued"
assert_contains "$RUN_ERR" "node 'cmht' has 2 handovers queued and 0 in flight" "the refusal"
assert_contains "$RUN_ERR" "--force" "how to go on"

baton_as cmht recv --wait 60 --no-ack >"$T/recv.out" 2>"$T/recv.err" &
recv_pid=$!
_pids+=("$recv_pid")
wait_for "cmht's session" 15 grep -q 'node=cmht role=cmht hello' "$BROKER_LOG"
in_flight() {
  run "$BATONCTL" node remove --data "$DATA_DIR" --node cmht
  [[ $RUN_RC -eq 1 && "$RUN_ERR" == *"has 0 handovers queued and 2 in flight"* ]]
}
wait_for "both handovers in flight to cmht" 15 in_flight
run "$BATONCTL" node remove --data "$DATA_DIR" --node cmht --force
assert_rc 0 "node remove --force"
assert_contains "$RUN_OUT" "removed node 'cmht' (role cmht)" "remove output"
assert_contains "$RUN_OUT" "2 delivered but not acknowledged: stay undecided" \
  "what becomes of the handovers in flight"
# The broker re-checks live sessions every 2 s: well within 10 s.
_await_exit "$recv_pid" 10
assert_eq 2 "$_exit_rc" "exit status of cmht's recv after node remove"
assert_contains "$(cat "$T/recv.err")" "UNKNOWN_NODE" "recv's error names the code"
grep -q 'node=cmht .*closing code=UNKNOWN_NODE' "$BROKER_LOG" ||
  fail "broker log does not say why cmht's session was closed"
run baton_as cmht recv --wait 1
assert_rc 2 "a removed node connecting"
run "$BATONCTL" node list --data "$DATA_DIR" --json
assert_rc 0 "node list after remove"
assert_eq "" "$(jq -r 'select(.node == "cmht") | .node' <<<"$RUN_OUT")" "cmht still listed"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --node cmht --event node_changed
assert_rc 0 "audit export of cmht's node changes"
assert_contains "$(jq -r '.reason' <<<"$RUN_OUT" | tail -n 1)" \
  "removed role=cmht queued=0 in_flight=2 uid=" "the removal's audit record"
run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify after node remove"

# ---- node list shows a revoked certificate ----
gp_serial=$(serial_of "$NODE_DIR/gp.crt")
run baton_as gp recv --wait 1
assert_rc 0 "gp connects (its serial is recorded)"
ctl "revoke gp" cert revoke --ca "$CA_DIR" --node gp --reason keyCompromise --data "$DATA_DIR"
run "$BATONCTL" node list --data "$DATA_DIR" --json
assert_rc 0 "node list, from the audit log"
assert_eq "revoked" "$(jq -r --arg s "$gp_serial" 'select(.node == "gp") |
  .certificates[] | select(.serial == $s) | .state' <<<"$RUN_OUT")" "gp's certificate (audit log)"
assert_eq "audit log" "$(jq -r 'select(.node == "gp") | .certificates_from' <<<"$RUN_OUT")" \
  "where node list took the certificates from"
run "$BATONCTL" node list --data "$DATA_DIR"
assert_rc 0 "node list as a table"
assert_contains "$(grep '^gp ' <<<"$RUN_OUT")" "1 revoked" "gp's row"
run "$BATONCTL" node list --data "$DATA_DIR" --ca "$CA_DIR" --json
assert_rc 0 "node list --ca"
assert_eq "revoked" "$(jq -r --arg s "$gp_serial" 'select(.node == "gp") |
  .certificates[] | select(.serial == $s) | .state' <<<"$RUN_OUT")" "gp's certificate (CA)"
assert_eq "current" "$(jq -r 'select(.node == "provider") | .certificates[0].state' <<<"$RUN_OUT")" \
  "provider's certificate (CA)"

# ---- cert renew ----
old=$(serial_of "$NODE_DIR/provider.crt")
run "$BATONCTL" cert renew --ca "$CA_DIR" --node provider --out "$T/renewed" --data "$DATA_DIR"
assert_rc 0 "cert renew"
new=$(serial_of "$T/renewed/provider.crt")
[[ "$new" != "$old" ]] || fail "the renewed certificate has the old serial"
assert_contains "$RUN_OUT" "replaces $old" "renew names the certificate it replaces"
assert_contains "$RUN_OUT" "cert renew --finish" "renew says what comes next"
run "$BATONCTL" cert renew --finish --ca "$CA_DIR" --data "$DATA_DIR"
assert_rc 0 "finish before the node connected"
assert_contains "$RUN_OUT" "waiting: node provider has not connected with certificate $new" \
  "finish waits for the new certificate"
run baton_as provider recv --wait 1
assert_rc 0 "the old certificate still works before the finish"
run baton_with "$T/renewed/provider.crt" "$T/renewed/provider.key" recv --wait 1
assert_rc 0 "provider connects with its new certificate"
run "$BATONCTL" cert renew --finish --ca "$CA_DIR" --data "$DATA_DIR"
assert_rc 0 "finish after the node connected"
assert_contains "$RUN_OUT" "revoked node certificate $old of provider (superseded" "the revocation"
grep -q "^$old	" "$CA_DIR/revoked.txt" || fail "$old is not in revoked.txt"
run "$BATONCTL" cert renew --finish --ca "$CA_DIR" --data "$DATA_DIR"
assert_rc 0 "a second finish"
assert_contains "$RUN_OUT" "nothing revoked" "nothing left to finish"
run "$BATONCTL" reload --data "$DATA_DIR"
assert_rc 0 "reload with the new CRL"
run baton_as provider recv --wait 1
assert_rc 2 "the old certificate after the finish and reload"
run baton_with "$T/renewed/provider.crt" "$T/renewed/provider.key" recv --wait 1
assert_rc 0 "the new certificate after the finish and reload"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --node provider \
  --event certificate_changed
assert_rc 0 "audit export of provider's certificates"
assert_eq "$new $old" "$(jq -r '.cert_serial' <<<"$RUN_OUT" | paste -sd' ' -)" \
  "renewal and revocation recorded, in order"
assert_eq "revocation_reason=superseded" "$(jq -r '.detail' <<<"$RUN_OUT" | tail -n 1)" \
  "the revocation's reason"

# ---- the CRL timer: crl --copy-to as the service runs it, then verify ----
run "$BATONCTL" crl --ca "$CA_DIR" --copy-to "$T/crl-copy.pem"
assert_rc 0 "crl --copy-to"
cmp -s "$CA_DIR/crl.pem" "$T/crl-copy.pem" || fail "the copied CRL differs from the CA's"
[[ $(stat -c %a "$T/crl-copy.pem") == 644 ]] || fail "the copied CRL is not mode 0644"
for u in baton-crl.service baton-crl.timer; do
  [[ -s "$BATON_SRC/deploy/$u" ]] || fail "deploy/$u is missing"
done
grep -q '^ExecStart=/usr/local/bin/batonctl crl --ca ' "$BATON_SRC/deploy/baton-crl.service" ||
  fail "the service does not run batonctl crl"
grep -q '^OnCalendar=daily$' "$BATON_SRC/deploy/baton-crl.timer" || fail "the timer is not daily"
if command -v systemd-analyze >/dev/null; then
  mkdir "$T/units"
  sed -e "s|/usr/local/bin/batonctl|$(readlink -f "$BATONCTL")|g" \
    "$BATON_SRC/deploy/baton-crl.service" >"$T/units/baton-crl.service"
  cp "$BATON_SRC/deploy/baton-crl.timer" "$T/units/"
  run systemd-analyze verify --man=no "$T/units/baton-crl.service" "$T/units/baton-crl.timer"
  assert_rc 0 "systemd-analyze verify"
  assert_eq "" "$RUN_OUT$RUN_ERR" "systemd-analyze verify output"
else
  log "no systemd-analyze: the unit check is skipped"
fi
stop_broker
