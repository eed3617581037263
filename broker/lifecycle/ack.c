/*
 * ack.c - acknowledgements of handovers and notices (see ack.h).
 *
 * A node that does not know of the handover named (none exists, or it is
 * another's and the node was never told of it) gets the one answer for
 * "no such message"; only the audit record tells which it was.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "ack.h"
#include "due.h"
#include "log.h"
#include "notice.h"
#include "policy.h"
#include "queue.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

static int
answer(struct lc_result *res, int code, const char *text)
{
	res->code = code;
	snprintf(res->text, sizeof(res->text), "%s", text);
	return code;
}

/*
 * Records an ack (or its refusal) by a about handover m, or, with m NULL,
 * about message_id (a notice's handover, or none known).
 */
static int
audit_ack(struct state *st, const struct actor *a, const char *event,
    const queue_msg *m, const char *message_id, const char *other,
    const char *outcome, const char *reason)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_actor(a, &ev);
	if (m != NULL)
		lifecycle_audit_handover(m, &ev);
	else
		ev.message_id = message_id;
	ev.event = event;
	ev.other = other;
	ev.outcome = outcome;
	ev.reason = reason;
	return state_audit(st, &ev);
}

/* Removes an acknowledged notice sn: its queue entry and its record. */
static int
ack_notice_apply(struct state *st, const struct actor *a, const char *id,
    const stored_notice *sn)
{
	int rc;

	if ((rc = store_op_begin(st->store)) != STORE_OK)
		return rc;
	rc = queue_remove(st->store, sn->recipient, sn->queue_seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = store_del(st->store, STORE_NOTICES, id, strlen(id));
	if (rc == STORE_OK)
		rc = audit_ack(st, a, AUDIT_NOTICE_ACKED, NULL,
		    sn->notice->message_id, NULL, "ok", id);
	if (rc == STORE_OK)
		return store_op_commit(st->store);
	store_op_abort(st->store);
	return rc;
}

/* Acknowledges a delivered notice: it leaves the queue and the store. */
static int
ack_notice(struct state *st, const struct actor *a, const char *id,
    struct lc_result *res, struct ack_out *out)
{
	stored_notice *sn = NULL;
	int rc;

	out->notice = 1;
	rc = notice_get(st->store, id, &sn);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT) {
		/* already acknowledged (and removed), or never existed */
		audit_ack(st, a, AUDIT_ACK_REFUSED, NULL, NULL, NULL,
		    "UNKNOWN_MESSAGE", id);
		return answer(res, CODE(UNKNOWN_MESSAGE),
		    "no such notice, or already acknowledged");
	}
	if (rc != STORE_OK)
		state_read_failed(st, "read notice");
	if (strcmp(sn->recipient, a->node_id) != 0) {
		out->refused = "NOT_RECIPIENT";
		audit_ack(st, a, AUDIT_ACK_REFUSED, NULL,
		    sn->notice->message_id, sn->recipient, "NOT_RECIPIENT", id);
		answer(res, CODE(NOT_RECIPIENT), "this notice is not addressed to you");
	} else if ((rc = ack_notice_apply(st, a, id, sn)) != STORE_OK) {
		state_store_failed(st, "ack notice", rc);
		answer(res, CODE(STORE_FULL),
		    "the broker's store is full; retry the ack");
	} else {
		out->freed = 1;
		answer(res, CODE(OK), "acknowledged");
	}
	notice_free(sn);
	return res->code;
}

/*
 * Refuses an ack of a handover that is not the node's to ack (m NULL: none
 * exists); a node that does not know of it is told "no such message".
 */
static int
refuse_foreign(struct state *st, const struct actor *a, const queue_msg *m,
    struct lc_result *res, struct ack_out *out)
{
	out->refused = m != NULL ? "NOT_RECIPIENT" : "UNKNOWN_MESSAGE";
	audit_ack(st, a, AUDIT_ACK_REFUSED, m, out->reference,
	    m != NULL ? m->recipient : NULL, out->refused,
	    m != NULL ? "not addressed to this node" : "no such message");
	if (m != NULL && lifecycle_knows(st, m, a->node_id))
		return answer(res, CODE(NOT_RECIPIENT),
		    "this message is not addressed to you");
	return answer(res, CODE(UNKNOWN_MESSAGE), LIFECYCLE_UNKNOWN_TEXT);
}

