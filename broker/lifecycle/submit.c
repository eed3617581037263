/*
 * submit.c - a node's Submit (see submit.h).
 *
 * Handovers are keyed by reference, "<sender>/<sender's own id>": ids
 * belong to their sender, so a resent id finds only the sender's own
 * handover, and nobody can claim or probe another's. The content hash
 * tells a resend (the original receipt) from reuse of an id for another
 * handover (DUPLICATE). The store reserve (state_has_room) is taken at
 * the point of no return, after every check that answers without writing,
 * so a resend still gets its original receipt when the store is nearly
 * full.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "due.h"
#include "correct.h"
#include "frame.h"
#include "held.h"
#include "log.h"
#include "notice.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "submit.h"
#include "validate.h"
#include "wire_check.h"

#define CODE(x)	BATON__V1__CODE__CODE_##x
#define ENVELOPE_HANDOVER_FIELD	5	/* baton.v1.Envelope.handover */

static int
answer(struct lc_result *res, int code, const char *text)
{
	res->code = code;
	snprintf(res->text, sizeof(res->text), "%s", text);
	return code;
}

/* Records an event a about handover m, to other. */
static int
audit_msg(struct state *st, const struct actor *a, const char *event,
    const queue_msg *m, const char *other, const char *outcome,
    const char *reason)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_actor(a, &ev);
	lifecycle_audit_handover(m, &ev);
	ev.event = event;
	ev.other = other;
	ev.outcome = outcome;
	ev.reason = reason;
	return state_audit(st, &ev);
}

/*
 * Records a refused submit of reference ref (NULL: none) - no subject,
 * risk or kind: nothing of a refused handover is kept.
 */
static void
audit_refused(struct state *st, const struct actor *a, const char *ref,
    const char *outcome, const char *reason)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_actor(a, &ev);
	ev.event = AUDIT_SUBMIT_REFUSED;
	ev.message_id = ref;
	ev.outcome = outcome;
	ev.reason = reason;
	state_audit(st, &ev);
}

/* Refuses a submit; the record names the reference the id would have had. */
static int
refuse(struct state *st, const struct actor *a, int code, const char *text,
    struct lc_result *res, struct submit_out *out)
{
	audit_refused(st, a, out->reference[0] != '\0' ? out->reference : NULL,
	    frame_code_name(code), text);
	return answer(res, code, text);
}

/*
 * The content hash that detects reuse of an id: SHA-256 of the packed
 * handover. Those bytes are already inside the packed body (protobuf-c
 * packs a sub-message exactly as it packs it alone), so they are found
 * there rather than packed a second time.
 */
static void
handover_hash(const uint8_t *body, size_t len, uint8_t out[32])
{
	const uint8_t *h = body;
	size_t hl = 0;
	unsigned int n = 32;

	/* an empty handover packs to nothing, so absent is the same bytes */
	if (wire_find(body, len, ENVELOPE_HANDOVER_FIELD, &h, &hl, NULL) == -1)
		hl = 0;
	if (EVP_Digest(h, hl, out, &n, EVP_sha256(), NULL) != 1)
		fatalx("EVP_Digest sha256 failed");
}

/*
 * Answers a sender that reuses one of its own ids (m is keyed by its
 * reference, so no other sender's handover is ever found here): the
 * original receipt, or DUPLICATE if the content differs.
 */
static int
answer_existing(struct state *st, const struct actor *a, const queue_msg *m,
    const uint8_t hash[32], struct lc_result *res, struct submit_out *out)
{
	if (strcmp(m->sender, a->node_id) == 0 &&
	    memcmp(m->content_sha256.data, hash, 32) == 0) {
		audit_msg(st, a, AUDIT_SUBMIT_ACCEPTED, m, m->recipient, "ok",
		    AUDIT_REASON_RESUBMITTED);
		out->duplicate = 1;
		out->received_at_ms = m->received_at_ms;
		return answer(res, CODE(OK), "already received");
	}
	audit_refused(st, a, m->message_id, "DUPLICATE",
	    "message id already used for a different handover");
	return answer(res, CODE(DUPLICATE),
	    "this message id was already used for a different handover; "
	    "use a new message id");
}

