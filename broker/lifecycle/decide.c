/*
 * decide.c - decisions and status reads (see decide.h).
 *
 * A redirect is carried out as a new delivery of the same stored handover
 * to the new node - checked against the redirecting node's routes and, at
 * delivery, the new recipient's sections - and linked to the original, so
 * every hop is one history and a handover cannot silently bounce. The
 * sender receives a Notice with every decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "checkin.h"
#include "decide.h"
#include "due.h"
#include "frame.h"
#include "held.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define OUT(x)	BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

static int
answer(struct lc_result *res, int code, const char *text)
{
	res->code = code;
	snprintf(res->text, sizeof(res->text), "%s", text);
	return code;
}

/*
 * Records a refused decision about ref (NULL: no valid id), the handover
 * m when there is one, as it truly was: code and why, even where the node
 * is told less.
 */
static void
record_refusal(struct state *st, const struct actor *a, const char *ref,
    const queue_msg *m, int code, const char *why, struct decide_out *out)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_actor(a, &ev);
	if (m != NULL)
		lifecycle_audit_handover(m, &ev);
	ev.event = AUDIT_DECISION_REFUSED;
	ev.message_id = ref;
	ev.outcome = frame_code_name(code);
	ev.reason = why;
	state_audit(st, &ev);
	out->refused = frame_code_name(code);
}

static int
refuse(struct state *st, const struct actor *a, const char *ref, int code,
    const char *text, struct lc_result *res, struct decide_out *out)
{
	record_refusal(st, a, ref, NULL, code, text, out);
	return answer(res, code, text);
}

/* Checks that refuse a decision; returns 0 when it may proceed. */

/*
 * The terms of the redirecting node's route: the basis the sender stated
 * must be one it accepts, and the handover crosses to another
 * organisation only under an agreement in force (held.h).
 */
static int
redirect_terms_check(struct state *st, const struct actor *a,
    const queue_msg *m, const struct registry_node *to, char *text,
    size_t len)
{
	struct policy_terms t;
	struct crossing c;
	char bases[128];

	policy_route_terms(st->policy, a->role, to->role, m->transition_kind,
	    &t);
	if (t.basis != 0 && (m->lawful_basis <= 0 ||
	    m->lawful_basis >= POLICY_BASES ||
	    !(t.basis & (1u << m->lawful_basis)))) {
		snprintf(text, len, "role '%s' may pass %s handovers to role '%s' "
		    "only on a lawful basis of %s, and this one states %s",
		    a->role, policy_kind_name(m->transition_kind), to->role,
		    policy_basis_list(t.basis, bases, sizeof(bases)),
		    m->lawful_basis > 0 ? policy_basis_name(m->lawful_basis) :
		    "none");
		return CODE(NO_LAWFUL_BASIS);
	}
	lifecycle_crossing(st, a->role, a->org != NULL ? a->org : "", to,
	    m->transition_kind, &c);
	if (c.need && !c.found) {
		lifecycle_crossing_text(&c, a->role, to->role,
		    m->transition_kind, text, len);
		return CODE(NO_AGREEMENT);
	}
	return 0;
}

