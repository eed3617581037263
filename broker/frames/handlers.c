/*
 * handlers.c - the thin handlers of Hello, Submit (-> registry -> store),
 * Pull (-> the delivery pump), Ack and Ping; dispatch.c has run the shared
 * checks before any of them.
 *
 * Handovers are keyed by reference, "<sender>/<sender's own id>": a Submit
 * names its own id, an Ack a reference or, for the node's own handover,
 * an own id (validate_qualify). Each request is checked first, then
 * carried out in its own nested store operation, so a refused or failed
 * request is undone alone. Replies are queued with session_send and
 * released after the pass commits. The node
 * registry is read on every request, so a role change or a disabled node
 * takes effect without a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "due.h"
#include "decision.h"
#include "lifecycle.h"
#include "log.h"
#include "notice.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "handlers.h"
#include "sections.h"
#include "store.h"
#include "validate.h"

#define SID(s)	((unsigned long long)(s)->id)

/* A handover must leave room in a frame for what the broker adds to it. */
#define ENVELOPE_HEADROOM	4096

/* A Receipt echoes the sender's own id; ref (NULL if refused) names it for all. */
static void
send_receipt(struct session *s, const char *id, const char *ref, int code,
    const char *text, int duplicate, int64_t received_at_ms)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Receipt r = BATON__V1__RECEIPT__INIT;

	r.message_id = (char *)id;
	r.reference = (char *)(ref != NULL ? ref : "");
	r.code = code;
	r.text = (char *)text;
	r.duplicate = duplicate;
	r.received_at_ms = received_at_ms;
	f.body_case = BATON__V1__FRAME__BODY_RECEIPT;
	f.receipt = &r;
	session_send(s, &f);
}

/* Records an event a session caused about a message. */
static int
audit_msg(struct session *s, const char *event, const char *message_id,
    const char *other, const char *subject_ref, const char *outcome,
    const char *reason)
{
	struct audit_event ev = { 0 };

	session_audit_actor(s, &ev);
	ev.event = event;
	ev.message_id = message_id;
	ev.other = other;
	ev.subject_ref = subject_ref;
	ev.outcome = outcome;
	ev.reason = reason;
	return state_audit(&s->b->st, &ev);
}

static void
send_ack_result(struct session *s, const char *id, int code, const char *text)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__AckResult r = BATON__V1__ACK_RESULT__INIT;

	r.message_id = (char *)id;
	r.code = code;
	r.text = (char *)text;
	f.body_case = BATON__V1__FRAME__BODY_ACK_RESULT;
	f.ack_result = &r;
	session_send(s, &f);
}

static void
store_failed(struct session *s, const char *what, int rc)
{
	state_store_failed(&s->b->st, what, rc);
}


/* Refuses a connection at Hello: recorded, then Error and close. */
#define REFUSE_HELLO(s, code, ...) do {					\
	char why_[256];							\
	snprintf(why_, sizeof(why_), __VA_ARGS__);			\
	session_audit_refused((s), frame_code_name(code), why_);	\
	session_fail((s), (code), "%s", why_);				\
} while (0)