/*
 * The checks of the frame alone; named: its id qualified to a reference.
 * *env_len gets the envelope's packed size (computed once, here).
 */
static int
submit_check(struct state *st, const Baton__V1__Envelope *env, int named,
    size_t *env_len, char *text, size_t len)
{
	char err[256];

	if (!named || notice_is_id(env->message_id)) {
		snprintf(text, len, "message_id must be 1-128 characters of "
		    "A-Z a-z 0-9 . _ : - and may not start with \""
		    NOTICE_ID_PREFIX "\"");
		return CODE(INVALID);
	}
	if (validate_handover(env->handover, err, sizeof(err)) == -1) {
		snprintf(text, len, "invalid handover: %s", err);
		return CODE(INVALID);
	}
	*env_len = baton__v1__envelope__get_packed_size(env);
	if (*env_len + ENVELOPE_HEADROOM > st->cfg->max_frame) {
		snprintf(text, len, "handover too large for this broker's max_frame");
		return CODE(INVALID);
	}
	return 0;
}

/*
 * What the route asks beyond being allowed: a lawful basis the handover
 * states, and an agreement in force between the two organisations (its
 * id into agreement_id, "" when none is needed).
 */
static int
terms_check(struct state *st, const struct actor *a,
    const struct registry_node *to, const Baton__V1__Transition *tr,
    char agreement_id[AGREEMENT_ID_MAX + 1], char *text, size_t len)
{
	struct policy_terms t;
	struct crossing c;
	char bases[128];

	agreement_id[0] = '\0';
	policy_route_terms(st->policy, a->role, to->role, tr->kind, &t);
	if (t.basis != 0 && (tr->lawful_basis <= 0 ||
	    tr->lawful_basis >= POLICY_BASES ||
	    !(t.basis & (1u << tr->lawful_basis)))) {
		snprintf(text, len, "role '%s' may send %s handovers to role '%s' "
		    "only on a lawful basis of %s; this handover states %s%s%s "
		    "(transition.lawful_basis)", a->role,
		    policy_kind_name(tr->kind), to->role,
		    policy_basis_list(t.basis, bases, sizeof(bases)),
		    tr->lawful_basis > 0 ? "'" : "none",
		    tr->lawful_basis > 0 ? policy_basis_name(tr->lawful_basis) :
		    "", tr->lawful_basis > 0 ? "'" : "");
		return CODE(NO_LAWFUL_BASIS);
	}
	lifecycle_crossing(st, a->role, a->org != NULL ? a->org : "", to,
	    tr->kind, &c);
	if (c.need && !c.found) {
		lifecycle_crossing_text(&c, a->role, to->role, tr->kind, text,
		    len);
		return CODE(NO_AGREEMENT);
	}
	if (c.found)
		snprintf(agreement_id, AGREEMENT_ID_MAX + 1, "%s", c.ag.id);
	return 0;
}

/* The recipient and the route, after a resent id has been answered. */
static int
route_check(struct state *st, const struct actor *a,
    const Baton__V1__Envelope *env, const char *to_id, size_t env_len,
    char agreement_id[AGREEMENT_ID_MAX + 1], char *text, size_t len)
{
	struct registry_node to;
	int rc, code;

	rc = registry_get(st->store, to_id, &to);
	if (rc != STORE_OK || !to.enabled) {
		snprintf(text, len, "no enabled node '%.64s' in the registry%s",
		    validate_node_id(to_id) ? to_id : "?",
		    env->replaces[0] != '\0' ? " to take the correction (it "
		    "goes to the team that holds the case)" : "");
		return CODE(UNKNOWN_RECIPIENT);
	}
	if (!policy_route_allowed(st->policy, a->role, to.role,
	    env->handover->transition->kind)) {
		snprintf(text, len, "role '%s' may not send %s handovers to "
		    "role '%s' (node '%s') under the current policy", a->role,
		    policy_kind_name(env->handover->transition->kind), to.role,
		    to.node_id);
		return CODE(ROUTE_NOT_ALLOWED);
	}
	if ((code = terms_check(st, a, &to, env->handover->transition,
	    agreement_id, text, len)) != 0)
		return code;
	if (!state_has_room(st, env_len, text, len))
		return CODE(STORE_FULL);
	return 0;
}

