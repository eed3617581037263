/*
 * test_sessionlist.c - the live-sessions snapshot file
 * (broker/state/sessionlist.c): what is written reads back the same,
 * fields at their bounds included; fields that would break the format
 * are replaced; and every kind of damaged file is refused with its line,
 * without hanging on a FIFO.
 */
#include <sys/stat.h>

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sessionlist.h"

struct fixture {
	char	 dir[PATH_MAX];
	char	 path[PATH_MAX + 16];
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	const char *tmp = getenv("TMPDIR");

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/baton-sessionlist-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/%s", fx->dir,
	    SESSIONLIST_FILE);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct session_row
mkrow(const char *node, const char *role, const char *peer, int64_t since,
    uint64_t bytes, uint32_t unacked, int receiving)
{
	struct session_row r;

	memset(&r, 0, sizeof(r));
	snprintf(r.node, sizeof(r.node), "%s", node);
	snprintf(r.role, sizeof(r.role), "%s", role);
	snprintf(r.peer, sizeof(r.peer), "%s", peer);
	r.since_ms = since;
	r.bytes = bytes;
	r.unacked = unacked;
	r.receiving = receiving;
	return r;
}

/* Formats and writes l into fx's directory. */
static void
write_table(struct fixture *fx, const struct session_table *l)
{
	char *text, err[512];
	size_t len;

	assert_non_null(text = sessionlist_format(l, &len));
	assert_int_equal(sessionlist_write(fx->dir, text, len, err,
	    sizeof(err)), 0);
	free(text);
}

static void
write_raw(struct fixture *fx, const char *text)
{
	FILE *fp;

	unlink(fx->path);
	assert_non_null(fp = fopen(fx->path, "w"));
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

static void
test_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct session_table l = { 0 }, back;
	struct session_row r;
	char node[BATON_NODE_ID_MAX + 1], role[REGISTRY_ROLE_MAX + 1];
	char peer[SESSIONLIST_PEER_MAX + 1], err[512];

	l.pid = 4242;
	l.written_ms = 1767225600123LL;
	r = mkrow("cmht", "cmht", "127.0.0.1:40312", 1767225500000LL, 0, 0, 1);
	assert_int_equal(sessionlist_add(&l, &r), 0);
	r = mkrow("gp", "gp", "[::1]:5000", 1767225400000LL, 65536, 3, 0);
	assert_int_equal(sessionlist_add(&l, &r), 0);
	/* every field at its bound: the longest record must still fit */
	memset(node, 'n', sizeof(node) - 1);
	node[sizeof(node) - 1] = '\0';
	memset(role, 'r', sizeof(role) - 1);
	role[sizeof(role) - 1] = '\0';
	memset(peer, 'p', sizeof(peer) - 1);
	peer[sizeof(peer) - 1] = '\0';
	r = mkrow(node, role, peer, INT64_MAX, UINT64_MAX, UINT32_MAX, 1);
	assert_int_equal(sessionlist_add(&l, &r), 0);
	write_table(fx, &l);

	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.pid, 4242);
	assert_int_equal(back.written_ms, 1767225600123LL);
	assert_int_equal(back.n, 3);
	assert_string_equal(back.rows[0].node, "cmht");
	assert_string_equal(back.rows[0].peer, "127.0.0.1:40312");
	assert_int_equal(back.rows[0].since_ms, 1767225500000LL);
	assert_int_equal(back.rows[0].receiving, 1);
	assert_string_equal(back.rows[1].role, "gp");
	assert_string_equal(back.rows[1].peer, "[::1]:5000");
	assert_int_equal(back.rows[1].bytes, 65536);
	assert_int_equal(back.rows[1].unacked, 3);
	assert_int_equal(back.rows[1].receiving, 0);
	assert_string_equal(back.rows[2].node, node);
	assert_string_equal(back.rows[2].role, role);
	assert_string_equal(back.rows[2].peer, peer);
	assert_true(back.rows[2].since_ms == INT64_MAX);
	assert_true(back.rows[2].bytes == UINT64_MAX);
	assert_true(back.rows[2].unacked == UINT32_MAX);
	sessionlist_free(&back);
	sessionlist_free(&l);
}

/* Only records at their bounds: the text is sized for them, not guessed. */
static void
test_all_longest(void **state)
{
	struct fixture *fx = *state;
	struct session_table l = { .pid = 1 }, back;
	struct session_row r;
	char err[512];
	size_t i;

	memset(&r, 0, sizeof(r));
	memset(r.node, 'n', sizeof(r.node) - 1);
	memset(r.role, 'r', sizeof(r.role) - 1);
	memset(r.peer, 'p', sizeof(r.peer) - 1);
	r.since_ms = INT64_MAX;
	r.bytes = UINT64_MAX;
	r.unacked = UINT32_MAX;
	r.receiving = 1;
	for (i = 0; i < 40; i++)
		assert_int_equal(sessionlist_add(&l, &r), 0);
	write_table(fx, &l);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 40);
	for (i = 0; i < back.n; i++) {
		assert_memory_equal(&back.rows[i], &l.rows[i], sizeof(r));
	}
	sessionlist_free(&back);
	sessionlist_free(&l);
}

