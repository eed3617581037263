/*
 * agreement.h - data-sharing agreements between two organisations.
 *
 * A route of the policy may require one ("send ROLE KIND... with
 * agreement"): a handover on it crosses from the sender's organisation to
 * the recipient's only while an agreement between the two is in force,
 * and only the sections the agreement lists (when it lists any). The
 * administrator records agreements with batonctl agreement add/end; the
 * broker reads them (LMDB is multi-process, so a change reaches it at its
 * next transaction) and marks on each record that it has warned of, or
 * recorded, its lapse. Every call acts in the store's current transaction.
 */
#ifndef BATON_AGREEMENT_H
#define BATON_AGREEMENT_H

#include <stdint.h>

#include "registry.h"
#include "sections.h"
#include "store.h"

#define AGREEMENT_ID_MAX	24	/* "ag-" and a sequence number */
#define AGREEMENT_REF_MAX	128	/* the document's reference */
#define AGREEMENT_WHO_MAX	96	/* "UID(NAME)" of batonctl's caller */
#define AGREEMENT_REASON_MAX	256
/* The broker warns this long before an agreement lapses. */
#define AGREEMENT_WARN_MS	(30LL * 86400 * 1000)
/* Agreements one store keeps, ended and lapsed ones included. */
#define AGREEMENT_MAX		4096

struct agreement {
	char		 id[AGREEMENT_ID_MAX + 1];
	char		 org_a[REGISTRY_ORG_MAX + 1];
	char		 org_b[REGISTRY_ORG_MAX + 1];
	char		 reference[AGREEMENT_REF_MAX + 1];
	int64_t		 from_ms;	/* in force from (inclusive) */
	int64_t		 until_ms;	/* lapses at (exclusive) */
	section_mask	 sections;	/* 0: no narrowing beyond the role */
	int64_t		 created_at_ms;
	char		 created_by[AGREEMENT_WHO_MAX + 1];
	int64_t		 ended_at_ms;	/* 0: not ended early */
	char		 ended_by[AGREEMENT_WHO_MAX + 1];
	char		 end_reason[AGREEMENT_REASON_MAX + 1];
	int		 lapse_warned;
	int		 lapse_recorded;
};

enum agreement_state {
	AGREEMENT_PENDING,	/* from_ms is still ahead */
	AGREEMENT_IN_FORCE,
	AGREEMENT_LAPSED,	/* until_ms has passed */
	AGREEMENT_ENDED,	/* ended early by an administrator */
};

/* a's state at now (wall-clock ms). */
enum agreement_state agreement_state(const struct agreement *a, int64_t now);

/* "pending", "in force", "lapsed" or "ended". */
const char	*agreement_state_name(enum agreement_state st);

/* 1 if a is between organisations o1 and o2, in either order. */
int		 agreement_between(const struct agreement *a, const char *o1,
		    const char *o2);

/* 1 if id looks like an agreement id ("ag-" and 1 to 20 digits). */
int		 agreement_valid_id(const char *id);

/*
 * Reads one. STORE_OK and *out, STORE_NOTFOUND, STORE_CORRUPT (the
 * record does not decode, or its fields do not fit) or STORE_ERROR.
 */
int		 agreement_get(struct store *s, const char *id,
		    struct agreement *out);

/* Writes a back under its id. STORE_OK, STORE_FULL or STORE_ERROR. */
int		 agreement_put(struct store *s, const struct agreement *a);

/*
 * Stores a new agreement under the next id ("ag-N", set in a->id).
 * STORE_OK, STORE_FULL (also when AGREEMENT_MAX are kept) or STORE_ERROR.
 */
int		 agreement_add(struct store *s, struct agreement *a);

/*
 * Calls fn for every readable agreement in id order (a record that does
 * not decode is passed over). fn returns 0 to go on, or a value that
 * stops the walk and is returned. STORE_OK at the end, or a store error.
 */
int		 agreement_each(struct store *s,
		    int (*fn)(const struct agreement *, void *), void *arg);

/*
 * The agreement in force at now between organisations o1 and o2 (either
 * order) into *out: of several, the one that lasts longest. STORE_OK,
 * STORE_NOTFOUND when none is, or a store error.
 */
int		 agreement_find(struct store *s, const char *o1, const char *o2,
		    int64_t now, struct agreement *out);

#endif
