/*
 * test_lifecycle_decide.c - the decision and due-entry transitions
 * (lifecycle/decide.c, lifecycle/due_events.c) over a real LMDB store in
 * a fresh directory, with no libevent and no sessions: accept, reject
 * with a reason, redirect and chains of redirects, the refusals (before
 * delivery, twice, by a non-party), status reads, escalation once, expiry
 * with its one non-delivery notice, purge that keeps the history.
 *
 * Handovers are built directly with the queue functions, as submit and
 * delivery leave them, so these tests depend on nothing but the state
 * layer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "audit.h"
#include "decide.h"
#include "due.h"
#include "due_events.h"
#include "lc_fixture.h"
#include "lifecycle.h"
#include "notice.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "state.h"
#include "store.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define OUT(x)	BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x
#define NK(x)	BATON__V1__NOTICE_KIND__NOTICE_KIND_##x
#define HOUR	(3600LL * 1000)
#define DAY	(24 * HOUR)

static const char policy_text[] =
    "deadline high 1h\n"
    "escalate duty\n"
    "retention 2d\n"
    "purge 7d\n"
    "role gp\n"
    "  receive all\n"
    "  send team any\n"
    "role team\n"
    "  receive all\n"
    "  send team any\n"
    "  send gp any\n"
    "role desk\n"
    "  receive subject transition\n";

/* The nodes of the tests: id, role. */
static const struct lc_node nodes[] = {
	{ "gp-a", "gp" }, { "gp-x", "gp" }, { "team-b", "team" },
	{ "team-c", "team" }, { "team-d", "team" }, { "duty", "desk" },
};
#define NNODES	(sizeof(nodes) / sizeof(nodes[0]))

static struct actor
actor(const char *node)
{
	return lc_actor(nodes, NNODES, node);
}

static void
commit(struct lc_fixture *fx)
{
	lc_commit(fx);
}

static int
setup(void **state)
{
	*state = lc_fixture_open(policy_text, nodes, NNODES);
	return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	return lc_fixture_close(*state);
}

/*
 * A handover from gp-a to team-b as submit leaves it (queued, with its
 * acceptance and expiry due entries), and delivered once if delivered.
 */
static void
handover(struct lc_fixture *fx, const char *ref, int delivered)
{
	queue_msg m = BATON__STORE__V1__MESSAGE__INIT;
	uint8_t sha[32] = { 1 }, body[] = "an envelope";
	int64_t due = state_due_ms(&fx->st), now = state_now_ms();

	state_touch(&fx->st);
	m.message_id = (char *)ref;
	m.sender = (char *)"gp-a";
	m.recipient = (char *)"team-b";
	m.received_at_ms = now;
	m.content_sha256.data = sha;
	m.content_sha256.len = sizeof(sha);
	m.state = MS(QUEUED);
	m.risk_level = BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH;
	m.transition_kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL;
	m.subject_ref = (char *)"5ub1ec7";
	m.deadline_at_ms = due + fx->st.policy->deadline_ms[m.risk_level];
	m.expires_at_ms = due + fx->st.policy->retention_ms;
	assert_int_equal(lifecycle_event(&m, now, "queued", "broker", "team-b",
	    "ok", NULL, NULL), 0);
	assert_int_equal(queue_insert(fx->st.store, &m, body, sizeof(body)),
	    STORE_OK);
	assert_int_equal(due_add(&fx->st, m.deadline_at_ms, DEADLINE_ACCEPT, ref),
	    STORE_OK);
	assert_int_equal(due_add(&fx->st, m.expires_at_ms, DEADLINE_EXPIRE, ref),
	    STORE_OK);
	if (delivered) {
		m.state = MS(DELIVERED);
		m.attempts = 1;
		m.delivered_at_ms = now;
		assert_int_equal(lifecycle_event(&m, now, "delivered", "broker",
		    "team-b", "ok", NULL, NULL), 0);
		assert_int_equal(queue_msg_put(fx->st.store, &m), STORE_OK);
	}
	lifecycle_events_clear(&m);
	commit(fx);
}

