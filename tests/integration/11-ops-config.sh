#!/usr/bin/env bash
#
# 11-ops-config (issue 12, part 1): `batond -c FILE` takes every setting
# from the file. Table-driven: each key batond knows (its --print-config
# dump lists them all, from the one table in broker/state/config.c) must
# have a row here, is accepted in a file, and changes the effective
# setting; a flag overrides the file. The shipped deploy/batond.conf
# parses and names every key, and so does batond.conf(5). Then a real
# broker runs from a file alone (listen, port file, data, TLS, policy),
# serves a handover, and honours a limit from the file (max-frame) unless
# a flag overrides it.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-ops.sh
source "$(dirname "$0")/lib-ops.sh"

# key -> a value that is not its default, and what the dump then shows
declare -A value=(
  [listen]=192.0.2.7:7999 [port-file]=/run/x.port [data]=/srv/baton
  [ca]=/e/ca.crt [cert]=/e/s.crt [key]=/e/s.key [crl]=/e/crl.pem
  [policy]=/e/policy.conf [max-frame]=2048 [max-unacked]=7 [map-size]=2M
  [max-connections]=33 [max-per-node]=3 [handshake-timeout]=11
  [idle-timeout]=121 [frame-timeout]=31 [hello-timeout]=12
  [max-preauth-per-address]=5 [max-output]=1M [max-buffered]=5M
  [metrics]=127.0.0.1:9999 [metrics-allow-remote]=yes
  [allow-tls12]=yes [user]=nobody [verbose]=yes [log-format]=journal
)
declare -A shown=([map-size]=2097152 [max-output]=1048576 [max-buffered]=5242880)
required=(data ca cert key policy)

# every key of the table, from the dump of the defaults
print_config --data /d --ca /c --cert /c --key /k --policy /p
mapfile -t keys < <(printf '%s\n' "$RUN_OUT" | sed -E 's/^# ([^ ]+) \(not set\)$/\1/; s/ .*//')
((${#keys[@]} >= 24)) || fail "only ${#keys[@]} keys in --print-config"
for k in "${keys[@]}"; do
  [[ -n "${value[$k]:-}" ]] || fail "key '$k' has no row in this test's table"
done
log "${#keys[@]} keys: ${keys[*]}"

# each key, alone in a file beside the required ones, changes the setting
for k in "${keys[@]}"; do
  {
    for r in "${required[@]}"; do
      [[ $r == "$k" ]] || echo "$r /placeholder/$r"
    done
    echo "$k ${value[$k]}"
  } >"$T/one.conf"
  print_config -c "$T/one.conf"
  assert_eq "${shown[$k]:-${value[$k]}}" "$(config_value "$k")" "key $k from the file"
done

# flags override the file (a value, a yes/no flag without value, -v)
write_conf "$T/over.conf" "max-unacked 7" "allow-tls12 no" "verbose no"
print_config -c "$T/over.conf" --max-unacked 9 --allow-tls12 -v --data "$T/other"
assert_eq 9 "$(config_value max-unacked)" "--max-unacked over the file"
assert_eq yes "$(config_value allow-tls12)" "--allow-tls12 over the file"
assert_eq yes "$(config_value verbose)" "-v over the file"
assert_eq "$T/other" "$(config_value data)" "--data over the file"
print_config -c "$T/over.conf"
assert_eq 7 "$(config_value max-unacked)" "the file's value without the flag"

# the shipped example parses, and it and the man page name every key
print_config -c "$BATON_SRC/deploy/batond.conf"
assert_eq 0.0.0.0:7400 "$(config_value listen)" "deploy/batond.conf listen"
assert_eq /var/lib/baton "$(config_value data)" "deploy/batond.conf data"
for k in "${keys[@]}"; do
  grep -Eq "^#?$k " "$BATON_SRC/deploy/batond.conf" ||
    fail "deploy/batond.conf does not list key $k"
  grep -Fq "${k//-/\\-}" "$BATON_SRC/docs/man/batond.conf.5" ||
    fail "docs/man/batond.conf.5 does not describe key $k"
  "$BATOND" --help | grep -q -- "--$k" || fail "batond --help does not list --$k"
done

# a real broker from the file alone; max-frame 1024 refuses the example
setup_four_nodes
write_conf "$T/batond.conf" "max-frame 1024" "max-buffered 64M"
start_broker_conf "$T/batond.conf"
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id conf-big
[[ $RUN_RC -ne 0 ]] || fail "a handover over the file's max-frame 1024 was accepted"
stop_broker
# the flag over the file lets it through
start_broker_conf "$T/batond.conf" --max-frame 65536
run baton_as provider send --to cmht --json "$EXAMPLE_HANDOVER" --id conf-1
assert_rc 0 "send to a broker configured by file (max-frame from the flag)"
RECV_WAIT=3 recv_all cmht
assert_json message_id conf-1
run "$BATOND" -n -c "$T/batond.conf"
assert_rc 0 "batond -n -c on the running broker's file"
assert_contains "$RUN_OUT" "configuration OK" "batond -n -c"
stop_broker
