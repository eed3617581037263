#!/bin/sh
# run.sh - build the libFuzzer targets with clang and run each for a while.
#
# usage: tests/fuzz/run.sh [seconds]      (default 60, or $BATON_FUZZ_SECONDS)
#
# Configures its own build directory ($BATON_FUZZ_BUILD, default
# build-fuzz at the top of the tree) with CC=clang, BATON_FUZZ=ON and
# BATON_SANITIZE=ON, builds fuzz_json, fuzz_frame, fuzz_policy,
# fuzz_config (batond.conf), fuzz_decode_time (frame decoding stays linear in time) and fuzz_dispatch
# (frame sequences through the dispatch table into the lifecycle over a
# temporary store), then runs each with the committed seed corpus. New
# inputs go to a scratch directory, never into the repository; a crash
# leaves its input there and fails the run.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
secs=${1:-${BATON_FUZZ_SECONDS:-60}}
build=${BATON_FUZZ_BUILD:-$src/build-fuzz}
work=$(mktemp -d "${TMPDIR:-/tmp}/baton-fuzz.XXXXXX")
jobs=${BATON_FUZZ_JOBS:-2}

case $secs in
''|*[!0-9]*) echo "run.sh: seconds must be a number, got '$secs'" >&2; exit 2 ;;
esac

CC=${CC:-clang}
case $("$CC" --version 2>/dev/null | head -n 1) in
*clang*) ;;
*) echo "run.sh: CC=$CC is not clang" >&2; exit 2 ;;
esac

# Warnings are the ordinary build's job (gcc, -Werror); here they are kept
# but do not stop the fuzzing unless BATON_FUZZ_WERROR=ON.
CC=$CC cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DBATON_FUZZ=ON -DBATON_SANITIZE=ON \
	-DBATON_WERROR="${BATON_FUZZ_WERROR:-OFF}" >/dev/null
cmake --build "$build" --target fuzz_json fuzz_frame fuzz_policy \
	fuzz_config fuzz_decode_time fuzz_dispatch -j "$jobs" >/dev/null

status=0
for t in json frame policy config decode_time dispatch; do
	mkdir -p "$work/$t" "$work/crash-$t"
	echo "== fuzz_$t for ${secs}s (scratch $work)"
	set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/crash-$t/"
	if [ -f "$here/$t.dict" ]; then
		set -- "$@" -dict="$here/$t.dict"
	fi
	# the first corpus dir receives new inputs; committed seeds stay as they are
	# libFuzzer's progress lines go to a log; only the outcome is shown
	if ! "$build/tests/fuzz/fuzz_$t" "$@" "$work/$t" "$here/corpus/$t" \
	    >"$work/$t.log" 2>&1; then
		tail -n 60 "$work/$t.log" >&2
		echo "run.sh: fuzz_$t failed; inputs in $work/crash-$t/" >&2
		status=1
	else
		grep -E '^Done [0-9]+ runs' "$work/$t.log" || true
	fi
done
if [ "$status" -eq 0 ]; then
	rm -rf "$work"
	echo "run.sh: no crashes"
fi
exit "$status"
