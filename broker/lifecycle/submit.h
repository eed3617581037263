/*
 * submit.h - a node's Submit: the first transition of a handover, over the
 * state layer and knowing nothing of frames or sessions.
 *
 * Checks first (the id is the sender's own, the handover is valid and fits
 * a frame, a resent id is answered from the original, the recipient is an
 * enabled node its role may send this kind to, the store has room), then
 * stores the handover once with its queue entry, its acceptance and expiry
 * due entries and its audit records, in a nested store operation of its
 * own, so a refused or failed submit is undone alone.
 */
#ifndef BATON_LC_SUBMIT_H
#define BATON_LC_SUBMIT_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "lifecycle.h"
#include "state.h"

/* A handover must leave room in a frame for what the broker adds to it. */
#define ENVELOPE_HEADROOM	4096

/* What lifecycle_submit did, for the caller's receipt and log line. */
struct submit_out {
	/* the handover's reference, "<sender>/<own id>" ("" when the id
	 * names none); the receipt carries it only when accepted */
	char		 reference[BATON_REFERENCE_MAX + 1];
	/* CODE_OK for a resent id: the original receipt is returned */
	int		 duplicate;
	int64_t		 received_at_ms;	/* CODE_OK: when first received */
	uint64_t	 queue_seq;		/* CODE_OK, new: its queue entry */
	char		 recipient[BATON_NODE_ID_MAX + 1]; /* CODE_OK, new */
};

/*
 * Checks and carries out the Submit of env (NULL: none) by a. On CODE_OK
 * the handover, its queue entry, due entries and audit records are in the
 * pass's transaction and the recipient is woken (or, for a resent id with
 * the same content, the original receipt is described in out). A refusal
 * is recorded (submit_refused) and answered with its code: CODE_INVALID,
 * CODE_DUPLICATE, CODE_UNKNOWN_RECIPIENT, CODE_ROUTE_NOT_ALLOWED or
 * CODE_STORE_FULL. Returns res->code; stops the process on a store error
 * other than a full store.
 */
int	lifecycle_submit(struct state *st, const struct actor *a,
	    const Baton__V1__Envelope *env, struct lc_result *res,
	    struct submit_out *out);

#endif
