/*
 * decide.h - a recipient's decision on a handover (accept, reject with a
 * reason, redirect) and a party's read of its status: transitions over
 * the state layer that know nothing of frames or sessions.
 *
 * Only the current recipient may decide, only once, only after delivery.
 * A handover is named by reference, or by an own id for the node's own
 * handover; a node that knows nothing of the handover named gets the
 * answer for one that does not exist.
 */
#ifndef BATON_LC_DECIDE_H
#define BATON_LC_DECIDE_H

#include <stddef.h>

#include "baton.pb-c.h"
#include "lifecycle.h"
#include "queue.h"
#include "state.h"

#define LC_DECIDE_NOTE_MAX	2000	/* keeps Status within any max_frame */

/* What lifecycle_decide did, for the caller's log line and session. */
struct decide_out {
	/* the handover's reference (empty for an invalid id) */
	char		 reference[BATON_REFERENCE_MAX + 1];
	/* the decision also acknowledged a delivery in flight: the recipient
	 * has a delivery slot free again */
	int		 acked;
	/*
	 * A refusal as it truly was ("NOT_RECIPIENT" even where the node is
	 * told UNKNOWN_MESSAGE), or NULL when recorded.
	 */
	const char	*refused;
};

/*
 * Checks and carries out decision d by a on the handover named id_or_ref
 * (an own id or a reference), in a nested store operation of its own: the
 * state record, its history, the audit record, the notice to the sender
 * (notice_send) and, for a redirect, the new hop's queue entry and expiry
 * due entry (the new recipient is woken), or for accept and reject the
 * purge due entry of an acknowledgement; all commit or vanish together.
 * A refusal is recorded (decision_refused) with its true code and why;
 * another's handover is answered CODE_UNKNOWN_MESSAGE with
 * LIFECYCLE_UNKNOWN_TEXT, like one that does not exist. A full store is
 * the refusal CODE_STORE_FULL. Returns res->code (CODE_OK "recorded");
 * stops the process on a store error other than a full store.
 */
int	lifecycle_decide(struct state *st, const struct actor *a,
	    const char *id_or_ref, const Baton__V1__Decision *d,
	    struct lc_result *res, struct decide_out *out);

/* What lifecycle_status read. */
struct status_out {
	/* the handover's reference (empty when the id names none) */
	char		 reference[BATON_REFERENCE_MAX + 1];
	queue_msg	*m;		/* CODE_OK: free with queue_msg_free */
	size_t		 nvisible;	/* how many of m's events a may see */
};

/*
 * Reads the handover named id_or_ref for a party (its sender or a current
 * or past recipient: a node that passed it on sees the history up to its
 * own redirect, not what later teams decided or wrote), recording
 * status_read, or status_refused with the same answer whether none exists
 * or it is another's (the record alone says which). Returns res->code:
 * CODE_OK with out->m, or CODE_NOT_PERMITTED.
 */
int	lifecycle_status(struct state *st, const struct actor *a,
	    const char *id_or_ref, struct lc_result *res, struct status_out *out);

#endif
