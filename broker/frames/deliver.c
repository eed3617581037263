/*
 * deliver.c - the delivery pump (see deliver.h).
 *
 * Access is decided here, at delivery, on every path (first delivery,
 * redelivery after reconnect or restart, after a redirect): the
 * recipient's role is read from the registry and its sections from the
 * policy in force now. A queue entry whose records are missing or fail
 * their checks is moved to quarantine, never delivered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "decision.h"
#include "deliver.h"
#include "lifecycle.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "store.h"

#define SID(s)	((unsigned long long)(s)->id)

enum { DELIVERED = 0, SKIPPED = 1, BLOCKED = -1 };

static void
drop_entry(struct session *s, uint64_t seq, enum queue_kind kind,
    const char *id, const char *why)
{
	struct store *st = s->b->st.store;
	struct audit_event ev = { 0 };
	int rc;

	log_crit("sid=%llu node=%s queue entry seq=%llu id=%s not deliverable: %s; "
	    "moved to quarantine", SID(s), s->node_id, (unsigned long long)seq,
	    id, why);
	if ((rc = store_op_begin(st)) != STORE_OK)
		state_read_failed(&s->b->st, "quarantine");
	if (kind == QUEUE_HANDOVER) {
		rc = store_quarantine(st, STORE_MESSAGES, id, strlen(id));
		if (rc == STORE_OK || rc == STORE_NOTFOUND)
			rc = store_quarantine(st, STORE_BODIES, id, strlen(id));
	} else
		rc = store_quarantine(st, STORE_NOTICES, id, strlen(id));
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = queue_remove(st, s->node_id, seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		ev.event = AUDIT_QUARANTINED;
		ev.actor = "broker";
		ev.other = s->node_id;
		ev.message_id = id;
		ev.outcome = "CORRUPT";
		ev.reason = why;
		rc = state_audit(&s->b->st, &ev);
	}
	if ((rc = store_op_end(st, rc)) != STORE_OK)
		state_store_failed(&s->b->st, "quarantine", rc);
}

/*
 * The handover's state record is sound but its body is missing or damaged:
 * the body goes to quarantine, the handover leaves the queue, and its
 * sender is told to send it again (it is lost to the recipient, not to
 * the sender).
 */
static void
quarantine_body(struct session *s, uint64_t seq, queue_msg *m)
{
	struct store *st = s->b->st.store;
	struct audit_event ev = { 0 };
	int64_t now = state_now_ms();
	int rc;

	log_crit("sid=%llu node=%s handover id=%s body missing or corrupt; "
	    "moved to quarantine, sender %s told", SID(s), s->node_id,
	    m->message_id, m->sender);
	if ((rc = store_op_begin(st)) != STORE_OK) {
		state_store_failed(&s->b->st, "quarantine", rc);
		return;
	}
	rc = store_quarantine(st, STORE_BODIES, m->message_id,
	    strlen(m->message_id));
	if (rc == STORE_OK || rc == STORE_NOTFOUND)
		rc = queue_remove(st, s->node_id, seq);
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		m->state = BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_QUARANTINED;
		m->body_purged = 1;
		if (lifecycle_event(m, now, "quarantined", "broker", s->node_id,
		    "CORRUPT", "stored copy damaged; not delivered", NULL) == -1)
			fatalx("out of memory");
		rc = queue_msg_put(st, m);
	}
	if (rc == STORE_OK) {
		ev.event = AUDIT_QUARANTINED;
		ev.actor = "broker";
		ev.other = s->node_id;
		ev.message_id = m->message_id;
		ev.subject_ref = m->subject_ref;
		ev.outcome = "CORRUPT";
		ev.reason = "body missing or corrupt";
		rc = state_audit(&s->b->st, &ev);
	}
	if (rc == STORE_OK)
		rc = notice_send(&s->b->st, m->sender,
		    BATON__V1__NOTICE_KIND__NOTICE_KIND_UNDELIVERABLE, m, NULL, 0, 1);
	if ((rc = store_op_end(st, rc)) != STORE_OK)
		state_store_failed(&s->b->st, "quarantine", rc);
}