void
handle_hello(struct session *s, const Baton__V1__Hello *h)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Welcome w = BATON__V1__WELCOME__INIT;
	struct registry_node n;
	char text[256];
	int rc;

	if (h->protocol_version != BATON_PROTOCOL_VERSION) {
		REFUSE_HELLO(s, BATON__V1__CODE__CODE_UNSUPPORTED_VERSION,
		    "protocol version %u is not supported; this broker speaks %d",
		    h->protocol_version, BATON_PROTOCOL_VERSION);
		return;
	}
	state_touch(&s->b->st);
	if ((rc = registry_admit(s->b->st.store, s->node_id, &n, text,
	    sizeof(text))) != BATON__V1__CODE__CODE_OK) {
		REFUSE_HELLO(s, rc, "%s", text);
		return;
	}
	if (session_count_node(s->b, s->node_id, s) >= s->b->cfg->max_per_node) {
		REFUSE_HELLO(s, BATON__V1__CODE__CODE_LIMIT_EXCEEDED,
		    "node '%s' already has %u connections (the limit)",
		    s->node_id, s->b->cfg->max_per_node);
		return;
	}
	snprintf(s->role, sizeof(s->role), "%s", n.role);
	snprintf(s->org, sizeof(s->org), "%s", n.organisation);
	session_ready(s);
	{
		struct audit_event ev = { 0 };

		session_audit_actor(s, &ev);
		ev.event = AUDIT_CONN_ACCEPTED;
		ev.outcome = "ok";
		state_audit(&s->b->st, &ev);
	}
	w.protocol_version = BATON_PROTOCOL_VERSION;
	w.node_id = s->node_id;
	w.role = n.role;
	w.organisation = n.organisation;
	w.max_frame = s->b->cfg->max_frame;
	w.max_unacked = s->b->cfg->max_unacked;
	w.broker_id = s->b->broker_id;
	f.body_case = BATON__V1__FRAME__BODY_WELCOME;
	f.welcome = &w;
	session_send(s, &f);
	log_info("sid=%llu node=%s role=%s hello", SID(s), s->node_id, s->role);
}

static void
sha256(const uint8_t *buf, size_t len, uint8_t out[32])
{
	unsigned int n = 32;

	if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1)
		fatalx("EVP_Digest sha256 failed");
}

/* Packs the handover alone, for the content hash that detects reuse of an id. */
static int
handover_hash(const Baton__V1__Handover *h, uint8_t out[32])
{
	size_t len = baton__v1__handover__get_packed_size(h);
	uint8_t *buf = malloc(len ? len : 1);

	if (buf == NULL)
		return -1;
	baton__v1__handover__pack(h, buf);
	sha256(buf, len, out);
	free(buf);
	return 0;
}


/*
 * Answers a sender that reuses one of its own ids (m is keyed by its
 * reference, so no other sender's handover is ever found here): the
 * original receipt, or DUPLICATE if the content differs.
 */
static void
answer_existing(struct session *s, const char *id, const queue_msg *m,
    const uint8_t hash[32])
{
	if (strcmp(m->sender, s->node_id) == 0 &&
	    memcmp(m->content_sha256.data, hash, 32) == 0) {
		send_receipt(s, id, m->message_id, BATON__V1__CODE__CODE_OK,
		    "already received", 1, m->received_at_ms);
		audit_msg(s, AUDIT_SUBMIT_ACCEPTED, m->message_id, m->recipient,
		    m->subject_ref, "ok", "resubmitted: original receipt returned");
		log_info("sid=%llu node=%s submit id=%s duplicate (original receipt)",
		    SID(s), s->node_id, m->message_id);
		return;
	}
	send_receipt(s, id, NULL, BATON__V1__CODE__CODE_DUPLICATE,
	    "this message id was already used for a different handover; "
	    "use a new message id", 0, 0);
	audit_msg(s, AUDIT_SUBMIT_REFUSED, m->message_id, NULL, NULL,
	    "DUPLICATE", "message id already used for a different handover");
	log_warnx("sid=%llu node=%s submit id=%s refused code=DUPLICATE",
	    SID(s), s->node_id, m->message_id);
}

/* Refuses a submit; the record names the reference the id would have had. */
static void
refuse_submit(struct session *s, const char *id, int code, const char *text)
{
	char ref[BATON_REFERENCE_MAX + 1];
	int named = validate_own_id(id) &&
	    validate_qualify(s->node_id, id, ref) == 0;

	send_receipt(s, id, NULL, code, text, 0, 0);
	audit_msg(s, AUDIT_SUBMIT_REFUSED, named ? ref : NULL, NULL, NULL,
	    frame_code_name(code), text);
	log_warnx("sid=%llu node=%s submit id=%s refused code=%s", SID(s),
	    s->node_id, named ? ref : "-", frame_code_name(code));
}

