/*
 * recordlimit.h - per-node limits on audit records that record reads and
 * connections rather than changes.
 *
 * A status request or a reconnect changes nothing, yet each one used to
 * add an audit record for good; a partner in a loop could fill the store.
 * Each node may have RECORD_LIMIT_PER_WINDOW such records written one by
 * one per RECORD_LIMIT_WINDOW_MS; the rest are counted, and the counts are
 * written as one audit_suppressed record per node once its window ends.
 * The table is fixed-size (no allocation, no growth with the number of
 * nodes): a node that finds no free slot is counted under "*".
 * No libevent, no store: the caller writes the records.
 */
#ifndef BATON_RECORDLIMIT_H
#define BATON_RECORDLIMIT_H

#include <stdint.h>

#include "validate.h"

#define RECORD_LIMIT_SLOTS	128
#define RECORD_LIMIT_WINDOW_MS	60000
#define RECORD_LIMIT_PER_WINDOW	30

enum record_kind {
	RECORD_KIND_READ = 0,		/* status_read */
	RECORD_KIND_CONN,		/* connection_accepted */
	RECORD_KINDS
};

struct record_limit_slot {
	char		 node[BATON_NODE_ID_MAX + 1];	/* "" = free */
	int64_t		 window_start_ms;
	unsigned	 written;			/* records written this window */
	uint64_t	 counted[RECORD_KINDS];		/* counted, not written */
};

struct record_limit {
	struct record_limit_slot slot[RECORD_LIMIT_SLOTS];
};

/* What one node is owed: counts of records not written one by one. */
struct record_limit_summary {
	char		 node[BATON_NODE_ID_MAX + 1];
	int64_t		 window_start_ms;
	uint64_t	 counted[RECORD_KINDS];
};

/*
 * Whether a record of kind for node may be written now (1), or is only
 * counted (0). With may_write 0 (e.g. the store is inside its reserve) it
 * is counted whatever the budget.
 */
int	record_limit_admit(struct record_limit *rl, const char *node,
	    enum record_kind kind, int64_t now_ms, int may_write);

/*
 * Takes one summary that is due (its window has ended, or any with
 * counts when all != 0) into out and clears its counts. Returns 1 if one
 * was taken, 0 if none is due.
 */
int	record_limit_take_due(struct record_limit *rl, int64_t now_ms, int all,
	    struct record_limit_summary *out);

/*
 * Gives a summary back after its record could not be written, so the
 * counts are written later instead of lost.
 */
void	record_limit_restore(struct record_limit *rl,
	    const struct record_limit_summary *sum);

#endif