/* Marks ref delivered to its current recipient, as the delivery pump does. */
static void
deliver(struct lc_fixture *fx, const char *ref)
{
	queue_msg *m = NULL;

	state_touch(&fx->st);
	assert_int_equal(queue_msg_get(fx->st.store, ref, &m), STORE_OK);
	assert_int_equal(m->state, MS(QUEUED));
	m->state = MS(DELIVERED);
	m->attempts = 1;
	assert_int_equal(queue_msg_put(fx->st.store, m), STORE_OK);
	queue_msg_free(m);
	commit(fx);
}

static queue_msg *
get(struct lc_fixture *fx, const char *ref)
{
	queue_msg *m = NULL;

	state_touch(&fx->st);
	assert_int_equal(queue_msg_get(fx->st.store, ref, &m), STORE_OK);
	return m;
}

static uint64_t
depth(struct lc_fixture *fx, const char *node)
{
	uint64_t n = 0;

	state_touch(&fx->st);
	assert_int_equal(queue_depth(fx->st.store, node, &n), STORE_OK);
	return n;
}

/* Notices of kind queued for node about ref. */
static int
notices(struct lc_fixture *fx, const char *node, int kind, const char *ref)
{
	char id[BATON_MESSAGE_ID_MAX + 1];
	enum queue_kind qk;
	uint64_t seq = 0;
	int n = 0;

	state_touch(&fx->st);
	while (queue_next(fx->st.store, node, seq, &seq, &qk, id) == STORE_OK) {
		stored_notice *sn;

		if (qk != QUEUE_NOTICE)
			continue;
		assert_int_equal(notice_get(fx->st.store, id, &sn), STORE_OK);
		if ((int)sn->notice->kind == kind &&
		    strcmp(sn->notice->message_id, ref) == 0)
			n++;
		notice_free(sn);
	}
	return n;
}

/* Audit records of event about ref (committing the pass first). */
static uint64_t
audited(struct lc_fixture *fx, const char *event, const char *ref)
{
	struct audit_filter af;
	uint64_t matched = 0;
	char err[256];
	FILE *out;

	commit(fx);
	audit_filter_init(&af);
	/* NULL: that field is not filtered */
	if ((event != NULL &&
	    audit_filter_add(&af, AUDIT_FILTER_EVENT, event) == -1) ||
	    (ref != NULL && audit_filter_add(&af, AUDIT_FILTER_MESSAGE, ref) == -1))
		fail_msg("audit_filter_add: %s or %s", event != NULL ? event :
		    "-", ref != NULL ? ref : "-");
	assert_non_null(out = fopen("/dev/null", "w"));
	if (audit_export(fx->st.store, &af, AUDIT_FORMAT_JSONL, out, &matched,
	    err, sizeof(err)) != 0)
		fail_msg("audit_export: %s", err);
	fclose(out);
	return matched;
}

static const char *
last_event(const queue_msg *m)
{
	return m->n_events > 0 ? m->events[m->n_events - 1]->event : "";
}

static int
decide(struct lc_fixture *fx, const char *node, const char *id, int outcome,
    int reason, const char *to, struct lc_result *res, struct decide_out *out)
{
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;
	struct actor a = actor(node);
	int code;

	d.message_id = (char *)id;
	d.outcome = outcome;
	d.reason = reason;
	if (to != NULL)
		d.redirect_to = (char *)to;
	d.note = (char *)"seen in clinic";
	code = lifecycle_decide(&fx->st, &a, id, &d, res, out);
	assert_int_equal(code, res->code);
	commit(fx);
	return code;
}

