/*
 * delivery.h - delivery: the next item of a receiver's queue, recorded as
 * delivered and returned ready to send (a handover redacted by the policy
 * in force, or a notice), with damaged entries moved to quarantine on the
 * way. Over the state layer; knows nothing of frames, sessions or credit:
 * the delivery pump (frames/deliver.c) asks for one item at a time while
 * the receiving session has room.
 *
 * Access is decided here, at delivery, on every path (first delivery,
 * redelivery after reconnect or restart, after a redirect): the
 * recipient's role is read from the registry and its sections from the
 * policy in force now.
 */
#ifndef BATON_LC_DELIVERY_H
#define BATON_LC_DELIVERY_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "lifecycle.h"
#include "notice.h"
#include "queue.h"
#include "sections.h"
#include "state.h"

enum lc_deliver {
	LC_DELIVER_NONE = 0,	/* nothing after the cursor (or the store is full: later) */
	LC_DELIVER_SENT,	/* d holds a Deliver or a Notice to send */
	LC_DELIVER_SKIPPED,	/* d->seq was not deliverable (d->skip says why) */
	LC_DELIVER_BLOCKED,	/* nothing may go to the receiver now; stop */
};

/* Why a queue entry was passed over. */
enum lc_skip {
	LC_SKIP_STALE = 1,	/* the handover now lives in another's queue */
	LC_SKIP_DROPPED,	/* its records are missing or damaged: quarantined */
	LC_SKIP_QUARANTINED,	/* its body is: quarantined, the sender told */
	LC_SKIP_HELD,		/* no agreement its route needs is in force:
				   held (held.h), the sender told */
};

/* One item of a receiver's queue (clear with lifecycle_delivery_clear). */
struct delivery {
	uint64_t		 seq;		/* its queue entry */
	enum queue_kind		 kind;
	char			 id[BATON_MESSAGE_ID_MAX + 1];
	/* LC_DELIVER_SKIPPED */
	enum lc_skip		 skip;
	const char		*why;		/* LC_SKIP_DROPPED: what was wrong */
	/* LC_SKIP_STALE: where it lives now; LC_SKIP_QUARANTINED,
	 * LC_SKIP_HELD and a handover sent: its sender */
	char			 other[BATON_NODE_ID_MAX + 1];
	/*
	 * LC_DELIVER_SENT, a handover: the Deliver message; its envelope
	 * either unpacked and redacted (deliver.envelope), or, when the
	 * recipient may see all of it as stored, those bytes (body; then
	 * deliver.envelope is NULL and frame_encode_deliver sends them)
	 */
	Baton__V1__Deliver	 deliver;
	uint8_t			*body;
	size_t			 body_len;
	char			*withheld[SECTION_COUNT]; /* names, static */
	/* LC_DELIVER_SENT, a notice */
	stored_notice		*notice;
};

/*
 * Finds receiver r's first queue entry after cursor and, in nested store
 * operations of its own inside the pass's transaction, records it as
 * delivered (attempts, state, history, the delivered or notice_delivered
 * audit record with the sections disclosed and withheld) and fills d.
 * A stale entry is removed; a damaged one is quarantined (audited; for a
 * damaged body the sender gets an undeliverable notice). BLOCKED when r's
 * role may receive nothing now or a full store stopped the record (the
 * item stays queued; a later pass tries again). Stops the process on a
 * store error other than a full store.
 */
int	lifecycle_deliver_next(struct state *st, const struct actor *r,
	    uint64_t cursor, struct delivery *d);

/* Frees what d holds and empties it. */
void	lifecycle_delivery_clear(struct delivery *d);

#endif
