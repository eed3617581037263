/*
 * state.c - the bottom layer's shared state (see state.h): the pass's
 * store transaction, fail-stop on store errors, space accounting, the
 * audited append with its limits, the clocks and the wake set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "clockms.h"
#include "log.h"
#include "metrics.h"
#include "state.h"
#include "store.h"

void
state_touch(struct state *st)
{
	int rc;

	if (!store_active(st->store) &&
	    (rc = store_begin(st->store, 0)) != STORE_OK)
		fatalx("store: cannot begin transaction: %s; stopping",
		    store_strerror(st->store));
	if (st->schedule != NULL)
		st->schedule(st->schedule_arg);
}

void
state_schedule(struct state *st)
{
	if (st->schedule != NULL)
		st->schedule(st->schedule_arg);
}

int64_t
state_mono_ms(void)
{
	return clockms_mono();
}

int64_t
state_now_ms(void)
{
	return clockms_wall();
}

void
state_store_failed(struct state *st, const char *what, int rc)
{
	if (rc == STORE_FULL)
		return;
	log_crit("%s: store error: %s; stopping", what, store_strerror(st->store));
	exit(1);
}

/* CLOCK_MONOTONIC in seconds, finer than state_mono_ms: commits take µs. */
static double
mono_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
state_commit(struct state *st)
{
	double t0;
	int rc;

	if (!store_active(st->store))
		return STORE_OK;
	t0 = mono_seconds();
	rc = store_commit(st->store);
	if (st->metrics != NULL)
		metrics_commit(st->metrics, mono_seconds() - t0);
	if (rc == STORE_FULL) {
		log_crit("store full at commit: %s; this pass's replies are "
		    "withdrawn and its sessions closed", store_strerror(st->store));
		return STORE_FULL;
	}
	if (rc != STORE_OK) {
		log_crit("store commit failed: %s; stopping without sending "
		    "receipts (restart after fixing the cause)",
		    store_strerror(st->store));
		exit(1);
	}
	return STORE_OK;
}

static int
is_refusal(const char *event)
{
	return strcmp(event, AUDIT_CONN_REFUSED) == 0 ||
	    strcmp(event, AUDIT_SUBMIT_REFUSED) == 0 ||
	    strcmp(event, AUDIT_ACK_REFUSED) == 0 ||
	    strcmp(event, AUDIT_DECISION_REFUSED) == 0 ||
	    strcmp(event, AUDIT_STATUS_REFUSED) == 0 ||
	    strcmp(event, AUDIT_PULL_REFUSED) == 0 ||
	    strcmp(event, AUDIT_CHECKIN_REFUSED) == 0;
}

#define DISK_FRESH_MS	100
#define DISK_SLACK	(64ull << 20)

int
state_store_low(struct state *st, uint64_t need)
{
	uint64_t map_reserve, disk_reserve, frame_cap, map_free, disk_free;
	int64_t now;

	map_reserve = st->space.map_size / 10;
	if (map_reserve < (1u << 20))
		map_reserve = 1u << 20;
	frame_cap = st->cfg->max_frame < (8u << 20) ? st->cfg->max_frame : (8u << 20);
	disk_reserve = 2 * frame_cap + (1u << 20);
	map_free = st->space.map_free > st->space_taken ?
	    st->space.map_free - st->space_taken : 0;
	/* the disk is shared with everything else on the machine, so it is
	 * measured afresh: every DISK_FRESH_MS, and at every call once it is
	 * within DISK_SLACK of the reserve (more than a burst writes between
	 * two measurements) */
	now = state_mono_ms();
	if (now - st->disk_at_ms >= DISK_FRESH_MS ||
	    st->space.disk_avail < disk_reserve + need + DISK_SLACK) {
		st->space.disk_avail = store_disk_avail(st->store);
		st->disk_at_ms = now;
	}
	disk_free = st->space.disk_avail;
	if (map_free < map_reserve + need)
		return STORE_LOW_MAP;
	if (disk_free < disk_reserve + need)
		return STORE_LOW_DISK;
	return 0;
}

