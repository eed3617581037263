#!/usr/bin/env bash
#
# 10-deploy-install: `cmake --install` of this build into a temporary
# prefix gives a working install, used the way a partner system or an
# admin would use it:
#  - the installed baton, batond and batonctl start with no
#    LD_LIBRARY_PATH (their runtime path finds the installed libbaton);
#  - the installed libbaton.so exports only baton_* symbols, under its
#    SONAME, and needs no library that is not its own DT_NEEDED;
#  - baton.pc, found through PKG_CONFIG_PATH, builds a program (written
#    here) with `cc $(pkg-config --cflags --libs baton)` and
#    #include <baton/baton.h>; that program, against the installed batond,
#    submits one handover and gets its receipt, and as the recipient takes
#    the delivery, acks it and accepts it with a Decision built from the
#    dataset's INIT initialiser; the installed `baton status` shows it
#    accepted; the same program links statically with libbaton.a and
#    `pkg-config --static`;
#  - the man pages, the unit (and the files its Documentation= names), the
#    example configs, baton.proto and the guides are installed, and each
#    man page renders without warnings when a renderer is present.
# In a sanitizer build libbaton needs the sanitizer runtime first, so the
# program is built with the same -fsanitize flags.
# shellcheck source=lib.sh disable=SC2119
source "$(dirname "$0")/lib.sh"

command -v pkg-config >/dev/null ||
  fail "pkg-config is required (scripts/deps.sh installs it)"
CC=$(sed -n 's/^CMAKE_C_COMPILER:[A-Z]*=//p' "$BATON_BIN/CMakeCache.txt")
[[ -n "$CC" ]] || CC=cc

P=$T/p
run cmake --install "$BATON_BIN" --prefix "$P"
assert_rc 0 "cmake --install: $RUN_ERR"

# ---------------------------------------------------------------------------
# Programs and library
# ---------------------------------------------------------------------------
for b in baton batond batonctl; do
  [[ -x "$P/bin/$b" ]] || fail "bin/$b not installed"
done
run env -u LD_LIBRARY_PATH "$P/bin/baton" --help
assert_rc 0 "installed baton --help ($RUN_ERR)"
assert_contains "$RUN_OUT" "usage: baton" "installed baton --help"
run env -u LD_LIBRARY_PATH "$P/bin/batonctl" --help
assert_rc 0 "installed batonctl --help ($RUN_ERR)"

pc=$(find "$P" -name baton.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n "$pc" ]] || fail "no baton.pc installed under a pkgconfig directory"
libdir=$(dirname "$(dirname "$pc")")
so=$libdir/libbaton.so
[[ -e "$so" && -e "$libdir/libbaton.a" ]] ||
  fail "libbaton.so or libbaton.a missing in $libdir"
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[[ "$soname" =~ ^libbaton\.so\.[0-9]+$ && -e "$libdir/$soname" ]] ||
  fail "libbaton.so has SONAME '$soname', not installed as such"
nm -D --defined-only "$so" >"$T/nm.out" || fail "nm -D $so failed"
syms=$(awk '{ sub(/@.*/, "", $3); print $3 }' "$T/nm.out")
assert_contains "$syms" baton_connect "exported symbols"
assert_contains "$syms" baton__v1__handover__descriptor "exported symbols"
stray=$(grep -v -E '^(baton_.*|_init|_fini|_edata|_end|__bss_start)$' <<<"$syms" || true)
[[ -z "$stray" ]] ||
  fail "libbaton.so exports non-baton symbols: $(head -n 5 <<<"$stray" | tr '\n' ' ')"
[[ -f "$P/include/baton/baton.h" && -f "$P/include/baton/baton.pb-c.h" ]] ||
  fail "headers not under include/baton/"
[[ ! -e "$P/include/baton.pb-c.h" && ! -e "$P/include/baton.h" ]] ||
  fail "a header was installed at the top of include/"

# ---------------------------------------------------------------------------
# A partner program built with pkg-config, against the installed broker
# ---------------------------------------------------------------------------
PKG_CONFIG_PATH=$(dirname "$pc")
export PKG_CONFIG_PATH
run pkg-config --cflags --libs baton
assert_rc 0 "pkg-config --cflags --libs baton ($RUN_ERR)"
pc_flags=$RUN_OUT
assert_contains "$pc_flags" "-I$P/include" "pkg-config --cflags"
assert_contains "$pc_flags" "-lbaton" "pkg-config --libs"
run pkg-config --static --libs baton
assert_rc 0 "pkg-config --static --libs baton ($RUN_ERR)"
pc_static=$RUN_OUT
assert_contains "$pc_static" "-lssl" "pkg-config --static --libs"

