/*
 * held.h - routes gated by data-sharing agreements: whether a handover
 * may cross to its recipient's organisation now, holding one that may not,
 * and releasing held ones once an agreement is in force again.
 *
 * A route of the policy may need an agreement ("send ROLE KIND... with
 * agreement"). Submit and redirect refuse a handover on it with
 * CODE_NO_AGREEMENT when none between the two organisations is in force;
 * delivery checks again, because an agreement may lapse or be ended while
 * the handover waits: then it leaves the queue for table HELD (state
 * held, never dropped), its sender gets a NOTICE_KIND_HELD, and
 * lifecycle_agreements_review queues it again once an agreement between
 * the two is in force (or expiry ends it, as for any undelivered one).
 * The agreement that lets a handover cross may narrow its sections below
 * what the recipient's role may see; each disclosure's audit record names
 * it (detail agreement=ID).
 */
#ifndef BATON_LC_HELD_H
#define BATON_LC_HELD_H

#include <stdint.h>

#include "agreement.h"
#include "lifecycle.h"
#include "queue.h"
#include "registry.h"
#include "state.h"

/* What crossing from one node to another needs, and what allows it. */
struct crossing {
	int			 need;		/* an agreement is needed */
	int			 found;		/* and ag is one in force */
	struct agreement	 ag;
	char			 org_from[REGISTRY_ORG_MAX + 1];
	char			 org_to[REGISTRY_ORG_MAX + 1];
};

/*
 * Whether a handover of kind from node `from` (role from_role, org
 * from_org) to node `to` needs an agreement under the policy in force,
 * and the one in force now if so, into *c. Reads only.
 */
void	lifecycle_crossing(struct state *st, const char *from_role,
	    const char *from_org, const struct registry_node *to, int kind,
	    struct crossing *c);

/*
 * The refusal text for a crossing that needs an agreement and has none:
 * names both organisations and what to do.
 */
void	lifecycle_crossing_text(const struct crossing *c, const char *from_role,
	    const char *to_role, int kind, char *text, size_t len);

/*
 * The crossing of m to its current recipient `to`, passed on by its
 * sender or by the node that redirected it: as lifecycle_crossing with
 * that node's role and organisation. A passer no longer in the registry
 * leaves only the agreement m travelled under to go by.
 */
void	lifecycle_crossing_of(struct state *st, const queue_msg *m,
	    const struct registry_node *to, struct crossing *c);

/*
 * Holds m, queued for node at queue entry seq: off the queue, into table
 * HELD, state held, history, audit record, a NOTICE_KIND_HELD to its
 * sender - one store operation. STORE_OK or the store's error.
 */
int	lifecycle_hold(struct state *st, const char *node, queue_msg *m,
	    uint64_t seq, const struct crossing *c);

/*
 * Once a second from the event-loop layer: warns (log and audit, once) of
 * agreements that lapse within AGREEMENT_WARN_MS, records those that have
 * lapsed or were ended (once), and, when the agreements in force have
 * changed (or a minute has passed: a node's role or organisation may have
 * changed), queues again the held handovers that may now cross. Stops the
 * process on a store error other than a full store (then it tries again
 * at the next call).
 */
void	lifecycle_agreements_review(struct state *st);

#endif
