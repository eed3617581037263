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

#define BATON_MESSAGE_ID_MAX	128
#define BATON_NODE_ID_MAX	64
#define BATON_NHS_NUMBER_LEN	10

/* 1 when id is [A-Za-z0-9._:-]{1,128}, else 0. */
int	validate_message_id(const char *id);

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
