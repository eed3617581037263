/*
 * test_recordlimit.c - per-node budgets for read and connection records.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "recordlimit.h"

static struct record_limit rl;

static int
setup(void **state)
{
	memset(&rl, 0, sizeof(rl));
	return 0;
}

static void
budget_then_counted(void **state)
{
	struct record_limit_summary sum;
	int i, written = 0;

	for (i = 0; i < 1000; i++)
		written += record_limit_admit(&rl, "gp", RECORD_KIND_READ, 1000, 1);
	assert_int_equal(written, RECORD_LIMIT_PER_WINDOW);
	/* nothing is due before the window ends */
	assert_int_equal(record_limit_take_due(&rl, 1000 + 10, 0, &sum), 0);
	assert_int_equal(record_limit_take_due(&rl,
	    1000 + RECORD_LIMIT_WINDOW_MS, 0, &sum), 1);
	assert_string_equal(sum.node, "gp");
	assert_int_equal(sum.counted[RECORD_KIND_READ],
	    1000 - RECORD_LIMIT_PER_WINDOW);
	assert_int_equal(sum.counted[RECORD_KIND_CONN], 0);
	/* taken once: not due again */
	assert_int_equal(record_limit_take_due(&rl,
	    1000 + RECORD_LIMIT_WINDOW_MS, 1, &sum), 0);
}

static void
nodes_have_their_own_budget(void **state)
{
	int i;

	for (i = 0; i < 500; i++)
		record_limit_admit(&rl, "flooder", RECORD_KIND_CONN, 5, 1);
	assert_int_equal(record_limit_admit(&rl, "cmht", RECORD_KIND_CONN, 5, 1), 1);
	assert_int_equal(record_limit_admit(&rl, "flooder", RECORD_KIND_CONN, 5, 1), 0);
}

static void
new_window_new_budget(void **state)
{
	struct record_limit_summary sum;
	int i;

	for (i = 0; i < RECORD_LIMIT_PER_WINDOW; i++)
		assert_int_equal(record_limit_admit(&rl, "gp", RECORD_KIND_READ, 0, 1), 1);
	/* budget used but nothing counted: the next window starts afresh */
	assert_int_equal(record_limit_admit(&rl, "gp", RECORD_KIND_READ,
	    RECORD_LIMIT_WINDOW_MS, 1), 1);
	assert_int_equal(record_limit_take_due(&rl, 3 * RECORD_LIMIT_WINDOW_MS, 1,
	    &sum), 0);
}

static void
reserve_counts_everything(void **state)
{
	struct record_limit_summary sum;

	assert_int_equal(record_limit_admit(&rl, "gp", RECORD_KIND_READ, 0, 0), 0);
	assert_int_equal(record_limit_take_due(&rl, 0, 1, &sum), 1);
	assert_int_equal(sum.counted[RECORD_KIND_READ], 1);
}

static void
restore_keeps_counts(void **state)
{
	struct record_limit_summary sum;

	record_limit_admit(&rl, "gp", RECORD_KIND_CONN, 0, 0);
	record_limit_admit(&rl, "gp", RECORD_KIND_CONN, 0, 0);
	assert_int_equal(record_limit_take_due(&rl, 0, 1, &sum), 1);
	record_limit_restore(&rl, &sum);
	assert_int_equal(record_limit_take_due(&rl, 0, 1, &sum), 1);
	assert_int_equal(sum.counted[RECORD_KIND_CONN], 2);
}

static void
table_is_bounded(void **state)
{
	struct record_limit_summary sum;
	char node[32];
	uint64_t total = 0;
	int i, k, n = 0;

	/* more nodes than slots, each owing a summary: nothing is lost, the
	 * ones without a slot are counted under "*" */
	for (i = 0; i < 3 * RECORD_LIMIT_SLOTS; i++) {
		snprintf(node, sizeof(node), "node-%d", i);
		record_limit_admit(&rl, node, RECORD_KIND_READ, 0, 0);
	}
	while (record_limit_take_due(&rl, 0, 1, &sum)) {
		for (k = 0; k < RECORD_KINDS; k++)
			total += sum.counted[k];
		n++;
	}
	assert_true(n <= RECORD_LIMIT_SLOTS);
	assert_int_equal(total, 3 * RECORD_LIMIT_SLOTS);
}

static void
no_node_is_counted_as_overflow(void **state)
{
	struct record_limit_summary sum;

	record_limit_admit(&rl, NULL, RECORD_KIND_READ, 0, 0);
	assert_int_equal(record_limit_take_due(&rl, 0, 1, &sum), 1);
	assert_string_equal(sum.node, "*");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(budget_then_counted, setup),
		cmocka_unit_test_setup(nodes_have_their_own_budget, setup),
		cmocka_unit_test_setup(new_window_new_budget, setup),
		cmocka_unit_test_setup(reserve_counts_everything, setup),
		cmocka_unit_test_setup(restore_keeps_counts, setup),
		cmocka_unit_test_setup(table_is_bounded, setup),
		cmocka_unit_test_setup(no_node_is_counted_as_overflow, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
