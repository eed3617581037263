/*
 * deadline.c - durable timers (see deadline.h).
 *
 * Clocks: every due time is a value of the broker's due-time clock
 * (clock.h), which follows CLOCK_MONOTONIC while the broker runs, so a step
 * of the wall clock neither fires anything early nor holds it back. The
 * libevent timer is monotonic too. Times written into records people read
 * (lifecycle events, notices, the audit log) stay on the wall clock.
 *
 * Algorithm: one libevent timer is armed for the earliest entry (capped at
 * DEADLINE_RECHECK_MS, so that the due clock is persisted that often).
 * When it fires, up to DEADLINE_BATCH due entries are handled, each in its
 * own nested store operation inside the pass's transaction, and deleted;
 * if more are due, the timer is re-armed at once, so a backlog after a
 * long outage is worked off without starving clients. Entries that passed
 * while the broker was down are simply the first keys at start-up.
 * Cost: O(log n) per entry added or handled.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "audit.h"
#include "clock.h"
#include "deadline.h"
#include "decision.h"
#include "lifecycle.h"
#include "log.h"
#include "notice.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "store.h"

#define DEADLINE_BATCH		64
#define DEADLINE_RECHECK_MS	CLOCK_SAVE_MS
#define DKEY_MAX		DUE_KEY_MAX
#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define NK(x)	BATON__V1__NOTICE_KIND__NOTICE_KIND_##x

static void deadline_fire(evutil_socket_t, short, void *);


static void
deadline_arm(struct broker *b, int64_t due_ms)
{
	int64_t now = state_due_ms(&b->st), delay = due_ms - now;
	struct timeval tv;

	if (delay < 0)
		delay = 0;
	if (delay > DEADLINE_RECHECK_MS)
		delay = DEADLINE_RECHECK_MS;
	tv.tv_sec = delay / 1000;
	tv.tv_usec = (delay % 1000) * 1000;
	evtimer_add(b->deadline_ev, &tv);
	b->deadline_armed_ms = now + delay;
}

void
deadline_rearm(struct broker *b)
{
	int64_t due = b->st.earliest_due_ms;

	b->st.earliest_due_ms = 0;
	/* arming early is harmless: the fire finds nothing due and re-arms */
	if (due > 0 && b->deadline_ev != NULL &&
	    (b->deadline_armed_ms == 0 || due < b->deadline_armed_ms))
		deadline_arm(b, due);
}

/* Records a broker-driven event about m. */
static int
audit_broker(struct broker *b, const char *event, const queue_msg *m,
    const char *reason)
{
	struct audit_event ev = { 0 };

	ev.event = event;
	ev.actor = "broker";
	ev.other = m->recipient;
	ev.message_id = m->message_id;
	ev.subject_ref = m->subject_ref;
	ev.outcome = "ok";
	ev.reason = reason;
	return state_audit(&b->st, &ev);
}

/*
 * The moment a due entry is handled: due is the due clock (compared with
 * due times, and the base of new ones), wall the wall clock (for records).
 */
struct deadline_now {
	int64_t	due;
	int64_t	wall;
};

/* Escalates a handover still undecided at its acceptance deadline. */
static int
deadline_escalate(struct broker *b, queue_msg *m, const struct deadline_now *t)
{
	struct registry_node n;
	char why[96];
	int i, rc, with_risk;
	int64_t overdue = t->due - m->deadline_at_ms;

	if (m->escalated || m->state == MS(ACCEPTED) || m->state == MS(REJECTED) ||
	    m->state == MS(EXPIRED) || m->state == MS(QUARANTINED))
		return STORE_NOTFOUND;
	m->escalated = 1;
	snprintf(why, sizeof(why), "%s risk, not accepted by its deadline",
	    policy_risk_name(m->risk_level));
	if (lifecycle_event(m, t->wall, "escalated", "broker", m->recipient, "ok",
	    why, NULL) == -1)
		fatalx("out of memory");
	if ((rc = audit_broker(b, AUDIT_ESCALATED, m, why)) != STORE_OK ||
	    (rc = decision_notify(b, m->sender, NK(ESCALATED), m, NULL, overdue,
	    1)) != STORE_OK)
		return rc;
	for (i = 0; b->st.policy != NULL && i < b->st.policy->nescalate; i++) {
		const char *node = b->st.policy->escalate[i];

		rc = registry_get(b->st.store, node, &n);
		if (rc != STORE_OK || !n.enabled) {
			log_warnx("escalation node %s is not an enabled node; id=%s "
			    "escalated to the sender only", node, m->message_id);
			continue;
		}
		/* the risk level is clinical: only for roles that may see it */
		with_risk = (policy_sections(b->st.policy, n.role) &
		    sections_bit("risk_summary")) != 0;
		if ((rc = decision_notify(b, node, NK(ESCALATED), m, NULL, overdue,
		    with_risk)) != STORE_OK)
			return rc;
	}
	log_warnx("escalated id=%s sender=%s recipient=%s overdue_ms=%lld",
	    m->message_id, m->sender, m->recipient, (long long)overdue);
	return queue_msg_put(b->st.store, m);
}