void
handle_submit(struct session *s, const Baton__V1__Submit *sub)
{
	Baton__V1__Envelope *env = sub->envelope;
	Baton__V1__Envelope copy;
	queue_msg m = BATON__STORE__V1__MESSAGE__INIT, *old = NULL;
	struct registry_node to;
	uint8_t hash[32], *body = NULL;
	size_t len;
	char err[256], text[320], subject_ref[AUDIT_REF_HEX + 1];
	char ref[BATON_REFERENCE_MAX + 1];
	int rc;

	/* ids belong to their sender: the handover is known by its reference */
	if (env == NULL || !validate_own_id(env->message_id) ||
	    notice_is_id(env->message_id) ||
	    validate_qualify(s->node_id, env->message_id, ref) == -1) {
		refuse_submit(s, env ? env->message_id : "", BATON__V1__CODE__CODE_INVALID,
		    "message_id must be 1-128 characters of A-Z a-z 0-9 . _ : - "
		    "and may not start with \"" NOTICE_ID_PREFIX "\"");
		return;
	}
	if (validate_handover(env->handover, err, sizeof(err)) == -1) {
		snprintf(text, sizeof(text), "invalid handover: %s", err);
		refuse_submit(s, env->message_id, BATON__V1__CODE__CODE_INVALID, text);
		return;
	}
	if (baton__v1__envelope__get_packed_size(env) + ENVELOPE_HEADROOM >
	    s->b->cfg->max_frame) {
		refuse_submit(s, env->message_id, BATON__V1__CODE__CODE_INVALID,
		    "handover too large for this broker's max_frame");
		return;
	}
	if (handover_hash(env->handover, hash) == -1)
		fatalx("out of memory");

	rc = queue_msg_get(s->b->st.store, ref, &old);
	if (rc == STORE_OK) {
		answer_existing(s, env->message_id, old, hash);
		queue_msg_free(old);
		return;
	}
	if (rc == STORE_CORRUPT) {
		refuse_submit(s, env->message_id, BATON__V1__CODE__CODE_DUPLICATE,
		    "this message id is in use; use a new message id");
		return;
	}
	if (rc != STORE_NOTFOUND)
		state_read_failed(&s->b->st, "read message");

	rc = registry_get(s->b->st.store, env->to, &to);
	if (rc != STORE_OK || !to.enabled) {
		snprintf(text, sizeof(text), "no enabled node '%.64s' in the registry",
		    validate_node_id(env->to) ? env->to : "?");
		refuse_submit(s, env->message_id,
		    BATON__V1__CODE__CODE_UNKNOWN_RECIPIENT, text);
		return;
	}
	if (!policy_route_allowed(s->b->st.policy, s->role, to.role,
	    env->handover->transition->kind)) {
		snprintf(text, sizeof(text), "role '%s' may not send %s handovers to "
		    "role '%s' (node '%s') under the current policy", s->role,
		    policy_kind_name(env->handover->transition->kind), to.role, to.node_id);
		refuse_submit(s, env->message_id,
		    BATON__V1__CODE__CODE_ROUTE_NOT_ALLOWED, text);
		return;
	}

	if (!state_has_room(&s->b->st, baton__v1__envelope__get_packed_size(env), text,
	    sizeof(text))) {
		refuse_submit(s, env->message_id, BATON__V1__CODE__CODE_STORE_FULL,
		    text);
		return;
	}

	/* the sender is who the certificate says, whatever the client wrote */
	copy = *env;
	copy.message_id = ref;	/* what the recipient acks and decides by */
	copy.from = s->node_id;
	copy.redirected_from = (char *)"";
	len = baton__v1__envelope__get_packed_size(&copy);
	if ((body = malloc(len ? len : 1)) == NULL)
		fatalx("out of memory");
	baton__v1__envelope__pack(&copy, body);

	m.message_id = ref;
	m.sender = s->node_id;
	m.recipient = env->to;
	m.received_at_ms = state_now_ms();
	m.content_sha256.data = hash;
	m.content_sha256.len = 32;
	m.state = BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_QUEUED;
	if (audit_subject_ref(s->b->st.audit, env->handover->subject->nhs_number,
	    subject_ref) == -1)
		fatalx("audit: subject reference failed for a validated NHS number");
	m.subject_ref = subject_ref;
	m.risk_level = env->handover->risk_summary->level;
	m.transition_kind = env->handover->transition->kind;
	if (m.risk_level > 0 && m.risk_level < POLICY_RISK_LEVELS &&
	    s->b->st.policy->deadline_ms[m.risk_level] > 0)
		m.deadline_at_ms = state_due_ms(&s->b->st) +
		    s->b->st.policy->deadline_ms[m.risk_level];
	m.expires_at_ms = state_due_ms(&s->b->st) + s->b->st.policy->retention_ms;
	if (lifecycle_event(&m, m.received_at_ms, "submitted", s->node_id,
	    m.recipient, "ok", policy_kind_name(m.transition_kind), NULL) == -1 ||
	    lifecycle_event(&m, m.received_at_ms, "queued", "broker", m.recipient,
	    "ok", NULL, NULL) == -1)
		fatalx("out of memory");

	if ((rc = store_op_begin(s->b->st.store)) == STORE_OK) {
		rc = queue_insert(s->b->st.store, &m, body, len);
		if (rc == STORE_OK)
			rc = due_add(&s->b->st, m.deadline_at_ms, DEADLINE_ACCEPT,
			    m.message_id);
		if (rc == STORE_OK)
			rc = due_add(&s->b->st, m.expires_at_ms, DEADLINE_EXPIRE,
			    m.message_id);
		if (rc == STORE_OK)
			rc = audit_msg(s, AUDIT_SUBMIT_ACCEPTED, m.message_id,
			    m.recipient, m.subject_ref, "ok",
			    policy_kind_name(m.transition_kind));
		if (rc == STORE_OK)
			rc = audit_msg(s, AUDIT_QUEUED, m.message_id, m.recipient,
			    m.subject_ref, "ok", NULL);
		if (rc == STORE_OK)
			rc = store_op_commit(s->b->st.store);
		else
			store_op_abort(s->b->st.store);
	}
	lifecycle_events_clear(&m);
	free(body);
	if (rc == STORE_FULL) {
		refuse_submit(s, env->message_id, BATON__V1__CODE__CODE_STORE_FULL,
		    "the broker's store is full; retry later with the same message id");
		return;
	}
	if (rc != STORE_OK)
		store_failed(s, "queue message", rc);
	send_receipt(s, env->message_id, m.message_id, BATON__V1__CODE__CODE_OK,
	    "queued", 0, m.received_at_ms);
	log_info("sid=%llu node=%s submit id=%s to=%s queued seq=%llu", SID(s),
	    s->node_id, m.message_id, m.recipient,
	    (unsigned long long)m.queue_seq);
	state_wake(&s->b->st, m.recipient);
}

