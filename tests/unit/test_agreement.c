/*
 * test_agreement.c - data-sharing agreements (agreement.h) over a real
 * LMDB store in a fresh directory: ids as added, a record read back as
 * written, the state at the edges of its period (from inclusive, until
 * exclusive, ended early), which agreement applies between two
 * organisations, and records that fail their check: passed over by the
 * walk, STORE_CORRUPT when read by id.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "agreement.h"
#include "store.pb-c.h"

struct fixture {
	char		 dir[64];
	struct store	*s;
};

static int
open_store(struct fixture *fx)
{
	struct store_opts o = { .dir = fx->dir, .map_size = 8u << 20 };
	char err[256];

	return store_open(&o, &fx->s, err, sizeof(err));
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/baton-agreement-XXXXXX");
	if (mkdtemp(fx->dir) == NULL || open_store(fx) != STORE_OK)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	store_close(fx->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

/* An agreement between o1 and o2 in force from from_ms until until_ms. */
static struct agreement
agreement(const char *o1, const char *o2, int64_t from_ms, int64_t until_ms)
{
	struct agreement a;

	memset(&a, 0, sizeof(a));
	snprintf(a.org_a, sizeof(a.org_a), "%s", o1);
	snprintf(a.org_b, sizeof(a.org_b), "%s", o2);
	snprintf(a.reference, sizeof(a.reference), "DSA-2026-014");
	snprintf(a.created_by, sizeof(a.created_by), "1000(admin)");
	a.from_ms = from_ms;
	a.until_ms = until_ms;
	a.created_at_ms = 500;
	return a;
}

/* agreement_each's callback: the ids, comma-separated, into arg. */
static int
collect(const struct agreement *a, void *arg)
{
	char *buf = arg;

	strcat(buf, a->id);
	strcat(buf, ",");
	return 0;
}

static void
test_add_assigns_ids(void **state)
{
	struct fixture *fx = *state;
	struct agreement a = agreement("North Trust", "South Council", 1000,
	    2000), b = a, got;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(agreement_add(fx->s, &a), STORE_OK);
	assert_string_equal(a.id, "ag-1");
	assert_int_equal(agreement_add(fx->s, &b), STORE_OK);
	assert_string_equal(b.id, "ag-2");
	assert_int_equal(store_commit(fx->s), STORE_OK);

	/* the sequence survives a reopen: no id is given twice */
	store_close(fx->s);
	assert_int_equal(open_store(fx), STORE_OK);
	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(agreement_get(fx->s, "ag-1", &got), STORE_OK);
	assert_string_equal(got.id, "ag-1");
	assert_int_equal(agreement_get(fx->s, "ag-3", &got), STORE_NOTFOUND);
	assert_int_equal(agreement_add(fx->s, &a), STORE_OK);
	assert_string_equal(a.id, "ag-3");
	store_abort(fx->s);
}

static void
test_get_put_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct agreement a = agreement("North Trust", "Südstadt Rat", 1000,
	    2000), got;

	a.sections = sections_bit("risk_summary") | sections_bit("transition");
	assert_int_not_equal(a.sections, 0);
	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(agreement_add(fx->s, &a), STORE_OK);
	assert_int_equal(agreement_get(fx->s, a.id, &got), STORE_OK);
	assert_string_equal(got.id, "ag-1");
	assert_string_equal(got.org_a, "North Trust");
	assert_string_equal(got.org_b, "Südstadt Rat");
	assert_string_equal(got.reference, "DSA-2026-014");
	assert_int_equal(got.from_ms, 1000);
	assert_int_equal(got.until_ms, 2000);
	assert_int_equal(got.sections, a.sections);
	assert_int_equal(got.created_at_ms, 500);
	assert_string_equal(got.created_by, "1000(admin)");
	assert_int_equal(got.ended_at_ms, 0);
	assert_string_equal(got.ended_by, "");
	assert_false(got.lapse_warned);
	assert_false(got.lapse_recorded);

	/* written back: the end and the broker's flags */
	got.ended_at_ms = 1500;
	strcpy(got.ended_by, "1001(other)");
	strcpy(got.end_reason, "ended by the administrator");
	got.lapse_warned = 1;
	got.lapse_recorded = 1;
	got.sections = 0;
	assert_int_equal(agreement_put(fx->s, &got), STORE_OK);
	assert_int_equal(store_commit(fx->s), STORE_OK);
	assert_int_equal(store_begin(fx->s, 1), STORE_OK);
	memset(&a, 0, sizeof(a));
	assert_int_equal(agreement_get(fx->s, "ag-1", &a), STORE_OK);
	assert_int_equal(a.ended_at_ms, 1500);
	assert_string_equal(a.ended_by, "1001(other)");
	assert_string_equal(a.end_reason, "ended by the administrator");
	assert_true(a.lapse_warned);
	assert_true(a.lapse_recorded);
	assert_int_equal(a.sections, 0);	/* no narrowing */
	assert_int_equal(agreement_get(fx->s, "ag-2", &a), STORE_NOTFOUND);
	/* what is not an id is never looked up */
	assert_int_equal(agreement_get(fx->s, "nonsense", &a), STORE_NOTFOUND);
	store_abort(fx->s);
}

