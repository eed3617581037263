/*
 * notice.h - notices to nodes (decided, escalated, expired), stored in
 * STORE_NOTICES and queued in the recipient's queue like a handover, so
 * they survive restarts and are delivered until acknowledged.
 *
 * A notice carries identifiers, codes and times only - never clinical
 * content - so it may go to any node, whatever its role.
 */
#ifndef BATON_NOTICE_H
#define BATON_NOTICE_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "queue.h"
#include "store.h"
#include "store.pb-c.h"

struct state;

#define NOTICE_ID_PREFIX	"notice-"

typedef Baton__Store__V1__StoredNotice stored_notice;

/*
 * Stores n for recipient and queues it. Sets n->notice_id (to a string
 * owned by the caller's buffer id, NOTICE_ID_MAX bytes) and n->at_ms.
 */
#define NOTICE_ID_MAX	32
int	notice_queue(struct store *s, const char *recipient, Baton__V1__Notice *n,
	    int64_t now_ms, char id[NOTICE_ID_MAX]);

/*
 * Queues a notice about m to node in the current transaction: kind, for
 * decisions the outcome fields of d (NULL otherwise), overdue_ms for an
 * escalation, and m's risk level when with_risk (it is clinical: only for
 * roles that may see it). Writes the notice_queued audit record and wakes
 * node. Returns a store result; on any other than STORE_OK the caller
 * aborts its operation, so nothing of it is left.
 */
int	notice_send(struct state *st, const char *node, int kind,
	    const queue_msg *m, const Baton__V1__Decision *d, int64_t overdue_ms,
	    int with_risk);

/* Reads a stored notice. STORE_OK (free with notice_free), NOTFOUND, CORRUPT. */
int	notice_get(struct store *s, const char *id, stored_notice **out);
int	notice_put(struct store *s, const stored_notice *sn);
void	notice_free(stored_notice *sn);

/* 1 if id has the shape of a notice id (own ids may not, references
 * cannot: they hold a '/'). */
int	notice_is_id(const char *id);

#endif
