/*
 * delivery.c - delivery and quarantine (see delivery.h).
 *
 * A queue entry whose records are missing or fail their checks is moved
 * to quarantine, never delivered. Every record of a delivery is written
 * before the pass commits; the caller releases the frame only after.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "delivery.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "store.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x

/*
 * Records the quarantine of id from node's queue; m is its state record
 * (NULL: missing or unreadable, so no subject, risk or kind).
 */
static int
audit_quarantine(struct state *st, const char *node, const char *id,
    const queue_msg *m, const char *why)
{
	struct audit_event ev = { 0 };

	if (m != NULL)
		lifecycle_audit_handover(m, &ev);
	ev.event = AUDIT_QUARANTINED;
	ev.actor = "broker";
	ev.other = node;
	ev.message_id = id;
	ev.outcome = "CORRUPT";
	ev.reason = why;
	return state_audit(st, &ev);
}

/* A queue entry whose records are missing or damaged: all to quarantine. */
static int
drop_entry(struct state *st, const char *node, struct delivery *d,
    const char *why)
{
	struct store *s = st->store;
	const char *id = d->id;
	int rc;

	d->skip = LC_SKIP_DROPPED;
	d->why = why;
	if ((rc = store_op_begin(s)) != STORE_OK)
		state_read_failed(st, "quarantine");
	if (d->kind == QUEUE_HANDOVER) {
		rc = store_quarantine(s, STORE_MESSAGES, id, strlen(id));
		if (rc == STORE_OK || rc == STORE_NOTFOUND)
			rc = store_quarantine(s, STORE_BODIES, id, strlen(id));
	} else
		rc = store_quarantine(s, STORE_NOTICES, id, strlen(id));
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = queue_remove(s, node, d->seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = audit_quarantine(st, node, id, NULL, why);
	if ((rc = store_op_end(s, rc)) != STORE_OK)
		state_store_failed(st, "quarantine", rc);
	return LC_DELIVER_SKIPPED;
}

/*
 * The handover's state record is sound but its body is missing or damaged:
 * the body goes to quarantine, the handover leaves the queue, and its
 * sender is told to send it again (it is lost to the recipient, not to
 * the sender).
 */
static int
quarantine_body(struct state *st, const char *node, queue_msg *m,
    struct delivery *d)
{
	struct store *s = st->store;
	int rc;

	d->skip = LC_SKIP_QUARANTINED;
	snprintf(d->other, sizeof(d->other), "%s", m->sender);
	if ((rc = store_op_begin(s)) != STORE_OK) {
		state_store_failed(st, "quarantine", rc);
		return LC_DELIVER_SKIPPED;
	}
	rc = store_quarantine(s, STORE_BODIES, m->message_id,
	    strlen(m->message_id));
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = queue_remove(s, node, d->seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		m->state = MS(QUARANTINED);
		m->body_purged = 1;
		if (lifecycle_event(m, state_now_ms(), "quarantined", "broker", node,
		    "CORRUPT", "stored copy damaged; not delivered", NULL) == -1)
			fatalx("out of memory");
		rc = queue_msg_put(s, m);
	}
	if (rc == STORE_OK)
		rc = audit_quarantine(st, node, m->message_id, m,
		    "body missing or corrupt");
	if (rc == STORE_OK)
		rc = notice_send(st, m->sender,
		    BATON__V1__NOTICE_KIND__NOTICE_KIND_UNDELIVERABLE, m, NULL, 0, 1);
	if ((rc = store_op_end(s, rc)) != STORE_OK)
		state_store_failed(st, "quarantine", rc);
	return LC_DELIVER_SKIPPED;
}

/* A queue entry of node's for a handover that now lives elsewhere. */
static int
remove_stale(struct state *st, const char *node, const queue_msg *m,
    struct delivery *d)
{
	int rc;

	d->skip = LC_SKIP_STALE;
	snprintf(d->other, sizeof(d->other), "%s", m->recipient);
	if (store_op_begin(st->store) != STORE_OK)
		state_read_failed(st, "remove stale entry");
	rc = queue_remove(st->store, node, d->seq);
	if ((rc = store_op_end(st->store, rc == STORE_NOTFOUND ? STORE_OK : rc)) !=
	    STORE_OK)
		state_store_failed(st, "remove stale entry", rc);
	return LC_DELIVER_SKIPPED;
}

/* The sections node may receive now (0: none, or not an enabled node). */
static section_mask
allowed_sections(struct state *st, const char *node)
{
	struct registry_node me;
	int rc;

	rc = registry_get(st->store, node, &me);
	if (rc == STORE_OK && me.enabled)
		return policy_sections(st->policy, me.role);
	if (rc != STORE_NOTFOUND && rc != STORE_CORRUPT && rc != STORE_OK)
		state_read_failed(st, "read registry");
	return 0;
}

/* Records the delivery of m with env as redacted (removed: withheld). */
static int
record_delivery(struct state *st, const struct actor *r, queue_msg *m,
    const Baton__V1__Envelope *env, section_mask removed)
{
	char attempt[16], disclosed_list[256], withheld_list[256];
	struct audit_event ev = { 0 };
	int64_t now;
	int rc;

	if ((rc = store_op_begin(st->store)) != STORE_OK)
		return rc;
	now = state_now_ms();
	m->attempts++;
	if (m->state == MS(QUEUED))
		m->state = MS(DELIVERED);
	/* the first delivery to this recipient: its decision counts from it */
	if (m->attempts == 1)
		m->delivered_at_ms = now;
	snprintf(attempt, sizeof(attempt), AUDIT_REASON_ATTEMPT, m->attempts);
	if (lifecycle_event(m, now, "delivered", "broker",
	    r->node_id, "ok", attempt, NULL) == -1)
		fatalx("out of memory");
	lifecycle_audit_actor(r, &ev);
	lifecycle_audit_handover(m, &ev);
	lifecycle_audit_times(m, &ev, now, 0);
	ev.event = AUDIT_DELIVERED;
	ev.other = m->sender;
	ev.disclosed = sections_format(sections_present(env->handover),
	    disclosed_list, sizeof(disclosed_list));
	ev.withheld = sections_format(removed, withheld_list, sizeof(withheld_list));
	ev.outcome = "ok";
	ev.reason = attempt;
	rc = queue_msg_put(st->store, m);
	if (rc == STORE_OK)
		rc = state_audit(st, &ev);
	return store_op_end(st->store, rc);
}

static int
deliver_handover(struct state *st, const struct actor *r, struct delivery *d)
{
	Baton__V1__Envelope *env = NULL;
	queue_msg *m = NULL;
	section_mask removed, allowed;
	size_t i;
	int rc, result = LC_DELIVER_BLOCKED;

	rc = queue_msg_get(st->store, d->id, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT)
		return drop_entry(st, r->node_id, d, rc == STORE_NOTFOUND ?
		    "no state record" : "state record corrupt");
	if (rc != STORE_OK)
		state_read_failed(st, "read message");
	if (strcmp(m->recipient, r->node_id) != 0) {
		/* a stale entry: the handover lives on elsewhere, untouched */
		result = remove_stale(st, r->node_id, m, d);
		goto done;
	}
	rc = queue_body_get(st->store, d->id, &env);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT ||
	    (rc == STORE_OK && env->handover == NULL)) {
		result = quarantine_body(st, r->node_id, m, d);
		goto done;
	}
	if (rc != STORE_OK)
		state_read_failed(st, "read body");
	/* nothing may go to this node now: it stays queued, and a role
	 * change or policy reload wakes the pump again */
	if ((allowed = allowed_sections(st, r->node_id)) == 0)
		goto done;
	removed = sections_redact(env->handover, allowed);
	/* the envelope says where it is now, and who passed it on */
	if (pbstr_set(&env->to, m->recipient) == -1 ||
	    pbstr_set(&env->redirected_from, m->redirected_from) == -1)
		fatalx("out of memory");
	if ((rc = record_delivery(st, r, m, env, removed)) != STORE_OK) {
		state_store_failed(st, "record delivery", rc);
		goto done;
	}
	for (i = 0; i < SECTION_COUNT; i++)
		if (removed & ((section_mask)1u << i))
			d->withheld[d->deliver.n_withheld++] = (char *)sections_name(i);
	d->deliver.envelope = env;
	d->deliver.withheld = d->withheld;
	d->deliver.attempt = m->attempts;
	d->deliver.received_at_ms = m->received_at_ms;
	snprintf(d->other, sizeof(d->other), "%s", m->sender);
	env = NULL;
	result = LC_DELIVER_SENT;
done:
	if (env != NULL)
		baton__v1__envelope__free_unpacked(env, &pbarena);
	queue_msg_free(m);
	return result;
}