/* Expires a handover never delivered within the retention. */
static int
deadline_expire(struct broker *b, queue_msg *m, const struct deadline_now *t)
{
	int rc;

	/* a redirect gives the new hop its own expiry: an older entry for the
	 * same message is stale once expires_at_ms has moved past it */
	if (m->state != MS(QUEUED) || m->attempts != 0 || t->due < m->expires_at_ms)
		return STORE_NOTFOUND;
	rc = queue_remove(b->st.store, m->recipient, m->queue_seq);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	m->state = MS(EXPIRED);
	if (lifecycle_event(m, t->wall, "expired", "broker", m->recipient, "ok",
	    "not delivered within the retention period", NULL) == -1)
		fatalx("out of memory");
	if ((rc = audit_broker(b, AUDIT_EXPIRED, m,
	    "not delivered within the retention period")) != STORE_OK ||
	    (rc = decision_notify(b, m->sender, NK(EXPIRED), m, NULL, 0, 1)) != STORE_OK)
		return rc;
	if (b->st.policy != NULL) {
		m->purge_at_ms = t->due + b->st.policy->purge_after_ms;
		if ((rc = due_add(&b->st, m->purge_at_ms, DEADLINE_PURGE,
		    m->message_id)) != STORE_OK)
			return rc;
	}
	log_warnx("expired id=%s sender=%s recipient=%s", m->message_id, m->sender,
	    m->recipient);
	return queue_msg_put(b->st.store, m);
}

/* Removes an acknowledged or finished handover's body; its history stays. */
static int
deadline_purge(struct broker *b, queue_msg *m, const struct deadline_now *t)
{
	int rc;

	/* a redirect after an ack starts a new hop: a reminder set for the
	 * earlier hop is stale once purge_at_ms has moved past it (or been
	 * cleared until the new recipient acknowledges) */
	if (m->body_purged || m->state == MS(QUEUED) || m->state == MS(DELIVERED) ||
	    m->purge_at_ms == 0 || t->due < m->purge_at_ms)
		return STORE_NOTFOUND;
	rc = store_del(b->st.store, STORE_BODIES, m->message_id, strlen(m->message_id));
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	m->body_purged = 1;
	if ((rc = audit_broker(b, AUDIT_PURGED, m,
	    "retention period after acknowledgement")) != STORE_OK)
		return rc;
	if (lifecycle_event(m, t->wall, "purged", "broker", NULL, "ok",
	    "retention period after acknowledgement", NULL) == -1)
		fatalx("out of memory");
	log_info("purged body id=%s", m->message_id);
	return queue_msg_put(b->st.store, m);
}

static int
deadline_handle(struct broker *b, enum deadline_kind kind, const char *id,
    const struct deadline_now *t)
{
	queue_msg *m = NULL;
	int rc;

	rc = queue_msg_get(b->st.store, id, &m);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND || rc == STORE_CORRUPT ? STORE_OK : rc;
	if ((rc = store_op_begin(b->st.store)) != STORE_OK) {
		queue_msg_free(m);
		return rc;
	}
	switch (kind) {
	case DEADLINE_ACCEPT:
		rc = deadline_escalate(b, m, t);
		break;
	case DEADLINE_EXPIRE:
		rc = deadline_expire(b, m, t);
		break;
	case DEADLINE_PURGE:
		rc = deadline_purge(b, m, t);
		break;
	default:
		rc = STORE_NOTFOUND;
		break;
	}
	if (rc == STORE_OK)
		rc = store_op_commit(b->st.store);
	else {
		store_op_abort(b->st.store);
		if (rc == STORE_NOTFOUND)	/* nothing to do any more */
			rc = STORE_OK;
	}
	queue_msg_free(m);
	return rc;
}

