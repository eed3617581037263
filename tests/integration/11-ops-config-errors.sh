#!/usr/bin/env bash
#
# 11-ops-config-errors (issue 12, part 1): a batond.conf with mistakes is
# refused with every mistake at once, each as FILE:LINE: reason (an
# unknown key with the key meant, a value out of range, a key twice, '=',
# an unterminated quote, a line too long, a missing required key), plus
# flag mistakes after them; exit 2, nothing starts, no port file. A
# missing file is named. -n and a real start say the same.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"
# shellcheck source=lib-ops.sh
source "$(dirname "$0")/lib-ops.sh"

long=$(printf 'x%.0s' {1..1100})
cat >"$T/bad.conf" <<EOF
# line 1: a comment
listen 127.0.0.1:0
port-file $T/broker.port
max-frmae 2048
max-unacked 0

max-unacked 70000
idle-timeout = 5
data "$T/data
allow-tls12 maybe
log-format syslog
map-size 12Q
cert $long
EOF
expect=(
  "bad.conf:4: unknown key 'max-frmae'; did you mean 'max-frame'?"
  "bad.conf:5: max-unacked: '0' is not a number from 1 to 65535"
  "bad.conf:7: 'max-unacked' is set twice (first on line 5)"
  "bad.conf:8: write 'KEY VALUE' (no '=')"
  "bad.conf:9: a quoted value must end with '\"'"
  "bad.conf:10: allow-tls12: 'maybe' is not yes or no"
  "bad.conf:11: log-format: 'syslog' is not one of auto, text, journal"
  "bad.conf:12: map-size: '12Q' is not a number"
  "bad.conf:13: line longer than 1024 bytes"
  "--max-per-node: '-1' is not a number from 1 to 10000"
  "unknown option '--polcy'; did you mean '--policy'?"
  "ca is required"
  "policy is required"
)
for mode in -n start; do
  args=(-c "$T/bad.conf" --max-per-node -1 --polcy x)
  [[ $mode == -n ]] && args+=(-n)
  run "$BATOND" "${args[@]}"
  assert_rc 2 "batond ($mode) with a bad config file"
  for e in "${expect[@]}"; do
    assert_contains "$RUN_ERR" "$e" "batond ($mode) reports: $e"
  done
  # one line per problem, each starting "batond: "
  n=$(printf '%s\n' "$RUN_ERR" | grep -c '^batond: ')
  ((n >= ${#expect[@]})) || fail "only $n error lines for ${#expect[@]} problems"
  [[ ! -e "$T/broker.port" ]] || fail "batond ($mode) wrote a port file"
done

run "$BATOND" -c "$T/nonexistent.conf" -n
assert_rc 2 "batond -c with a missing file"
assert_contains "$RUN_ERR" "$T/nonexistent.conf: No such file or directory" "names the missing file"

# a value in quotes keeps its spaces
printf 'data "%s"\nca /c\ncert /c\nkey /k\npolicy /p\n' "$T/with space/data" >"$T/quoted.conf"
print_config -c "$T/quoted.conf"
assert_eq "\"$T/with space/data\"" "$(config_value data)" "a quoted data path"

# a file over 64 KiB is refused as a whole
head -c 70000 /dev/zero | tr '\0' '#' >"$T/huge.conf"
run "$BATOND" -c "$T/huge.conf" -n
assert_rc 2 "batond with a 70 KB config file"
assert_contains "$RUN_ERR" "larger than 64 KiB" "a huge file is refused"
