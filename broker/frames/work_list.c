/*
 * work_list.c - the WorkListRequest frame: one lifecycle read
 * (lifecycle/worklist.c, which owns the scan and its audit record) turned
 * into a WorkList reply and a log line. Nothing is consumed: deliveries,
 * acks and decisions are untouched.
 */
#include <stdlib.h>

#include "work_list.h"
#include "lifecycle.h"
#include "log.h"
#include "worklist.h"

#define SID(s)	((unsigned long long)(s)->id)
#define CODE(x)	BATON__V1__CODE__CODE_##x

/* One state record as a WorkItem (strings point into m). */
static void
fill_item(Baton__V1__WorkItem *it, const queue_msg *m, int64_t due_now_ms)
{
	it->reference = m->message_id;
	it->sender = m->sender;
	it->recipient = m->recipient;
	it->state = (char *)lifecycle_state_name(m->state);
	it->risk_level = m->risk_level;
	it->transition_kind = m->transition_kind;
	it->received_at_ms = m->received_at_ms;
	it->delivered_at_ms = m->delivered_at_ms;
	it->decided_at_ms = m->decided_at_ms;
	/* a decided or expired handover has no deadline left to meet */
	it->has_deadline = m->deadline_at_ms != 0 && lifecycle_worklist_open(m);
	it->deadline_in_ms = it->has_deadline ? m->deadline_at_ms - due_now_ms : 0;
	it->escalated = m->escalated;
	it->hops = m->hops;
}

void
worklist_handle(struct session *s, const Baton__V1__WorkListRequest *q)
{
	struct worklist_page page;
	Baton__V1__WorkItem items[WORKLIST_LIMIT_MAX], *ptrs[WORKLIST_LIMIT_MAX];
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__WorkList wl = BATON__V1__WORK_LIST__INIT;
	struct worklist_query wq = { 0 };
	struct lc_result res;
	struct actor a;
	unsigned i;

	wq.kind = q->kind == BATON__V1__WORK_LIST_KIND__WORK_LIST_KIND_OUTBOX ?
	    WORKLIST_OUTBOX : q->kind ==
	    BATON__V1__WORK_LIST_KIND__WORK_LIST_KIND_INBOX ? WORKLIST_INBOX : 0;
	wq.undecided = q->undecided;
	wq.since_ms = q->since_ms;
	wq.cursor = q->cursor;
	wq.limit = q->limit;
	session_actor(s, &a);
	wl.kind = q->kind;
	wl.code = lifecycle_worklist(&s->b->st, &a, &wq, &page, &res);
	wl.text = res.text;
	for (i = 0; i < page.n; i++) {
		baton__v1__work_item__init(&items[i]);
		fill_item(&items[i], page.items[i], page.due_now_ms);
		ptrs[i] = &items[i];
	}
	wl.items = ptrs;
	wl.n_items = page.n;
	wl.next_cursor = page.next_cursor;
	f.body_case = BATON__V1__FRAME__BODY_WORK_LIST;
	f.work_list = &wl;
	session_send(s, &f);
	if (wl.code != CODE(OK))
		log_warnx("sid=%llu node=%s work list refused: %s", SID(s),
		    s->node_id, res.text);
	else
		log_info("sid=%llu node=%s %s items=%u%s", SID(s), s->node_id,
		    wq.kind == WORKLIST_OUTBOX ? "outbox" : "inbox", page.n,
		    page.next_cursor[0] != '\0' ? " more" : "");
	lifecycle_worklist_clear(&page);
	/* one page's scan per session per pass, however many are queued */
	session_pass_spent(s);
}