static void
test_accept(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct decide_out out;
	queue_msg *m;

	handover(fx, "gp-a/h1", 1);
	assert_int_equal(depth(fx, "team-b"), 1);
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(OK));
	assert_string_equal(res.text, "recorded");
	assert_null(out.refused);
	assert_true(out.acked);	/* delivered, not yet acked: a slot is free */
	assert_string_equal(out.reference, "gp-a/h1");
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(ACCEPTED));
	assert_string_equal(last_event(m), "accepted");
	assert_string_equal(m->events[m->n_events - 1]->actor, "team-b");
	assert_string_equal(m->events[m->n_events - 1]->note, "seen in clinic");
	assert_true(m->decided_at_ms > 0 && m->acked_at_ms > 0);
	assert_true(m->purge_at_ms > state_due_ms(&fx->st));
	queue_msg_free(m);
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1"), 1);
	assert_true(wake_set_has(&fx->st.wake, "gp-a"));
	assert_int_equal(audited(fx, AUDIT_ACCEPTED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_NOTICE_QUEUED, "gp-a/h1"), 1);
}

static void
test_reject(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct decide_out out;
	queue_msg *m;

	handover(fx, "gp-a/h1", 1);
	/* a rejection needs a reason */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REJECT), 0, NULL,
	    &res, &out), CODE(INVALID));
	assert_non_null(strstr(res.text, "a rejection needs a reason"));
	assert_string_equal(out.refused, "INVALID");
	assert_int_equal(audited(fx, AUDIT_DECISION_REFUSED, "gp-a/h1"), 1);
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REJECT),
	    BATON__V1__REJECT_REASON__REJECT_REASON_WRONG_SERVICE, NULL, &res,
	    &out), CODE(OK));
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(REJECTED));
	assert_string_equal(last_event(m), "rejected");
	assert_string_equal(m->events[m->n_events - 1]->reason, "wrong_service");
	queue_msg_free(m);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_REJECTED, "gp-a/h1"), 1);
}

static void
test_redirect_chain(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct decide_out out;
	struct status_out so;
	struct actor a;
	queue_msg *m;
	size_t i, own;

	handover(fx, "gp-a/h1", 1);
	/* refusals first: to itself, to nobody */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REDIRECT), 0,
	    "team-b", &res, &out), CODE(INVALID));
	assert_string_equal(res.text, "cannot redirect a handover to yourself");
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REDIRECT), 0,
	    "team-z", &res, &out), CODE(UNKNOWN_RECIPIENT));
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REDIRECT), 0,
	    "duty", &res, &out), CODE(ROUTE_NOT_ALLOWED));

	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REDIRECT), 0,
	    "team-c", &res, &out), CODE(OK));
	assert_true(out.acked);
	m = get(fx, "gp-a/h1");
	assert_string_equal(m->recipient, "team-c");
	assert_string_equal(m->redirected_from, "team-b");
	assert_int_equal(m->state, MS(QUEUED));
	assert_int_equal(m->hops, 1);
	assert_int_equal(m->n_past_recipients, 1);
	assert_string_equal(m->past_recipients[0], "team-b");
	assert_true(m->expires_at_ms > state_due_ms(&fx->st));
	assert_int_equal(m->purge_at_ms, 0);
	assert_string_equal(last_event(m), "queued");
	queue_msg_free(m);
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(depth(fx, "team-c"), 1);
	assert_true(wake_set_has(&fx->st.wake, "team-c"));
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1"), 1);

	/* the new recipient decides only after its own delivery */
	assert_int_equal(decide(fx, "team-c", "gp-a/h1", OUT(REDIRECT), 0,
	    "team-d", &res, &out), CODE(NOT_DELIVERED));
	deliver(fx, "gp-a/h1");
	/* the node that passed it on is a party, told it is not its to decide */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(NOT_RECIPIENT));
	assert_int_equal(decide(fx, "team-c", "gp-a/h1", OUT(REDIRECT), 0,
	    "team-d", &res, &out), CODE(OK));
	deliver(fx, "gp-a/h1");
	assert_int_equal(decide(fx, "team-d", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(OK));
	m = get(fx, "gp-a/h1");
	assert_string_equal(m->recipient, "team-d");
	assert_int_equal(m->state, MS(ACCEPTED));
	assert_int_equal(m->hops, 2);
	assert_int_equal(m->n_past_recipients, 2);
	assert_string_equal(m->past_recipients[1], "team-c");
	for (i = 0, own = 0; i < m->n_events; i++)
		if (strcmp(m->events[i]->event, "redirected") == 0 &&
		    strcmp(m->events[i]->actor, "team-b") == 0)
			own = i + 1;
	assert_true(own > 0 && own < m->n_events);
	queue_msg_free(m);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1"), 3);
	assert_int_equal(audited(fx, AUDIT_REDIRECTED, "gp-a/h1"), 2);
	assert_int_equal(audited(fx, AUDIT_QUEUED, "gp-a/h1"), 2);

	/* status: team-b sees up to its own redirect, team-d everything */
	a = actor("team-b");
	assert_int_equal(lifecycle_status(&fx->st, &a, "gp-a/h1", &res, &so),
	    CODE(OK));
	assert_int_equal(so.nvisible, own);
	queue_msg_free(so.m);
	a = actor("team-d");
	assert_int_equal(lifecycle_status(&fx->st, &a, "gp-a/h1", &res, &so),
	    CODE(OK));
	assert_int_equal(so.nvisible, so.m->n_events);
	assert_string_equal(lifecycle_state_name(so.m->state), "accepted");
	queue_msg_free(so.m);
	/* the sender by its own id */
	a = actor("gp-a");
	assert_int_equal(lifecycle_status(&fx->st, &a, "h1", &res, &so), CODE(OK));
	assert_string_equal(so.reference, "gp-a/h1");
	queue_msg_free(so.m);
	assert_int_equal(audited(fx, AUDIT_STATUS_READ, "gp-a/h1"), 3);
}

