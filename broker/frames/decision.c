/*
 * decision.c - Decision and StatusRequest.
 *
 * Only the current recipient may decide, only once, only after delivery.
 * A Decision or StatusRequest names a handover by reference, or by an own
 * id for the node's own handover; a node that knows nothing of the
 * handover named gets the answer for one that does not exist.
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
#include "due.h"
#include "decision.h"
#include "lifecycle.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"

#define SID(s)	((unsigned long long)(s)->id)
#define DECISION_NOTE_MAX	2000	/* keeps Status within any max_frame */
#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define OUT(x)	BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

/* Answers a Decision, echoing its id as the node wrote it. */
static void
send_result(struct session *s, const char *id, int code, const char *text)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__DecisionResult r = BATON__V1__DECISION_RESULT__INIT;

	r.message_id = (char *)(validate_message_id(id) ? id : "");
	r.code = code;
	r.text = (char *)text;
	f.body_case = BATON__V1__FRAME__BODY_DECISION_RESULT;
	f.decision_result = &r;
	session_send(s, &f);
}

/*
 * Records and logs a refused decision about ref (NULL: no valid id) as it
 * truly was: code and why, even where the node is told less.
 */
static void
record_refusal(struct session *s, const char *ref, int code, const char *why)
{
	struct audit_event ev = { 0 };

	session_audit_actor(s, &ev);
	ev.event = AUDIT_DECISION_REFUSED;
	ev.message_id = ref;
	ev.outcome = frame_code_name(code);
	ev.reason = why;
	state_audit(&s->b->st, &ev);
	log_warnx("sid=%llu node=%s decision id=%s refused code=%s", SID(s),
	    s->node_id, ref != NULL ? ref : "-", frame_code_name(code));
}

static void
refuse(struct session *s, const char *id, const char *ref, int code,
    const char *text)
{
	record_refusal(s, ref, code, text);
	send_result(s, id, code, text);
}

int
decision_notify(struct broker *b, const char *node, int kind,
    const queue_msg *m, const Baton__V1__Decision *d, int64_t overdue_ms,
    int with_risk)
{
	Baton__V1__Notice n = BATON__V1__NOTICE__INIT;
	char id[NOTICE_ID_MAX];
	int rc;

	n.kind = kind;
	n.message_id = m->message_id;
	n.sender = m->sender;
	n.recipient = m->recipient;
	if (d != NULL) {
		n.outcome = d->outcome;
		n.reason = d->reason;
		n.note = d->note;
		n.suggested_node = d->suggested_node;
		n.redirect_to = d->redirect_to;
	}
	if (with_risk)
		n.risk_level = m->risk_level;
	n.overdue_ms = overdue_ms;
	rc = notice_queue(b->st.store, node, &n, state_now_ms(), id);
	if (rc == STORE_OK) {
		struct audit_event ev = { 0 };

		ev.event = AUDIT_NOTICE_QUEUED;
		ev.actor = "broker";
		ev.other = node;
		ev.message_id = m->message_id;
		ev.subject_ref = m->subject_ref;
		ev.outcome = "ok";
		ev.reason = id;
		rc = state_audit(&b->st, &ev);
	}
	if (rc == STORE_OK)
		state_wake(&b->st, node);
	return rc;
}

