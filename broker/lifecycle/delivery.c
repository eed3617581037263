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
#include "frame.h"
#include "held.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "store.h"
#include "wire_check.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x

/* baton.v1.Envelope's field numbers that delivery reads from its bytes */
#define ENVELOPE_ID			1
#define ENVELOPE_TO			3
#define ENVELOPE_HANDOVER		5
#define ENVELOPE_REDIRECTED_FROM	6

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

/*
 * The sections node may receive now (0: none, or not an enabled node),
 * with its record in *me.
 */
static section_mask
allowed_sections(struct state *st, const char *node, struct registry_node *me)
{
	int rc;

	rc = registry_get(st->store, node, me);
	if (rc == STORE_OK && me->enabled)
		return policy_sections(st->policy, me->role);
	if (rc != STORE_NOTFOUND && rc != STORE_CORRUPT && rc != STORE_OK)
		state_read_failed(st, "read registry");
	return 0;
}

/*
 * Whether m may cross to its recipient me now (held.h): 0 with *allowed
 * narrowed by the agreement it crosses under, and m naming that
 * agreement; 1 if it was held instead (d says so); -1 if holding it
 * failed for a full store (it stays queued: a later pass tries again).
 */
static int
crossing_check(struct state *st, const struct registry_node *me, queue_msg *m,
    struct delivery *d, section_mask *allowed)
{
	struct crossing c;
	int rc;

	if ((st->policy == NULL || !st->policy->gated) &&
	    m->agreement_id[0] == '\0')
		return 0;
	lifecycle_crossing_of(st, m, me, &c);
	if (c.need && !c.found) {
		if ((rc = lifecycle_hold(st, me->node_id, m, d->seq, &c)) !=
		    STORE_OK) {
			state_store_failed(st, "hold handover", rc);
			return -1;
		}
		d->skip = LC_SKIP_HELD;
		snprintf(d->other, sizeof(d->other), "%s", m->sender);
		return 1;
	}
	if (c.found && c.ag.sections != 0)
		*allowed &= c.ag.sections;
	/* named in the delivery's record; a new string only when it moved */
	if (strcmp(m->agreement_id, c.found ? c.ag.id : "") != 0 &&
	    pbstr_set(&m->agreement_id, c.found ? c.ag.id : "") == -1)
		fatalx("out of memory");
	return 0;
}

/* Records the delivery of m: the sections disclosed, and those withheld. */
static int
record_delivery(struct state *st, const struct actor *r, queue_msg *m,
    section_mask disclosed, section_mask removed)
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
	ev.disclosed = sections_format(disclosed, disclosed_list,
	    sizeof(disclosed_list));
	ev.withheld = sections_format(removed, withheld_list, sizeof(withheld_list));
	ev.outcome = "ok";
	ev.reason = attempt;
	rc = queue_msg_put(st->store, m);
	if (rc == STORE_OK)
		rc = state_audit(st, &ev);
	return store_op_end(st->store, rc);
}

/* Whether field bytes p[0..n) (absent: NULL, 0) say s. */
static int
field_is(const uint8_t *p, size_t n, const char *s)
{
	return strlen(s) == n && (n == 0 || memcmp(p, s, n) == 0);
}

/*
 * Reads what deliver_handover needs from a stored envelope's bytes
 * without unpacking it: 0 if they are a well-formed envelope for id with
 * a handover, with the sections present in *present, and *as_is 1 if
 * the bytes may go to m's recipient unchanged (addressed to it, passed on
 * by whom m says, nothing in them that allowed withholds); -1 if the body
 * is damaged.
 */
static int
body_read(const uint8_t *b, size_t len, const char *id, const queue_msg *m,
    section_mask allowed, section_mask *present, int *as_is)
{
	const uint8_t *v, *h = NULL, *to = NULL, *from = NULL;
	size_t n, hl = 0, tl = 0, fl = 0, pos = 0;
	uint32_t num;
	int rc, named = 0;

	*present = 0;
	*as_is = 0;
	if (wire_check(&baton__v1__envelope__descriptor, b, len,
	    BATON_FRAME_MAX_TAGS, NULL) != WIRE_OK)
		return -1;
	while ((rc = wire_next(b, len, &pos, &num, &v, &n, NULL)) == 1) {
		switch (num) {
		case ENVELOPE_ID:
			named = field_is(v, n, id);
			break;
		case ENVELOPE_TO:
			to = v, tl = n;
			break;
		case ENVELOPE_HANDOVER:
			h = v, hl = n;
			break;
		case ENVELOPE_REDIRECTED_FROM:
			from = v, fl = n;
			break;
		}
	}
	if (rc != 0 || !named || h == NULL)
		return -1;
	for (pos = 0; (rc = wire_next(h, hl, &pos, &num, NULL, NULL,
	    NULL)) == 1;)
		if (num >= 1 && num <= SECTION_COUNT)
			*present |= (section_mask)1u << (num - 1);
	if (rc != 0)
		return -1;
	*as_is = (*present & ~allowed) == 0 && field_is(to, tl, m->recipient) &&
	    field_is(from, fl, m->redirected_from);
	return 0;
}

