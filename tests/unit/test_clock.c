/*
 * test_clock.c - unit tests for broker/clock.c, the due-time clock.
 *
 * The arithmetic is fed invented wall and monotonic readings, so a
 * wall-clock step of days is one argument; persistence runs on a fresh
 * LMDB directory per test (a "db" subdirectory of a mkdtemp directory).
 */

#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "store.h"

#define HOUR_MS		(3600 * 1000LL)
#define DAY_MS		(24 * HOUR_MS)
#define WALL0		1767225600000LL	/* 2026-01-01T00:00:00Z */
#define MONO0		123456LL	/* monotonic time at the start */

struct fixture {
	char		 tmp[64];	/* mkdtemp result */
	char		 dir[PATH_MAX];	/* tmp/db: the store directory */
	struct store	*s;
};

static void
rm_flat(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 p[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		(void)unlink(p);
	}
	(void)closedir(d);
	(void)rmdir(dir);
}

static void
open_store(struct fixture *f)
{
	struct store_opts o;
	char err[256] = "";

	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	if (store_open(&o, &f->s, err, sizeof(err)) != STORE_OK)
		fail_msg("store_open %s: %s", f->dir, err);
}

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	(void)snprintf(f->tmp, sizeof(f->tmp), "%s/baton-clock-XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(f->tmp) == NULL) {
		free(f);
		return -1;
	}
	(void)snprintf(f->dir, sizeof(f->dir), "%s/db", f->tmp);
	open_store(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	rm_flat(f->dir);
	rm_flat(f->tmp);
	free(f);
	return 0;
}

/* A restart: the store closed and opened again. */
static void
reopen(struct fixture *f)
{
	store_close(f->s);
	f->s = NULL;
	open_store(f);
}

static void
commit(struct store *s)
{
	if (store_commit(s) != STORE_OK)
		fail_msg("store_commit: %s", store_strerror(s));
}

static int64_t
read_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
real_wall_ms(void)
{
	return read_ms(CLOCK_REALTIME);
}

static int64_t
real_mono_ms(void)
{
	return read_ms(CLOCK_MONOTONIC);
}

/* With nothing persisted, the due clock starts at the wall clock. */
static void
test_start_from_wall(void **state)
{
	struct due_clock c = { 0 };

	(void)state;
	assert_int_equal(clock_start_at(&c, WALL0, MONO0, 0), 0);
	assert_true(c.started);
	assert_int_equal(clock_due_at(&c, MONO0), WALL0);
	assert_int_equal(clock_due_at(&c, MONO0 + 2500), WALL0 + 2500);
}

/*
 * The bug this module exists for: a handover due in 4 h (acceptance) or
 * 5 d (retention) is not due an hour later, however far the wall clock
 * stepped meanwhile; the wall clock is simply not an input once started.
 * A 5-second deadline set after the step still falls due in 5 s.
 */
static void
test_wall_step_fires_nothing_early(void **state)
{
	struct due_clock c = { 0 };
	int64_t accept_at, expire_at, short_at;

	(void)state;
	clock_start_at(&c, WALL0, MONO0, 0);
	accept_at = clock_due_at(&c, MONO0) + 4 * HOUR_MS;
	expire_at = clock_due_at(&c, MONO0) + 5 * DAY_MS;
	/* an hour of real time passes, and the wall clock jumps +6 days */
	assert_true(clock_due_at(&c, MONO0 + HOUR_MS) < accept_at);
	assert_true(clock_due_at(&c, MONO0 + HOUR_MS) < expire_at);
	short_at = clock_due_at(&c, MONO0 + HOUR_MS) + 5000;
	assert_true(clock_due_at(&c, MONO0 + HOUR_MS + 4999) < short_at);
	assert_int_equal(clock_due_at(&c, MONO0 + HOUR_MS + 5000), short_at);
	/* and the 4 h deadline falls due after exactly 4 h of real time */
	assert_true(clock_due_at(&c, MONO0 + 4 * HOUR_MS - 1) < accept_at);
	assert_int_equal(clock_due_at(&c, MONO0 + 4 * HOUR_MS), accept_at);
}

/* Monotonic readings never go back, but the arithmetic is guarded. */
static void
test_never_before_start(void **state)
{
	struct due_clock c = { 0 };

	(void)state;
	clock_start_at(&c, WALL0, MONO0, 0);
	assert_int_equal(clock_due_at(&c, MONO0 - 1000), WALL0);
}

/*
 * The wall clock stepped back while the broker was down: the due clock
 * carries on from the persisted value, so nothing falls due late, and the
 * gap is reported (positive) for the log.
 */
static void
test_start_after_backward_step(void **state)
{
	struct due_clock c = { 0 };
	int64_t stored = WALL0 + HOUR_MS;

	(void)state;
	assert_int_equal(clock_start_at(&c, WALL0, MONO0, stored), HOUR_MS);
	assert_int_equal(clock_due_at(&c, MONO0), stored);
	assert_int_equal(clock_due_at(&c, MONO0 + 10), stored + 10);
}

/*
 * Downtime (or a forward step while down: indistinguishable, the
 * documented limit): the due clock follows the wall clock; the gap is
 * negative.
 */
