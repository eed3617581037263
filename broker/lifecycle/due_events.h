/*
 * due_events.h - the transitions a due entry (state/due.h) calls for:
 * escalation of a handover still undecided at its acceptance deadline,
 * expiry of one never delivered within the retention (with its
 * non-delivery notice), and purge of a finished one's body (its history
 * stays). No timers here: the event-loop layer (deadline.c) arms one from
 * the next due time this returns.
 *
 * An entry is only a reminder: when it falls due, the handover's state
 * decides whether anything happens (an accepted handover is not
 * escalated, a redirected one's older expiry is stale).
 */
#ifndef BATON_LC_DUE_EVENTS_H
#define BATON_LC_DUE_EVENTS_H

#include <stdint.h>

#include "state.h"

/* After a full store, when to try the due entries again (due-clock ms). */
#define LC_DUE_RETRY_MS	5000

/*
 * Carries out up to max entries due by due_now (the due clock: compared
 * with due times and the base of new ones), earliest first, each in a
 * nested store operation of its own inside the pass's transaction (opened
 * here if needed), and deletes them; wall_now (the wall clock) is for the
 * records. Malformed entries are deleted unused. Sets *next_due to when to
 * run again: the next entry's due time, due_now when max were handled and
 * more may be due, due_now + LC_DUE_RETRY_MS after a full store, or 0 when
 * no entries are left. Returns how many entries were removed. Stops the
 * process on a store error other than a full store.
 */
int	lifecycle_run_due(struct state *st, int64_t due_now, int64_t wall_now,
	    unsigned max, int64_t *next_due);

#endif