/* The state record of a new handover m, as it is queued (events added). */
static void
submit_record(struct state *st, const struct actor *a,
    const Baton__V1__Envelope *env, const char *ref, const uint8_t hash[32],
    char subject_ref[AUDIT_REF_HEX + 1], char *agreement_id,
    const queue_msg *prev, queue_msg *m)
{
	const struct policy *p = st->policy;

	m->message_id = (char *)ref;
	m->sender = (char *)a->node_id;
	m->recipient = prev != NULL ? prev->recipient : env->to;
	if (prev != NULL) {
		m->replaces = prev->message_id;
		m->version = (prev->version > 0 ? prev->version : 1) + 1;
	}
	m->received_at_ms = state_now_ms();
	m->content_sha256.data = (uint8_t *)hash;
	m->content_sha256.len = 32;
	m->state = BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_QUEUED;
	if (audit_subject_ref(st->audit, env->handover->subject->nhs_number,
	    subject_ref) == -1)
		fatalx("audit: subject reference failed for a validated NHS number");
	m->subject_ref = subject_ref;
	m->agreement_id = agreement_id;
	m->risk_level = env->handover->risk_summary->level;
	m->transition_kind = env->handover->transition->kind;
	m->lawful_basis = env->handover->transition->lawful_basis;
	if (m->risk_level > 0 && m->risk_level < POLICY_RISK_LEVELS &&
	    p->deadline_ms[m->risk_level] > 0)
		m->deadline_at_ms = state_due_ms(st) + p->deadline_ms[m->risk_level];
	m->expires_at_ms = state_due_ms(st) + p->retention_ms;
	if (lifecycle_event(m, m->received_at_ms, "submitted", a->node_id,
	    m->recipient, "ok", policy_kind_name(m->transition_kind), NULL) == -1 ||
	    (prev != NULL && lifecycle_event(m, m->received_at_ms, "corrects",
	    a->node_id, prev->message_id, "ok", NULL, NULL) == -1) ||
	    lifecycle_event(m, m->received_at_ms, "queued", "broker", m->recipient,
	    "ok", NULL, NULL) == -1)
		fatalx("out of memory");
}

/* Stores m with body, due entries and audit records in one operation. */
static int
submit_store(struct state *st, const struct actor *a, queue_msg *m,
    queue_msg *prev, const uint8_t *body, size_t len)
{
	int rc;

	if ((rc = store_op_begin(st->store)) != STORE_OK)
		return rc;
	rc = queue_insert(st->store, m, body, len);
	/* the new version and the earlier one's new state are one change */
	if (rc == STORE_OK && prev != NULL)
		rc = lifecycle_supersede(st, a, prev, m);
	if (rc == STORE_OK)
		rc = due_add(st, m->deadline_at_ms, DEADLINE_ACCEPT, m->message_id);
	if (rc == STORE_OK)
		rc = due_add(st, m->expires_at_ms, DEADLINE_EXPIRE, m->message_id);
	if (rc == STORE_OK)
		rc = audit_msg(st, a, AUDIT_SUBMIT_ACCEPTED, m, m->recipient,
		    "ok", policy_kind_name(m->transition_kind));
	if (rc == STORE_OK)
		rc = audit_msg(st, a, AUDIT_QUEUED, m, m->recipient, "ok",
		    NULL);
	if (rc == STORE_OK)
		return store_op_commit(st->store);
	store_op_abort(st->store);
	return rc;
}

