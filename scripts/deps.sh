#!/usr/bin/env bash
#
# deps.sh - installs the Debian packages Baton needs to build and test.
#
# Checks each package with dpkg-query and, only if something is missing,
# runs `apt-get update` once and installs just the missing ones
# (noninteractive; through sudo when not root). A machine that has
# everything is left alone and needs no network.
#
#   scripts/deps.sh            build, unit and integration test needs
#   scripts/deps.sh --clang    also clang-14 and its sanitizer/fuzzer runtime
#   scripts/deps.sh --check    only report what is missing (exit 1 if any)

set -euo pipefail

packages=(
  build-essential	# gcc (with its ASan/UBSan runtimes), make, libc headers
  cmake
  pkg-config
  protobuf-c-compiler	# protoc-c: generates proto/*.pb-c.[ch] at build time
  libprotobuf-c-dev
  libssl-dev		# TLS 1.3, X.509, CRLs, SHA-256/HMAC
  libevent-dev		# event loop, bufferevent_openssl
  liblmdb-dev		# the broker's store
  lmdb-utils		# mdb_stat/mdb_dump, used when diagnosing a store
  libjansson-dev	# JSON for the baton command
  libcmocka-dev		# unit tests
  openssl		# the CLI: integration tests make refusal certificates
  jq			# quick start output and integration test checks
  clang			# libFuzzer targets (tests/fuzz), run briefly by test.sh
  libclang-rt-14-dev	# clang's sanitizer and fuzzer runtimes
  fiu-utils		# fiu-run/fiu-ctrl: fsync failure injection (06-crash-fsync-fail)
  libfiu0
  strace		# 06-crash-receipt-order: receipts follow their commit's fdatasync
  faketime		# libfaketime: wall-clock steps (05-deadlines-clock-step)
  systemd		# systemd-analyze verify of deploy/batond.service (11-ops-notify)
  python3		# the sd_notify datagram listener (11-ops-notify)
  prometheus		# promtool check metrics on a scrape (11-ops-metrics)
  chromium		# headless: the HTML report as a browser shows it (07-audit-report)
)

check_only=0
for arg in "$@"; do
  case $arg in
  --clang) ;;	# clang is always installed now; kept for old callers
  --check) check_only=1 ;;
  -h | --help)
    sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
  *)
    echo "deps.sh: unknown option $arg" >&2
    exit 2
    ;;
  esac
done

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: not a Debian-based system; install the equivalents of:" >&2
  echo "  ${packages[*]}" >&2
  exit 0
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  if [[ "$status" != installed ]]; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "deps.sh: all ${#packages[@]} packages present"
  exit 0
fi
echo "deps.sh: missing: ${missing[*]}"
if ((check_only)); then
  exit 1
fi

sudo=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "deps.sh: not root and no sudo; as root run:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps.sh: installed ${missing[*]}"
