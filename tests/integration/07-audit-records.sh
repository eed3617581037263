#!/usr/bin/env bash
#
# 07-audit-records: the records answer the questions (issue 13). Every
# record about a handover carries its risk level and transition kind
# (record format 2), decisions their times since submit and delivery;
# broker_started and policy_loaded name the policy by the SHA-256 of its
# bytes (as sha256sum says); a refused policy reload is recorded with its
# first error as file:line and nothing else of the file; a revoked
# certificate's TLS refusal carries its serial and fingerprint; a
# revocation record has one reason key; --event given twice means either,
# and an unknown one is refused. The chain verifies throughout.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

BROKER_POLICY=$T/policy.conf
cp "$BATON_SRC/deploy/policy.conf" "$BROKER_POLICY"

setup_four_nodes
start_broker

# events E...: the records of events E... as JSON Lines, in RUN_OUT.
events() {
  local args=() e
  for e in "$@"; do
    args+=(--event "$e")
  done
  run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl "${args[@]}"
  assert_rc 0 "audit export --event $*"
}

sha() {
  sha256sum "$1" | cut -d' ' -f1
}

# ---- risk level, transition kind and times on a handover's records --------
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id rec-1
assert_rc 0 "send rec-1"
run baton_as cmht recv --wait 10 --max 1
assert_rc 0 "recv rec-1"
run baton_as cmht accept provider/rec-1
assert_rc 0 "accept rec-1"
audit_export provider/rec-1
assert_eq "submitted queued delivered acknowledged accepted" \
  "$(audit_seq submitted queued delivered acknowledged accepted)" "records of rec-1"
assert_eq "2 high step_up" \
  "$(jq -r 'select(.event != "notice_queued" and .event != "audit_read") |
     "\(.format) \(.risk) \(.kind)"' <<<"$AUDIT_JSONL" | sort -u)" \
  "format, risk and kind of every record of rec-1"
accepted=$(jq -c 'select(.event == "accepted")' <<<"$AUDIT_JSONL")
delivered=$(jq -c 'select(.event == "delivered")' <<<"$AUDIT_JSONL")
s_sub=$(json_get since_submit_ms "$accepted")
s_del=$(json_get since_delivery_ms "$accepted")
d_sub=$(json_get since_submit_ms "$delivered")
[[ "$s_sub" =~ ^[0-9]+$ && "$s_del" =~ ^[0-9]+$ && "$d_sub" =~ ^[0-9]+$ ]] ||
  fail "times of rec-1: accepted $s_sub/$s_del, delivered $d_sub"
((s_del <= s_sub && s_sub - s_del >= d_sub - 2 && s_sub - s_del <= d_sub + 2)) ||
  fail "accepted $s_sub ms after submit and $s_del after delivery, delivered at $d_sub"
assert_json since_submit_ms null "$(jq -c 'select(.event == "submitted")' <<<"$AUDIT_JSONL")"
assert_json since_delivery_ms null "$delivered"
# The table shows them too, and the CSV ends with them.
run "$BATONCTL" audit list --data "$DATA_DIR" --message provider/rec-1 --event accepted
assert_rc 0 "audit list"
assert_contains "$RUN_OUT" "risk=high kind=step_up" "audit list of the decision"
assert_contains "$RUN_OUT" "since_delivery=" "audit list of the decision"
run "$BATONCTL" audit export --data "$DATA_DIR" --format csv --message provider/rec-1
assert_rc 0 "audit export csv"
assert_contains "$(head -n 1 <<<"$RUN_OUT")" \
  ",signature,format,risk,kind,since_submit_ms,since_delivery_ms,detail" "CSV header"

# ---- the policy by its hash ------------------------------------------------
events broker_started
assert_eq "policy_sha256=$(sha "$BROKER_POLICY")" "$(json_get detail)" \
  "broker_started names the policy's hash"
printf '\n# reloaded copy\n' >>"$BROKER_POLICY"
hup_and_wait 'reload: policy .* loaded'
events policy_loaded
assert_eq 1 "$(count_lines "$RUN_OUT")" "policy_loaded records"
assert_json detail "policy_sha256=$(sha "$BROKER_POLICY")"
assert_json reason "$BROKER_POLICY"
assert_json outcome ok