/* Acknowledges delivered m in one operation: state, history, purge, audit. */
static int
ack_apply(struct state *st, const struct actor *a, queue_msg *m)
{
	int64_t now;
	int rc;

	if ((rc = store_op_begin(st->store)) != STORE_OK)
		return rc;
	rc = queue_remove(st->store, m->recipient, m->queue_seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		now = state_now_ms();
		m->state = MS(ACKNOWLEDGED);
		m->acked_at_ms = now;
		if (lifecycle_event(m, now, "acknowledged", a->node_id, NULL, "ok",
		    NULL, NULL) == -1)
			fatalx("out of memory");
		m->purge_at_ms = state_due_ms(st) + st->policy->purge_after_ms;
		rc = queue_msg_put(st->store, m);
		if (rc == STORE_OK)
			rc = due_add(st, m->purge_at_ms, DEADLINE_PURGE, m->message_id);
		if (rc == STORE_OK)
			rc = audit_ack(st, a, AUDIT_ACKNOWLEDGED, m, NULL,
			    m->sender, "ok", NULL);
	}
	if (rc == STORE_OK)
		return store_op_commit(st->store);
	store_op_abort(st->store);
	return rc;
}

/* The Ack of a handover m addressed to a. */
static int
ack_handover(struct state *st, const struct actor *a, queue_msg *m,
    struct lc_result *res, struct ack_out *out)
{
	int rc;

	if (m->state == MS(QUEUED)) {
		audit_ack(st, a, AUDIT_ACK_REFUSED, m, NULL, m->sender,
		    "NOT_DELIVERED", "not delivered yet");
		return answer(res, CODE(NOT_DELIVERED),
		    "this message has not been delivered yet");
	}
	if (m->state == MS(SUPERSEDED) && m->delivered_at_ms != 0 &&
	    m->acked_at_ms == 0) {
		/* delivered, then corrected before its ack: the ack still
		 * frees the session's delivery slot, once */
		if ((rc = store_op_begin(st->store)) == STORE_OK) {
			m->acked_at_ms = state_now_ms();
			rc = store_op_end(st->store, queue_msg_put(st->store, m));
		}
		if (rc == STORE_FULL)
			return answer(res, CODE(STORE_FULL),
			    "the broker's store is full; retry the ack");
		if (rc != STORE_OK)
			state_store_failed(st, "ack", rc);
		out->freed = 1;
		out->attempt = m->attempts;
		return answer(res, CODE(OK), "acknowledged (its sender has "
		    "corrected it: the new version follows)");
	}
	if (m->state != MS(DELIVERED))
		/* acks are idempotent: the recipient already has it */
		return answer(res, CODE(OK), "already acknowledged");
	if ((rc = ack_apply(st, a, m)) == STORE_FULL)
		return answer(res, CODE(STORE_FULL),
		    "the broker's store is full; retry the ack");
	if (rc != STORE_OK)
		state_store_failed(st, "ack", rc);
	out->freed = 1;
	out->attempt = m->attempts;
	return answer(res, CODE(OK), "acknowledged");
}

int
lifecycle_ack(struct state *st, const struct actor *a, const char *id,
    struct lc_result *res, struct ack_out *out)
{
	queue_msg *m = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	state_touch(st);
	if (!validate_message_id(id))
		return answer(res, CODE(INVALID), "ack needs a well-formed message_id");
	if (notice_is_id(id))
		return ack_notice(st, a, id, res, out);
	/* an own id names the node's own handover; others' need a reference */
	if (validate_qualify(a->node_id, id, out->reference) == -1)
		fatalx("ack: a checked message id does not qualify");
	rc = queue_msg_get(st->store, out->reference, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT)
		return refuse_foreign(st, a, NULL, res, out);
	if (rc != STORE_OK)
		state_read_failed(st, "read message");
	if (strcmp(m->recipient, a->node_id) != 0)
		refuse_foreign(st, a, m, res, out);
	else
		ack_handover(st, a, m, res, out);
	queue_msg_free(m);
	return res->code;
}
