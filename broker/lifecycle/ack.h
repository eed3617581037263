/*
 * ack.h - a recipient's Ack: it has the handover (or notice) safely, so
 * its queue entry goes; over the state layer, knowing nothing of frames or
 * sessions.
 *
 * An Ack names a notice id, a reference, or an own id for the node's own
 * handover. Acks are idempotent; a foreign, unknown or early one changes
 * nothing and is recorded (ack_refused).
 */
#ifndef BATON_LC_ACK_H
#define BATON_LC_ACK_H

#include "lifecycle.h"
#include "state.h"

/* What lifecycle_ack did, for the caller's log line and session. */
struct ack_out {
	/* the handover's reference (empty for a notice or an invalid id) */
	char		 reference[BATON_REFERENCE_MAX + 1];
	int		 notice;	/* the id named a notice */
	/* a delivery in flight was acknowledged: a slot is free again */
	int		 freed;
	unsigned	 attempt;	/* freed handover: its delivery attempts */
	/*
	 * A refusal about another's handover or notice as it truly was
	 * ("NOT_RECIPIENT" even where the node is told UNKNOWN_MESSAGE),
	 * worth a warning; NULL otherwise.
	 */
	const char	*refused;
};

/*
 * Checks and carries out a's Ack of id, in a nested store operation of its
 * own: a notice leaves the queue and the store; a delivered handover
 * leaves the queue, is acknowledged in its state record and history, gets
 * its purge due entry and its audit record. Answers (res->code, returned):
 * CODE_OK ("acknowledged", or "already acknowledged" changing nothing),
 * CODE_INVALID, CODE_UNKNOWN_MESSAGE (none, or another's the node does not
 * know of), CODE_NOT_RECIPIENT, CODE_NOT_DELIVERED or CODE_STORE_FULL.
 * Stops the process on a store error other than a full store.
 */
int	lifecycle_ack(struct state *st, const struct actor *a, const char *id,
	    struct lc_result *res, struct ack_out *out);

#endif