# A sanitizer build's libbaton needs the sanitizer runtime in the program
# (gcc: libasan first in the link; clang: the runtime linked statically).
san=()
if grep -q '^BATON_SANITIZE:BOOL=ON$' "$BATON_BIN/CMakeCache.txt" ||
    readelf -d "$so" | grep -q 'libasan'; then
  # shellcheck disable=SC2054 # one flag, not two elements
  san=(-fsanitize=address,undefined)
fi

cat >"$T/partner.c" <<'EOF'
/* partner.c: send HANDOVER.json as one node; or, as the recipient, take
   one delivery, ack it and accept it. Exit 0 on success. */
#include <baton/baton.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
connect_as(baton_client **c, char **argv)
{
	baton_config cfg = { .broker = argv[2], .ca_file = argv[3],
	    .cert_file = argv[4], .key_file = argv[5] };
	baton_error e;

	if (baton_connect(&cfg, c, &e) != BATON_OK) {
		fprintf(stderr, "connect: %s\n", e.text);
		return -1;
	}
	return 0;
}

static int
send_file(baton_client *c, const char *to, const char *path)
{
	static char json[65536];
	baton_receipt r;
	baton_error e;
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(json, 1, sizeof(json), f);
	fclose(f);
	if (baton_submit_json(c, to, json, n, NULL, &r, &e) != BATON_OK) {
		fprintf(stderr, "submit: %s\n", e.text);
		return -1;
	}
	printf("receipt %s %s\n", r.reference, r.code_name);
	return 0;
}

static int
take_and_accept(baton_client *c)
{
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;
	baton_incoming *in;
	baton_error e;
	int rc = -1;

	if (baton_next(c, 10000, &in, &e) != BATON_OK) {
		fprintf(stderr, "next: %s\n", e.text);
		return -1;
	}
	if (baton_ack(c, in, &e) != BATON_OK) {
		fprintf(stderr, "ack: %s\n", e.text);
		goto out;
	}
	d.message_id = (char *)in->reference;
	d.outcome = BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_ACCEPT;
	if (baton_decide(c, &d, &e) != BATON_OK) {
		fprintf(stderr, "decide: %s\n", e.text);
		goto out;
	}
	printf("accepted %s from %s\n", in->reference, in->from);
	rc = 0;
out:
	baton_incoming_free(in);
	return rc;
}

int
main(int argc, char **argv)
{
	baton_client *c;
	int rc;

	if (argc < 6 || (strcmp(argv[1], "send") == 0 && argc != 8)) {
		fprintf(stderr, "usage: partner send|accept BROKER CA CERT KEY"
		    " [TO FILE]\n");
		return 2;
	}
	if (connect_as(&c, argv) == -1)
		return 1;
	if (strcmp(argv[1], "send") == 0)
		rc = send_file(c, argv[6], argv[7]);
	else
		rc = take_and_accept(c);
	baton_close(c);
	return rc == 0 ? 0 : 1;
}
EOF
# shellcheck disable=SC2086 # pkg-config output is a list of flags
# A prefix off the loader's path: the program carries it as its runpath.
run "$CC" -Wall -Wextra -Werror "${san[@]}" -o "$T/partner" "$T/partner.c" \
  $pc_flags "-Wl,-rpath,$libdir"
