/*
 * due_events.c - escalation, expiry and purge (see due_events.h).
 *
 * Entries live in STORE_DEADLINES under (u64be due_ms, kind, message id),
 * so the earliest is the first key; entries that passed while the broker
 * was down are simply the first keys at start-up. Cost: O(log n) per
 * entry handled.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "checkin.h"
#include "due.h"
#include "due_events.h"
#include "lifecycle.h"
#include "log.h"
#include "notice.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "store.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define NK(x)	BATON__V1__NOTICE_KIND__NOTICE_KIND_##x

/*
 * The moment a due entry is handled: due is the due clock (compared with
 * due times, and the base of new ones), wall the wall clock (for records).
 */
struct due_now {
	int64_t	due;
	int64_t	wall;
};

/*
 * Records a broker-driven event about m; with t, how long after its
 * receipt (escalation and expiry: how long it was left).
 */
static int
audit_broker(struct state *st, const char *event, const queue_msg *m,
    const char *reason, const struct due_now *t)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_handover(m, &ev);
	if (t != NULL)
		lifecycle_audit_times(m, &ev, t->wall, 0);
	ev.event = event;
	ev.actor = "broker";
	ev.other = m->recipient;
	ev.outcome = "ok";
	ev.reason = reason;
	return state_audit(st, &ev);
}

/* Escalates a handover still undecided at its acceptance deadline. */
static int
due_escalate(struct state *st, queue_msg *m, const struct due_now *t)
{
	struct registry_node n;
	char why[96];
	int i, rc, with_risk;
	int64_t overdue = t->due - m->deadline_at_ms;

	if (m->escalated || m->state == MS(ACCEPTED) || m->state == MS(REJECTED) ||
	    m->state == MS(EXPIRED) || m->state == MS(QUARANTINED) ||
	    m->state == MS(SUPERSEDED))
		return STORE_NOTFOUND;
	m->escalated = 1;
	snprintf(why, sizeof(why), "%s risk, not accepted by its deadline",
	    policy_risk_name(m->risk_level));
	if (lifecycle_event(m, t->wall, "escalated", "broker", m->recipient, "ok",
	    why, NULL) == -1)
		fatalx("out of memory");
	if ((rc = audit_broker(st, AUDIT_ESCALATED, m, why, t)) != STORE_OK ||
	    (rc = notice_send(st, m->sender, NK(ESCALATED), m, NULL, overdue,
	    1)) != STORE_OK)
		return rc;
	for (i = 0; st->policy != NULL && i < st->policy->nescalate; i++) {
		const char *node = st->policy->escalate[i];

		rc = registry_get(st->store, node, &n);
		if (rc != STORE_OK || !n.enabled) {
			log_warnx("escalation node %s is not an enabled node; id=%s "
			    "escalated to the sender only", node, m->message_id);
			continue;
		}
		/* the risk level is clinical: only for roles that may see it */
		with_risk = (policy_sections(st->policy, n.role) &
		    sections_bit("risk_summary")) != 0;
		if ((rc = notice_send(st, node, NK(ESCALATED), m, NULL, overdue,
		    with_risk)) != STORE_OK)
			return rc;
	}
	log_warnx("escalated id=%s sender=%s recipient=%s overdue_ms=%lld",
	    m->message_id, m->sender, m->recipient, (long long)overdue);
	return queue_msg_put(st->store, m);
}

/* Expires a handover never delivered within the retention. */
static int
due_expire(struct state *st, queue_msg *m, const struct due_now *t)
{
	int rc;

	/* a redirect gives the new hop its own expiry: an older entry for the
	 * same message is stale once expires_at_ms has moved past it */
	if ((m->state != MS(QUEUED) && m->state != MS(HELD)) ||
	    (m->state == MS(QUEUED) && m->attempts != 0) ||
	    t->due < m->expires_at_ms)
		return STORE_NOTFOUND;
	if (m->state == MS(HELD))
		rc = store_del(st->store, STORE_HELD, m->message_id,
		    strlen(m->message_id));
	else
		rc = queue_remove(st->store, m->recipient, m->queue_seq);
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	m->state = MS(EXPIRED);
	if (lifecycle_event(m, t->wall, "expired", "broker", m->recipient, "ok",
	    "not delivered within the retention period", NULL) == -1)
		fatalx("out of memory");
	if ((rc = audit_broker(st, AUDIT_EXPIRED, m,
	    "not delivered within the retention period", t)) != STORE_OK ||
	    (rc = notice_send(st, m->sender, NK(EXPIRED), m, NULL, 0, 1)) != STORE_OK)
		return rc;
	if (st->policy != NULL) {
		m->purge_at_ms = t->due + st->policy->purge_after_ms;
		if ((rc = due_add(st, m->purge_at_ms, DEADLINE_PURGE,
		    m->message_id)) != STORE_OK)
			return rc;
	}
	log_warnx("expired id=%s sender=%s recipient=%s", m->message_id, m->sender,
	    m->recipient);
	return queue_msg_put(st->store, m);
}