void
handle_pull(struct session *s, const Baton__V1__Pull *p)
{
	struct session *old;
	uint64_t credit;

	if (policy_sections(s->b->st.policy, s->role) == 0) {
		session_fail(s, BATON__V1__CODE__CODE_NOT_PERMITTED,
		    "role '%s' may not receive handovers under the current policy",
		    s->role);
		return;
	}
	if (!s->receiving) {
		/* one receiving session per node: the newest takes over, so a
		 * half-open old connection cannot hold deliveries hostage */
		old = session_receiver(s->b, s->node_id);
		if (old != NULL && old != s)
			session_fail(old, BATON__V1__CODE__CODE_SUPERSEDED,
			    "a newer session of node '%s' is now receiving",
			    s->node_id);
		s->receiving = 1;
		s->cursor = 0;
	}
	credit = (uint64_t)s->credit + p->credit;
	s->credit = credit > s->b->cfg->max_credit ? s->b->cfg->max_credit :
	    (uint32_t)credit;
	s->want_pump = 1;
	state_schedule(&s->b->st);
}

/* Acknowledges a delivered notice: it leaves the queue and the store. */
static void
ack_notice(struct session *s, const char *id)
{
	stored_notice *sn = NULL;
	int rc;

	rc = notice_get(s->b->st.store, id, &sn);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT) {
		/* already acknowledged (and removed), or never existed */
		send_ack_result(s, id, BATON__V1__CODE__CODE_UNKNOWN_MESSAGE,
		    "no such notice, or already acknowledged");
		audit_msg(s, AUDIT_ACK_REFUSED, NULL, NULL, NULL, "UNKNOWN_MESSAGE",
		    id);
		return;
	}
	if (rc != STORE_OK)
		state_read_failed(&s->b->st, "read notice");
	if (strcmp(sn->recipient, s->node_id) != 0) {
		send_ack_result(s, id, BATON__V1__CODE__CODE_NOT_RECIPIENT,
		    "this notice is not addressed to you");
		log_warnx("sid=%llu node=%s ack notice=%s refused code=NOT_RECIPIENT",
		    SID(s), s->node_id, id);
		audit_msg(s, AUDIT_ACK_REFUSED, sn->notice->message_id,
		    sn->recipient, NULL, "NOT_RECIPIENT", id);
		goto done;
	}
	if ((rc = store_op_begin(s->b->st.store)) == STORE_OK) {
		rc = queue_remove(s->b->st.store, sn->recipient, sn->queue_seq);
		if (rc == STORE_OK || rc == STORE_NOTFOUND)
			rc = store_del(s->b->st.store, STORE_NOTICES, id, strlen(id));
		if (rc == STORE_OK)
			rc = audit_msg(s, AUDIT_NOTICE_ACKED, sn->notice->message_id,
			    NULL, NULL, "ok", id);
		if (rc == STORE_OK)
			rc = store_op_commit(s->b->st.store);
		else
			store_op_abort(s->b->st.store);
	}
	if (rc != STORE_OK) {
		store_failed(s, "ack notice", rc);
		send_ack_result(s, id, BATON__V1__CODE__CODE_STORE_FULL,
		    "the broker's store is full; retry the ack");
		goto done;
	}
	if (s->unacked > 0)
		s->unacked--;
	s->want_pump = s->receiving;
	send_ack_result(s, id, BATON__V1__CODE__CODE_OK, "acknowledged");
