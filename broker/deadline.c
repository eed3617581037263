/*
 * deadline.c - durable timers (see deadline.h).
 *
 * Clocks: every due time is a value of the broker's due-time clock
 * (clock.h), which follows CLOCK_MONOTONIC while the broker runs, so a step
 * of the wall clock neither fires anything early nor holds it back. The
 * libevent timer is monotonic too. Times written into records people read
 * (lifecycle events, notices, the audit log) stay on the wall clock.
 *
 * Algorithm: one libevent timer is armed for the earliest entry (capped at
 * DEADLINE_RECHECK_MS, so that the due clock is persisted that often).
 * When it fires, lifecycle_run_due (lifecycle/due_events.c) carries out
 * up to DEADLINE_BATCH due entries, each in its own nested store operation
 * inside the pass's transaction, and the timer is re-armed from the next
 * due time it returns: at once if more are due, so a backlog after a long
 * outage is worked off without starving clients.
 */
#include <event2/event.h>

#include "clock.h"
#include "deadline.h"
#include "due_events.h"
#include "log.h"
#include "store.h"

#define DEADLINE_BATCH		64
#define DEADLINE_RECHECK_MS	CLOCK_SAVE_MS

static void deadline_fire(evutil_socket_t, short, void *);


static void
deadline_arm(struct broker *b, int64_t due_ms)
{
	int64_t now = state_due_ms(&b->st), delay = due_ms - now;
	struct timeval tv;

	if (delay < 0)
		delay = 0;
	if (delay > DEADLINE_RECHECK_MS)
		delay = DEADLINE_RECHECK_MS;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(b->deadline_ev, &tv);
	b->deadline_armed_ms = now + delay;
}

void
deadline_rearm(struct broker *b)
{
	int64_t due = b->st.earliest_due_ms;

	b->st.earliest_due_ms = 0;
	/* arming early is harmless: the fire finds nothing due and re-arms */
	if (due > 0 && b->deadline_ev != NULL &&
	    (b->deadline_armed_ms == 0 || due < b->deadline_armed_ms))
		deadline_arm(b, due);
}

/* Persists the due clock in the pass's transaction when it is time to. */
static void
deadline_keep_clock(struct broker *b, int64_t due_now)
{
	int rc;

	/* inside the store's reserve, the room is for draining work: a late
	 * save only costs lateness after a backward step across a restart */
	if (!clock_save_wanted(&b->st.due_clock, due_now) || state_store_low(&b->st, 0))
		return;
	/* store full: the next pass tries again, nothing else depends on it */
	if ((rc = clock_save(&b->st.due_clock, b->st.store, due_now)) != STORE_OK)
		state_store_failed(&b->st, "persist the due clock", rc);
}

static void
deadline_fire(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	int64_t now, next;

	(void)fd;
	(void)what;
	now = state_due_ms(&b->st);
	b->deadline_armed_ms = 0;
	state_touch(&b->st);
	deadline_keep_clock(b, now);
	lifecycle_run_due(&b->st, now, state_now_ms(), DEADLINE_BATCH, &next);
	if (next > 0)
		deadline_arm(b, next);
}

int
deadline_start(struct broker *b)
{
	int rc;

	state_touch(&b->st);
	/* a full store only delays persisting it: the next pass tries again */
	rc = clock_start(&b->st.due_clock, b->st.store);
	if (rc != STORE_OK && rc != STORE_FULL) {
		log_warnx("deadlines: cannot start the due clock: %s",
		    store_strerror(b->st.store));
		return -1;
	}
	if ((b->deadline_ev = evtimer_new(b->base, deadline_fire, b)) == NULL)
		return -1;
	deadline_arm(b, state_due_ms(&b->st));
	return 0;
}

void
deadline_save_clock(struct broker *b)
{
	int rc;

	state_touch(&b->st);
	if ((rc = clock_save(&b->st.due_clock, b->st.store, state_due_ms(&b->st))) !=
	    STORE_OK)
		state_store_failed(&b->st, "persist the due clock", rc);
}

void
deadline_stop(struct broker *b)
{
	if (b->deadline_ev != NULL)
		event_free(b->deadline_ev);
	b->deadline_ev = NULL;
}