static void
test_state(void **state)
{
	struct agreement a = agreement("A", "B", 1000, 2000);

	(void)state;
	assert_int_equal(agreement_state(&a, 0), AGREEMENT_PENDING);
	assert_int_equal(agreement_state(&a, 999), AGREEMENT_PENDING);
	assert_int_equal(agreement_state(&a, 1000), AGREEMENT_IN_FORCE);
	assert_int_equal(agreement_state(&a, 1500), AGREEMENT_IN_FORCE);
	assert_int_equal(agreement_state(&a, 1999), AGREEMENT_IN_FORCE);
	/* until is exclusive */
	assert_int_equal(agreement_state(&a, 2000), AGREEMENT_LAPSED);
	assert_int_equal(agreement_state(&a, 5000), AGREEMENT_LAPSED);

	/* ended early: from then on, and only from then on */
	a.ended_at_ms = 1200;
	assert_int_equal(agreement_state(&a, 1199), AGREEMENT_IN_FORCE);
	assert_int_equal(agreement_state(&a, 1200), AGREEMENT_ENDED);
	assert_int_equal(agreement_state(&a, 1500), AGREEMENT_ENDED);
	assert_int_equal(agreement_state(&a, 5000), AGREEMENT_ENDED);
	/* ended before it came into force */
	a.ended_at_ms = 500;
	assert_int_equal(agreement_state(&a, 800), AGREEMENT_ENDED);

	assert_string_equal(agreement_state_name(AGREEMENT_PENDING), "pending");
	assert_string_equal(agreement_state_name(AGREEMENT_IN_FORCE),
	    "in force");
	assert_string_equal(agreement_state_name(AGREEMENT_LAPSED), "lapsed");
	assert_string_equal(agreement_state_name(AGREEMENT_ENDED), "ended");
}

static void
test_between(void **state)
{
	struct agreement a = agreement("North Trust", "South Council", 0, 1);

	(void)state;
	assert_true(agreement_between(&a, "North Trust", "South Council"));
	assert_true(agreement_between(&a, "South Council", "North Trust"));
	assert_false(agreement_between(&a, "North Trust", "East Trust"));
	assert_false(agreement_between(&a, "North Trust", "North Trust"));
	/* names are compared exactly */
	assert_false(agreement_between(&a, "north trust", "South Council"));
	assert_false(agreement_between(&a, "North Trust", "South Council "));
}

/* Adds a, ended at ended_at_ms (0: not), in the open transaction; its id
   into id. */
static void
add(struct fixture *fx, struct agreement a, int64_t ended_at_ms,
    char *id, size_t len)
{
	a.ended_at_ms = ended_at_ms;
	assert_int_equal(agreement_add(fx->s, &a), STORE_OK);
	snprintf(id, len, "%s", a.id);
}

static void
test_find(void **state)
{
	struct fixture *fx = *state;
	struct agreement got;
	char id[8][AGREEMENT_ID_MAX + 1];
	const int64_t now = 10000;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(agreement_find(fx->s, "A", "B", now, &got),
	    STORE_NOTFOUND);
	/* pending, lapsed, ended: none applies */
	add(fx, agreement("A", "B", 11000, 90000), 0, id[0], sizeof(id[0]));
	add(fx, agreement("A", "B", 1000, 10000), 0, id[1], sizeof(id[1]));
	add(fx, agreement("A", "B", 1000, 99000), 9000, id[2], sizeof(id[2]));
	/* another pair, lasting longest of all */
	add(fx, agreement("A", "C", 1000, 80000), 0, id[3], sizeof(id[3]));
	assert_int_equal(agreement_find(fx->s, "A", "B", now, &got),
	    STORE_NOTFOUND);

	/* two in force: the one that lasts longer, in either order */
	add(fx, agreement("A", "B", 1000, 20000), 0, id[4], sizeof(id[4]));
	add(fx, agreement("B", "A", 5000, 30000), 0, id[5], sizeof(id[5]));
	add(fx, agreement("A", "B", 9000, 25000), 0, id[6], sizeof(id[6]));
	assert_int_equal(agreement_find(fx->s, "A", "B", now, &got), STORE_OK);
	assert_string_equal(got.id, id[5]);
	assert_int_equal(got.until_ms, 30000);
	assert_int_equal(agreement_find(fx->s, "B", "A", now, &got), STORE_OK);
	assert_string_equal(got.id, id[5]);
	assert_int_equal(agreement_find(fx->s, "C", "A", now, &got), STORE_OK);
	assert_string_equal(got.id, id[3]);
	assert_int_equal(agreement_find(fx->s, "B", "C", now, &got),
	    STORE_NOTFOUND);
	/* at the longest one's until, the one pending before applies */
	assert_int_equal(agreement_find(fx->s, "A", "B", 30000, &got),
	    STORE_OK);
	assert_string_equal(got.id, id[0]);
	/* once every one has lapsed or ended, none does (the ended one would
	   still run) */
	assert_int_equal(agreement_find(fx->s, "A", "B", 95000, &got),
	    STORE_NOTFOUND);
	store_abort(fx->s);
}

