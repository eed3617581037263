/*
 * queueview.h - what is waiting for each node, read from the store: the
 * one reading behind the broker's queue gauges (metrics_http.c) and
 * `batonctl queue` (ctl/ctl_queue.c), so the two cannot disagree.
 *
 * Per node and risk level (baton.v1.RiskLevel, 0 = unspecified):
 *   depth      handovers in the node's queue: waiting or in flight
 *   waiting    queued, not yet delivered to this node
 *   in_flight  delivered, not yet acknowledged
 *   undecided  waiting, in flight or acknowledged: not accepted or rejected
 *   overdue    undecided and at or past its acceptance deadline on the
 *              due clock (as the deadline timer fires), or escalated
 * with the times the broker received the oldest waiting and the oldest
 * undecided one (a redirected handover keeps its first receive time).
 * Notices in a queue are not handovers and are not counted here. A state
 * record is read back like input: one that fails its check, does not name
 * the key it is stored under or names no valid recipient is counted as
 * unreadable, never into a row.
 *
 * Cost, and why a bounded scan rather than counts kept as transitions
 * happen: the store has no index of undecided handovers (acknowledged ones
 * have left the queue), so the reading walks the state records once,
 * unpacking each (a few microseconds). Counts kept incrementally would
 * have to follow every transition in lifecycle/ and be rebuilt from this
 * same walk at every start; one walk is correct by construction. The walk
 * stops after max_records records and says so (truncated), so a scrape
 * never costs more than that; the figures are then lower bounds.
 */
#ifndef BATON_QUEUEVIEW_H
#define BATON_QUEUEVIEW_H

#include <stdint.h>

#include "store.h"
#include "validate.h"

#define VIEW_RISKS	5		/* baton.v1.RiskLevel values 0..4 */
#define VIEW_NODES_MAX	4096		/* nodes shown; the rest are counted */
#define VIEW_SCAN_MAX	200000		/* state records read by one walk */

struct view_cell {
	uint64_t	 depth, waiting, in_flight, undecided, overdue;
	int64_t		 oldest_waiting_ms;	/* received (wall ms); 0: none */
	int64_t		 oldest_undecided_ms;
};

struct view_node {
	char		 node[BATON_NODE_ID_MAX + 1];
	struct view_cell risk[VIEW_RISKS];
	int		 registered;	/* in the registry (else: a recipient
					   with handovers, since removed) */
};

struct queue_view {
	struct view_node *nodes;	/* every registered node and every other
					   recipient with handovers, in id order */
	unsigned	  n, cap;
	uint64_t	  scanned;	/* state records read */
	uint64_t	  unreadable;	/* records that failed their checks */
	uint64_t	  nodes_dropped; /* handovers not counted: their node is
					    past VIEW_NODES_MAX, or no memory */
	int		  truncated;	/* stopped at max_records */
	int64_t		  wall_ms;	/* the moment the ages are taken at */
	int64_t		  due_ms;	/* and the due clock's (clock.h) */
};

/*
 * Reads the view in the store's current transaction (the caller opens it;
 * read-only is enough). wall_ms and due_ms are "now" on the two clocks.
 * Returns STORE_OK with *v filled (free with queue_view_free, also after a
 * failure), or STORE_ERROR.
 */
int	queue_view_read(struct store *s, int64_t wall_ms, int64_t due_ms,
	    uint64_t max_records, struct queue_view *v);

void	queue_view_free(struct queue_view *v);

/* The cell totals of one node over every risk level, into out. */
void	queue_view_node_total(const struct view_node *n, struct view_cell *out);

/* "unspecified", "low", "medium", "high", "critical" (level 0..4). */
const char *queue_view_risk_name(int level);

#endif