static int
decide_check(struct state *st, const struct actor *a,
    const Baton__V1__Decision *d, const queue_msg *m, struct registry_node *to,
    char *text, size_t len)
{
	int rc;

	if (strcmp(m->recipient, a->node_id) != 0) {
		snprintf(text, len, "only the current recipient may decide on this "
		    "handover");
		return CODE(NOT_RECIPIENT);
	}
	if (m->state == MS(SUPERSEDED)) {
		snprintf(text, len, "its sender corrected this handover: decide "
		    "on the latest version (%.200s)", m->superseded_by);
		return CODE(NOT_LATEST_VERSION);
	}
	if (m->state == MS(QUEUED)) {
		snprintf(text, len, "this handover has not been delivered to you yet");
		return CODE(NOT_DELIVERED);
	}
	if (m->state != MS(DELIVERED) && m->state != MS(ACKNOWLEDGED)) {
		snprintf(text, len, "this handover was already %s",
		    lifecycle_state_name(m->state));
		return CODE(ALREADY_DECIDED);
	}
	if (strlen(d->note) > LC_DECIDE_NOTE_MAX) {
		snprintf(text, len, "note is longer than %d bytes", LC_DECIDE_NOTE_MAX);
		return CODE(INVALID);
	}
	switch (d->outcome) {
	case OUT(ACCEPT):
		return 0;
	case OUT(REJECT):
		if (d->reason == BATON__V1__REJECT_REASON__REJECT_REASON_UNSPECIFIED ||
		    protobuf_c_enum_descriptor_get_value(
		    &baton__v1__reject_reason__descriptor, d->reason) == NULL) {
			snprintf(text, len, "a rejection needs a reason: not_eligible, "
			    "wrong_service, insufficient_information, no_capacity, "
			    "duplicate or other");
			return CODE(INVALID);
		}
		if (*d->suggested_node != '\0' && !validate_node_id(d->suggested_node)) {
			snprintf(text, len, "suggested_node is not a node id");
			return CODE(INVALID);
		}
		return 0;
	case OUT(REDIRECT):
		break;
	default:
		snprintf(text, len, "outcome must be accept, reject or redirect");
		return CODE(INVALID);
	}
	if (!validate_node_id(d->redirect_to)) {
		snprintf(text, len, "redirect needs redirect_to, a node id");
		return CODE(INVALID);
	}
	if (strcmp(d->redirect_to, a->node_id) == 0) {
		snprintf(text, len, "cannot redirect a handover to yourself");
		return CODE(INVALID);
	}
	if (m->body_purged) {
		snprintf(text, len, "the content of this handover has been purged "
		    "under the retention policy; ask the sender to send it again");
		return CODE(INVALID);
	}
	rc = registry_get(st->store, d->redirect_to, to);
	if (rc != STORE_OK || !to->enabled) {
		if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
			state_read_failed(st, "read registry");
		snprintf(text, len, "no enabled node '%s' in the registry",
		    d->redirect_to);
		return CODE(UNKNOWN_RECIPIENT);
	}
	if (!policy_route_allowed(st->policy, a->role, to->role,
	    m->transition_kind) || policy_sections(st->policy, to->role) == 0) {
		snprintf(text, len, "role '%s' may not send %s handovers to role '%s' "
		    "(node '%s') under the current policy", a->role,
		    policy_kind_name(m->transition_kind), to->role, to->node_id);
		return CODE(ROUTE_NOT_ALLOWED);
	}
	return redirect_terms_check(st, a, m, to, text, len);
}

/*
 * Records decision d by a on m (reason: a rejection's), before m moves
 * on: the times count from m's receipt and from its first delivery to a.
 */
static int
audit_decision(struct state *st, const struct actor *a,
    const Baton__V1__Decision *d, const queue_msg *m, const char *reason,
    int64_t now)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_actor(a, &ev);
	lifecycle_audit_handover(m, &ev);
	lifecycle_audit_times(m, &ev, now, 1);
	ev.event = d->outcome == OUT(ACCEPT) ? AUDIT_ACCEPTED :
	    d->outcome == OUT(REJECT) ? AUDIT_REJECTED : AUDIT_REDIRECTED;
	ev.other = d->outcome == OUT(REDIRECT) ? d->redirect_to : m->sender;
	ev.outcome = "ok";
	ev.reason = reason;
	return state_audit(st, &ev);
}