static int
deliver_notice(struct state *st, const struct actor *r, struct delivery *d)
{
	struct audit_event ev = { 0 };
	stored_notice *sn = NULL;
	int rc;

	rc = notice_get(st->store, d->id, &sn);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT ||
	    (rc == STORE_OK && strcmp(sn->recipient, r->node_id) != 0)) {
		notice_free(sn);
		return drop_entry(st, r->node_id, d, rc == STORE_OK ?
		    "recipient mismatch" : "notice record missing or corrupt");
	}
	if (rc != STORE_OK)
		state_read_failed(st, "read notice");
	sn->notice->attempt++;
	if ((rc = store_op_begin(st->store)) == STORE_OK) {
		lifecycle_audit_actor(r, &ev);
		ev.event = AUDIT_NOTICE_DELIVERED;
		ev.message_id = sn->notice->message_id;
		ev.outcome = "ok";
		ev.reason = d->id;
		rc = notice_put(st->store, sn);
		if (rc == STORE_OK)
			rc = state_audit(st, &ev);
		rc = store_op_end(st->store, rc);
	}
	if (rc != STORE_OK) {
		state_store_failed(st, "record notice delivery", rc);
		notice_free(sn);
		return LC_DELIVER_BLOCKED;
	}
	d->notice = sn;
	return LC_DELIVER_SENT;
}

int
lifecycle_deliver_next(struct state *st, const struct actor *r,
    uint64_t cursor, struct delivery *d)
{
	int rc;

	memset(d, 0, sizeof(*d));
	baton__v1__deliver__init(&d->deliver);
	state_touch(st);
	/* queue_next may move a damaged entry aside: an operation of its
	 * own, so a full store fails that alone */
	if (store_op_begin(st->store) != STORE_OK)
		state_read_failed(st, "read queue");
	rc = queue_next(st->store, r->node_id, cursor, &d->seq, &d->kind, d->id);
	if (store_op_end(st->store, rc == STORE_NOTFOUND ? STORE_OK : rc) !=
	    STORE_OK) {
		if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_FULL)
			state_read_failed(st, "read queue");
		return LC_DELIVER_NONE;	/* full: try again on a later pass */
	}
	if (rc == STORE_NOTFOUND)
		return LC_DELIVER_NONE;
	return d->kind == QUEUE_NOTICE ? deliver_notice(st, r, d) :
	    deliver_handover(st, r, d);
}

void
lifecycle_delivery_clear(struct delivery *d)
{
	if (d->deliver.envelope != NULL)
		baton__v1__envelope__free_unpacked(d->deliver.envelope, &pbarena);
	notice_free(d->notice);
	memset(d, 0, sizeof(*d));
	baton__v1__deliver__init(&d->deliver);
}