/* No sessions is a list too; no file is "none running". */
static void
test_empty_and_missing(void **state)
{
	struct fixture *fx = *state;
	struct session_table l = { .pid = 7, .written_ms = 1 }, back;
	char err[512];

	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), 1);
	write_table(fx, &l);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 0);
	assert_int_equal(back.pid, 7);
	sessionlist_free(&back);
	sessionlist_remove(fx->dir);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), 1);
	sessionlist_remove(fx->dir);	/* twice is fine */
}

/* A field that would break the format is written as "?". */
static void
test_field_replaced(void **state)
{
	struct fixture *fx = *state;
	struct session_table l = { .pid = 9 }, back;
	struct session_row r;
	char err[512];

	r = mkrow("cmht", "two words", "10.0.0.1:1\n", 1, 0, 0, 0);
	assert_int_equal(sessionlist_add(&l, &r), 0);
	assert_string_equal(l.rows[0].role, "?");
	assert_string_equal(l.rows[0].peer, "?");
	r = mkrow("gp", "", "caf\xc3\xa9:1", 1, 0, 0, 0);
	assert_int_equal(sessionlist_add(&l, &r), 0);
	assert_string_equal(l.rows[1].role, "?");
	assert_string_equal(l.rows[1].peer, "?");
	write_table(fx, &l);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), 0);
	assert_int_equal(back.n, 2);
	assert_string_equal(back.rows[0].role, "?");
	sessionlist_free(&back);
	sessionlist_free(&l);
}

/* Each damaged file is refused, naming the line where it can. */
static void
test_malformed(void **state)
{
	struct fixture *fx = *state;
	static const struct {
		const char	*text;
		const char	*want;	/* in the error */
	} cases[] = {
		{ "", "incomplete" },
		{ "baton-sessions 2\npid 1\n", ":1: not a sessions record" },
		{ "baton-sessions 1\n", "incomplete" },	/* no pid */
		{ "baton-sessions 1\npid 0\n", "incomplete" },
		{ "baton-sessions 1\npid -5\n", ":2:" },
		{ "baton-sessions 1\npid 1\nsession cmht cmht 1.2.3.4:5 1 0 0\n",
		  ":3:" },				/* six fields */
		{ "baton-sessions 1\npid 1\n"
		  "session cmht cmht 1.2.3.4:5 1 0 0 1 x\n", ":3:" },
		{ "baton-sessions 1\npid 1\n"
		  "session Cmht cmht 1.2.3.4:5 1 0 0 1\n", ":3:" },
		{ "baton-sessions 1\npid 1\n"
		  "session cmht Cmht 1.2.3.4:5 1 0 0 1\n", ":3:" },
		{ "baton-sessions 1\npid 1\n"
		  "session cmht cmht 1.2.3.4:5 -1 0 0 1\n", ":3:" },
		{ "baton-sessions 1\npid 1\n"
		  "session cmht cmht 1.2.3.4:5 1 18446744073709551616 0 1\n",
		  ":3:" },
		{ "baton-sessions 1\npid 1\n"
		  "session cmht cmht 1.2.3.4:5 1 0 4294967296 1\n", ":3:" },
		{ "baton-sessions 1\npid 1\n"
		  "session cmht cmht 1.2.3.4:5 1 0 0 2\n", ":3:" },
		{ "baton-sessions 1\npid 1\nnonsense\n", ":3:" },
		{ "baton-sessions 1\npid 1", ":2: line too long or unterminated" },
	};
	struct session_table back;
	char err[512];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_raw(fx, cases[i].text);
		err[0] = '\0';
		if (sessionlist_read(fx->dir, &back, err, sizeof(err)) != -1)
			fail_msg("case %zu was accepted", i);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, err,
			    cases[i].want);
		assert_null(back.rows);
	}
}

static void
test_long_line(void **state)
{
	struct fixture *fx = *state;
	struct session_table back;
	char text[2048], err[512];
	int n;

	n = snprintf(text, sizeof(text), "baton-sessions 1\npid 1\nsession ");
	memset(text + n, 'a', 1000);
	snprintf(text + n + 1000, sizeof(text) - n - 1000, "\n");
	write_raw(fx, text);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ":3: line too long"));
}

/* Something other than a regular file is refused, and a FIFO not waited on. */
static void
test_not_regular(void **state)
{
	struct fixture *fx = *state;
	struct session_table back;
	char err[512];

	assert_int_equal(mkfifo(fx->path, 0600), 0);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	unlink(fx->path);
	assert_int_equal(mkdir(fx->path, 0700), 0);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), -1);
	rmdir(fx->path);
	assert_int_equal(symlink("/etc/hostname", fx->path), 0);
	assert_int_equal(sessionlist_read(fx->dir, &back, err, sizeof(err)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_all_longest, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_missing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_field_replaced, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_regular, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
