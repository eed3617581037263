/*
 * worklist.c - a node's outbox and inbox, paged (see worklist.h). Reads
 * only; the one write is the status_read record of the read itself.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "worklist.h"

#define CODE(x)		BATON__V1__CODE__CODE_##x
#define MSTATE(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x

int
lifecycle_worklist_open(const queue_msg *m)
{
	return m->state == MSTATE(QUEUED) || m->state == MSTATE(DELIVERED) ||
	    m->state == MSTATE(ACKNOWLEDGED) || m->state == MSTATE(REDIRECTED);
}

/* Whether m belongs on node's page of q. */
static int
wanted(const struct worklist_query *q, const char *node, const queue_msg *m)
{
	if (q->since_ms != 0 && m->received_at_ms < q->since_ms)
		return 0;
	if (q->kind == WORKLIST_OUTBOX)
		return strcmp(m->sender, node) == 0 &&
		    (!q->undecided || lifecycle_worklist_open(m));
	/* inbox: handed to node (delivered, perhaps acked) and not decided */
	return strcmp(m->recipient, node) == 0 &&
	    (m->state == MSTATE(DELIVERED) || m->state == MSTATE(ACKNOWLEDGED));
}

/* The cursor is a reference; an outbox's must be one of node's own. */
static int
check_query(const struct worklist_query *q, const char *node,
    struct lc_result *res)
{
	size_t nl = strlen(node);

	if (q->kind != WORKLIST_OUTBOX && q->kind != WORKLIST_INBOX) {
		snprintf(res->text, sizeof(res->text), "no such work list");
		return -1;
	}
	if (q->limit > WORKLIST_LIMIT_MAX) {
		snprintf(res->text, sizeof(res->text), "a page holds at most "
		    "%d items", WORKLIST_LIMIT_MAX);
		return -1;
	}
	if (q->cursor == NULL || q->cursor[0] == '\0')
		return 0;
	if (!validate_reference(q->cursor) || (q->kind == WORKLIST_OUTBOX &&
	    (strncmp(q->cursor, node, nl) != 0 || q->cursor[nl] != '/'))) {
		snprintf(res->text, sizeof(res->text), "the cursor is not one "
		    "this work list gave");
		return -1;
	}
	return 0;
}

/* Where the scan starts: past the cursor, else the node's range or the top. */
static int
seek_start(struct store_cursor *c, const struct worklist_query *q,
    const char *prefix, const void **k, size_t *kl, const void **v,
    size_t *vl)
{
	const char *from = q->cursor != NULL && q->cursor[0] != '\0' ?
	    q->cursor : q->kind == WORKLIST_OUTBOX ? prefix : "";
	int rc;

	rc = store_cursor_seek(c, from, strlen(from), k, kl, v, vl);
	if (rc != STORE_NOTFOUND && from == q->cursor && *kl == strlen(from) &&
	    memcmp(*k, from, *kl) == 0)
		rc = store_cursor_next(c, k, kl, v, vl);
	return rc;
}

/* Reads the state record under key k into the page if it is wanted. */
static void
take(struct state *st, const struct worklist_query *q, const char *node,
    const void *k, size_t kl, struct worklist_page *out)
{
	char id[BATON_MESSAGE_ID_MAX + 1];
	queue_msg *m;
	int rc;

	if (kl == 0 || kl > BATON_MESSAGE_ID_MAX)
		return;
	memcpy(id, k, kl);
	id[kl] = '\0';
	rc = queue_msg_get(st->store, id, &m);
	if (rc == STORE_ERROR)
		state_read_failed(st, "reading a work list");
	if (rc != STORE_OK)
		return;
	if (wanted(q, node, m))
		out->items[out->n++] = m;
	else
		queue_msg_free(m);
}

/* Fills out from the store; the cursor is left where the page ended. */
static void
scan(struct state *st, const struct worklist_query *q, const char *node,
    unsigned limit, struct worklist_page *out)
{
	struct store_cursor *c;
	char prefix[BATON_NODE_ID_MAX + 2];
	const void *k, *v;
	size_t kl, vl, pl;
	unsigned scanned = 0;
	int rc;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s/", node);
	if (store_cursor_open(st->store, STORE_MESSAGES, &c) != STORE_OK)
		state_read_failed(st, "opening the message table");
	for (rc = seek_start(c, q, prefix, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND; rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (rc == STORE_ERROR)
			state_read_failed(st, "reading a work list");
		if (q->kind == WORKLIST_OUTBOX &&
		    (kl < pl || memcmp(k, prefix, pl) != 0))
			break;		/* past the node's range */
		if (out->n == limit || scanned == WORKLIST_SCAN_MAX) {
			/* more to read: the next page starts after the last */
			break;
		}
		scanned++;
		if (kl <= BATON_MESSAGE_ID_MAX) {
			memcpy(out->next_cursor, k, kl);
			out->next_cursor[kl] = '\0';
		}
		if (rc == STORE_OK)
			take(st, q, node, k, kl, out);
	}
	if (rc == STORE_NOTFOUND || (q->kind == WORKLIST_OUTBOX &&
	    (kl < pl || memcmp(k, prefix, pl) != 0)))
		out->next_cursor[0] = '\0';	/* the end: no next page */
	store_cursor_close(c);
}

/* The read as a status_read record, limited per node like the others. */
static void
record_read(struct state *st, const struct actor *a,
    const struct worklist_query *q, const struct worklist_page *out)
{
	struct audit_event ev = { 0 };
	char reason[96];

	snprintf(reason, sizeof(reason), "%s%s items=%u%s",
	    q->kind == WORKLIST_OUTBOX ? "outbox" : "inbox",
	    q->undecided ? " undecided" : "", out->n,
	    out->next_cursor[0] != '\0' ? " more" : "");
	lifecycle_audit_actor(a, &ev);
	ev.since_submit_ms = ev.since_delivery_ms = -1;	/* no one handover */
	ev.event = AUDIT_STATUS_READ;
	ev.outcome = "ok";
	ev.reason = reason;
	(void)state_audit(st, &ev);
}

int
lifecycle_worklist(struct state *st, const struct actor *a,
    const struct worklist_query *q, struct worklist_page *out,
    struct lc_result *res)
{
	memset(out, 0, sizeof(*out));
	res->text[0] = '\0';
	if (check_query(q, a->node_id, res) == -1)
		return res->code = CODE(INVALID);
	state_touch(st);
	scan(st, q, a->node_id, q->limit == 0 ? WORKLIST_LIMIT_DEFAULT :
	    q->limit, out);
	out->due_now_ms = state_due_ms(st);
	record_read(st, a, q, out);
	return res->code = CODE(OK);
}

void
lifecycle_worklist_clear(struct worklist_page *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		queue_msg_free(p->items[i]);
	p->n = 0;
}
