/*
 * validate.h - checks on identifiers and on a handover's content.
 *
 * Shared by broker (which refuses CODE_INVALID) and client (which can tell a
 * partner system before it sends). Every check writes an error naming the
 * field path, e.g. "risk_summary.level: required".
 */
#ifndef BATON_VALIDATE_H
#define BATON_VALIDATE_H

#include <stddef.h>

#include "baton.pb-c.h"

/*
 * Message ids belong to their sender. A sender names its handover with its
 * own id, [A-Za-z0-9._:-]{1,128}; the broker and everyone else name it by
 * its reference "<sender node id>/<own id>". Neither a node id nor an own
 * id may contain '/', so a reference splits at its only '/', and a name
 * without one is an own id.
 */
#define BATON_OWN_ID_MAX	128
#define BATON_NODE_ID_MAX	64
#define BATON_REFERENCE_MAX	(BATON_NODE_ID_MAX + 1 + BATON_OWN_ID_MAX)
/* the longest message id in either form (store keys are references) */
#define BATON_MESSAGE_ID_MAX	BATON_REFERENCE_MAX
#define BATON_NHS_NUMBER_LEN	10

/* 1 when id is a sender's own id, [A-Za-z0-9._:-]{1,128}, else 0. */
int	validate_own_id(const char *id);

/* 1 when s is a reference: a node id, '/', an own id; else 0. */
int	validate_reference(const char *s);

/* 1 when id is a message id in either form (own id or reference), else 0. */
int	validate_message_id(const char *id);

/*
 * Writes into out the reference that id names when node asks: id itself
 * if it is a reference, else node's own id id ("node/id"). Returns 0, or
 * -1 when id is neither form or node is not a node id.
 */
int	validate_qualify(const char *node, const char *id,
	    char out[BATON_REFERENCE_MAX + 1]);

/* The own-id part of a reference (after its '/'); id itself otherwise. */
const char	*validate_own_part(const char *id);

/* 1 when id is a node id: [a-z0-9] then [a-z0-9._-], at most 64, else 0. */
int	validate_node_id(const char *id);

/*
 * Normalises an NHS number (spaces and hyphens removed) into out (11 bytes)
 * and checks its length and Modulus 11 check digit. Returns 1 if valid.
 */
int	validate_nhs_number(const char *s, char out[BATON_NHS_NUMBER_LEN + 1]);

/* 1 when s is a real calendar date YYYY-MM-DD, else 0. */
int	validate_date(const char *s);

/*
 * Checks a handover as received from a sender: subject with a valid NHS
 * number and family name, risk_summary with a level, transition with a kind,
 * well-formed dates, enum values in range, bounded string sizes.
 * Returns 0 when valid, -1 with err set otherwise.
 */
int	validate_handover(const Baton__V1__Handover *h, char *err, size_t errlen);

#endif