/* Runs fn's writes in a nested operation; BLOCKED if the store is full. */
static int
commit_op(struct session *s, int rc)
{
	if ((rc = store_op_end(s->b->st.store, rc)) == STORE_OK)
		return DELIVERED;
	state_store_failed(&s->b->st, "record delivery", rc);
	return BLOCKED;
}

static int
deliver_handover(struct session *s, uint64_t seq, const char *id)
{
	struct store *st = s->b->st.store;
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Deliver d = BATON__V1__DELIVER__INIT;
	Baton__V1__Envelope *env = NULL;
	queue_msg *m = NULL;
	struct registry_node me;
	char *withheld[SECTION_COUNT], attempt[16];
	char disclosed_list[256], withheld_list[256];
	struct audit_event ev = { 0 };
	section_mask removed, allowed = 0;
	size_t i, n = 0;
	int rc, result = SKIPPED;

	rc = queue_msg_get(st, id, &m);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT) {
		drop_entry(s, seq, QUEUE_HANDOVER, id, rc == STORE_NOTFOUND ?
		    "no state record" : "state record corrupt");
		goto done;
	}
	if (rc == STORE_OK && strcmp(m->recipient, s->node_id) != 0) {
		/* a stale entry: the handover lives on elsewhere, untouched */
		log_warnx("sid=%llu node=%s stale queue entry seq=%llu id=%s "
		    "(now for %s) removed", SID(s), s->node_id,
		    (unsigned long long)seq, id, m->recipient);
		if ((rc = store_op_begin(st)) != STORE_OK)
			state_read_failed(&s->b->st, "remove stale entry");
		rc = queue_remove(st, s->node_id, seq);
		if ((rc = store_op_end(st, rc == STORE_NOTFOUND ? STORE_OK : rc)) !=
		    STORE_OK)
			state_store_failed(&s->b->st, "remove stale entry", rc);
		goto done;
	}
	if (rc != STORE_OK)
		state_read_failed(&s->b->st, "read message");
	rc = queue_body_get(st, id, &env);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT ||
	    (rc == STORE_OK && env->handover == NULL)) {
		quarantine_body(s, seq, m);
		goto done;
	}
	if (rc != STORE_OK)
		state_read_failed(&s->b->st, "read body");

	rc = registry_get(st, s->node_id, &me);
	if (rc == STORE_OK && me.enabled)
		allowed = policy_sections(s->b->st.policy, me.role);
	else if (rc != STORE_NOTFOUND && rc != STORE_CORRUPT && rc != STORE_OK)
		state_read_failed(&s->b->st, "read registry");
	if (allowed == 0) {
		/* nothing may go to this node now; it stays queued, and a role
		 * change or policy reload wakes the pump again */
		result = BLOCKED;
		goto done;
	}
	removed = sections_redact(env->handover, allowed);
	for (i = 0; i < SECTION_COUNT; i++)
		if (removed & ((section_mask)1u << i))
			withheld[n++] = (char *)sections_name(i);
	/* the envelope says where it is now, and who passed it on */
	if (pbstr_set(&env->to, m->recipient) == -1 ||
	    pbstr_set(&env->redirected_from, m->redirected_from) == -1)
		fatalx("out of memory");

	if ((rc = store_op_begin(st)) != STORE_OK) {
		state_store_failed(&s->b->st, "record delivery", rc);
		result = BLOCKED;
		goto done;
	}
	m->attempts++;
	if (m->state == BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_QUEUED)
		m->state = BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_DELIVERED;
	m->delivered_at_ms = state_now_ms();
	snprintf(attempt, sizeof(attempt), "attempt %u", m->attempts);
	if (lifecycle_event(m, m->delivered_at_ms, "delivered", "broker",
	    s->node_id, "ok", attempt, NULL) == -1)
		fatalx("out of memory");
	session_audit_actor(s, &ev);
	ev.event = AUDIT_DELIVERED;
	ev.message_id = m->message_id;
	ev.other = m->sender;
	ev.subject_ref = m->subject_ref;
	ev.disclosed = sections_format(sections_present(env->handover),
	    disclosed_list, sizeof(disclosed_list));
	ev.withheld = sections_format(removed, withheld_list, sizeof(withheld_list));
	ev.outcome = "ok";
	ev.reason = attempt;
	rc = queue_msg_put(st, m);
	if (rc == STORE_OK)
		rc = state_audit(&s->b->st, &ev);
	if ((result = commit_op(s, rc)) != DELIVERED)
		goto done;

	d.envelope = env;
	d.withheld = withheld;
	d.n_withheld = n;
	d.attempt = m->attempts;
	d.received_at_ms = m->received_at_ms;
	f.body_case = BATON__V1__FRAME__BODY_DELIVER;
	f.deliver = &d;
	if (session_send(s, &f) == 0)
		log_info("sid=%llu node=%s deliver id=%s from=%s attempt=%u withheld=%zu",
		    SID(s), s->node_id, id, m->sender, m->attempts, n);