/* Applies a checked decision to m and queues what it owes. */
static int
decide_apply(struct state *st, const struct actor *a,
    const Baton__V1__Decision *d, queue_msg *m, const struct registry_node *to,
    int64_t now)
{
	struct store *s = st->store;
	const char *event, *reason = "";
	char **past;
	int rc;

	if (m->state == MS(DELIVERED)) {
		/* deciding is stronger than acknowledging: it has arrived */
		rc = queue_remove(s, m->recipient, m->queue_seq);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		m->acked_at_ms = now;
		if (d->outcome != OUT(REDIRECT)) {
			m->purge_at_ms = state_due_ms(st) + st->policy->purge_after_ms;
			if ((rc = due_add(st, m->purge_at_ms, DEADLINE_PURGE,
			    m->message_id)) != STORE_OK)
				return rc;
		}
	}
	switch (d->outcome) {
	case OUT(ACCEPT):
		m->state = MS(ACCEPTED);
		event = "accepted";
		break;
	case OUT(REJECT):
		m->state = MS(REJECTED);
		event = "rejected";
		reason = lifecycle_reason_name(d->reason);
		break;
	default:
		event = "redirected";
		break;
	}
	m->decided_at_ms = now;
	if ((rc = audit_decision(st, a, d, m, reason, now)) != STORE_OK)
		return rc;
	if (lifecycle_event(m, now, event, a->node_id,
	    d->outcome == OUT(REDIRECT) ? d->redirect_to : d->suggested_node,
	    "ok", reason, d->note) == -1)
		fatalx("out of memory");
	if ((rc = notice_send(st, m->sender,
	    BATON__V1__NOTICE_KIND__NOTICE_KIND_DECIDED, m, d, 0, 1)) != STORE_OK)
		return rc;
	/* an accepted transition starts its contact pattern */
	if (d->outcome == OUT(ACCEPT) &&
	    (rc = lifecycle_checkins_schedule(st, m, now)) != STORE_OK)
		return rc;
	if (d->outcome != OUT(REDIRECT))
		return queue_msg_put(s, m);

	/* the same stored handover, queued for the new recipient */
	past = pbarena_array_grow(m->past_recipients, m->n_past_recipients,
	    sizeof(*past));
	if (past == NULL)
		fatalx("out of memory");
	m->past_recipients = past;
	if ((past[m->n_past_recipients] = strdup(m->recipient)) == NULL)
		fatalx("out of memory");
	m->n_past_recipients++;
	/* delivery names the agreement the new hop crosses under */
	if (pbstr_set(&m->redirected_from, m->recipient) == -1 ||
	    pbstr_set(&m->recipient, to->node_id) == -1 ||
	    pbstr_set(&m->agreement_id, "") == -1)
		fatalx("out of memory");
	m->hops++;
	m->attempts = 0;
	m->delivered_at_ms = 0;	/* not yet delivered to the new recipient */
	m->purge_at_ms = 0;	/* the new hop's acknowledgement schedules it */
	m->decided_at_ms = 0;
	m->acked_at_ms = 0;
	m->state = MS(QUEUED);
	/* the new hop has the full retention to be delivered, or expires
	 * with a non-delivery notice like any other */
	m->expires_at_ms = state_due_ms(st) + st->policy->retention_ms;
	if (lifecycle_event(m, now, "queued", "broker", m->recipient, "ok",
	    "redirected", NULL) == -1)
		fatalx("out of memory");
	if ((rc = due_add(st, m->expires_at_ms, DEADLINE_EXPIRE,
	    m->message_id)) != STORE_OK)
		return rc;
	{
		struct audit_event ev = { 0 };

		lifecycle_audit_handover(m, &ev);
		ev.event = AUDIT_QUEUED;
		ev.actor = "broker";
		ev.other = m->recipient;
		ev.outcome = "ok";
		ev.reason = "redirected";
		if ((rc = state_audit(st, &ev)) != STORE_OK)
			return rc;
	}
	return queue_enqueue(s, m);
}