/* Packs what the recipient gets: the sender is who the certificate says. */
static uint8_t *
submit_body(const struct actor *a, const Baton__V1__Envelope *env,
    const char *ref, const queue_msg *prev, size_t *len)
{
	Baton__V1__Envelope copy = *env;
	uint8_t *body;

	copy.message_id = (char *)ref;	/* what the recipient acks and decides by */
	copy.from = (char *)a->node_id;
	copy.redirected_from = (char *)"";
	/* a correction goes to the holder, naming what it corrects in full */
	copy.to = prev != NULL ? prev->recipient : env->to;
	copy.replaces = prev != NULL ? prev->message_id : (char *)"";
	*len = baton__v1__envelope__get_packed_size(&copy);
	if ((body = malloc(*len ? *len : 1)) == NULL)
		fatalx("out of memory");
	baton__v1__envelope__pack(&copy, body);
	return body;
}

int
lifecycle_submit(struct state *st, const struct actor *a,
    const Baton__V1__Envelope *env, struct lc_result *res,
    struct submit_out *out)
{
	queue_msg m = BATON__STORE__V1__MESSAGE__INIT, *old = NULL, *prev = NULL;
	char text[sizeof(res->text)], subject_ref[AUDIT_REF_HEX + 1];
	char agreement_id[AGREEMENT_ID_MAX + 1];
	uint8_t hash[32], *body;
	size_t len, env_len = 0;
	int rc, code, named;

	memset(out, 0, sizeof(*out));
	state_touch(st);
	/* ids belong to their sender: the handover is known by its reference */
	named = env != NULL && validate_own_id(env->message_id) &&
	    validate_qualify(a->node_id, env->message_id, out->reference) == 0;
	if (!named)
		out->reference[0] = '\0';
	if ((code = submit_check(st, env, named, &env_len, text,
	    sizeof(text))) != 0)
		return refuse(st, a, code, text, res, out);
	body = submit_body(a, env, out->reference, NULL, &len);
	handover_hash(body, len, hash);
	rc = queue_msg_get(st->store, out->reference, &old);
	if (rc == STORE_OK) {
		code = answer_existing(st, a, old, hash, res, out);
		queue_msg_free(old);
		free(body);
		return code;
	}
	if (rc == STORE_CORRUPT) {
		free(body);
		return refuse(st, a, CODE(DUPLICATE),
		    "this message id is in use; use a new message id", res, out);
	}
	if (rc != STORE_NOTFOUND)
		state_read_failed(st, "read message");
	if (env->replaces[0] != '\0') {
		free(body);
		if ((code = lifecycle_correction_check(st, a, env->replaces,
		    &prev, text, sizeof(text))) != 0)
			return refuse(st, a, code, text, res, out);
		body = submit_body(a, env, out->reference, prev, &len);
	}
	if ((code = route_check(st, a, env, prev != NULL ? prev->recipient :
	    env->to, env_len, agreement_id, text, sizeof(text))) != 0) {
		free(body);
		queue_msg_free(prev);
		return refuse(st, a, code, text, res, out);
	}

	submit_record(st, a, env, out->reference, hash, subject_ref,
	    agreement_id, prev, &m);
	rc = submit_store(st, a, &m, prev, body, len);
	lifecycle_events_clear(&m);
	free(body);
	if (prev != NULL && rc == STORE_OK)
		snprintf(text, sizeof(text), "queued as version %u, correcting "
		    "%.120s, for %s (the team that holds the case)", m.version,
		    prev->message_id, m.recipient);
	else
		snprintf(text, sizeof(text), "queued");
	if (rc != STORE_OK && rc != STORE_FULL)
		state_store_failed(st, "queue message", rc);
	/* m's recipient and replaces point into prev until here */
	if (rc == STORE_OK) {
		out->received_at_ms = m.received_at_ms;
		out->queue_seq = m.queue_seq;
		snprintf(out->recipient, sizeof(out->recipient), "%s",
		    m.recipient);
		state_wake(st, m.recipient);
	}
	queue_msg_free(prev);
	if (rc == STORE_FULL)
		return refuse(st, a, CODE(STORE_FULL), "the broker's store is full; "
		    "retry later with the same message id", res, out);
	return answer(res, CODE(OK), text);
}