/* Appends in an operation (its own or the caller's); see state_audit. */
static int
audit_in_op(struct state *st, const struct audit_event *ev)
{
	int rc, own;

	state_touch(st);
	/* inside a caller's operation the record commits or aborts with it
	 * (a failed append fails that operation): a nested transaction of
	 * its own there would only copy pages the caller already holds */
	own = !store_in_op(st->store);
	if (own && (rc = store_op_begin(st->store)) != STORE_OK) {
		log_crit("audit: cannot begin an operation for %s: %s; stopping",
		    ev->event, store_strerror(st->store));
		exit(1);
	}
	rc = audit_append(st->audit, st->store, ev, state_now_ms());
	if (own)
		rc = store_op_end(st->store, rc);
	if (rc != STORE_OK && rc != STORE_FULL) {
		log_crit("audit: cannot append %s: %s; stopping", ev->event,
		    audit_strerror(st->audit));
		exit(1);
	}
	if (rc == STORE_FULL)
		log_warnx("audit: store full, %s not recorded; the change it "
		    "describes is refused with it", ev->event);
	else
		st->space_taken += 1024;
	return rc;
}

/* Writes the count of refusals that were only counted, once room returns. */
static void
audit_flush_suppressed(struct state *st)
{
	struct audit_event ev = { 0 };
	char reason[96];

	if (st->refusal_dropped == 0 || state_store_low(st, 0))
		return;
	snprintf(reason, sizeof(reason), "%llu refusals counted but not recorded "
	    "one by one (rate limit or store reserve)",
	    (unsigned long long)st->refusal_dropped);
	ev.event = AUDIT_SUPPRESSED;
	ev.actor = "broker";
	ev.outcome = "ok";
	ev.reason = reason;
	if (audit_in_op(st, &ev) == STORE_OK)
		st->refusal_dropped = 0;
}

/* Records of reads and connections: limited per node (recordlimit.h). */
static int
read_record_kind(const char *event)
{
	if (strcmp(event, AUDIT_STATUS_READ) == 0)
		return RECORD_KIND_READ;
	if (strcmp(event, AUDIT_CONN_ACCEPTED) == 0)
		return RECORD_KIND_CONN;
	return -1;
}

/* Writes one audit_suppressed record for a summary; 0 if it was written. */
static int
write_record_summary(struct state *st, const struct record_limit_summary *sum)
{
	struct audit_event ev = { 0 };
	char reason[160];

	snprintf(reason, sizeof(reason), "%llu status reads and %llu "
	    "connections counted but not recorded one by one (limit %d a "
	    "minute per node, or the store reserve)",
	    (unsigned long long)sum->counted[RECORD_KIND_READ],
	    (unsigned long long)sum->counted[RECORD_KIND_CONN],
	    RECORD_LIMIT_PER_WINDOW);
	ev.event = AUDIT_SUPPRESSED;
	ev.actor = sum->node;
	ev.outcome = "ok";
	ev.reason = reason;
	return audit_in_op(st, &ev) == STORE_OK ? 0 : -1;
}

void
state_flush_record_summaries(struct state *st, int all)
{
	struct record_limit_summary sum;
	int64_t now = state_mono_ms();

	st->summaries_at_ms = now;
	while (!state_store_low(st, 0) &&
	    record_limit_take_due(&st->read_limit, now, all, &sum))
		if (write_record_summary(st, &sum) == -1) {
			record_limit_restore(&st->read_limit, &sum);
			break;
		}
}

/* The append proper, with its limits; see state_audit. */
static int
audit_limited(struct state *st, const struct audit_event *ev)
{
	int64_t second = state_now_ms() / 1000;
	int kind = read_record_kind(ev->event);

	if (kind >= 0) {
		/* a read changes nothing: counted rather than written once the
		 * node's budget is used, or while the store is in its reserve */
		if (!record_limit_admit(&st->read_limit, ev->actor, kind,
		    state_mono_ms(), !state_store_low(st, 0)))
			return STORE_OK;
		return audit_in_op(st, ev);
	}

	if (is_refusal(ev->event)) {
		if (second != st->refusal_second) {
			st->refusal_second = second;
			st->refusal_count = 0;
			audit_flush_suppressed(st);
		}
		if (st->refusal_count >= AUDIT_REFUSALS_PER_S ||
		    state_store_low(st, 0)) {
			if (st->refusal_dropped++ == 0)
				log_warnx("audit: refusals are being counted, not "
				    "recorded one by one (rate limit or store "
				    "reserve); a summary record follows");
			return STORE_OK;
		}
		st->refusal_count++;
	}
	return audit_in_op(st, ev);
}

