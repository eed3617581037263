/*
 * dispatch.c - frame dispatch (see dispatch.h).
 *
 * For every frame: the table entry for its type says which session state
 * it needs (HELLO: only Hello; READY: everything else a client may send)
 * and which shared checks run first; then a thin handler turns the frame
 * into changes of the state and a reply. The node's registry record is
 * re-read before every request that needs it, so a removed or disabled
 * node is refused at once and a role change applies to the next request.
 *
 * The store reserve is not a table check, on purpose: Submit is the one
 * frame that adds a handover, and lifecycle_submit takes the reserve
 * (state_has_room, its only caller) after a resent id has been answered
 * and the route checked. A sender that lost a receipt and resends while
 * the store is nearly full must get its original receipt, not STORE_FULL
 * for a handover the broker holds (it might then send it another way, and
 * the person would be handed over twice); and a refused route is refused
 * as such whatever the store's state. Every other frame only moves or
 * reads what is stored, and must go on when the store is full so that the
 * queues can drain.
 */
#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "audit_query.h"
#include "decision.h"
#include "dispatch.h"
#include "handlers.h"
#include "checkin_frame.h"
#include "log.h"
#include "registry.h"
#include "state.h"
#include "work_list.h"

#define FC(x)	BATON__V1__FRAME__BODY_##x

enum dispatch_check {
	DISPATCH_NODE = 1 << 0,		/* node still registered and enabled */
	DISPATCH_V3 = 1 << 2,		/* the session's Hello asked for version 3 */
	DISPATCH_NO_AUDITOR = 1 << 3,	/* receives handovers: not for an auditor */
	DISPATCH_V4 = 1 << 4,		/* the session's Hello asked for version 4 */
};

struct dispatch_entry {
	Baton__V1__Frame__BodyCase	 body;
	enum session_state		 state;	/* the state the frame needs */
	unsigned			 checks;
	void				(*handle)(struct session *, const Frame *);
};

static void on_hello(struct session *s, const Frame *f) { handle_hello(s, f->hello); }
static void on_submit(struct session *s, const Frame *f) { handle_submit(s, f->submit); }
static void on_pull(struct session *s, const Frame *f) { handle_pull(s, f->pull); }
static void on_ack(struct session *s, const Frame *f) { handle_ack(s, f->ack); }
static void on_ping(struct session *s, const Frame *f) { handle_ping(s, f->ping); }
static void on_pong(struct session *s, const Frame *f) { }
static void on_decision(struct session *s, const Frame *f) { decision_handle(s, f->decision); }
static void on_status(struct session *s, const Frame *f) { decision_status(s, f->status_request); }
static void on_audit_query(struct session *s, const Frame *f) { audit_query_handle(s, f->audit_query); }
static void on_work_list(struct session *s, const Frame *f) { worklist_handle(s, f->work_list_request); }
static void on_check_in(struct session *s, const Frame *f) { checkin_handle(s, f->check_in); }

static const struct dispatch_entry dispatch_table[] = {
	{ FC(HELLO),		SESSION_HELLO,	0,			on_hello },
	{ FC(SUBMIT),		SESSION_READY,	DISPATCH_NODE,		on_submit },
	{ FC(PULL),		SESSION_READY,	DISPATCH_NODE | DISPATCH_NO_AUDITOR, on_pull },
	{ FC(ACK),		SESSION_READY,	DISPATCH_NODE,		on_ack },
	{ FC(DECISION),		SESSION_READY,	DISPATCH_NODE,		on_decision },
	{ FC(STATUS_REQUEST),	SESSION_READY,	DISPATCH_NODE,		on_status },
	{ FC(AUDIT_QUERY),	SESSION_READY,	DISPATCH_NODE | DISPATCH_V3, on_audit_query },
	{ FC(WORK_LIST_REQUEST), SESSION_READY,	DISPATCH_NODE | DISPATCH_V3, on_work_list },
	{ FC(CHECK_IN),		SESSION_READY,	DISPATCH_NODE | DISPATCH_V4, on_check_in },
	{ FC(PING),		SESSION_READY,	0,			on_ping },
	{ FC(PONG),		SESSION_READY,	0,			on_pong },
};

static const struct dispatch_entry *
dispatch_find(Baton__V1__Frame__BodyCase body)
{
	size_t i;

	for (i = 0; i < sizeof(dispatch_table) / sizeof(dispatch_table[0]); i++)
		if (dispatch_table[i].body == body)
			return &dispatch_table[i];
	return NULL;
}

/* The node's record, read again: 0, or -1 with the session failed. */
static int
check_node(struct session *s)
{
	struct registry_node n;
	char text[256];
	int code;

	state_touch(&s->b->st);
	code = registry_admit(s->b->st.store, s->node_id, &n, text, sizeof(text));
	if (code != BATON__V1__CODE__CODE_OK) {
		session_fail(s, code, "%s", text);
		return -1;
	}
	snprintf(s->role, sizeof(s->role), "%s", n.role);
	return 0;
}

/*
 * An auditor reads the audit log only. Its Submit, Decision and Status go
 * through the policy like anyone's (the auditor role has no routes and
 * receives no sections, so they are refused with their usual codes); a
 * Pull, which has no reply of its own, is recorded as refused and the
 * connection closed.
 */
static void
refuse_auditor(struct session *s, const Frame *f)
{
	struct audit_event ev = { 0 };
	char text[160];

	snprintf(text, sizeof(text), "role '%s' reads the audit log only; it "
	    "may not send %s", s->role, frame_name(f));
	session_audit_actor(s, &ev);
	ev.event = AUDIT_PULL_REFUSED;
	ev.outcome = frame_code_name(BATON__V1__CODE__CODE_NOT_PERMITTED);
	ev.reason = text;
	(void)state_audit(&s->b->st, &ev);
	session_fail(s, BATON__V1__CODE__CODE_NOT_PERMITTED, "%s", text);
}

void
dispatch_frame(struct session *s, const Frame *f)
{
	const struct dispatch_entry *e = dispatch_find(f->body_case);

	if (s->state == SESSION_HELLO && (e == NULL || e->state != SESSION_HELLO)) {
		session_fail(s, BATON__V1__CODE__CODE_UNEXPECTED_FRAME,
		    "expected hello, got %s", frame_name(f));
		return;
	}
	if (e == NULL || e->state != s->state) {
		session_fail(s, BATON__V1__CODE__CODE_UNEXPECTED_FRAME,
		    "a client may not send %s", frame_name(f));
		return;
	}
	if (((e->checks & DISPATCH_V3) && s->proto < 3) ||
	    ((e->checks & DISPATCH_V4) && s->proto < 4)) {
		session_fail(s, BATON__V1__CODE__CODE_UNEXPECTED_FRAME,
		    "%s needs protocol version %d; this session's Hello asked "
		    "for %u", frame_name(f), (e->checks & DISPATCH_V4) ? 4 : 3,
		    s->proto);
		return;
	}
	if ((e->checks & DISPATCH_NODE) && check_node(s) == -1)
		return;
	if ((e->checks & DISPATCH_NO_AUDITOR) && audit_query_is_auditor(s)) {
		refuse_auditor(s, f);
		return;
	}
	e->handle(s, f);
}

void
dispatch_session_gone(struct session *s)
{
	/* unacked deliveries stay queued; the next receiving session
	 * starts from the head of the queue and gets them again */
	s->receiving = 0;
	audit_query_gone(s);	/* an audit answer in progress ends unsent */
}