static void
test_decide_before_deliver(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct decide_out out;
	queue_msg *m;

	handover(fx, "gp-a/h1", 0);
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(NOT_DELIVERED));
	assert_string_equal(res.text,
	    "this handover has not been delivered to you yet");
	assert_string_equal(out.refused, "NOT_DELIVERED");
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(QUEUED));
	queue_msg_free(m);
	assert_int_equal(depth(fx, "team-b"), 1);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1"), 0);
	assert_int_equal(audited(fx, AUDIT_DECISION_REFUSED, "gp-a/h1"), 1);
}

static void
test_double_decision(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct decide_out out;
	queue_msg *m;

	handover(fx, "gp-a/h1", 1);
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(OK));
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REJECT),
	    BATON__V1__REJECT_REASON__REJECT_REASON_OTHER, NULL, &res, &out),
	    CODE(ALREADY_DECIDED));
	assert_string_equal(res.text, "this handover was already accepted");
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(ALREADY_DECIDED));
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(ACCEPTED));
	queue_msg_free(m);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_ACCEPTED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_REJECTED, "gp-a/h1"), 0);
}

static void
test_non_party(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res, res2;
	struct decide_out out, out2;
	struct status_out so;
	struct actor a = actor("gp-x");

	handover(fx, "gp-a/h1", 1);
	/* another's handover is answered like one that does not exist */
	assert_int_equal(decide(fx, "gp-x", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(UNKNOWN_MESSAGE));
	assert_string_equal(res.text, LIFECYCLE_UNKNOWN_TEXT);
	assert_string_equal(out.refused, "NOT_RECIPIENT");
	assert_int_equal(decide(fx, "gp-x", "gp-a/nope", OUT(ACCEPT), 0, NULL,
	    &res2, &out2), CODE(UNKNOWN_MESSAGE));
	assert_string_equal(res2.text, res.text);
	assert_string_equal(out2.refused, "UNKNOWN_MESSAGE");
	/* gp-x's own id names gp-x's handover, which does not exist */
	assert_int_equal(decide(fx, "gp-x", "h1", OUT(ACCEPT), 0, NULL, &res2,
	    &out2), CODE(UNKNOWN_MESSAGE));
	assert_string_equal(out2.reference, "gp-x/h1");
	/* no valid id at all */
	assert_int_equal(decide(fx, "gp-x", "notice-7", OUT(ACCEPT), 0, NULL,
	    &res2, &out2), CODE(INVALID));
	assert_string_equal(out2.reference, "");
	/* the sender is a party, but not the recipient */
	assert_int_equal(decide(fx, "gp-a", "h1", OUT(ACCEPT), 0, NULL, &res2,
	    &out2), CODE(NOT_RECIPIENT));
	assert_int_equal(audited(fx, AUDIT_DECISION_REFUSED, "gp-a/h1"), 2);
	assert_int_equal(audited(fx, AUDIT_ACCEPTED, "gp-a/h1"), 0);

	assert_int_equal(lifecycle_status(&fx->st, &a, "gp-a/h1", &res, &so),
	    CODE(NOT_PERMITTED));
	assert_null(so.m);
	assert_int_equal(lifecycle_status(&fx->st, &a, "gp-a/nope", &res2, &so),
	    CODE(NOT_PERMITTED));
	assert_string_equal(res.text, res2.text);
	assert_int_equal(audited(fx, AUDIT_STATUS_REFUSED, "gp-a/h1"), 1);
}

static void
test_escalate_once(void **state)
{
	struct lc_fixture *fx = *state;
	queue_msg *m;
	int64_t now = state_due_ms(&fx->st), next;

	handover(fx, "gp-a/h1", 1);
	/* nothing due yet: the next due time is the acceptance deadline */
	assert_int_equal(lifecycle_run_due(&fx->st, now, state_now_ms(), 64,
	    &next), 0);
	m = get(fx, "gp-a/h1");
	assert_int_equal(next, m->deadline_at_ms);
	queue_msg_free(m);
	commit(fx);

	assert_int_equal(lifecycle_run_due(&fx->st, now + 2 * HOUR, state_now_ms(),
	    64, &next), 1);
	commit(fx);
	m = get(fx, "gp-a/h1");
	assert_true(m->escalated);
	assert_int_equal(m->state, MS(DELIVERED));
	assert_string_equal(last_event(m), "escalated");
	assert_int_equal(next, m->expires_at_ms);	/* the next entry left */
	queue_msg_free(m);
	assert_int_equal(notices(fx, "gp-a", NK(ESCALATED), "gp-a/h1"), 1);
	assert_int_equal(notices(fx, "duty", NK(ESCALATED), "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_ESCALATED, "gp-a/h1"), 1);

	/* a second reminder (a restart, a duplicate) does nothing */
	state_touch(&fx->st);
	assert_int_equal(due_add(&fx->st, now + HOUR, DEADLINE_ACCEPT, "gp-a/h1"),
	    STORE_OK);
	assert_int_equal(lifecycle_run_due(&fx->st, now + 3 * HOUR, state_now_ms(),
	    64, &next), 1);
	commit(fx);
	assert_int_equal(notices(fx, "gp-a", NK(ESCALATED), "gp-a/h1"), 1);
	assert_int_equal(notices(fx, "duty", NK(ESCALATED), "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_ESCALATED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_NOTICE_QUEUED, "gp-a/h1"), 2);
	/* the escalation node now knows of it: not "no such message" */
	{
		struct lc_result res;
		struct decide_out out;

		assert_int_equal(decide(fx, "duty", "gp-a/h1", OUT(ACCEPT), 0,
		    NULL, &res, &out), CODE(NOT_RECIPIENT));
	}
}

static void
test_expire_once(void **state)
{
	struct lc_fixture *fx = *state;
	queue_msg *m;
	int64_t now = state_due_ms(&fx->st), next;
	int n;

	handover(fx, "gp-a/h1", 0);
	assert_int_equal(depth(fx, "team-b"), 1);
	/* the acceptance deadline and the expiry both fall due */
	n = lifecycle_run_due(&fx->st, now + 3 * DAY, state_now_ms(), 64, &next);
	assert_int_equal(n, 2);
	commit(fx);
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(EXPIRED));
	assert_string_equal(last_event(m), "expired");
	assert_int_equal(m->purge_at_ms, now + 3 * DAY + 7 * DAY);
	assert_int_equal(next, m->purge_at_ms);	/* the purge entry it added */
	queue_msg_free(m);
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(notices(fx, "gp-a", NK(EXPIRED), "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_EXPIRED, "gp-a/h1"), 1);

	/* again: nothing more */
	state_touch(&fx->st);
	assert_int_equal(due_add(&fx->st, now + 2 * DAY, DEADLINE_EXPIRE,
	    "gp-a/h1"), STORE_OK);
	assert_int_equal(lifecycle_run_due(&fx->st, now + 4 * DAY, state_now_ms(),
	    64, &next), 1);
	commit(fx);
	assert_int_equal(notices(fx, "gp-a", NK(EXPIRED), "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_EXPIRED, "gp-a/h1"), 1);
	/* and no decision on it any more */
	{
		struct lc_result res;
		struct decide_out out;

		assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0,
		    NULL, &res, &out), CODE(ALREADY_DECIDED));
		assert_string_equal(res.text, "this handover was already expired");
	}
}

static void
test_purge_keeps_history(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct decide_out out;
	queue_msg *m;
	const void *v;
	size_t vl, nev;
	int64_t now = state_due_ms(&fx->st), next;

	handover(fx, "gp-a/h1", 1);
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(OK));
	m = get(fx, "gp-a/h1");
	nev = m->n_events;
	queue_msg_free(m);
	/* small batches: the timer above calls again while next is now */
	while (lifecycle_run_due(&fx->st, now + 30 * DAY, state_now_ms(), 1,
	    &next) == 1)
		assert_true(next == now + 30 * DAY || next == 0);
	assert_int_equal(next, 0);	/* nothing left */
	commit(fx);
	m = get(fx, "gp-a/h1");
	assert_true(m->body_purged);
	assert_int_equal(m->state, MS(ACCEPTED));
	assert_int_equal(m->n_events, nev + 1);
	assert_string_equal(last_event(m), "purged");
	assert_string_equal(m->events[nev - 1]->event, "accepted");
	assert_false(m->escalated);	/* accepted before its deadline */
	queue_msg_free(m);
	state_touch(&fx->st);
	assert_int_equal(store_get(fx->st.store, STORE_BODIES, "gp-a/h1", 7, &v,
	    &vl), STORE_NOTFOUND);
	assert_int_equal(audited(fx, AUDIT_PURGED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_ESCALATED, "gp-a/h1"), 0);

	/* acknowledged, not decided, then purged: a redirect needs the
	 * content, an acceptance does not */
	handover(fx, "gp-a/h2", 1);
	m = get(fx, "gp-a/h2");
	m->state = MS(ACKNOWLEDGED);
	m->purge_at_ms = now + 7 * DAY;
	assert_int_equal(queue_remove(fx->st.store, "team-b", m->queue_seq),
	    STORE_OK);
	assert_int_equal(queue_msg_put(fx->st.store, m), STORE_OK);
	assert_int_equal(due_add(&fx->st, m->purge_at_ms, DEADLINE_PURGE,
	    "gp-a/h2"), STORE_OK);
	queue_msg_free(m);
	while (lifecycle_run_due(&fx->st, now + 30 * DAY, state_now_ms(), 64,
	    &next) > 0)
		;
	commit(fx);
	m = get(fx, "gp-a/h2");
	assert_true(m->body_purged);
	queue_msg_free(m);
	assert_int_equal(decide(fx, "team-b", "gp-a/h2", OUT(REDIRECT), 0,
	    "team-c", &res, &out), CODE(INVALID));
	assert_non_null(strstr(res.text, "has been purged"));
	assert_false(out.acked);
	assert_int_equal(decide(fx, "team-b", "gp-a/h2", OUT(ACCEPT), 0, NULL,
	    &res, &out), CODE(OK));
	assert_false(out.acked);	/* it was acknowledged already */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redirect_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decide_before_deliver, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_double_decision, setup, teardown),
		cmocka_unit_test_setup_teardown(test_non_party, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escalate_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_purge_keeps_history, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