/* Removes an acknowledged or finished handover's body; its history stays. */
static int
due_purge(struct state *st, queue_msg *m, const struct due_now *t)
{
	int rc;

	/* a redirect after an ack starts a new hop: a reminder set for the
	 * earlier hop is stale once purge_at_ms has moved past it (or been
	 * cleared until the new recipient acknowledges) */
	if (m->body_purged || m->state == MS(QUEUED) || m->state == MS(DELIVERED) ||
	    m->purge_at_ms == 0 || t->due < m->purge_at_ms)
		return STORE_NOTFOUND;
	rc = store_del(st->store, STORE_BODIES, m->message_id, strlen(m->message_id));
	if (rc != STORE_OK && rc != STORE_NOTFOUND)
		return rc;
	m->body_purged = 1;
	if ((rc = audit_broker(st, AUDIT_PURGED, m,
	    "retention period after acknowledgement", NULL)) != STORE_OK)
		return rc;
	if (lifecycle_event(m, t->wall, "purged", "broker", NULL, "ok",
	    "retention period after acknowledgement", NULL) == -1)
		fatalx("out of memory");
	log_info("purged body id=%s", m->message_id);
	return queue_msg_put(st->store, m);
}

/* Carries out one entry in a nested operation of its own. */
static int
due_handle(struct state *st, enum deadline_kind kind, const char *id,
    const struct due_now *t)
{
	queue_msg *m = NULL;
	int rc;

	rc = queue_msg_get(st->store, id, &m);
	if (rc != STORE_OK)
		return rc == STORE_NOTFOUND || rc == STORE_CORRUPT ? STORE_OK : rc;
	if ((rc = store_op_begin(st->store)) != STORE_OK) {
		queue_msg_free(m);
		return rc;
	}
	switch (kind) {
	case DEADLINE_ACCEPT:
		rc = due_escalate(st, m, t);
		break;
	case DEADLINE_EXPIRE:
		rc = due_expire(st, m, t);
		break;
	case DEADLINE_PURGE:
		rc = due_purge(st, m, t);
		break;
	case DEADLINE_CHECKIN:
		rc = lifecycle_checkins_due(st, m, t->due, t->wall);
		break;
	default:
		rc = STORE_NOTFOUND;
		break;
	}
	if (rc == STORE_OK)
		rc = store_op_commit(st->store);
	else {
		store_op_abort(st->store);
		if (rc == STORE_NOTFOUND)	/* nothing to do any more */
			rc = STORE_OK;
	}
	queue_msg_free(m);
	return rc;
}

int
lifecycle_run_due(struct state *st, int64_t due_now, int64_t wall_now,
    unsigned max, int64_t *next_due)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	uint8_t key[512];	/* LMDB's largest key */
	char id[BATON_MESSAGE_ID_MAX + 1];
	struct due_now t;
	int64_t due = 0;
	unsigned n;
	int rc, wellformed = 0;

	t.due = due_now;
	t.wall = wall_now;
	*next_due = 0;
	state_touch(st);
	for (n = 0; n < max; n++) {
		if (store_cursor_open(st->store, STORE_DEADLINES, &c) != STORE_OK)
			fatalx("deadlines: cannot open cursor: %s",
			    store_strerror(st->store));
		rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		if ((rc == STORE_OK || rc == STORE_CORRUPT) && kl <= sizeof(key)) {
			memcpy(key, k, kl);
			wellformed = rc == STORE_OK && kl >= 10 && kl <= DUE_KEY_MAX;
			due = wellformed ? (int64_t)store_be64(key) : 0;
		}
		store_cursor_close(c);
		if (rc == STORE_NOTFOUND)
			return (int)n;
		if (rc != STORE_OK && rc != STORE_CORRUPT)
			state_read_failed(st, "read deadlines");
		if (due > due_now) {
			*next_due = due;
			return (int)n;
		}
		if (wellformed) {
			memcpy(id, key + 9, kl - 9);
			id[kl - 9] = '\0';
			rc = validate_message_id(id) ?
			    due_handle(st, (enum deadline_kind)key[8], id, &t) :
			    STORE_OK;
			if (rc == STORE_FULL) {
				/* try again shortly; the store may drain */
				*next_due = due_now + LC_DUE_RETRY_MS;
				return (int)n;
			}
			if (rc != STORE_OK)
				state_store_failed(st, "deadline", rc);
		}
		/* handled, or malformed and of no use to anyone: remove it */
		if ((rc = store_op_begin(st->store)) == STORE_OK) {
			rc = store_del(st->store, STORE_DEADLINES, key, kl);
			rc = store_op_end(st->store,
			    rc == STORE_NOTFOUND ? STORE_OK : rc);
		}
		if (rc != STORE_OK) {
			state_store_failed(st, "delete deadline", rc);
			*next_due = due_now + LC_DUE_RETRY_MS;
			return (int)n;
		}
	}
	*next_due = due_now;	/* more may be due: continue next pass */
	return (int)n;
}
