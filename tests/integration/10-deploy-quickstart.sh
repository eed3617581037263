#!/usr/bin/env bash
#
# 10-deploy-quickstart: deploy/quickstart.sh, with the binaries of this
# build, runs end to end in a temp work dir: exit 0, the handover arrives at
# cmht intact, the broker is stopped, and a second run replaces the work
# dir. A directory it did not make is never removed.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

BROKER_LOG=$T/demo/batond.log
export BATON_BIN
for i in 1 2; do
  run env BATON_DEMO_DIR="$T/demo" bash "$BATON_SRC/deploy/quickstart.sh"
  assert_rc 0 "quickstart run $i"
  [[ -f "$T/demo/ca/ca.crt" && -f "$T/demo/nodes/crisis.crt" ]] ||
    fail "quickstart run $i left no CA or node certificates"
  # The delivery is the last JSON document before the closing text.
  delivery=$(sed -n '/^\[[0-9]*\] cmht receives/,/^\[[0-9]*\] Stopping/p' \
    "$T/run.out" | sed '1d;$d' | jq -c .) ||
    fail "quickstart run $i printed no delivery as JSON"
  assert_json from provider "$delivery"
  assert_json to cmht "$delivery"
  same_handover "$EXAMPLE_HANDOVER" "$(json_get .handover "$delivery")" \
    "handover shown by the quick start"
  assert_contains "$RUN_OUT" "batond stopped cleanly" "quickstart run $i"
done

# A work dir the quick start did not make is refused, and left alone.
mkdir -p "$T/mine"
echo keep >"$T/mine/file"
run env BATON_DEMO_DIR="$T/mine" bash "$BATON_SRC/deploy/quickstart.sh"
assert_rc 1 "quickstart on a foreign directory"
assert_eq keep "$(cat "$T/mine/file")" "file in a foreign directory"