/*
 * The slow way, for a handover redacted or redirected: unpacked, sections
 * withheld, addressed anew; *env for the Deliver. -1 if it does not
 * unpack (body_read has already refused what would not).
 */
static int
body_redact(const uint8_t *b, size_t len, const queue_msg *m,
    section_mask allowed, Baton__V1__Envelope **env, section_mask *removed)
{
	Baton__V1__Envelope *e;

	if ((e = baton__v1__envelope__unpack(&pbarena, len, b)) == NULL ||
	    e->handover == NULL) {
		if (e != NULL)
			baton__v1__envelope__free_unpacked(e, &pbarena);
		return -1;
	}
	*removed = sections_redact(e->handover, allowed);
	/* the envelope says where it is now, and who passed it on */
	if (pbstr_set(&e->to, m->recipient) == -1 ||
	    pbstr_set(&e->redirected_from, m->redirected_from) == -1)
		fatalx("out of memory");
	*env = e;
	return 0;
}

static int
deliver_handover(struct state *st, const struct actor *r, struct delivery *d)
{
	Baton__V1__Envelope *env = NULL;
	struct registry_node me;
	queue_msg *m = NULL;
	section_mask present, removed = 0, allowed, role_allowed;
	uint8_t *body = NULL;
	size_t i, len = 0;
	int rc, as_is, held, result = LC_DELIVER_BLOCKED;

	rc = queue_msg_get(st->store, d->id, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT)
		return drop_entry(st, r->node_id, d, rc == STORE_NOTFOUND ?
		    "no state record" : "state record corrupt");
	if (rc != STORE_OK)
		state_read_failed(st, "read message");
	if (strcmp(m->recipient, r->node_id) != 0 || m->state == MS(SUPERSEDED)) {
		/* a stale entry: the handover lives on elsewhere, or a newer
		 * version took its place; untouched */
		result = remove_stale(st, r->node_id, m, d);
		goto done;
	}
	rc = queue_body_copy(st->store, d->id, &body, &len);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read body");
	/* nothing may go to this node now: it stays queued, and a role
	 * change or policy reload wakes the pump again */
	role_allowed = allowed = rc == STORE_OK ?
	    allowed_sections(st, r->node_id, &me) : 0;
	/* an agreement may narrow it further, even to nothing: the recipient
	 * then learns only that a handover came */
	if (role_allowed != 0 && (held = crossing_check(st, &me, m, d,
	    &allowed)) != 0) {
		result = held == 1 ? LC_DELIVER_SKIPPED : LC_DELIVER_BLOCKED;
		goto done;
	}
	if (rc != STORE_OK || body_read(body, len, d->id, m, allowed, &present,
	    &as_is) == -1) {
		result = quarantine_body(st, r->node_id, m, d);
		goto done;
	}
	if (role_allowed == 0)
		goto done;
	if (!as_is && body_redact(body, len, m, allowed, &env, &removed) == -1) {
		result = quarantine_body(st, r->node_id, m, d);
		goto done;
	}
	if ((rc = record_delivery(st, r, m, present & ~removed,
	    removed)) != STORE_OK) {
		state_store_failed(st, "record delivery", rc);
		goto done;
	}
	for (i = 0; i < SECTION_COUNT; i++)
		if (removed & ((section_mask)1u << i))
			d->withheld[d->deliver.n_withheld++] = (char *)sections_name(i);
	/* a body that goes as it is stored is sent as those bytes */
	if (as_is) {
		d->body = body;
		d->body_len = len;
		body = NULL;
	} else {
		d->deliver.envelope = env;
		env = NULL;
	}
	d->deliver.withheld = d->withheld;
	d->deliver.attempt = m->attempts;
	d->deliver.received_at_ms = m->received_at_ms;
	snprintf(d->other, sizeof(d->other), "%s", m->sender);
	result = LC_DELIVER_SENT;
done:
	if (env != NULL)
		baton__v1__envelope__free_unpacked(env, &pbarena);
	free(body);
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
	free(d->body);
	notice_free(d->notice);
	memset(d, 0, sizeof(*d));
	baton__v1__deliver__init(&d->deliver);
}