/* Checks that refuse a decision; returns 0 when it may proceed. */
static int
decision_check(struct session *s, const Baton__V1__Decision *d,
    const queue_msg *m, struct registry_node *to, char *text, size_t len)
{
	int rc;

	if (strcmp(m->recipient, s->node_id) != 0) {
		snprintf(text, len, "only the current recipient may decide on this "
		    "handover");
		return CODE(NOT_RECIPIENT);
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
	if (strlen(d->note) > DECISION_NOTE_MAX) {
		snprintf(text, len, "note is longer than %d bytes", DECISION_NOTE_MAX);
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
	if (strcmp(d->redirect_to, s->node_id) == 0) {
		snprintf(text, len, "cannot redirect a handover to yourself");
		return CODE(INVALID);
	}
	if (m->body_purged) {
		snprintf(text, len, "the content of this handover has been purged "
		    "under the retention policy; ask the sender to send it again");
		return CODE(INVALID);
	}
	rc = registry_get(s->b->st.store, d->redirect_to, to);
	if (rc != STORE_OK || !to->enabled) {
		if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
			state_read_failed(&s->b->st, "read registry");
		snprintf(text, len, "no enabled node '%s' in the registry",
		    d->redirect_to);
		return CODE(UNKNOWN_RECIPIENT);
	}
	if (!policy_route_allowed(s->b->st.policy, s->role, to->role,
	    m->transition_kind) || policy_sections(s->b->st.policy, to->role) == 0) {
		snprintf(text, len, "role '%s' may not send %s handovers to role '%s' "
		    "(node '%s') under the current policy", s->role,
		    policy_kind_name(m->transition_kind), to->role, to->node_id);
		return CODE(ROUTE_NOT_ALLOWED);
	}
	return 0;
}

/* Applies a checked decision to m and queues what it owes. */
static int
decision_apply(struct session *s, const Baton__V1__Decision *d, queue_msg *m,
    const struct registry_node *to, int64_t now)
{
	struct store *st = s->b->st.store;
	const char *event, *reason = "";
	char **past;
	int rc;

	if (m->state == MS(DELIVERED)) {
		/* deciding is stronger than acknowledging: it has arrived */
		rc = queue_remove(st, m->recipient, m->queue_seq);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		m->acked_at_ms = now;
		if (d->outcome != OUT(REDIRECT)) {
			m->purge_at_ms = state_due_ms(&s->b->st) +
			    s->b->st.policy->purge_after_ms;
			if ((rc = due_add(&s->b->st, m->purge_at_ms, DEADLINE_PURGE,
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
	{
		struct audit_event ev = { 0 };

		session_audit_actor(s, &ev);
		ev.event = d->outcome == OUT(ACCEPT) ? AUDIT_ACCEPTED :
		    d->outcome == OUT(REJECT) ? AUDIT_REJECTED : AUDIT_REDIRECTED;
		ev.message_id = m->message_id;
		ev.other = d->outcome == OUT(REDIRECT) ? d->redirect_to : m->sender;
		ev.subject_ref = m->subject_ref;
		ev.outcome = "ok";
		ev.reason = reason;
		if ((rc = state_audit(&s->b->st, &ev)) != STORE_OK)
			return rc;
	}
	if (lifecycle_event(m, now, event, s->node_id,
	    d->outcome == OUT(REDIRECT) ? d->redirect_to : d->suggested_node,
	    "ok", reason, d->note) == -1)
		fatalx("out of memory");
	if ((rc = decision_notify(s->b, m->sender,
	    BATON__V1__NOTICE_KIND__NOTICE_KIND_DECIDED, m, d, 0, 1)) != STORE_OK)
		return rc;
	if (d->outcome != OUT(REDIRECT))
		return queue_msg_put(st, m);

	/* the same stored handover, queued for the new recipient */
	past = realloc(m->past_recipients, (m->n_past_recipients + 1) * sizeof(*past));
	if (past == NULL)
		fatalx("out of memory");
	m->past_recipients = past;
	if ((past[m->n_past_recipients] = strdup(m->recipient)) == NULL)
		fatalx("out of memory");
	m->n_past_recipients++;
	if (pbstr_set(&m->redirected_from, m->recipient) == -1 ||
	    pbstr_set(&m->recipient, to->node_id) == -1)
		fatalx("out of memory");
	m->hops++;
	m->attempts = 0;
	m->purge_at_ms = 0;	/* the new hop's acknowledgement schedules it */
	m->decided_at_ms = 0;
	m->acked_at_ms = 0;
	m->state = MS(QUEUED);
	/* the new hop has the full retention to be delivered, or expires
	 * with a non-delivery notice like any other */
	m->expires_at_ms = state_due_ms(&s->b->st) + s->b->st.policy->retention_ms;
	if (lifecycle_event(m, now, "queued", "broker", m->recipient, "ok",
	    "redirected", NULL) == -1)
		fatalx("out of memory");
	if ((rc = due_add(&s->b->st, m->expires_at_ms, DEADLINE_EXPIRE,
	    m->message_id)) != STORE_OK)
		return rc;
	{
		struct audit_event ev = { 0 };

		ev.event = AUDIT_QUEUED;
		ev.actor = "broker";
		ev.other = m->recipient;
		ev.message_id = m->message_id;
		ev.subject_ref = m->subject_ref;
		ev.outcome = "ok";
		ev.reason = "redirected";
		if ((rc = state_audit(&s->b->st, &ev)) != STORE_OK)
			return rc;
	}
	return queue_enqueue(st, m);
}

void
decision_handle(struct session *s, const Baton__V1__Decision *d)
{
	struct store *st = s->b->st.store;
	struct registry_node to;
	queue_msg *m = NULL;
	char text[320], ref[BATON_REFERENCE_MAX + 1];
	int rc, code, was_delivered;

	/* an own id names the node's own handover; others' need a reference */
	if (!validate_message_id(d->message_id) || notice_is_id(d->message_id) ||
	    validate_qualify(s->node_id, d->message_id, ref) == -1) {
		refuse(s, d->message_id, NULL, CODE(INVALID),
		    "a decision needs the message id of a handover");
		return;
	}
	rc = queue_msg_get(st, ref, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT) {
		refuse(s, d->message_id, ref, CODE(UNKNOWN_MESSAGE),
		    LIFECYCLE_UNKNOWN_TEXT);
		return;
	}
	if (rc != STORE_OK)
		state_read_failed(&s->b->st, "read message");
	if ((code = decision_check(s, d, m, &to, text, sizeof(text))) != 0) {
		if (code == CODE(NOT_RECIPIENT) &&
		    !lifecycle_knows(&s->b->st, m, s->node_id)) {
			/* another's handover looks like none at all */
			record_refusal(s, ref, code, text);
			send_result(s, d->message_id, CODE(UNKNOWN_MESSAGE),
			    LIFECYCLE_UNKNOWN_TEXT);
		} else
			refuse(s, d->message_id, ref, code, text);
		goto done;
	}
	was_delivered = m->state == MS(DELIVERED);
	if ((rc = store_op_begin(st)) == STORE_OK) {
		rc = decision_apply(s, d, m, &to, state_now_ms());
		if (rc == STORE_OK)
			rc = store_op_commit(st);
		else
			store_op_abort(st);
	}
	if (rc != STORE_OK) {
		state_store_failed(&s->b->st, "record decision", rc);
		refuse(s, d->message_id, ref, CODE(STORE_FULL),
		    "the broker's store is full; retry the decision later");
		goto done;
	}
	send_result(s, d->message_id, CODE(OK), "recorded");
	if (was_delivered) {
		/* the decision acknowledged it: a delivery slot is free again */
		if (s->unacked > 0)
			s->unacked--;
		s->want_pump = s->receiving;
	}
	log_info("sid=%llu node=%s decision id=%s outcome=%s%s%s", SID(s),
	    s->node_id, m->message_id, d->outcome == OUT(ACCEPT) ? "accept" :
	    d->outcome == OUT(REJECT) ? "reject" : "redirect",
	    d->outcome == OUT(REDIRECT) ? " to=" : "",
	    d->outcome == OUT(REDIRECT) ? m->recipient : "");
	if (d->outcome == OUT(REDIRECT))
		state_wake(&s->b->st, m->recipient);
done:
	queue_msg_free(m);
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

void
decision_status(struct session *s, const Baton__V1__StatusRequest *q)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Status st = BATON__V1__STATUS__INIT;
	queue_msg *m = NULL;
	char ref[BATON_REFERENCE_MAX + 1];
	int rc, named, ok;

	st.message_id = (char *)(validate_message_id(q->message_id) ?
	    q->message_id : "");
	/* an own id asks about the node's own handover (the sender's view) */
	named = validate_qualify(s->node_id, q->message_id, ref) == 0;
	rc = named ? queue_msg_get(s->b->st.store, ref, &m) : STORE_NOTFOUND;
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(&s->b->st, "read message");
	ok = rc == STORE_OK && lifecycle_party(m, s->node_id);
	/* the same answer for "no such message" and "not yours": a third
	 * party learns nothing about which handovers exist; the audit
	 * record alone says which it was */
	{
		struct audit_event ev = { 0 };

		session_audit_actor(s, &ev);
		ev.event = ok ? AUDIT_STATUS_READ : AUDIT_STATUS_REFUSED;
		ev.message_id = named ? ref : NULL;
		ev.subject_ref = ok ? m->subject_ref : NULL;
		ev.outcome = ok ? "ok" : rc == STORE_OK ? "NOT_RECIPIENT" :
		    "UNKNOWN_MESSAGE";
		state_audit(&s->b->st, &ev);
	}
	if (!ok) {
		st.code = CODE(NOT_PERMITTED);
		st.text = (char *)"no handover with this id that you sent or received";
		log_warnx("sid=%llu node=%s status id=%s refused", SID(s), s->node_id,
		    named ? ref : "-");
	} else {
		st.code = CODE(OK);
		st.text = (char *)"";
		st.state = (char *)lifecycle_state_name(m->state);
		st.events = m->events;
		st.n_events = visible_events(m, s->node_id);
	}
	f.body_case = BATON__V1__FRAME__BODY_STATUS;
	f.status = &st;
	session_send(s, &f);
	queue_msg_free(m);
}
