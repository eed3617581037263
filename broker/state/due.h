/*
 * due.h - durable due entries: what must happen to a handover by when
 * (escalate, expire, purge), kept in the store, keyed by due time.
 *
 * The state layer only records them; the event-loop layer (deadline.c)
 * arms its timer from the earliest one added (state.earliest_due_ms) and
 * carries out what falls due. Due times are values of the due clock
 * (state_due_ms), never of the wall clock.
 */
#ifndef BATON_DUE_H
#define BATON_DUE_H

#include <stdint.h>

#include "state.h"

enum deadline_kind {
	DEADLINE_ACCEPT = 'A',	/* escalate if not accepted or rejected by now */
	DEADLINE_EXPIRE = 'E',	/* expire if not delivered by now */
	DEADLINE_PURGE = 'P',	/* remove the body, keep the history */
	DEADLINE_CHECKIN = 'C',	/* a check-in's grace ends (checkin.h) */
};

/* Bytes of a due entry's key: due time, kind, message reference. */
#define DUE_KEY_MAX	(8 + 1 + BATON_MESSAGE_ID_MAX)

/*
 * Adds an entry in the current transaction (nothing for due_ms <= 0) and
 * notes it in st->earliest_due_ms so the timer above is armed early enough.
 */
int	due_add(struct state *st, int64_t due_ms, enum deadline_kind kind,
	    const char *message_id);

#endif
