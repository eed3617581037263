/*
 * handlers.c - the thin handlers of Hello, Submit, Pull, Ack and Ping;
 * dispatch.c has run the shared checks before any of them.
 *
 * Submit and Ack are transitions of a handover: each handler turns the
 * frame into a lifecycle call (lifecycle/submit.c, lifecycle/ack.c, which
 * own the checks, the store operation, its history and audit records)
 * and the result into a reply and a log line with the session's id.
 * Replies are queued with session_send and released after the pass
 * commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ack.h"
#include "audit.h"
#include "handlers.h"
#include "lifecycle.h"
#include "log.h"
#include "policy.h"
#include "registry.h"
#include "submit.h"
#include "validate.h"

#define SID(s)	((unsigned long long)(s)->id)

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

	/* every version from BATON_PROTOCOL_MIN on: an older client keeps
	 * the frames it knows, and is answered in its own version */
	if (h->protocol_version < BATON_PROTOCOL_MIN ||
	    h->protocol_version > BATON_PROTOCOL_VERSION) {
		REFUSE_HELLO(s, BATON__V1__CODE__CODE_UNSUPPORTED_VERSION,
		    "protocol version %u is not supported; this broker speaks "
		    "%d to %d", h->protocol_version, BATON_PROTOCOL_MIN,
		    BATON_PROTOCOL_VERSION);
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
	s->proto = h->protocol_version;
	session_ready(s);
	{
		struct audit_event ev = { 0 };

		session_audit_actor(s, &ev);
		ev.event = AUDIT_CONN_ACCEPTED;
		ev.outcome = "ok";
		state_audit(&s->b->st, &ev);
	}
	w.protocol_version = s->proto;
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

void
handle_submit(struct session *s, const Baton__V1__Submit *sub)
{
	const Baton__V1__Envelope *env = sub->envelope;
	struct actor a;
	struct lc_result res;
	struct submit_out out;

	session_actor(s, &a);
	lifecycle_submit(&s->b->st, &a, env, &res, &out);
	send_receipt(s, env != NULL ? env->message_id : "",
	    res.code == BATON__V1__CODE__CODE_OK ? out.reference : NULL, res.code,
	    res.text, out.duplicate, out.received_at_ms);
	if (res.code != BATON__V1__CODE__CODE_OK)
		log_warnx("sid=%llu node=%s submit id=%s refused code=%s", SID(s),
		    s->node_id, out.reference[0] != '\0' ? out.reference : "-",
		    frame_code_name(res.code));
	else if (out.duplicate)
		log_info("sid=%llu node=%s submit id=%s duplicate (original receipt)",
		    SID(s), s->node_id, out.reference);
	else
		log_info("sid=%llu node=%s submit id=%s to=%s queued seq=%llu",
		    SID(s), s->node_id, out.reference, out.recipient,
		    (unsigned long long)out.queue_seq);
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

void
handle_ack(struct session *s, const Baton__V1__Ack *ack)
{
	struct actor a;
	struct lc_result res;
	struct ack_out out;

	session_actor(s, &a);
	lifecycle_ack(&s->b->st, &a, ack->message_id, &res, &out);
	send_ack_result(s, validate_message_id(ack->message_id) ?
	    ack->message_id : "", res.code, res.text);
	if (out.refused != NULL && out.notice)
		log_warnx("sid=%llu node=%s ack notice=%s refused code=%s", SID(s),
		    s->node_id, ack->message_id, out.refused);
	else if (out.refused != NULL)
		log_warnx("sid=%llu node=%s ack id=%s refused code=%s", SID(s),
		    s->node_id, out.reference, out.refused);
	if (!out.freed)
		return;
	/* a delivery slot is free again */
	if (s->unacked > 0)
		s->unacked--;
	s->want_pump = s->receiving;
	if (!out.notice)
		log_info("sid=%llu node=%s ack id=%s attempt=%u", SID(s), s->node_id,
		    out.reference, out.attempt);
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
