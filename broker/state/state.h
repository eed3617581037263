/*
 * state.h - the bottom layer: what every transition of a handover works
 * over, with no libevent and no sessions.
 *
 * One struct state per process (inside the event-loop layer's struct
 * broker). It owns the pass's store transaction (state_touch opens it; the
 * event-loop layer commits it once per pass), the failure policy (a store
 * error other than a full store stops the process: fail-stop, never
 * retry-then-acknowledge), the accounting of room in the store, the
 * audited append with its limits, the clocks, and the wake set: the nodes
 * that have new work since the last pass, so the layer above pumps those
 * receivers instead of searching every session.
 */
#ifndef BATON_STATE_H
#define BATON_STATE_H

#include <stdint.h>

#include "clock.h"
#include "config.h"
#include "recordlimit.h"
#include "store.h"
#include "validate.h"

struct policy;
struct audit;
struct audit_event;
struct metrics;

#define STATE_WAKE_MAX	64

/* Nodes with new work; all != 0 when every receiver should look. */
struct wake_set {
	char		 node[STATE_WAKE_MAX][BATON_NODE_ID_MAX + 1];
	unsigned	 n;
	int		 all;
};

struct state {
	const struct broker_config *cfg;
	struct store		*store;
	struct policy		*policy;	/* swapped whole on reload */
	struct audit		*audit;		/* keys for the audit log */
	struct due_clock	 due_clock;	/* every due time's clock (clock.h) */
	struct store_space	 space;		/* last measured room in the store */
	int64_t			 space_at_ms;	/* when it was measured (monotonic) */
	uint64_t		 space_taken;	/* bytes accepted since */
	int64_t			 disk_at_ms;	/* free disk last measured (monotonic) */
	struct record_limit	 read_limit;	/* per-node read and connection records */
	int64_t			 summaries_at_ms; /* last flush of counted records */
	int64_t			 refusal_second;	/* refusal records: the current second, */
	unsigned		 refusal_count;	/* how many were recorded in it, */
	uint64_t		 refusal_dropped; /* and how many were only counted */
	struct wake_set		 wake;		/* nodes with new work since the last take */
	int64_t			 earliest_due_ms; /* earliest due entry added, 0 = none */
	struct metrics		*metrics;	/* counters fed by state_audit; NULL: none */
	uint64_t		 agreements_fp;	/* agreements in force at the last
						   review (held.h) */
	int			 agreements_seen; /* 0: review every held one */
	int64_t			 held_review_ms; /* when they were (monotonic) */
	void			(*schedule)(void *); /* the layer above: run a pass */
	void			*schedule_arg;
};

/*
 * Opens the pass's write transaction if none is open, and asks the layer
 * above for a commit pass. Every change or read of the store starts here.
 * Stops the process if the store cannot begin a transaction.
 */
void	state_touch(struct state *st);

/* Asks the layer above for a commit pass without opening a transaction. */
void	state_schedule(struct state *st);

/* Monotonic milliseconds, for timers that a clock step must not move. */
int64_t	state_mono_ms(void);

/* Wall-clock time in Unix milliseconds (for records, never for timers). */
int64_t	state_now_ms(void);

/* The due clock's now: what deadlines, expiry and purge are measured in. */
int64_t	state_due_ms(const struct state *st);

/*
 * For a store result other than STORE_OK: returns if it is STORE_FULL (the
 * caller refuses and goes on), otherwise logs what failed and stops the
 * process (fail-stop: a store error is never answered with a receipt).
 */
void	state_store_failed(struct state *st, const char *what, int rc);

/*
 * Commits the pass's transaction, if one is open, and times it for the
 * metrics. Returns STORE_OK (also when none was open) or STORE_FULL (the
 * map filled at commit: nothing of the pass is durable, so the caller
 * withdraws every reply of the pass); any other failure, an fsync error
 * included, is logged and stops the process without a receipt being sent
 * (fail-stop: a store that failed a commit is never retried and then
 * acknowledged from).
 */
int	state_commit(struct state *st);

/*
 * A read from the store failed other than NOTFOUND or CORRUPT: the store is
 * not fit to serve from. Logs and stops the process (never returns).
 */
void	state_read_failed(struct state *st, const char *what)
	    __attribute__((noreturn));

/*
 * Appends an audit record in the current transaction (opening the pass's
 * transaction if needed): outside any operation in a nested operation of
 * its own, so a full store fails this record alone; inside a caller's
 * operation as part of it, committed or aborted with it (a full store
 * fails the caller's operation, which then aborts). Refusals (events recording something that
 * was not done) are limited to AUDIT_REFUSALS_PER_S a second and are not
 * written at all while the store is inside its reserve; reads and
 * connections are limited per node (recordlimit.h). Both are counted and
 * summarised in audit_suppressed records, so a flood can neither fill the
 * store nor starve the work that drains it. Every event is counted in
 * st->metrics (metrics.h) whether its record is written one by one or only
 * summarised; one not written for a full store is not counted. Returns
 * STORE_OK (also when a record was only counted) or STORE_FULL; any other
 * store error stops the process.
 */
#define AUDIT_REFUSALS_PER_S	50
int	state_audit(struct state *st, const struct audit_event *ev);

/*
 * Writes the audit_suppressed records owed for reads and connections that
 * were counted rather than recorded: those whose window has ended, or all
 * of them when all != 0 (at stop). Skipped while the store is inside its
 * reserve; the counts are kept until there is room.
 */
void	state_flush_record_summaries(struct state *st, int all);

/*
 * Whether the store (STORE_LOW_MAP) or its disk (STORE_LOW_DISK) would have
 * less room than the reserve kept for draining work (deliveries, acks,
 * decisions) after need more bytes, by the last measurement; 0 if neither.
 */
#define STORE_LOW_MAP	1
#define STORE_LOW_DISK	2
int	state_store_low(struct state *st, uint64_t need);

/*
 * The store reserve for new work of len bytes (a handover): 1 if there is
 * room, counted as taken until the next measurement; 0 with a refusal
 * text that gives the true figures otherwise. The transition that adds a
 * handover (lifecycle_submit, the only caller) takes it at its point of
 * no return, after the checks that answer without writing, so a resent id
 * still gets its original receipt when the store is nearly full (why this
 * is not a dispatch-table check: frames/dispatch.c).
 */
int	state_has_room(struct state *st, size_t len, char *text, size_t textlen);

/* Counts bytes that accepted work will take, until the next measurement. */
void	state_take_space(struct state *st, uint64_t bytes);

/*
 * Re-measures the room left in the store (map free list and disk). Needs
 * no transaction to be open; returns without measuring otherwise. Stops
 * the process on a store error.
 */
void	state_measure_space(struct state *st);

/* After a commit: re-measures if work took room (at most every 50 ms). */
void	state_remeasure_space(struct state *st);

/* Marks node as having new work (a handover or notice queued for it). */
void	state_wake(struct state *st, const char *node_id);

/* Every receiver may have new work (a policy reload, a role change). */
void	state_wake_all(struct state *st);

/*
 * Moves the wake set into out and empties it: wakes that happen while the
 * layer above acts on out are kept for its next pass.
 */
void	state_wake_take(struct state *st, struct wake_set *out);

/* Whether set names node_id (or every node). */
int	wake_set_has(const struct wake_set *set, const char *node_id);

/* Whether anything is waiting in the wake set. */
int	state_wake_pending(const struct state *st);

#endif
