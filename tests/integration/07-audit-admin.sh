#!/usr/bin/env bash
#
# 07-audit-admin: every batonctl change to nodes, roles and certificates is
# in the audit log: node add, set-role, disable, enable (node_changed) and
# cert issue and revoke with --data (certificate_changed, with the
# certificate's serial), and the chain still verifies.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

setup_four_nodes
ctl "issue housing" cert issue --ca "$CA_DIR" --node housing --out "$NODE_DIR" \
  --data "$DATA_DIR"
serial=$(openssl x509 -in "$NODE_DIR/housing.crt" -noout -serial | cut -d= -f2)
add_node housing housing "Sampleton Housing Options"
ctl "set-role" node set-role --data "$DATA_DIR" --node housing --role cmht
ctl "disable" node disable --data "$DATA_DIR" --node housing
ctl "enable" node enable --data "$DATA_DIR" --node housing
ctl "revoke" cert revoke --ca "$CA_DIR" --node housing --data "$DATA_DIR"

run "$BATONCTL" audit export --data "$DATA_DIR" --format jsonl --node housing
assert_rc 0 "audit export for housing"
assert_eq "certificate_changed node_changed node_changed node_changed node_changed certificate_changed" \
  "$(jq -r 'select(.event != "audit_read") | .event' <<<"$RUN_OUT" | paste -sd' ' -)" \
  "administrative changes to housing, in order"
assert_eq "$serial $serial" \
  "$(jq -r 'select(.event == "certificate_changed") | .cert_serial' <<<"$RUN_OUT" | paste -sd' ' -)" \
  "issued and revoked serial"
assert_contains "$(jq -r 'select(.event == "certificate_changed") | .reason' <<<"$RUN_OUT" | head -n 1)" \
  "issued node" "issue record"
assert_contains "$RUN_OUT" "role housing -> cmht" "role change recorded"
assert_eq batonctl "$(jq -r 'select(.event != "audit_read") | .actor' <<<"$RUN_OUT" | sort -u)" \
  "actor of administrative changes"

run "$BATONCTL" audit verify --data "$DATA_DIR"
assert_rc 0 "audit verify after administrative changes"

# A new deployment: the first command that touches the data directory may
# be a cert issue with --data (issue 12); it creates the keys and the
# store as node add does, and its record is the first of the log.
NEW_DIR=$T/new-data
mkdir -m 700 "$NEW_DIR"
ctl "issue into a new data directory" cert issue --ca "$CA_DIR" --node newcomer \
  --out "$NODE_DIR" --data "$NEW_DIR"
run "$BATONCTL" audit export --data "$NEW_DIR" --format jsonl --event certificate_changed
assert_rc 0 "audit export of the new data directory"
assert_eq "1 newcomer" "$(jq -r '"\(.seq) \(.other)"' <<<"$RUN_OUT")" \
  "the issue is the new log's first record"
# where a store exists, a missing key is reported, never made anew
rm "$NEW_DIR/subject.key"
run "$BATONCTL" cert issue --ca "$CA_DIR" --node other --out "$NODE_DIR" --data "$NEW_DIR"
assert_rc 1 "cert issue --data with the store's key missing"
assert_contains "$RUN_ERR" "subject.key" "the refusal names the missing key"
[[ ! -e "$NEW_DIR/subject.key" ]] || fail "a missing subject key was made anew"