static void
test_start_after_downtime(void **state)
{
	struct due_clock c = { 0 };

	(void)state;
	assert_int_equal(clock_start_at(&c, WALL0, MONO0, WALL0 - DAY_MS),
	    -DAY_MS);
	assert_int_equal(clock_due_at(&c, MONO0), WALL0);
}

/* Persisting is wanted every CLOCK_SAVE_MS of due-clock time. */
static void
test_save_wanted(void **state)
{
	struct due_clock c = { 0 };

	(void)state;
	clock_start_at(&c, WALL0, MONO0, 0);
	assert_true(clock_save_wanted(&c, WALL0));	/* never saved yet */
	c.saved_due_ms = WALL0;
	assert_false(clock_save_wanted(&c, WALL0 + CLOCK_SAVE_MS - 1));
	assert_true(clock_save_wanted(&c, WALL0 + CLOCK_SAVE_MS));
}

/* The real-clock wrapper: the wall clock before start, monotonic after. */
static void
test_due_now(void **state)
{
	struct due_clock c = { 0 };
	int64_t a, b;

	(void)state;
	a = clock_due_now(&c);
	assert_true(llabs(a - real_wall_ms()) < 1000);
	/* started a day ahead (a persisted value): stays a day ahead */
	clock_start_at(&c, real_wall_ms(), real_mono_ms(), real_wall_ms() + DAY_MS);
	a = clock_due_now(&c);
	b = clock_due_now(&c);
	assert_true(b >= a);
	assert_true(llabs(a - DAY_MS - real_wall_ms()) < 1000);
}

/* Saved in a transaction, the value survives a restart. */
static void
test_save_and_load(void **state)
{
	struct fixture *f = *state;
	struct due_clock c = { 0 };
	int64_t stored = -1;

	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(clock_load(f->s, &stored), STORE_OK);
	assert_int_equal(stored, 0);
	clock_start_at(&c, WALL0, MONO0, 0);
	assert_int_equal(clock_save(&c, f->s, WALL0 + 7000), STORE_OK);
	assert_int_equal(c.saved_due_ms, WALL0 + 7000);
	commit(f->s);
	reopen(f);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(clock_load(f->s, &stored), STORE_OK);
	assert_int_equal(stored, WALL0 + 7000);
	store_abort(f->s);
}

/* A save never writes a value below the last one: no step back. */
static void
test_save_never_goes_back(void **state)
{
	struct fixture *f = *state;
	struct due_clock c = { 0 };
	int64_t stored;

	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	clock_start_at(&c, WALL0, MONO0, 0);
	assert_int_equal(clock_save(&c, f->s, WALL0 + HOUR_MS), STORE_OK);
	assert_int_equal(clock_save(&c, f->s, WALL0), STORE_OK);
	assert_int_equal(clock_load(f->s, &stored), STORE_OK);
	assert_int_equal(stored, WALL0 + HOUR_MS);
	commit(f->s);
}

/*
 * clock_start across a restart with the wall clock set back: the run
 * before persisted a value a day ahead of the real wall clock; the new
 * run starts from it, and persists it again.
 */
static void
test_start_keeps_persisted_value(void **state)
{
	struct fixture *f = *state;
	struct due_clock c = { 0 }, c2 = { 0 };
	int64_t ahead = real_wall_ms() + DAY_MS, stored;

	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	clock_start_at(&c, ahead, MONO0, 0);
	assert_int_equal(clock_save(&c, f->s, ahead), STORE_OK);
	commit(f->s);
	reopen(f);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(clock_start(&c2, f->s), STORE_OK);
	assert_true(clock_due_now(&c2) >= ahead);
	assert_true(clock_due_now(&c2) < ahead + 1000);
	assert_int_equal(clock_load(f->s, &stored), STORE_OK);
	assert_true(stored >= ahead);
	commit(f->s);
}

/* A damaged record is ignored (the wall clock is used) and replaced. */
static void
test_damaged_record(void **state)
{
	struct fixture *f = *state;
	struct due_clock c = { 0 };
	int64_t stored = -1, now = real_wall_ms();

	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(store_put(f->s, STORE_META, "clock:due_ms", 12, "abc",
	    3), STORE_OK);
	assert_int_equal(clock_load(f->s, &stored), STORE_OK);
	assert_int_equal(stored, 0);
	assert_int_equal(clock_start(&c, f->s), STORE_OK);
	assert_true(llabs(clock_due_now(&c) - now) < 1000);
	assert_int_equal(clock_load(f->s, &stored), STORE_OK);
	assert_true(stored >= now);
	commit(f->s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_from_wall),
		cmocka_unit_test(test_wall_step_fires_nothing_early),
		cmocka_unit_test(test_never_before_start),
		cmocka_unit_test(test_start_after_backward_step),
		cmocka_unit_test(test_start_after_downtime),
		cmocka_unit_test(test_save_wanted),
		cmocka_unit_test(test_due_now),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_save_and_load),
		T(test_save_never_goes_back),
		T(test_start_keeps_persisted_value),
		T(test_damaged_record),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