int
state_audit(struct state *st, const struct audit_event *ev)
{
	int rc = audit_limited(st, ev);

	/* counted where every transition passes, written or only summarised */
	if (rc == STORE_OK && st->metrics != NULL)
		metrics_count_audit(st->metrics, ev);
	return rc;
}

void
state_measure_space(struct state *st)
{
	struct store_space sp;
	int rc;

	if ((rc = store_space(st->store, &sp)) == STORE_BUSY)
		return;
	if (rc != STORE_OK) {
		log_crit("store: cannot measure free space: %s; stopping",
		    store_strerror(st->store));
		exit(1);
	}
	st->space = sp;
	st->space_at_ms = state_mono_ms();
	st->space_taken = 0;
}

void
state_read_failed(struct state *st, const char *what)
{
	log_crit("%s: store read failed: %s; stopping", what,
	    store_strerror(st->store));
	exit(1);
}

/*
 * Re-measures the room in the store right after a commit that took some,
 * at most every SPACE_REMEASURE_MS: the estimate of what accepted work
 * takes is conservative, so left to grow it would refuse work for room
 * that exists. No transaction is open here, which measuring needs.
 */
#define SPACE_REMEASURE_MS	50

void
state_remeasure_space(struct state *st)
{
	if (st->space_taken > 0 &&
	    state_mono_ms() - st->space_at_ms >= SPACE_REMEASURE_MS)
		state_measure_space(st);
}

void
state_wake(struct state *st, const char *node_id)
{
	struct wake_set *w = &st->wake;

	if (w->all || wake_set_has(w, node_id))
		return;
	if (w->n == STATE_WAKE_MAX) {
		/* more nodes than the set holds: every receiver looks */
		w->all = 1;
		return;
	}
	snprintf(w->node[w->n++], sizeof(w->node[0]), "%s", node_id);
}

void
state_wake_all(struct state *st)
{
	st->wake.all = 1;
}

int
wake_set_has(const struct wake_set *set, const char *node_id)
{
	unsigned i;

	if (set->all)
		return 1;
	for (i = 0; i < set->n; i++)
		if (strcmp(set->node[i], node_id) == 0)
			return 1;
	return 0;
}

void
state_wake_take(struct state *st, struct wake_set *out)
{
	*out = st->wake;
	st->wake.n = 0;
	st->wake.all = 0;
}

int
state_wake_pending(const struct state *st)
{
	return st->wake.n > 0 || st->wake.all;
}

int64_t
state_due_ms(const struct state *st)
{
	return clock_due_now(&st->due_clock);
}

void
state_take_space(struct state *st, uint64_t bytes)
{
	st->space_taken += bytes;
}

/*
 * Keeps a reserve of map and disk so that deliveries, acks and decisions
 * (small writes, and deletes that need pages to copy on write) always
 * succeed and the queue can drain: new handovers are refused with
 * STORE_FULL before the reserve is touched, and accepted again by
 * themselves once space returns. The free list is re-read after each
 * commit that took room (at most every 50 ms) and every second; in
 * between, each accepted handover counts as its envelope plus
 * SUBMIT_OVERHEAD (its state record, queue, deadline and audit entries
 * and the pages they dirty) against the last figure.
 */
#define SUBMIT_OVERHEAD	(16u * 1024u)

int
state_has_room(struct state *st, size_t len, char *text, size_t tlen)
{
	uint64_t need = (uint64_t)len + SUBMIT_OVERHEAD;
	int low;
	double map_free, map_size = (double)st->space.map_size / 1048576.0;
	double disk_free;

	low = state_store_low(st, need);
	map_free = (double)(st->space.map_free > st->space_taken ?
	    st->space.map_free - st->space_taken : 0) / 1048576.0;
	disk_free = (double)st->space.disk_avail / 1048576.0;
	switch (low) {
	case STORE_LOW_MAP:
		snprintf(text, tlen, "the broker's store is nearly full (%.1f of "
		    "%.1f MiB in use); retry later with the same message id",
		    map_size - map_free, map_size);
		log_warnx("store: refusing new handovers: map %.1f of %.1f MiB "
		    "free", map_free, map_size);
		return 0;
	case STORE_LOW_DISK:
		snprintf(text, tlen, "the broker's disk is nearly full (%.1f MiB "
		    "free); retry later with the same message id", disk_free);
		log_warnx("store: refusing new handovers: disk %.1f MiB free",
		    disk_free);
		return 0;
	}
	state_take_space(st, need);
	return 1;
}