int
lifecycle_decide(struct state *st, const struct actor *a, const char *id_or_ref,
    const Baton__V1__Decision *d, struct lc_result *res, struct decide_out *out)
{
	struct registry_node to;
	queue_msg *m = NULL;
	char text[sizeof(res->text)], *ref = out->reference;
	int rc, code, was_delivered;

	memset(out, 0, sizeof(*out));
	state_touch(st);
	/* an own id names the node's own handover; others' need a reference */
	if (!validate_message_id(id_or_ref) || notice_is_id(id_or_ref) ||
	    validate_qualify(a->node_id, id_or_ref, ref) == -1) {
		ref[0] = '\0';
		return refuse(st, a, NULL, CODE(INVALID),
		    "a decision needs the message id of a handover", res, out);
	}
	rc = queue_msg_get(st->store, ref, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT)
		return refuse(st, a, ref, CODE(UNKNOWN_MESSAGE),
		    LIFECYCLE_UNKNOWN_TEXT, res, out);
	if (rc != STORE_OK)
		state_read_failed(st, "read message");
	if ((code = decide_check(st, a, d, m, &to, text, sizeof(text))) != 0) {
		record_refusal(st, a, ref, m, code, text, out);
		/* another's handover looks like none at all */
		if (code == CODE(NOT_RECIPIENT) &&
		    !lifecycle_knows(st, m, a->node_id))
			answer(res, CODE(UNKNOWN_MESSAGE), LIFECYCLE_UNKNOWN_TEXT);
		else
			answer(res, code, text);
		goto done;
	}
	was_delivered = m->state == MS(DELIVERED);
	if ((rc = store_op_begin(st->store)) == STORE_OK) {
		rc = decide_apply(st, a, d, m, &to, state_now_ms());
		if (rc == STORE_OK)
			rc = store_op_commit(st->store);
		else
			store_op_abort(st->store);
	}
	if (rc != STORE_OK) {
		state_store_failed(st, "record decision", rc);
		refuse(st, a, ref, CODE(STORE_FULL),
		    "the broker's store is full; retry the decision later", res, out);
		goto done;
	}
	answer(res, CODE(OK), "recorded");
	out->acked = was_delivered;
	if (d->outcome == OUT(REDIRECT))
		state_wake(st, m->recipient);
done:
	queue_msg_free(m);
	return res->code;
}

/*
 * How many of m's events node may see: all for the sender and the current
 * recipient; for a node that passed it on, the history up to its own
 * redirect, not what later teams decided or wrote.
 */
static size_t
visible_events(const queue_msg *m, const char *node)
{
	size_t i, n = 0;

	if (strcmp(m->sender, node) == 0 || strcmp(m->recipient, node) == 0)
		return m->n_events;
	for (i = 0; i < m->n_events; i++)
		if (strcmp(m->events[i]->event, "redirected") == 0 &&
		    strcmp(m->events[i]->actor, node) == 0)
			n = i + 1;
	return n;
}

int
lifecycle_status(struct state *st, const struct actor *a, const char *id_or_ref,
    struct lc_result *res, struct status_out *out)
{
	struct audit_event ev = { 0 };
	queue_msg *m = NULL;
	char *ref = out->reference;
	int rc, named, ok;

	memset(out, 0, sizeof(*out));
	state_touch(st);
	/* an own id asks about the node's own handover (the sender's view) */
	named = validate_qualify(a->node_id, id_or_ref, ref) == 0;
	if (!named)
		ref[0] = '\0';
	rc = named ? queue_msg_get(st->store, ref, &m) : STORE_NOTFOUND;
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read message");
	ok = rc == STORE_OK && lifecycle_party(m, a->node_id);
	/* the same answer for "no such message" and "not yours": a third
	 * party learns nothing about which handovers exist; the audit
	 * record alone says which it was */
	lifecycle_audit_actor(a, &ev);
	if (ok)
		lifecycle_audit_handover(m, &ev);
	ev.event = ok ? AUDIT_STATUS_READ : AUDIT_STATUS_REFUSED;
	ev.message_id = named ? ref : NULL;
	ev.outcome = ok ? "ok" : rc == STORE_OK ? "NOT_RECIPIENT" :
	    "UNKNOWN_MESSAGE";
	state_audit(st, &ev);
	if (!ok) {
		queue_msg_free(m);
		return answer(res, CODE(NOT_PERMITTED),
		    "no handover with this id that you sent or received");
	}
	out->m = m;
	out->nvisible = visible_events(m, a->node_id);
	return answer(res, CODE(OK), "");
}
