#!/usr/bin/env bash
#
# 11-ops-version (issue 12): `batond --version`, `batonctl --version` and
# `baton --version` each print "NAME VERSION", the project() VERSION of
# the top CMakeLists.txt, and exit 0.
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

want=$(sed -nE 's/^project\(baton VERSION ([0-9][0-9.]*).*/\1/p' "$BATON_SRC/CMakeLists.txt")
[[ -n "$want" ]] || fail "no project(baton VERSION ...) in CMakeLists.txt"
for prog in "$BATOND" "$BATONCTL" "$BATON"; do
  name=$(basename "$prog")
  run "$prog" --version
  assert_rc 0 "$name --version"
  assert_eq "$name $want" "$RUN_OUT" "$name --version output"
  assert_eq "" "$RUN_ERR" "$name --version stderr"
done