# ---- a refused reload: recorded, first error only --------------------------
good=$T/policy.good
cp "$BROKER_POLICY" "$good"
{
  printf '# marker-not-for-the-log\n'
  printf 'deadline high soon\n'
  cat "$good"
  printf 'role provider\n'
} >"$BROKER_POLICY"
hup_and_wait 'reload: policy not changed'
events policy_refused
assert_eq 1 "$(count_lines "$RUN_OUT")" "policy_refused records"
assert_json outcome INVALID
assert_json actor broker
assert_contains "$(json_get reason)" "$BROKER_POLICY:2: " "first error, as file:line"
assert_not_contains "$(json_get reason)" "declared twice" "only the first error"
assert_json detail "policy_sha256=$(sha "$BROKER_POLICY")"
assert_not_contains "$RUN_OUT" "marker-not-for-the-log" "policy_refused record"
# The old policy stays: handovers still go.
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id rec-2
assert_rc 0 "send under the policy kept"
# A file that cannot be read at all.
mv "$BROKER_POLICY" "$T/policy.away"
hup_and_wait 'reload: policy not changed'
events policy_refused
assert_eq "INVALID UNREADABLE" "$(jq -r .outcome <<<"$RUN_OUT" | paste -sd' ')" \
  "outcomes of the refused reloads"
assert_contains "$(jq -r .reason <<<"$RUN_OUT" | tail -n 1)" "No such file" \
  "unreadable policy's reason"
cp "$good" "$BROKER_POLICY"
hup_and_wait 'reload: policy .* loaded'

# ---- repeated --event: either; an unknown one refused ----------------------
events policy_loaded policy_refused
assert_eq "policy_loaded policy_refused policy_refused policy_loaded" \
  "$(jq -r .event <<<"$RUN_OUT" | paste -sd' ')" "--event A --event B"
run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl \
  --event policy_loaded --event policy_lodaed
assert_rc 2 "an unknown second --event"
assert_contains "$RUN_ERR" "unknown event 'policy_lodaed'" "unknown event named"
run "$BATONCTL" audit list --data "$DATA_DIR" --node gp --node crisis --event connection_accepted
assert_rc 0 "repeated --node"

# ---- a revoked certificate: one reason key, and its refusal named ----------
serial=$(openssl x509 -in "$NODE_DIR/gp.crt" -noout -serial | cut -d= -f2)
fpr=$(openssl x509 -in "$NODE_DIR/gp.crt" -noout -fingerprint -sha256 |
  cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')
ctl "cert revoke gp" cert revoke --ca "$CA_DIR" --node gp --reason keyCompromise \
  --data "$DATA_DIR"
events certificate_changed
rev=$(jq -c 'select(.reason | startswith("revoked"))' <<<"$RUN_OUT")
assert_eq 1 "$(count_lines "$rev")" "revocation records"
assert_json cert_serial "$serial" "$rev"
assert_json detail revocation_reason=keyCompromise "$rev"
assert_not_contains "$(json_get reason "$rev")" "reason=" "the revocation's reason field"
run "$BATONCTL" audit list --data "$DATA_DIR" --event certificate_changed --node gp
assert_rc 0 "audit list of the revocation"
row=$(grep ' certificate_changed ' <<<"$RUN_OUT" | grep revoked)
assert_eq 1 "$(grep -o ' reason=' <<<"$row" | wc -l)" "reason keys in the table row"

hup_and_wait 'reload: TLS context and CRL loaded'
refused() {
  run baton_as gp recv --wait 1 --no-ack
  [[ $RUN_RC -eq 2 ]]
}
wait_for "gp's revoked certificate refused" 20 refused
events connection_refused
tls=$(jq -c 'select(.outcome == "TLS_HANDSHAKE")' <<<"$RUN_OUT" | tail -n 1)
[[ -n "$tls" ]] || fail "no TLS_HANDSHAKE refusal recorded"
assert_contains "$(json_get reason "$tls")" "revoked" "the refusal's reason"
assert_json cert_serial "$serial" "$tls"
assert_json cert_sha256 "$fpr" "$tls"
grep -q "serial=$serial" "$BROKER_LOG" || fail "the broker log does not name the serial"

run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify"
assert_broker_alive