assert_rc 0 "cc partner.c \$(pkg-config --cflags --libs baton): $RUN_ERR"
# shellcheck disable=SC2086,SC2046
run "$CC" -Wall -Wextra -Werror "${san[@]}" -o "$T/partner-static" "$T/partner.c" \
  $(pkg-config --cflags baton) "$libdir/libbaton.a" ${pc_static//-lbaton/}
assert_rc 0 "cc partner.c libbaton.a \$(pkg-config --static --libs baton): $RUN_ERR"
if readelf -d "$T/partner-static" | grep -q 'libbaton\.so'; then
  fail "the static partner program still needs libbaton.so"
fi

# From here on lib.sh's helpers run the installed programs.
# shellcheck disable=SC2034 # read by lib.sh
BATOND=$P/bin/batond
# shellcheck disable=SC2034
BATON=$P/bin/baton
# shellcheck disable=SC2034
BATONCTL=$P/bin/batonctl
setup_four_nodes
start_broker

partner() {
  local node=$1
  shift
  env -u LD_LIBRARY_PATH "$@" "$BROKER_ADDR" "$CA_DIR/ca.crt" \
    "$NODE_DIR/$node.crt" "$NODE_DIR/$node.key"
}
for prog in partner partner-static; do
  run partner provider "$T/$prog" send
  assert_rc 2 "$prog without TO FILE (usage)"
  run env -u LD_LIBRARY_PATH "$T/$prog" send "$BROKER_ADDR" "$CA_DIR/ca.crt" \
    "$NODE_DIR/provider.crt" "$NODE_DIR/provider.key" cmht "$EXAMPLE_HANDOVER"
  assert_rc 0 "$prog send ($RUN_ERR)"
  [[ "$RUN_OUT" =~ ^receipt\ (provider/[^ ]+)\ OK$ ]] ||
    fail "$prog send printed '$RUN_OUT', not a receipt"
  ref=${BASH_REMATCH[1]}
  run partner cmht "$T/$prog" accept
  assert_rc 0 "$prog accept ($RUN_ERR)"
  assert_eq "accepted $ref from provider" "$RUN_OUT" "$prog accept"
  run baton_as provider status "$ref" --json
  assert_rc 0 "installed baton status ($RUN_ERR)"
  assert_json .state accepted
done
assert_queue_empty cmht
stop_broker

# ---------------------------------------------------------------------------
# Everything else an admin needs
# ---------------------------------------------------------------------------
unit=$(find "$P" -name batond.service -path '*/systemd/system/*' | head -n 1)
[[ -n "$unit" ]] || fail "batond.service not installed under systemd/system"
share=$P/share
for f in baton/proto/baton.proto doc/baton/README.md doc/baton/audit.md \
    doc/baton/examples/policy.conf doc/baton/examples/handover.json; do
  [[ -s "$share/$f" ]] || fail "share/$f not installed"
done
if [[ -f "$BATON_SRC/deploy/batond.conf" ]]; then
  [[ -s "$share/doc/baton/examples/batond.conf" ]] ||
    fail "deploy/batond.conf not installed as an example"
fi

pages=()
shopt -s nullglob
for src in "$BATON_SRC"/docs/man/*.[1-8]; do
  page=${src##*/}
  inst=$share/man/man${page##*.}/$page
  [[ -s "$inst" ]] || fail "man page $page not installed as $inst"
  pages+=("$inst")
done
for want in baton.1 batond.8 batonctl.8 policy.conf.5; do
  [[ -s "$share/man/man${want##*.}/$want" ]] || fail "man page $want missing"
done

# The unit's Documentation= must name what is installed: man:PAGE(N) pages
# and file:// paths, with the configured prefix mapped to this one.
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$BATON_BIN/CMakeCache.txt")
# shellcheck disable=SC2013 # Documentation= holds blank-separated URIs
for doc in $(sed -n 's/^Documentation=//p' "$unit"); do
  case $doc in
  man:*)
    name=${doc#man:}
    page=${name%%(*}
    sec=${name#*(}
    sec=${sec%)}
    [[ -s "$share/man/man$sec/$page.$sec" ]] ||
      fail "unit Documentation=$doc: no such page installed"
    ;;
  file://*)
    path=${doc#file://}
    [[ -e "$P${path#"$prefix"}" ]] ||
      fail "unit Documentation=$doc: not installed (under $P)"
    ;;
  esac
done

# Render each page and insist on silence on stderr.
render=()
if command -v man >/dev/null; then
  render=(man --warnings -l)
elif command -v groff >/dev/null; then
  render=(groff -man -Tutf8 -rLL=80n -ww -z)
elif command -v mandoc >/dev/null; then
  render=(mandoc -T lint -W warning)
fi
if ((${#render[@]})); then
  for page in "${pages[@]}"; do
    run env MANWIDTH=80 "${render[@]}" "$page"
    assert_rc 0 "${render[0]} ${page##*/} ($RUN_ERR)"
    [[ -z "$RUN_ERR" ]] || fail "${render[0]} warns on ${page##*/}: $(head -n 3 <<<"$RUN_ERR")"
  done
else
  log "no mandoc, groff or man here: man pages checked as installed only"
fi
