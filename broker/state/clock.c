/*
 * clock.c - the broker's due-time clock (see clock.h for the rule and its
 * limit).
 *
 * The persisted value is one STORE_META record, CLOCK_KEY -> u64be ms. It
 * only ever grows (a save never writes a value below the one it read or
 * wrote before), so the due clock is monotonic across restarts too.
 */
#include <string.h>
#include <time.h>

#include "clock.h"
#include "clockms.h"
#include "log.h"
#include "store.h"

#define CLOCK_KEY	"clock:due_ms"

int64_t
clock_start_at(struct due_clock *c, int64_t wall_ms, int64_t mono_ms,
    int64_t stored_ms)
{
	c->started = 1;
	c->base_due_ms = stored_ms > wall_ms ? stored_ms : wall_ms;
	c->base_mono_ms = mono_ms;
	c->saved_due_ms = stored_ms;
	return stored_ms > 0 ? stored_ms - wall_ms : 0;
}

int64_t
clock_due_at(const struct due_clock *c, int64_t mono_ms)
{
	/* monotonic time does not go back; guard the arithmetic anyway */
	if (mono_ms < c->base_mono_ms)
		return c->base_due_ms;
	return c->base_due_ms + (mono_ms - c->base_mono_ms);
}

int
clock_save_wanted(const struct due_clock *c, int64_t due_ms)
{
	return due_ms - c->saved_due_ms >= CLOCK_SAVE_MS;
}

int64_t
clock_due_now(const struct due_clock *c)
{
	if (!c->started)
		return clockms_wall();
	return clock_due_at(c, clockms_mono());
}

int
clock_load(struct store *st, int64_t *stored_ms)
{
	const void *v;
	size_t vl;
	int rc;

	*stored_ms = 0;
	rc = store_get(st, STORE_META, CLOCK_KEY, strlen(CLOCK_KEY), &v, &vl);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc == STORE_OK && vl == 8 && store_be64(v) <= INT64_MAX) {
		*stored_ms = (int64_t)store_be64(v);
		return STORE_OK;
	}
	if (rc == STORE_OK || rc == STORE_CORRUPT) {
		log_warnx("clock: the persisted due clock is damaged; starting "
		    "from the wall clock");
		return STORE_OK;
	}
	return rc;
}

int
clock_save(struct due_clock *c, struct store *st, int64_t due_ms)
{
	uint8_t buf[8];
	int rc;

	if (due_ms < c->saved_due_ms)	/* never persist a step back */
		return STORE_OK;
	store_u64be(buf, (uint64_t)due_ms);
	if ((rc = store_op_begin(st)) != STORE_OK)
		return rc;
	rc = store_put(st, STORE_META, CLOCK_KEY, strlen(CLOCK_KEY), buf,
	    sizeof(buf));
	if ((rc = store_op_end(st, rc)) == STORE_OK)
		c->saved_due_ms = due_ms;
	return rc;
}

/* Says why the wall clock and the last run's due clock disagree. */
static void
log_start_gap(int64_t gap_ms)
{
	if (gap_ms > CLOCK_DISAGREE_MS)
		log_warnx("clock: the wall clock is %lld s behind the due clock "
		    "persisted by the last run (stepped back while stopped?); "
		    "deadlines, expiry and purge keep following the persisted "
		    "clock and will not fire late", (long long)(gap_ms / 1000));
	else if (gap_ms < -CLOCK_DISAGREE_MS)
		log_info("clock: %lld s passed by the wall clock since the last "
		    "run's due clock was persisted (downtime, or a forward step "
		    "while stopped: the broker cannot tell them apart); whatever "
		    "fell due in that gap is due now", (long long)(-gap_ms / 1000));
}

int
clock_start(struct due_clock *c, struct store *st)
{
	int64_t stored, gap;
	int rc;

	if ((rc = clock_load(st, &stored)) != STORE_OK)
		return rc;
	gap = clock_start_at(c, clockms_wall(),
	    clockms_mono(), stored);
	log_start_gap(gap);
	return clock_save(c, st, c->base_due_ms);
}