done:
	if (env != NULL)
		baton__v1__envelope__free_unpacked(env, NULL);
	queue_msg_free(m);
	return result;
}

static int
deliver_notice(struct session *s, uint64_t seq, const char *id)
{
	Frame f = BATON__V1__FRAME__INIT;
	stored_notice *sn = NULL;
	int rc;

	rc = notice_get(s->b->st.store, id, &sn);
	if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT ||
	    (rc == STORE_OK && strcmp(sn->recipient, s->node_id) != 0)) {
		drop_entry(s, seq, QUEUE_NOTICE, id, rc == STORE_OK ?
		    "recipient mismatch" : "notice record missing or corrupt");
		notice_free(sn);
		return SKIPPED;
	}
	if (rc != STORE_OK)
		state_read_failed(&s->b->st, "read notice");
	sn->notice->attempt++;
	if ((rc = store_op_begin(s->b->st.store)) == STORE_OK) {
		struct audit_event ev = { 0 };

		session_audit_actor(s, &ev);
		ev.event = AUDIT_NOTICE_DELIVERED;
		ev.message_id = sn->notice->message_id;
		ev.outcome = "ok";
		ev.reason = id;
		rc = notice_put(s->b->st.store, sn);
		if (rc == STORE_OK)
			rc = state_audit(&s->b->st, &ev);
		rc = commit_op(s, rc) == DELIVERED ? STORE_OK : STORE_FULL;
	}
	if (rc != STORE_OK) {
		state_store_failed(&s->b->st, "record notice delivery", rc);
		notice_free(sn);
		return BLOCKED;
	}
	f.body_case = BATON__V1__FRAME__BODY_NOTICE;
	f.notice = sn->notice;
	if (session_send(s, &f) == 0)
		log_info("sid=%llu node=%s notice id=%s about=%s attempt=%u",
		    SID(s), s->node_id, id, sn->notice->message_id,
		    sn->notice->attempt);
	notice_free(sn);
	return DELIVERED;
}

void
deliver_pump(struct session *s)
{
	char id[BATON_MESSAGE_ID_MAX + 1];
	enum queue_kind kind;
	uint64_t seq;
	int rc;

	s->want_pump = 0;
	if (s->state != SESSION_READY || !s->receiving)
		return;
	while (s->credit > 0 && s->unacked < s->b->cfg->max_unacked &&
	    session_output_len(s) < s->b->cfg->max_output &&
	    s->state == SESSION_READY) {
		state_touch(&s->b->st);
		/* queue_next may move a damaged entry aside: an operation of
		 * its own, so a full store fails that alone */
		if (store_op_begin(s->b->st.store) != STORE_OK)
			state_read_failed(&s->b->st, "read queue");
		rc = queue_next(s->b->st.store, s->node_id, s->cursor, &seq, &kind, id);
		if (store_op_end(s->b->st.store, rc == STORE_NOTFOUND ? STORE_OK : rc) !=
		    STORE_OK) {
			if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_FULL)
				state_read_failed(&s->b->st, "read queue");
			break;	/* full: try again on a later pass */
		}
		if (rc == STORE_NOTFOUND)
			break;
		rc = kind == QUEUE_NOTICE ? deliver_notice(s, seq, id) :
		    deliver_handover(s, seq, id);
		if (rc == BLOCKED)
			break;
		s->cursor = seq;
		if (rc == DELIVERED) {
			s->credit--;
			s->unacked++;
		}
	}
}
