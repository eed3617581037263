#!/usr/bin/env bash
#
# test.sh - the whole test run, as CI does it (.ci/run calls this).
#
#  1. scripts/deps.sh: installs missing Debian packages (none if present);
#  2. build/ with warnings as errors, then ctest: unit tests (cmocka) and
#     integration tests (real batond on 127.0.0.1, real certificates);
#  3. build-asan/ with AddressSanitizer + UndefinedBehaviorSanitizer
#     (LeakSanitizer on), then the same ctest suite again;
#  4. the libFuzzer targets (tests/fuzz/run.sh), each for a short bounded
#     time with the committed corpus; any crash fails the run.
#
# Environment:
#   BATON_SKIP_SANITIZE=1   skip step 3 (quick local runs; CI runs it)
#   BATON_SKIP_DEPS=1       skip step 1
#   BATON_SKIP_FUZZ=1       skip step 4
#   BATON_FUZZ_SECONDS=S    time per fuzz target (default 30)
#   BATON_JOBS=N            parallel build jobs, and test jobs of the ASan
#                           pass (default 2)
#   BATON_TEST_JOBS=N       parallel test jobs of the build/ pass (default
#                           twice BATON_JOBS: its tests mostly wait on timers
#                           and sockets; 4.0 min at -j4 against 7.1 at -j2 on
#                           2 cores. The ASan pass stays at BATON_JOBS: at -j4
#                           its crash tests miss their timing)
#   BATON_BUILD_TYPE=T      CMAKE_BUILD_TYPE of build/ (default RelWithDebInfo:
#                           -O2 finds warnings, e.g. maybe-uninitialized,
#                           that a Debug build does not)
#   BATON_CTEST_TIMEOUT=S   limit for each whole ctest run (default 1500:
#                           the ASan pass takes 10-13 min on 2 cores)
#   CC=...                  compiler; for step 3 the default is the first of
#                           gcc, clang that links an ASan+UBSan program
# Extra arguments are passed to ctest (e.g. -R it_02 or -R unit_).

set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${BATON_JOBS:-2}
test_jobs=${BATON_TEST_JOBS:-$((2 * jobs))}
ctest_timeout=${BATON_CTEST_TIMEOUT:-1500}
start=$SECONDS

step() {
  printf '\n==> %s (%ds)\n' "$*" $((SECONDS - start))
}

total_passed=0
total_failed=0
total_skipped=0

# run_ctest DIR JOBS [CTEST ARGS...]
run_ctest() {
  local dir=$1 njobs=$2 rc=0 summary
  shift 2
  # timeout(1) signals its whole process group, so a hung test's broker
  # goes too; each test also has its own deadline (tests/CMakeLists.txt).
  # A failing test is run once more (timing on a loaded 2-core machine);
  # one that fails twice fails the run, and every retry shows in the log.
  (cd "$dir" && timeout -k 30 "$ctest_timeout" \
    ctest --output-on-failure -j"$njobs" --repeat until-pass:2 "$@") |
    tee "$dir/ctest.out" ||
    rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 56" -> the run's totals
  summary=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' \
    "$dir/ctest.out" | tail -n 1)
  if [[ -n "$summary" ]]; then
    local failed total skipped
    failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$summary")
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$summary")
    skipped=$(grep -c -E '\*\*\*(Skipped|Not Run)' "$dir/ctest.out" || true)
    total_failed=$((total_failed + failed))
    total_passed=$((total_passed + total - failed - skipped))
    total_skipped=$((total_skipped + skipped))
  fi
  return "$rc"
}

# Prints the first compiler in $CC, gcc, clang, clang-14 that can build and
# run a program with -fsanitize=address,undefined.
sanitizer_cc() {
  local cc tmp
  tmp=$(mktemp -d)
  printf 'int main(void) { return 0; }\n' >"$tmp/t.c"
  for cc in ${CC:-} gcc clang clang-14; do
    command -v "$cc" >/dev/null 2>&1 || continue
    if "$cc" -fsanitize=address,undefined -o "$tmp/t" "$tmp/t.c" \
        >/dev/null 2>&1 && "$tmp/t"; then
      rm -rf "$tmp"
      echo "$cc"
      return 0
    fi
  done
  rm -rf "$tmp"
  return 1
}

if [[ "${BATON_SKIP_DEPS:-0}" != 1 ]]; then
  step "dependencies"
  ./scripts/deps.sh
fi

step "build (build/, ${BATON_BUILD_TYPE:-RelWithDebInfo}, -DBATON_WERROR=ON)"
cmake -S "$root" -B build -DCMAKE_BUILD_TYPE="${BATON_BUILD_TYPE:-RelWithDebInfo}" \
  -DBATON_WERROR=ON -DBATON_SANITIZE=OFF
make -C build -j"$jobs"

step "layer check (no circles among the broker's objects)"
bash scripts/check-layers.sh build

step "tests (build/, $test_jobs at a time)"
run_ctest build "$test_jobs" "$@"

if [[ "${BATON_SKIP_SANITIZE:-0}" == 1 ]]; then
  step "sanitizer pass skipped (BATON_SKIP_SANITIZE=1)"
else
  cc=$(sanitizer_cc) || {
    echo "test.sh: no compiler here builds with -fsanitize=address,undefined" >&2
    exit 1
  }
  step "build (build-asan/, ASan+UBSan with $cc)"
  CC=$cc cmake -S "$root" -B build-asan -DCMAKE_BUILD_TYPE=Debug \
    -DBATON_WERROR=ON -DBATON_SANITIZE=ON
  make -C build-asan -j"$jobs"

  step "tests (build-asan/)"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_ctest build-asan "$jobs" "$@"
fi

if [[ "${BATON_SKIP_FUZZ:-0}" == 1 ]]; then
  step "fuzzing skipped (BATON_SKIP_FUZZ=1)"
else
  step "fuzz targets, ${BATON_FUZZ_SECONDS:-30}s each (build-fuzz/, clang)"
  CC=clang BATON_FUZZ_BUILD="$root/build-fuzz" \
    sh tests/fuzz/run.sh "${BATON_FUZZ_SECONDS:-30}"
fi

step "all tests passed"
# the plain closing line: both ctest passes together
echo "tests: $total_passed passed, $total_failed failed, $total_skipped skipped"
