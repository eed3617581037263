/*
 * notice.c - durable notices (see notice.h). Ids are "notice-" plus the
 * decimal of a store sequence; own message ids with that prefix are refused
 * at submit, and a reference always holds a '/', which a notice id never
 * does, so an Ack names one or the other without ambiguity.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "notice.h"
#include "queue.h"
#include "state.h"

int
notice_is_id(const char *id)
{
	/* a reference ("notice-x/id" from a node so named) is a handover's */
	return strncmp(id, NOTICE_ID_PREFIX, strlen(NOTICE_ID_PREFIX)) == 0 &&
	    strchr(id, '/') == NULL;
}

void
notice_free(stored_notice *sn)
{
	if (sn != NULL)
		baton__store__v1__stored_notice__free_unpacked(sn, NULL);
}

int
notice_put(struct store *s, const stored_notice *sn)
{
	uint8_t *buf;
	size_t len;
	int rc;

	len = baton__store__v1__stored_notice__get_packed_size(sn);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return STORE_ERROR;
	baton__store__v1__stored_notice__pack(sn, buf);
	rc = store_put(s, STORE_NOTICES, sn->notice->notice_id,
	    strlen(sn->notice->notice_id), buf, len);
	free(buf);
	return rc;
}

int
notice_get(struct store *s, const char *id, stored_notice **out)
{
	const void *v;
	size_t vl;
	stored_notice *sn;
	int rc;

	rc = store_get(s, STORE_NOTICES, id, strlen(id), &v, &vl);
	if (rc != STORE_OK)
		return rc;
	sn = baton__store__v1__stored_notice__unpack(NULL, vl, v);
	if (sn == NULL || sn->notice == NULL ||
	    strcmp(sn->notice->notice_id, id) != 0 ||
	    !validate_node_id(sn->recipient)) {
		notice_free(sn);
		return STORE_CORRUPT;
	}
	*out = sn;
	return STORE_OK;
}

int
notice_queue(struct store *s, const char *recipient, Baton__V1__Notice *n,
    int64_t now_ms, char id[NOTICE_ID_MAX])
{
	stored_notice sn = BATON__STORE__V1__STORED_NOTICE__INIT;
	uint64_t seq;
	int rc;

	if ((rc = store_next_seq(s, "notice", &seq)) != STORE_OK)
		return rc;
	snprintf(id, NOTICE_ID_MAX, "%s%llu", NOTICE_ID_PREFIX,
	    (unsigned long long)seq);
	n->notice_id = id;
	n->at_ms = now_ms;
	sn.notice = n;
	sn.recipient = (char *)recipient;
	if ((rc = queue_push(s, recipient, QUEUE_NOTICE, id, &seq)) != STORE_OK)
		return rc;
	sn.queue_seq = seq;
	return notice_put(s, &sn);
}

int
notice_send(struct state *st, const char *node, int kind, const queue_msg *m,
    const Baton__V1__Decision *d, int64_t overdue_ms, int with_risk)
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
	rc = notice_queue(st->store, node, &n, state_now_ms(), id);
	if (rc == STORE_OK) {
		struct audit_event ev = { 0 };

		ev.event = AUDIT_NOTICE_QUEUED;
		ev.actor = "broker";
		ev.other = node;
		ev.message_id = m->message_id;
		ev.subject_ref = m->subject_ref;
		ev.outcome = "ok";
		ev.reason = id;
		rc = state_audit(st, &ev);
	}
	if (rc == STORE_OK)
		state_wake(st, node);
	return rc;
}