static void
test_corrupt_records(void **state)
{
	struct fixture *fx = *state;
	struct agreement a = agreement("A", "B", 1000, 2000), got;
	Baton__Store__V1__Agreement rec = BATON__STORE__V1__AGREEMENT__INIT;
	static const uint8_t garbage[] = { 0xff, 0xff, 0xff, 0xff, 0x07 };
	char *bogus[] = { "no_such_section" };
	char ids[128] = "";
	const void *val;
	uint8_t buf[256], copy[256];
	size_t vlen, len;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(agreement_add(fx->s, &a), STORE_OK);	/* ag-1 */
	a.until_ms = 3000;
	assert_int_equal(agreement_add(fx->s, &a), STORE_OK);	/* ag-2 */
	/* bytes that are not an Agreement at all */
	assert_int_equal(store_put(fx->s, STORE_AGREEMENTS, "ag-9", 4,
	    garbage, sizeof(garbage)), STORE_OK);
	/* a good record under another id's key */
	assert_int_equal(store_get(fx->s, STORE_AGREEMENTS, "ag-1", 4, &val,
	    &vlen), STORE_OK);
	assert_true(vlen <= sizeof(copy));
	memcpy(copy, val, vlen);
	assert_int_equal(store_put(fx->s, STORE_AGREEMENTS, "ag-7", 4, copy,
	    vlen), STORE_OK);
	/* a section name that is not a section */
	rec.agreement_id = "ag-5";
	rec.org_a = "A";
	rec.org_b = "B";
	rec.from_ms = 1000;
	rec.until_ms = 2000;
	rec.sections = bogus;
	rec.n_sections = 1;
	len = baton__store__v1__agreement__get_packed_size(&rec);
	assert_true(len <= sizeof(buf));
	baton__store__v1__agreement__pack(&rec, buf);
	assert_int_equal(store_put(fx->s, STORE_AGREEMENTS, "ag-5", 4, buf,
	    len), STORE_OK);
	assert_int_equal(store_commit(fx->s), STORE_OK);

	assert_int_equal(store_begin(fx->s, 1), STORE_OK);
	assert_int_equal(agreement_each(fx->s, collect, ids), STORE_OK);
	assert_string_equal(ids, "ag-1,ag-2,");
	assert_int_equal(agreement_get(fx->s, "ag-9", &got), STORE_CORRUPT);
	assert_int_equal(agreement_get(fx->s, "ag-7", &got), STORE_CORRUPT);
	assert_int_equal(agreement_get(fx->s, "ag-5", &got), STORE_CORRUPT);
	assert_int_equal(agreement_get(fx->s, "ag-2", &got), STORE_OK);
	/* the damaged ones never stand in for an agreement in force */
	assert_int_equal(agreement_find(fx->s, "A", "B", 1500, &got),
	    STORE_OK);
	assert_string_equal(got.id, "ag-2");	/* the longer of the two */
	store_abort(fx->s);
}

static void
test_valid_id(void **state)
{
	(void)state;
	assert_true(agreement_valid_id("ag-1"));
	assert_true(agreement_valid_id("ag-10"));
	assert_true(agreement_valid_id("ag-12345678901234567890"));
	assert_false(agreement_valid_id("ag-123456789012345678901"));
	assert_false(agreement_valid_id(NULL));
	assert_false(agreement_valid_id(""));
	assert_false(agreement_valid_id("ag-"));
	assert_false(agreement_valid_id("ag-0"));
	assert_false(agreement_valid_id("ag-01"));
	assert_false(agreement_valid_id("AG-1"));
	assert_false(agreement_valid_id("ag1"));
	assert_false(agreement_valid_id("ag--1"));
	assert_false(agreement_valid_id("ag-1a"));
	assert_false(agreement_valid_id("ag-1 "));
	assert_false(agreement_valid_id(" ag-1"));
	assert_false(agreement_valid_id("ag-+1"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_assigns_ids, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_get_put_round_trip, setup,
		    teardown),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_between),
		cmocka_unit_test_setup_teardown(test_find, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_records, setup,
		    teardown),
		cmocka_unit_test(test_valid_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