/* Persists the due clock in the pass's transaction when it is time to. */
static void
deadline_keep_clock(struct broker *b, int64_t due_now)
{
	int rc;

	/* inside the store's reserve, the room is for draining work: a late
	 * save only costs lateness after a backward step across a restart */
	if (!clock_save_wanted(&b->st.due_clock, due_now) || state_store_low(&b->st, 0))
		return;
	/* store full: the next pass tries again, nothing else depends on it */
	if ((rc = clock_save(&b->st.due_clock, b->st.store, due_now)) != STORE_OK)
		state_store_failed(&b->st, "persist the due clock", rc);
}

static void
deadline_fire(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	uint8_t key[512];	/* LMDB's largest key */
	char id[BATON_MESSAGE_ID_MAX + 1];
	struct deadline_now t;
	int64_t now, due = 0;
	int rc, n, wellformed = 0;

	t.due = now = state_due_ms(&b->st);
	t.wall = state_now_ms();
	b->deadline_armed_ms = 0;
	state_touch(&b->st);
	deadline_keep_clock(b, now);
	for (n = 0; n < DEADLINE_BATCH; n++) {
		if (store_cursor_open(b->st.store, STORE_DEADLINES, &c) != STORE_OK)
			fatalx("deadlines: cannot open cursor: %s", store_strerror(b->st.store));
		rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		if ((rc == STORE_OK || rc == STORE_CORRUPT) && kl <= sizeof(key)) {
			memcpy(key, k, kl);
			wellformed = rc == STORE_OK && kl >= 10 && kl <= DKEY_MAX;
			due = wellformed ? (int64_t)store_be64(key) : 0;
		}
		store_cursor_close(c);
		if (rc == STORE_NOTFOUND)
			return;
		if (rc != STORE_OK && rc != STORE_CORRUPT)
			state_read_failed(&b->st, "read deadlines");
		if (due > now) {
			deadline_arm(b, due);
			return;
		}
		if (wellformed) {
			memcpy(id, key + 9, kl - 9);
			id[kl - 9] = '\0';
			rc = validate_message_id(id) ?
			    deadline_handle(b, (enum deadline_kind)key[8], id, &t) :
			    STORE_OK;
			if (rc == STORE_FULL) {
				/* try again shortly; the store may drain */
				deadline_arm(b, now + 5000);
				return;
			}
			if (rc != STORE_OK)
				state_store_failed(&b->st, "deadline", rc);
		}
		/* handled, or malformed and of no use to anyone: remove it */
		if ((rc = store_op_begin(b->st.store)) == STORE_OK) {
			rc = store_del(b->st.store, STORE_DEADLINES, key, kl);
			rc = store_op_end(b->st.store,
			    rc == STORE_NOTFOUND ? STORE_OK : rc);
		}
		if (rc != STORE_OK) {
			state_store_failed(&b->st, "delete deadline", rc);
			deadline_arm(b, now + 5000);
			return;
		}
	}
	deadline_arm(b, now);	/* more may be due: continue next pass */
}

int
deadline_start(struct broker *b)
{
	int rc;

	state_touch(&b->st);
	/* a full store only delays persisting it: the next pass tries again */
	rc = clock_start(&b->st.due_clock, b->st.store);
	if (rc != STORE_OK && rc != STORE_FULL) {
		log_warnx("deadlines: cannot start the due clock: %s",
		    store_strerror(b->st.store));
		return -1;
	}
	if ((b->deadline_ev = evtimer_new(b->base, deadline_fire, b)) == NULL)
		return -1;
	deadline_arm(b, state_due_ms(&b->st));
	return 0;
}

void
deadline_save_clock(struct broker *b)
{
	int rc;

	state_touch(&b->st);
	if ((rc = clock_save(&b->st.due_clock, b->st.store, state_due_ms(&b->st))) !=
	    STORE_OK)
		state_store_failed(&b->st, "persist the due clock", rc);
}

void
deadline_stop(struct broker *b)
{
	if (b->deadline_ev != NULL)
		event_free(b->deadline_ev);
	b->deadline_ev = NULL;
}
