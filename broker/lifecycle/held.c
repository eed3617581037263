/*
 * held.c - routes gated by data-sharing agreements (see held.h).
 *
 * The agreements are few (AGREEMENT_MAX) and read only for a gated route,
 * so each check walks them; the review runs once a second and writes only
 * when something changed: a warning or lapse not yet recorded, or a new
 * set of agreements in force (a fingerprint of their ids), which is when
 * held handovers may cross again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "due.h"
#include "held.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "store.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define NK(x)	BATON__V1__NOTICE_KIND__NOTICE_KIND_##x
/* Held handovers one review looks at; more wait for the next change. */
#define HELD_REVIEW_MAX		10000
/* Held handovers are looked at again this often even if nothing changed. */
#define HELD_REVIEW_EVERY_MS	60000
/* Agreements whose warning or lapse one review records. */
#define REVIEW_MARK_MAX		32

/*
 * An organisation's name for a refusal or notice text: at most ORG_SHOWN
 * bytes, cut on a UTF-8 character boundary (the text goes out as JSON).
 */
#define ORG_SHOWN	64
static const char *
org_or_none(const char *org, char buf[ORG_SHOWN + 4])
{
	size_t n = strlen(org);

	if (org[0] == '\0')
		return "(no organisation registered)";
	if (n <= ORG_SHOWN)
		return org;
	n = ORG_SHOWN;
	while (n > 0 && ((unsigned char)org[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, org, n);
	memcpy(buf + n, "...", 4);
	return buf;
}

void
lifecycle_crossing(struct state *st, const char *from_role,
    const char *from_org, const struct registry_node *to, int kind,
    struct crossing *c)
{
	struct policy_terms t;
	int rc;

	memset(c, 0, sizeof(*c));
	snprintf(c->org_from, sizeof(c->org_from), "%s", from_org);
	snprintf(c->org_to, sizeof(c->org_to), "%s", to->organisation);
	if (st->policy == NULL || !st->policy->gated)
		return;
	policy_route_terms(st->policy, from_role, to->role, kind, &t);
	if (!t.agreement || strcmp(from_org, to->organisation) == 0)
		return;
	c->need = 1;
	rc = agreement_find(st->store, from_org, to->organisation,
	    state_now_ms(), &c->ag);
	if (rc == STORE_OK)
		c->found = 1;
	else if (rc != STORE_NOTFOUND)
		state_read_failed(st, "read agreements");
}

void
lifecycle_crossing_text(const struct crossing *c, const char *from_role,
    const char *to_role, int kind, char *text, size_t len)
{
	char a[ORG_SHOWN + 4], b[ORG_SHOWN + 4];

	snprintf(text, len, "no data-sharing agreement between '%s' and '%s' "
	    "is in force, and role '%s' may send %s handovers to role '%s' "
	    "only under one; ask the Baton administrator to record it "
	    "(batonctl agreement add)", org_or_none(c->org_from, a),
	    org_or_none(c->org_to, b), from_role, policy_kind_name(kind),
	    to_role);
}

void
lifecycle_crossing_of(struct state *st, const queue_msg *m,
    const struct registry_node *to, struct crossing *c)
{
	struct registry_node from;
	const char *passer = m->redirected_from[0] != '\0' ?
	    m->redirected_from : m->sender;
	int rc;

	rc = registry_get(st->store, passer, &from);
	if (rc == STORE_OK) {
		lifecycle_crossing(st, from.role, from.organisation, to,
		    m->transition_kind, c);
		/* a route no longer allowed has no terms: one that crossed
		 * under an agreement still needs one */
		if (!c->need && m->agreement_id[0] != '\0' &&
		    !policy_route_allowed(st->policy, from.role, to->role,
		    m->transition_kind) &&
		    strcmp(from.organisation, to->organisation) != 0) {
			c->need = 1;
			rc = agreement_find(st->store, from.organisation,
			    to->organisation, state_now_ms(), &c->ag);
			if (rc != STORE_OK && rc != STORE_NOTFOUND)
				state_read_failed(st, "read agreements");
			c->found = rc == STORE_OK;
		}
		return;
	}
	if (rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read registry");
	/* the passer is gone: the agreement it sent under still binds */
	memset(c, 0, sizeof(*c));
	snprintf(c->org_to, sizeof(c->org_to), "%s", to->organisation);
	if (m->agreement_id[0] == '\0')
		return;
	c->need = 1;
	rc = agreement_get(st->store, m->agreement_id, &c->ag);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read agreements");
	if (rc == STORE_OK)
		snprintf(c->org_from, sizeof(c->org_from), "%s",
		    strcmp(c->ag.org_a, to->organisation) == 0 ? c->ag.org_b :
		    c->ag.org_a);
	c->found = rc == STORE_OK &&
	    agreement_state(&c->ag, state_now_ms()) == AGREEMENT_IN_FORCE &&
	    agreement_between(&c->ag, c->org_from, to->organisation);
}

/* Why m is held, for its history, audit record and notice. */
static void
held_why(const struct crossing *c, char *why, size_t len)
{
	char a[ORG_SHOWN + 4], b[ORG_SHOWN + 4];

	snprintf(why, len, "no data-sharing agreement between '%s' and '%s' "
	    "is in force; held until one is (batonctl agreement add), or until "
	    "it expires", org_or_none(c->org_from, a),
	    org_or_none(c->org_to, b));
}

/* An audit record by the broker about m (held, released). */
static int
audit_held_event(struct state *st, const char *event, const queue_msg *m,
    const char *node, const char *outcome, const char *why)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_handover(m, &ev);
	ev.event = event;
	ev.actor = "broker";
	ev.other = node;
	ev.outcome = outcome;
	ev.reason = why;
	return state_audit(st, &ev);
}

int
lifecycle_hold(struct state *st, const char *node, queue_msg *m, uint64_t seq,
    const struct crossing *c)
{
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;
	struct store *s = st->store;
	char why[320];
	int rc;

	held_why(c, why, sizeof(why));
	if ((rc = store_op_begin(s)) != STORE_OK)
		return rc;
	rc = queue_remove(s, node, seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		m->state = MS(HELD);
		m->held_at_ms = state_now_ms();
		if (lifecycle_event(m, m->held_at_ms, "held", "broker", node,
		    "NO_AGREEMENT", why, NULL) == -1)
			fatalx("out of memory");
		/* one delivered before is held too: it gets the retention
		 * anew, as a redirect does, so holding never keeps it for ever */
		rc = STORE_OK;
		if (m->attempts != 0 && st->policy != NULL) {
			m->expires_at_ms = state_due_ms(st) +
			    st->policy->retention_ms;
			rc = due_add(st, m->expires_at_ms, DEADLINE_EXPIRE,
			    m->message_id);
		}
		if (rc == STORE_OK)
			rc = queue_msg_put(s, m);
	}
	if (rc == STORE_OK)
		rc = store_put(s, STORE_HELD, m->message_id,
		    strlen(m->message_id), "", 0);
	if (rc == STORE_OK)
		rc = audit_held_event(st, AUDIT_HELD, m, node, "NO_AGREEMENT",
		    why);
	if (rc == STORE_OK) {
		d.note = why;
		rc = notice_send(st, m->sender, NK(HELD), m, &d, 0, 1);
	}
	return store_op_end(s, rc);
}

/* ---- the review ---- */

struct review {
	int64_t		 now;
	uint64_t	 fingerprint;	/* of the ids in force */
	char		 mark[REVIEW_MARK_MAX][AGREEMENT_ID_MAX + 1];
	int		 nmark;
};

static int
review_one(const struct agreement *a, void *arg)
{
	struct review *r = arg;
	enum agreement_state as = agreement_state(a, r->now);
	const char *p;
	int owed;

	if (as == AGREEMENT_IN_FORCE) {
		/* FNV-1a over the ids, in id order, with a separator */
		for (p = a->id; ; p++) {
			r->fingerprint ^= (unsigned char)*p;
			r->fingerprint *= 0x100000001b3ULL;
			if (*p == '\0')
				break;
		}
	}
	owed = (as == AGREEMENT_IN_FORCE && !a->lapse_warned &&
	    a->until_ms - r->now < AGREEMENT_WARN_MS) ||
	    ((as == AGREEMENT_LAPSED || as == AGREEMENT_ENDED) &&
	    !a->lapse_recorded);
	if (owed && r->nmark < REVIEW_MARK_MAX)
		snprintf(r->mark[r->nmark++], AGREEMENT_ID_MAX + 1, "%s", a->id);
	return 0;
}

/* Records, once, that agreement id lapses soon, has lapsed or was ended. */
static void
review_mark(struct state *st, const char *id, int64_t now)
{
	struct audit_event ev = { 0 };
	struct agreement a;
	enum agreement_state as;
	char when[32], reason[AGREEMENT_REASON_MAX + 64];
	int rc;

	if ((rc = store_op_begin(st->store)) != STORE_OK)
		state_read_failed(st, "review agreements");
	if ((rc = agreement_get(st->store, id, &a)) != STORE_OK) {
		store_op_abort(st->store);
		if (rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
			state_read_failed(st, "read agreements");
		return;
	}
	as = agreement_state(&a, now);
	ev.actor = "broker";
	ev.outcome = "ok";
	snprintf(ev.detail_buf, sizeof(ev.detail_buf), "agreement=%s", a.id);
	ev.detail = ev.detail_buf;
	ev.reason = reason;
	if (as == AGREEMENT_IN_FORCE) {
		lifecycle_iso_time(a.until_ms, when, sizeof(when));
		snprintf(reason, sizeof(reason), "lapses at %s", when);
		ev.event = AUDIT_AGREEMENT_LAPSING;
		a.lapse_warned = 1;
		log_warnx("agreement %s between '%s' and '%s' (ref %s) lapses at "
		    "%s, in %lld days: record the renewed agreement (batonctl "
		    "agreement add) before then, or handovers on routes that "
		    "need it are held", a.id, a.org_a, a.org_b, a.reference, when,
		    (long long)((a.until_ms - now) / 86400000));
	} else {
		if (as == AGREEMENT_ENDED) {
			lifecycle_iso_time(a.ended_at_ms, when, sizeof(when));
			snprintf(reason, sizeof(reason), "ended at %s: %s", when,
			    a.end_reason);
		} else {
			lifecycle_iso_time(a.until_ms, when, sizeof(when));
			snprintf(reason, sizeof(reason), "lapsed at %s", when);
		}
		ev.event = AUDIT_AGREEMENT_LAPSED;
		a.lapse_warned = a.lapse_recorded = 1;
		log_warnx("agreement %s between '%s' and '%s' (ref %s) %s; "
		    "handovers on routes that need it are held until another "
		    "is in force", a.id, a.org_a, a.org_b, a.reference, reason);
	}
	rc = agreement_put(st->store, &a);
	if (rc == STORE_OK)
		rc = state_audit(st, &ev);
	if ((rc = store_op_end(st->store, rc)) != STORE_OK)
		state_store_failed(st, "record agreement review", rc);
}

/* Queues held handover m again: its crossing is allowed now (c). */
static int
release(struct state *st, queue_msg *m, const struct crossing *c)
{
	struct store *s = st->store;
	int rc;

	if ((rc = store_op_begin(s)) != STORE_OK)
		return rc;
	m->state = MS(QUEUED);
	if (pbstr_set(&m->agreement_id, c->found ? c->ag.id : "") == -1 ||
	    lifecycle_event(m, state_now_ms(), "released", "broker",
	    m->recipient, "ok", c->found ? c->ag.id : NULL, NULL) == -1)
		fatalx("out of memory");
	rc = queue_enqueue(s, m);
	if (rc == STORE_OK)
		rc = store_del(s, STORE_HELD, m->message_id,
		    strlen(m->message_id));
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = audit_held_event(st, AUDIT_RELEASED, m, m->recipient, "ok",
		    "a data-sharing agreement is in force again");
	if ((rc = store_op_end(s, rc)) == STORE_OK)
		state_wake(st, m->recipient);
	return rc;
}

/* Looks at one held reference: gone, still held, or released. */
static void
review_held(struct state *st, const char *ref)
{
	struct registry_node to;
	struct crossing c;
	queue_msg *m = NULL;
	int rc;

	rc = queue_msg_get(st->store, ref, &m);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read message");
	if (rc != STORE_OK || m->state != MS(HELD)) {
		/* expired, or its record is gone: the entry is stale */
		if ((rc = store_op_begin(st->store)) == STORE_OK) {
			rc = store_del(st->store, STORE_HELD, ref, strlen(ref));
			rc = store_op_end(st->store, rc == STORE_NOTFOUND ?
			    STORE_OK : rc);
		}
		if (rc != STORE_OK)	/* full: the next review tries again */
			state_store_failed(st, "remove held entry", rc);
		queue_msg_free(m);
		return;
	}
	/*
	 * A disabled recipient's handover is released to its queue as any
	 * other waits there: were it skipped, the review (which looks again
	 * only when the agreements in force change) would leave it held
	 * after the node is enabled. Delivery checks the crossing again.
	 */
	rc = registry_get(st->store, m->recipient, &to);
	if (rc == STORE_OK) {
		lifecycle_crossing_of(st, m, &to, &c);
		if ((!c.need || c.found) &&
		    (rc = release(st, m, &c)) != STORE_OK)
			state_store_failed(st, "release held handover", rc);
		else if (!c.need || c.found)
			log_info("released id=%s recipient=%s agreement=%s",
			    m->message_id, m->recipient, c.found ? c.ag.id : "-");
	} else if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read registry");
	queue_msg_free(m);
}

/* The held references, at most HELD_REVIEW_MAX, into a new array. */
static char **
held_list(struct state *st, size_t *n)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl, cap = 0;
	char **refs = NULL, **grown;
	int rc;

	*n = 0;
	if ((rc = store_cursor_open(st->store, STORE_HELD, &c)) != STORE_OK) {
		if (rc != STORE_NOTFOUND)
			state_read_failed(st, "read held handovers");
		return NULL;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    (rc == STORE_OK || rc == STORE_CORRUPT) && *n < HELD_REVIEW_MAX;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (kl == 0 || kl > BATON_MESSAGE_ID_MAX)
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			if ((grown = realloc(refs, cap * sizeof(*refs))) == NULL)
				fatalx("out of memory");
			refs = grown;
		}
		if ((refs[*n] = strndup(k, kl)) == NULL)
			fatalx("out of memory");
		(*n)++;
	}
	store_cursor_close(c);
	if (rc == STORE_ERROR)
		state_read_failed(st, "read held handovers");
	return refs;
}

void
lifecycle_agreements_review(struct state *st)
{
	struct review r;
	char **refs;
	size_t i, n;
	int rc;

	memset(&r, 0, sizeof(r));
	r.now = state_now_ms();
	r.fingerprint = 0xcbf29ce484222325ULL;
	state_touch(st);
	if ((rc = agreement_each(st->store, review_one, &r)) != STORE_OK)
		state_read_failed(st, "read agreements");
	for (i = 0; i < (size_t)r.nmark; i++)
		review_mark(st, r.mark[i], r.now);
	/* a node's new role or organisation can free a held one too: look
	 * again now and then, not only when the agreements change */
	if (st->agreements_seen && r.fingerprint == st->agreements_fp &&
	    state_mono_ms() - st->held_review_ms < HELD_REVIEW_EVERY_MS)
		return;
	st->agreements_seen = 1;
	st->agreements_fp = r.fingerprint;
	st->held_review_ms = state_mono_ms();
	refs = held_list(st, &n);
	for (i = 0; i < n; i++) {
		review_held(st, refs[i]);
		free(refs[i]);
	}
	free(refs);
}