done:
	notice_free(sn);
}

/*
 * Refuses an ack of a handover that is not the node's to ack. A node that
 * does not know of it (m NULL: none exists) gets the one answer for "no
 * such message"; only the audit record tells a foreign one from a missing
 * one.
 */
static void
refuse_foreign_ack(struct session *s, const char *id, const char *ref,
    const queue_msg *m)
{
	const char *outcome = m != NULL ? "NOT_RECIPIENT" : "UNKNOWN_MESSAGE";

	if (m != NULL && lifecycle_knows(&s->b->st, m, s->node_id))
		send_ack_result(s, id, BATON__V1__CODE__CODE_NOT_RECIPIENT,
		    "this message is not addressed to you");
	else
		send_ack_result(s, id, BATON__V1__CODE__CODE_UNKNOWN_MESSAGE,
		    LIFECYCLE_UNKNOWN_TEXT);
	audit_msg(s, AUDIT_ACK_REFUSED, ref, m != NULL ? m->recipient : NULL,
	    m != NULL ? m->subject_ref : NULL, outcome, m != NULL ?
	    "not addressed to this node" : "no such message");
	log_warnx("sid=%llu node=%s ack id=%s refused code=%s", SID(s),
	    s->node_id, ref, outcome);
}

void
handle_ack(struct session *s, const Baton__V1__Ack *a)
{
	queue_msg *m = NULL;
	char ref[BATON_REFERENCE_MAX + 1];
	int64_t now;
	int rc;

	if (!validate_message_id(a->message_id)) {
		send_ack_result(s, "", BATON__V1__CODE__CODE_INVALID,
		    "ack needs a well-formed message_id");
		return;
	}
	if (notice_is_id(a->message_id)) {
		ack_notice(s, a->message_id);
		return;
	}
	/* an own id names the node's own handover; others' need a reference */
	if (validate_qualify(s->node_id, a->message_id, ref) == -1)
		fatalx("ack: a checked message id does not qualify");
	rc = queue_msg_get(s->b->st.store, ref, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT) {
		refuse_foreign_ack(s, a->message_id, ref, NULL);
		return;
	}
	if (rc != STORE_OK)
		state_read_failed(&s->b->st, "read message");
	if (strcmp(m->recipient, s->node_id) != 0) {
		refuse_foreign_ack(s, a->message_id, ref, m);
		goto done;
	}
	if (m->state == BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_QUEUED) {
		send_ack_result(s, a->message_id, BATON__V1__CODE__CODE_NOT_DELIVERED,
		    "this message has not been delivered yet");
		audit_msg(s, AUDIT_ACK_REFUSED, m->message_id, m->sender,
		    m->subject_ref, "NOT_DELIVERED", "not delivered yet");
		goto done;
	}
	if (m->state != BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_DELIVERED) {
		/* acks are idempotent: the recipient already has it */
		send_ack_result(s, a->message_id, BATON__V1__CODE__CODE_OK,
		    "already acknowledged");
		goto done;
	}
	if ((rc = store_op_begin(s->b->st.store)) == STORE_OK) {
		rc = queue_remove(s->b->st.store, m->recipient, m->queue_seq);
		if (rc == STORE_OK || rc == STORE_NOTFOUND) {
			now = state_now_ms();
			m->state = BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_ACKNOWLEDGED;
			m->acked_at_ms = now;
			if (lifecycle_event(m, now, "acknowledged", s->node_id, NULL,
			    "ok", NULL, NULL) == -1)
				fatalx("out of memory");
			m->purge_at_ms = state_due_ms(&s->b->st) +
			    s->b->st.policy->purge_after_ms;
			rc = queue_msg_put(s->b->st.store, m);
			if (rc == STORE_OK)
				rc = due_add(&s->b->st, m->purge_at_ms, DEADLINE_PURGE,
				    m->message_id);
			if (rc == STORE_OK)
				rc = audit_msg(s, AUDIT_ACKNOWLEDGED, m->message_id,
				    m->sender, m->subject_ref, "ok", NULL);
		}
		if (rc == STORE_OK)
			rc = store_op_commit(s->b->st.store);
		else
			store_op_abort(s->b->st.store);
	}
	if (rc == STORE_FULL) {
		send_ack_result(s, a->message_id, BATON__V1__CODE__CODE_STORE_FULL,
		    "the broker's store is full; retry the ack");
		goto done;
	}
	if (rc != STORE_OK)
		store_failed(s, "ack", rc);
	if (s->unacked > 0)
		s->unacked--;
	s->want_pump = s->receiving;
	send_ack_result(s, a->message_id, BATON__V1__CODE__CODE_OK, "acknowledged");
	log_info("sid=%llu node=%s ack id=%s attempt=%u", SID(s), s->node_id,
	    m->message_id, m->attempts);
done:
	queue_msg_free(m);
}

void
handle_ping(struct session *s, const Baton__V1__Ping *p)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Pong pong = BATON__V1__PONG__INIT;

	pong.nonce = p->nonce;
	f.body_case = BATON__V1__FRAME__BODY_PONG;
	f.pong = &pong;
	session_send(s, &f);
}
