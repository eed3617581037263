/*
 * lifecycle.h - a handover's life after it is queued: decisions (accept,
 * reject with a reason, redirect), escalation when its acceptance deadline
 * passes, expiry when it is never delivered, and the ordered history that
 * Status reports.
 *
 * Each transition updates the state record, appends to its history,
 * queues the notices it owes and writes its audit record, all in the
 * caller's store operation, so they commit or vanish together.
 */
#ifndef BATON_LIFECYCLE_H
#define BATON_LIFECYCLE_H

#include <stdint.h>

#include "broker.h"
#include "queue.h"

#define LIFECYCLE_MAX_EVENTS	64

/*
 * Appends one event to m's history (strings copied; NULL = empty). When the
 * history is full, repeated deliveries are no longer recorded there (the
 * audit log still has them). Returns 0 or -1 on out of memory.
 */
int	lifecycle_event(queue_msg *m, int64_t at_ms, const char *event,
	    const char *actor, const char *other, const char *outcome,
	    const char *reason, const char *note);

/* Frees the events lifecycle_event added to a message built by hand. */
void	lifecycle_events_clear(queue_msg *m);

/* Name of a lifecycle state ("delivered"), for Status. */
const char *lifecycle_state_name(int state);

/* Name of a reject reason ("wrong_service"). */
const char *lifecycle_reason_name(int reason);

#endif
