/*
 * test_lifecycle.c - every transition of a handover through the lifecycle
 * layer alone (lifecycle/submit.c, delivery.c, ack.c, decide.c,
 * due_events.c) over a real LMDB store in a fresh directory, with no
 * libevent and no sessions: a handover is submitted, delivered (redacted
 * by the recipient's role at delivery), acknowledged and decided exactly
 * as the frame handlers would ask, and each refusal is checked with its
 * code, its text where a person reads it, and its audit record.
 *
 * test_lifecycle_decide.c tests the decisions and due entries over
 * handovers built by hand; this file drives the whole path.
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
#include <openssl/evp.h>

#include "ack.h"
#include "audit.h"
#include "decide.h"
#include "delivery.h"
#include "due_events.h"
#include "lc_fixture.h"
#include "lifecycle.h"
#include "notice.h"
#include "pbarena.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "state.h"
#include "store.h"
#include "submit.h"

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
    "  send desk referral\n"
    "role team\n"
    "  receive all\n"
    "  send team any\n"
    "  send desk any\n"
    "  send gp any\n"
    "role desk\n"
    "  receive subject transition\n"
    "role mute\n";

/* The nodes of the tests: id, role. */
static const struct lc_node nodes[] = {
	{ "gp-a", "gp" }, { "gp-x", "gp" }, { "team-b", "team" },
	{ "team-c", "team" }, { "desk-e", "desk" }, { "duty", "desk" },
	{ "mute-m", "mute" },
};
#define NNODES	(sizeof(nodes) / sizeof(nodes[0]))

/* A valid handover with four sections, ready to submit. */
struct ho {
	Baton__V1__Envelope	 env;
	Baton__V1__Handover	 h;
	Baton__V1__Subject	 subject;
	Baton__V1__RiskSummary	 risk;
	Baton__V1__Safeguarding	 sg;
	Baton__V1__Transition	 tr;
};

static void
ho_init(struct ho *o, const char *id, const char *to, const char *reason)
{
	baton__v1__envelope__init(&o->env);
	baton__v1__handover__init(&o->h);
	baton__v1__subject__init(&o->subject);
	baton__v1__risk_summary__init(&o->risk);
	baton__v1__safeguarding__init(&o->sg);
	baton__v1__transition__init(&o->tr);
	o->subject.nhs_number = (char *)"9434765919";
	o->subject.family_name = (char *)"Example";
	o->risk.level = BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH;
	o->sg.status = BATON__V1__SAFEGUARDING_STATUS__SAFEGUARDING_STATUS_CONCERN_RAISED;
	o->tr.kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL;
	o->tr.reason = (char *)reason;
	o->h.subject = &o->subject;
	o->h.risk_summary = &o->risk;
	o->h.safeguarding = &o->sg;
	o->h.transition = &o->tr;
	o->env.message_id = (char *)id;
	o->env.to = (char *)to;
	o->env.from = (char *)"somebody-else";	/* the broker writes the truth */
	o->env.handover = &o->h;
}

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

static int
submit(struct lc_fixture *fx, const char *node, const struct ho *o,
    struct lc_result *res, struct submit_out *out)
{
	struct actor a = actor(node);
	int code;

	code = lifecycle_submit(&fx->st, &a, o != NULL ? &o->env : NULL, res, out);
	assert_int_equal(code, res->code);
	commit(fx);
	return code;
}

/* Submits a fresh handover gp-a -> to, which must be accepted. */
static void
submit_ok(struct lc_fixture *fx, const char *id, const char *to)
{
	struct lc_result res;
	struct submit_out out;
	struct ho o;

	ho_init(&o, id, to, "referral");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(OK));
}

/* The next item for node after cursor; d must be cleared by the caller. */
/*
 * The envelope a delivery sends: unpacked and redacted, or the stored
 * bytes as they are (unpacked here, so the test reads either the same
 * way; lifecycle_delivery_clear frees it).
 */
static Baton__V1__Envelope *
sent_envelope(struct delivery *d)
{
	if (d->deliver.envelope == NULL && d->body != NULL) {
		d->deliver.envelope = baton__v1__envelope__unpack(&pbarena,
		    d->body_len, d->body);
		free(d->body);
		d->body = NULL;
	}
	return d->deliver.envelope;
}

static int
next(struct lc_fixture *fx, const char *node, uint64_t cursor, struct delivery *d)
{
	struct actor a = actor(node);
	int rc;

	rc = lifecycle_deliver_next(&fx->st, &a, cursor, d);
	commit(fx);
	return rc;
}

/* Delivers node's next handover, which must be ref, and forgets the frame. */
static void
deliver(struct lc_fixture *fx, const char *node, const char *ref)
{
	struct delivery d;

	assert_int_equal(next(fx, node, 0, &d), LC_DELIVER_SENT);
	assert_non_null(sent_envelope(&d));
	assert_string_equal(d.id, ref);
	lifecycle_delivery_clear(&d);
}

static int
ack(struct lc_fixture *fx, const char *node, const char *id,
    struct lc_result *res, struct ack_out *out)
{
	struct actor a = actor(node);
	int code;

	code = lifecycle_ack(&fx->st, &a, id, res, out);
	assert_int_equal(code, res->code);
	commit(fx);
	return code;
}

static int
decide(struct lc_fixture *fx, const char *node, const char *id, int outcome,
    const char *to)
{
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;
	struct actor a = actor(node);
	struct lc_result res;
	struct decide_out out;
	int code;

	d.message_id = (char *)id;
	d.outcome = outcome;
	if (outcome == OUT(REJECT))
		d.reason = BATON__V1__REJECT_REASON__REJECT_REASON_NO_CAPACITY;
	if (to != NULL)
		d.redirect_to = (char *)to;
	d.note = (char *)"";
	code = lifecycle_decide(&fx->st, &a, id, &d, &res, &out);
	commit(fx);
	return code;
}

static queue_msg *
get(struct lc_fixture *fx, const char *ref)
{
	queue_msg *m = NULL;

	state_touch(&fx->st);
	assert_int_equal(queue_msg_get(fx->st.store, ref, &m), STORE_OK);
	return m;
}

static int
state_of(struct lc_fixture *fx, const char *ref)
{
	queue_msg *m = get(fx, ref);
	int s = m->state;

	queue_msg_free(m);
	return s;
}

static uint64_t
depth(struct lc_fixture *fx, const char *node)
{
	uint64_t n = 0;

	state_touch(&fx->st);
	assert_int_equal(queue_depth(fx->st.store, node, &n), STORE_OK);
	return n;
}

/* Notices of kind queued for node about ref; the last one's id in id. */
static int
notices(struct lc_fixture *fx, const char *node, int kind, const char *ref,
    char id[BATON_MESSAGE_ID_MAX + 1])
{
	char qid[BATON_MESSAGE_ID_MAX + 1];
	enum queue_kind qk;
	uint64_t seq = 0;
	int n = 0;

	state_touch(&fx->st);
	while (queue_next(fx->st.store, node, seq, &seq, &qk, qid) == STORE_OK) {
		stored_notice *sn;

		if (qk != QUEUE_NOTICE)
			continue;
		assert_int_equal(notice_get(fx->st.store, qid, &sn), STORE_OK);
		if ((int)sn->notice->kind == kind &&
		    strcmp(sn->notice->message_id, ref) == 0) {
			n++;
			if (id != NULL)
				snprintf(id, BATON_MESSAGE_ID_MAX + 1, "%s", qid);
		}
		notice_free(sn);
	}
	return n;
}

/* Audit records of event about ref (NULL: any), committing first. */
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

/* The stored copy of handover id, unpacked. */
static int
stored_envelope(struct lc_fixture *fx, const char *id,
    Baton__V1__Envelope **env)
{
	uint8_t *b;
	size_t len;
	int rc;

	*env = NULL;
	if ((rc = queue_body_copy(fx->st.store, id, &b, &len)) != STORE_OK)
		return rc;
	*env = baton__v1__envelope__unpack(NULL, len, b);
	free(b);
	return *env != NULL ? STORE_OK : STORE_CORRUPT;
}

static void
test_submit_ok(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct submit_out out;
	Baton__V1__Envelope *env;
	struct ho o;
	queue_msg *m;
	int64_t next_due;

	ho_init(&o, "h1", "team-b", "referral");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(OK));
	assert_string_equal(res.text, "queued");
	assert_string_equal(out.reference, "gp-a/h1");
	assert_string_equal(out.recipient, "team-b");
	assert_false(out.duplicate);
	assert_true(out.received_at_ms > 0 && out.queue_seq > 0);
	assert_true(wake_set_has(&fx->st.wake, "team-b"));
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(QUEUED));
	assert_string_equal(m->sender, "gp-a");
	assert_int_equal(m->queue_seq, out.queue_seq);
	assert_int_equal(m->n_events, 2);
	/* the content hash is over the handover packed alone */
	{
		uint8_t buf[4096], sha[32];
		size_t n = baton__v1__handover__get_packed_size(&o.h);
		unsigned int hl = 32;

		assert_true(n <= sizeof(buf));
		baton__v1__handover__pack(&o.h, buf);
		assert_int_equal(EVP_Digest(buf, n, sha, &hl, EVP_sha256(), NULL), 1);
		assert_int_equal(m->content_sha256.len, 32);
		assert_memory_equal(m->content_sha256.data, sha, 32);
	}
	assert_string_equal(m->events[0]->event, "submitted");
	assert_string_equal(m->events[1]->event, "queued");
	assert_true(m->deadline_at_ms > state_due_ms(&fx->st));
	assert_true(m->expires_at_ms > m->deadline_at_ms);
	/* the subject is known by its reference only */
	assert_int_equal(strlen(m->subject_ref), AUDIT_REF_HEX);
	assert_null(strstr(m->subject_ref, "9434765919"));
	/* the acceptance deadline is the first due entry */
	assert_int_equal(lifecycle_run_due(&fx->st, state_due_ms(&fx->st),
	    state_now_ms(), 8, &next_due), 0);
	assert_int_equal(next_due, m->deadline_at_ms);
	queue_msg_free(m);
	assert_int_equal(depth(fx, "team-b"), 1);
	/* the stored copy says who sent it, whatever the client wrote */
	state_touch(&fx->st);
	assert_int_equal(stored_envelope(fx, "gp-a/h1", &env), STORE_OK);
	assert_string_equal(env->from, "gp-a");
	assert_string_equal(env->message_id, "gp-a/h1");
	baton__v1__envelope__free_unpacked(env, NULL);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_ACCEPTED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_QUEUED, "gp-a/h1"), 1);
}

static void
test_submit_duplicate(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct submit_out first, out;
	struct ho o;

	ho_init(&o, "h1", "team-b", "referral");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &first), CODE(OK));
	/* the same again: the original receipt, no second copy */
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(OK));
	assert_true(out.duplicate);
	assert_string_equal(res.text, "already received");
	assert_string_equal(out.reference, "gp-a/h1");
	assert_int_equal(out.received_at_ms, first.received_at_ms);
	assert_int_equal(depth(fx, "team-b"), 1);
	/* the same id for another handover */
	ho_init(&o, "h1", "team-b", "something else");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(DUPLICATE));
	assert_false(out.duplicate);
	assert_non_null(strstr(res.text, "use a new message id"));
	assert_int_equal(depth(fx, "team-b"), 1);
	/* ids belong to their sender: gp-x's h1 is another handover */
	assert_int_equal(submit(fx, "gp-x", &o, &res, &out), CODE(OK));
	assert_false(out.duplicate);
	assert_string_equal(out.reference, "gp-x/h1");
	assert_int_equal(depth(fx, "team-b"), 2);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_ACCEPTED, "gp-a/h1"), 2);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_REFUSED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_QUEUED, "gp-a/h1"), 1);
}

static void
test_submit_refusals(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct submit_out out;
	struct ho o;

	assert_int_equal(submit(fx, "gp-a", NULL, &res, &out), CODE(INVALID));
	assert_string_equal(out.reference, "");
	ho_init(&o, "", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(INVALID));
	assert_non_null(strstr(res.text, "message_id must be"));
	ho_init(&o, "a/b", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(INVALID));
	/* a notice's id shape is the broker's */
	ho_init(&o, "notice-1", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(INVALID));
	assert_string_equal(out.reference, "gp-a/notice-1");
	ho_init(&o, "h2", "team-b", "r");
	o.h.subject = NULL;
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(INVALID));
	assert_string_equal(res.text, "invalid handover: subject: required");
	ho_init(&o, "h3", "team-b", "r");
	o.subject.nhs_number = (char *)"9434765918";	/* wrong check digit */
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(INVALID));
	/* too large for a frame once the broker adds its fields */
	ho_init(&o, "h4", "team-b", "r");
	fx->cfg.max_frame = 4096;
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(INVALID));
	assert_string_equal(res.text,
	    "handover too large for this broker's max_frame");
	broker_config_defaults(&fx->cfg);

	ho_init(&o, "h5", "team-z", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out),
	    CODE(UNKNOWN_RECIPIENT));
	assert_string_equal(res.text, "no enabled node 'team-z' in the registry");
	ho_init(&o, "h6", "gp-x", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out),
	    CODE(ROUTE_NOT_ALLOWED));
	assert_string_equal(res.text, "role 'gp' may not send referral "
	    "handovers to role 'gp' (node 'gp-x') under the current policy");
	/* a route for one kind is not a route for another */
	ho_init(&o, "h7", "desk-e", "r");
	o.tr.kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_DISCHARGE;
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out),
	    CODE(ROUTE_NOT_ALLOWED));
	/* a disabled recipient is no recipient */
	{
		struct registry_node n;

		state_touch(&fx->st);
		assert_int_equal(registry_get(fx->st.store, "team-c", &n), STORE_OK);
		n.enabled = 0;
		assert_int_equal(registry_update(fx->st.store, &n, state_now_ms()),
		    STORE_OK);
		commit(fx);
	}
	ho_init(&o, "h8", "team-c", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out),
	    CODE(UNKNOWN_RECIPIENT));
	/* nothing was stored, everything was recorded */
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(depth(fx, "team-c"), 0);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_ACCEPTED, NULL), 0);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_REFUSED, NULL), 11);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_REFUSED, "gp-a/h5"), 1);
}

static void
test_submit_store_full(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct submit_out out;
	struct ho o;

	ho_init(&o, "h1", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(OK));
	/* the reserve: as if everything free had been taken */
	fx->st.space_taken = fx->st.space.map_free;
	ho_init(&o, "h2", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(STORE_FULL));
	assert_non_null(strstr(res.text, "retry later with the same message id"));
	/* a resend is still answered from the original */
	ho_init(&o, "h1", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(OK));
	assert_true(out.duplicate);
	/* and the queue drains: delivery and ack need no reserve */
	deliver(fx, "team-b", "gp-a/h1");
	{
		struct ack_out ao;

		assert_int_equal(ack(fx, "team-b", "gp-a/h1", &res, &ao), CODE(OK));
		assert_true(ao.freed);
	}
	fx->st.space_taken = 0;
	ho_init(&o, "h2", "team-b", "r");
	assert_int_equal(submit(fx, "gp-a", &o, &res, &out), CODE(OK));
	/* inside the reserve a refusal is counted, not written (a flood of
	 * them cannot fill the store) */
	assert_int_equal(audited(fx, AUDIT_SUBMIT_REFUSED, "gp-a/h2"), 0);
	assert_int_equal(audited(fx, AUDIT_SUBMIT_ACCEPTED, "gp-a/h2"), 1);
}

/* Whether name is among d's withheld sections. */
static int
withheld(const struct delivery *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->deliver.n_withheld; i++)
		if (strcmp(d->deliver.withheld[i], name) == 0)
			return 1;
	return 0;
}

static void
test_deliver_redacted_by_role(void **state)
{
	struct lc_fixture *fx = *state;
	struct delivery d;
	Baton__V1__Handover *h;
	queue_msg *m;

	submit_ok(fx, "h1", "team-b");
	submit_ok(fx, "h2", "desk-e");
	/* a role that may see everything: nothing withheld */
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SENT);
	assert_string_equal(d.id, "gp-a/h1");
	assert_int_equal(d.deliver.n_withheld, 0);
	assert_int_equal(d.deliver.attempt, 1);
	assert_string_equal(d.other, "gp-a");
	/* all of it may go: the stored bytes as they are */
	assert_non_null(d.body);
	assert_null(d.deliver.envelope);
	h = sent_envelope(&d)->handover;
	assert_non_null(h->safeguarding);
	assert_non_null(h->risk_summary);
	assert_string_equal(sent_envelope(&d)->from, "gp-a");
	assert_string_equal(sent_envelope(&d)->to, "team-b");
	assert_int_equal(sections_present(h) & ~policy_sections(fx->st.policy,
	    "team"), 0);
	lifecycle_delivery_clear(&d);
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(DELIVERED));
	assert_int_equal(m->attempts, 1);
	assert_true(m->delivered_at_ms > 0);
	assert_string_equal(m->events[m->n_events - 1]->event, "delivered");
	queue_msg_free(m);

	/* desk may see the subject and the transition only: unpacked and
	 * redacted */
	assert_int_equal(next(fx, "desk-e", 0, &d), LC_DELIVER_SENT);
	assert_null(d.body);
	assert_non_null(d.deliver.envelope);
	h = sent_envelope(&d)->handover;
	assert_non_null(h->subject);
	assert_non_null(h->transition);
	assert_null(h->risk_summary);
	assert_null(h->safeguarding);
	assert_int_equal(d.deliver.n_withheld, 2);
	assert_true(withheld(&d, "risk_summary"));
	assert_true(withheld(&d, "safeguarding"));
	lifecycle_delivery_clear(&d);
	/* the stored copy keeps everything for a later hop */
	{
		Baton__V1__Envelope *env;

		state_touch(&fx->st);
		assert_int_equal(stored_envelope(fx, "gp-a/h2", &env),
		    STORE_OK);
		assert_non_null(env->handover->safeguarding);
		baton__v1__envelope__free_unpacked(env, NULL);
	}
	assert_int_equal(audited(fx, AUDIT_DELIVERED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_DELIVERED, "gp-a/h2"), 1);
}

static void
test_deliver_role_at_delivery(void **state)
{
	struct lc_fixture *fx = *state;
	struct registry_node n;
	struct delivery d;

	submit_ok(fx, "h1", "team-b");
	/* team-b's role changes after the submit: delivery applies the new one */
	state_touch(&fx->st);
	assert_int_equal(registry_get(fx->st.store, "team-b", &n), STORE_OK);
	snprintf(n.role, sizeof(n.role), "desk");
	assert_int_equal(registry_update(fx->st.store, &n, state_now_ms()),
	    STORE_OK);
	commit(fx);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SENT);
	assert_null(sent_envelope(&d)->handover->risk_summary);
	assert_true(withheld(&d, "risk_summary"));
	lifecycle_delivery_clear(&d);
	/* a role that may receive nothing: blocked, still queued, undelivered */
	submit_ok(fx, "h2", "team-b");
	snprintf(n.role, sizeof(n.role), "mute");
	state_touch(&fx->st);
	assert_int_equal(registry_update(fx->st.store, &n, state_now_ms()),
	    STORE_OK);
	commit(fx);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_BLOCKED);
	lifecycle_delivery_clear(&d);
	assert_int_equal(state_of(fx, "gp-a/h2"), MS(QUEUED));
	assert_int_equal(depth(fx, "team-b"), 2);
	assert_int_equal(audited(fx, AUDIT_DELIVERED, "gp-a/h2"), 0);
	/* a disabled node likewise */
	n.enabled = 0;
	snprintf(n.role, sizeof(n.role), "team");
	state_touch(&fx->st);
	assert_int_equal(registry_update(fx->st.store, &n, state_now_ms()),
	    STORE_OK);
	commit(fx);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_BLOCKED);
	lifecycle_delivery_clear(&d);
}

static void
test_deliver_order_and_redelivery(void **state)
{
	struct lc_fixture *fx = *state;
	struct delivery d;
	uint64_t cursor;

	submit_ok(fx, "h1", "team-b");
	submit_ok(fx, "h2", "team-b");
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SENT);
	assert_string_equal(d.id, "gp-a/h1");
	cursor = d.seq;
	lifecycle_delivery_clear(&d);
	assert_int_equal(next(fx, "team-b", cursor, &d), LC_DELIVER_SENT);
	assert_string_equal(d.id, "gp-a/h2");
	cursor = d.seq;
	lifecycle_delivery_clear(&d);
	assert_int_equal(next(fx, "team-b", cursor, &d), LC_DELIVER_NONE);
	lifecycle_delivery_clear(&d);
	/* a new session starts from the head: unacked ones come again */
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SENT);
	assert_string_equal(d.id, "gp-a/h1");
	assert_int_equal(d.deliver.attempt, 2);
	lifecycle_delivery_clear(&d);
	assert_int_equal(audited(fx, AUDIT_DELIVERED, "gp-a/h1"), 2);
	/* nothing for a node with an empty queue */
	assert_int_equal(next(fx, "team-c", 0, &d), LC_DELIVER_NONE);
	lifecycle_delivery_clear(&d);
}

static void
test_deliver_quarantine(void **state)
{
	struct lc_fixture *fx = *state;
	struct delivery d;
	uint64_t seq;

	/* the body is gone: quarantined, the sender told to send again */
	submit_ok(fx, "h1", "team-b");
	state_touch(&fx->st);
	assert_int_equal(store_del(fx->st.store, STORE_BODIES, "gp-a/h1", 7),
	    STORE_OK);
	commit(fx);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SKIPPED);
	assert_int_equal(d.skip, LC_SKIP_QUARANTINED);
	assert_string_equal(d.other, "gp-a");
	lifecycle_delivery_clear(&d);
	assert_int_equal(state_of(fx, "gp-a/h1"), MS(QUARANTINED));
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(notices(fx, "gp-a", NK(UNDELIVERABLE), "gp-a/h1", NULL),
	    1);
	assert_int_equal(audited(fx, AUDIT_QUARANTINED, "gp-a/h1"), 1);

	/* an entry with no state record behind it */
	state_touch(&fx->st);
	assert_int_equal(queue_push(fx->st.store, "team-b", QUEUE_HANDOVER,
	    "gp-a/ghost", &seq), STORE_OK);
	commit(fx);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SKIPPED);
	assert_int_equal(d.skip, LC_SKIP_DROPPED);
	assert_string_equal(d.why, "no state record");
	assert_int_equal(d.seq, seq);
	lifecycle_delivery_clear(&d);
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(audited(fx, AUDIT_QUARANTINED, "gp-a/ghost"), 1);

	/* an entry for a handover that now lives elsewhere: removed only */
	submit_ok(fx, "h2", "team-c");
	state_touch(&fx->st);
	assert_int_equal(queue_push(fx->st.store, "team-b", QUEUE_HANDOVER,
	    "gp-a/h2", &seq), STORE_OK);
	commit(fx);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_SKIPPED);
	assert_int_equal(d.skip, LC_SKIP_STALE);
	assert_string_equal(d.other, "team-c");
	lifecycle_delivery_clear(&d);
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(depth(fx, "team-c"), 1);
	assert_int_equal(state_of(fx, "gp-a/h2"), MS(QUEUED));
}

static void
test_ack(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct ack_out out;
	queue_msg *m;

	submit_ok(fx, "h1", "team-b");
	assert_int_equal(ack(fx, "team-b", "gp-a/h1", &res, &out),
	    CODE(NOT_DELIVERED));
	assert_false(out.freed);
	deliver(fx, "team-b", "gp-a/h1");
	/* another's: answered as none at all, recorded as it was */
	assert_int_equal(ack(fx, "gp-x", "gp-a/h1", &res, &out),
	    CODE(UNKNOWN_MESSAGE));
	assert_string_equal(res.text, LIFECYCLE_UNKNOWN_TEXT);
	assert_string_equal(out.refused, "NOT_RECIPIENT");
	assert_int_equal(ack(fx, "gp-x", "gp-a/none", &res, &out),
	    CODE(UNKNOWN_MESSAGE));
	assert_string_equal(out.refused, "UNKNOWN_MESSAGE");
	/* the sender knows of it, but it is not the sender's to ack */
	assert_int_equal(ack(fx, "gp-a", "h1", &res, &out), CODE(NOT_RECIPIENT));
	assert_int_equal(ack(fx, "team-b", "", &res, &out), CODE(INVALID));
	assert_int_equal(state_of(fx, "gp-a/h1"), MS(DELIVERED));

	assert_int_equal(ack(fx, "team-b", "gp-a/h1", &res, &out), CODE(OK));
	assert_string_equal(res.text, "acknowledged");
	assert_true(out.freed);
	assert_false(out.notice);
	assert_null(out.refused);
	assert_int_equal(out.attempt, 1);
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(ACKNOWLEDGED));
	assert_true(m->acked_at_ms > 0);
	assert_true(m->purge_at_ms > state_due_ms(&fx->st));
	assert_string_equal(m->events[m->n_events - 1]->event, "acknowledged");
	queue_msg_free(m);
	assert_int_equal(depth(fx, "team-b"), 0);
	/* idempotent: again changes nothing */
	assert_int_equal(ack(fx, "team-b", "gp-a/h1", &res, &out), CODE(OK));
	assert_string_equal(res.text, "already acknowledged");
	assert_false(out.freed);
	assert_int_equal(audited(fx, AUDIT_ACKNOWLEDGED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_ACK_REFUSED, "gp-a/h1"), 3);
	/* acknowledged, it may still be decided */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(OK));
	assert_int_equal(state_of(fx, "gp-a/h1"), MS(ACCEPTED));
}

static void
test_accept_reject_and_notice_ack(void **state)
{
	struct lc_fixture *fx = *state;
	char nid[BATON_MESSAGE_ID_MAX + 1];
	struct lc_result res;
	struct ack_out out;
	struct delivery d;

	submit_ok(fx, "h1", "team-b");
	submit_ok(fx, "h2", "team-b");
	/* decide before delivery */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(NOT_DELIVERED));
	deliver(fx, "team-b", "gp-a/h1");
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(OK));
	/* a double decision */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REJECT), NULL),
	    CODE(ALREADY_DECIDED));
	assert_int_equal(state_of(fx, "gp-a/h1"), MS(ACCEPTED));
	deliver(fx, "team-b", "gp-a/h2");
	assert_int_equal(decide(fx, "team-b", "gp-a/h2", OUT(REJECT), NULL),
	    CODE(OK));
	assert_int_equal(state_of(fx, "gp-a/h2"), MS(REJECTED));
	assert_int_equal(depth(fx, "team-b"), 0);

	/* the sender's notices, delivered and acknowledged like handovers */
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1", nid), 1);
	assert_int_equal(next(fx, "gp-a", 0, &d), LC_DELIVER_SENT);
	assert_non_null(d.notice);
	assert_null(d.deliver.envelope);
	assert_null(d.body);
	assert_string_equal(d.id, nid);
	assert_int_equal(d.notice->notice->attempt, 1);
	assert_string_equal(d.notice->notice->message_id, "gp-a/h1");
	lifecycle_delivery_clear(&d);
	assert_int_equal(audited(fx, AUDIT_NOTICE_DELIVERED, "gp-a/h1"), 1);
	assert_int_equal(ack(fx, "team-b", nid, &res, &out), CODE(NOT_RECIPIENT));
	assert_true(out.notice);
	assert_string_equal(out.refused, "NOT_RECIPIENT");
	assert_int_equal(ack(fx, "gp-a", nid, &res, &out), CODE(OK));
	assert_true(out.freed && out.notice);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1", NULL), 0);
	assert_int_equal(ack(fx, "gp-a", nid, &res, &out), CODE(UNKNOWN_MESSAGE));
	assert_string_equal(res.text, "no such notice, or already acknowledged");
	assert_int_equal(depth(fx, "gp-a"), 1);	/* h2's notice */
	assert_int_equal(audited(fx, AUDIT_NOTICE_ACKED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_ACCEPTED, "gp-a/h1"), 1);
	assert_int_equal(audited(fx, AUDIT_REJECTED, "gp-a/h2"), 1);
}

static void
test_redirect_chain_redacts_at_each_hop(void **state)
{
	struct lc_fixture *fx = *state;
	struct delivery d;
	queue_msg *m;

	submit_ok(fx, "h1", "team-b");
	deliver(fx, "team-b", "gp-a/h1");
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(REDIRECT), "team-c"),
	    CODE(OK));
	assert_int_equal(depth(fx, "team-b"), 0);
	/* the new hop decides only after its own delivery */
	assert_int_equal(decide(fx, "team-c", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(NOT_DELIVERED));
	assert_int_equal(next(fx, "team-c", 0, &d), LC_DELIVER_SENT);
	assert_string_equal(sent_envelope(&d)->redirected_from, "team-b");
	assert_string_equal(sent_envelope(&d)->to, "team-c");
	assert_int_equal(d.deliver.attempt, 1);
	assert_int_equal(d.deliver.n_withheld, 0);
	lifecycle_delivery_clear(&d);
	assert_int_equal(decide(fx, "team-c", "gp-a/h1", OUT(REDIRECT), "desk-e"),
	    CODE(OK));
	/* the last hop's role sees less: access is checked at delivery */
	assert_int_equal(next(fx, "desk-e", 0, &d), LC_DELIVER_SENT);
	assert_null(sent_envelope(&d)->handover->safeguarding);
	assert_true(withheld(&d, "safeguarding"));
	assert_string_equal(sent_envelope(&d)->redirected_from, "team-c");
	lifecycle_delivery_clear(&d);
	/* the nodes that passed it on may no longer decide */
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(NOT_RECIPIENT));
	assert_int_equal(decide(fx, "desk-e", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(OK));
	m = get(fx, "gp-a/h1");
	assert_int_equal(m->state, MS(ACCEPTED));
	assert_int_equal(m->hops, 2);
	assert_string_equal(m->recipient, "desk-e");
	queue_msg_free(m);
	assert_int_equal(notices(fx, "gp-a", NK(DECIDED), "gp-a/h1", NULL), 3);
	assert_int_equal(audited(fx, AUDIT_DELIVERED, "gp-a/h1"), 3);
	assert_int_equal(audited(fx, AUDIT_REDIRECTED, "gp-a/h1"), 2);
}

static void
test_escalate_once(void **state)
{
	struct lc_fixture *fx = *state;
	int64_t now = state_due_ms(&fx->st), next_due;

	submit_ok(fx, "h1", "team-b");
	deliver(fx, "team-b", "gp-a/h1");
	assert_int_equal(lifecycle_run_due(&fx->st, now + 2 * HOUR, state_now_ms(),
	    64, &next_due), 1);
	commit(fx);
	assert_int_equal(lifecycle_run_due(&fx->st, now + 3 * HOUR, state_now_ms(),
	    64, &next_due), 0);
	commit(fx);
	assert_int_equal(notices(fx, "gp-a", NK(ESCALATED), "gp-a/h1", NULL), 1);
	assert_int_equal(notices(fx, "duty", NK(ESCALATED), "gp-a/h1", NULL), 1);
	assert_int_equal(audited(fx, AUDIT_ESCALATED, "gp-a/h1"), 1);
	/* escalation is a side event: it can still be accepted */
	assert_int_equal(state_of(fx, "gp-a/h1"), MS(DELIVERED));
	assert_int_equal(decide(fx, "team-b", "gp-a/h1", OUT(ACCEPT), NULL),
	    CODE(OK));
	/* an accepted handover is not escalated */
	submit_ok(fx, "h2", "team-b");
	deliver(fx, "team-b", "gp-a/h2");
	assert_int_equal(decide(fx, "team-b", "gp-a/h2", OUT(ACCEPT), NULL),
	    CODE(OK));
	while (lifecycle_run_due(&fx->st, now + 5 * HOUR, state_now_ms(), 64,
	    &next_due) > 0)
		commit(fx);
	commit(fx);
	assert_int_equal(audited(fx, AUDIT_ESCALATED, "gp-a/h2"), 0);
}

static void
test_expire_once_and_purge(void **state)
{
	struct lc_fixture *fx = *state;
	struct lc_result res;
	struct ack_out out;
	struct delivery d;
	int64_t now = state_due_ms(&fx->st), next_due;
	queue_msg *m;

	submit_ok(fx, "h1", "team-b");	/* never delivered */
	submit_ok(fx, "h2", "team-b");
	deliver(fx, "team-b", "gp-a/h1");
	assert_int_equal(ack(fx, "team-b", "gp-a/h1", &res, &out), CODE(OK));
	while (lifecycle_run_due(&fx->st, now + 3 * DAY, state_now_ms(), 64,
	    &next_due) > 0)
		commit(fx);
	commit(fx);
	/* h2 expired: gone from the queue, the sender told once */
	assert_int_equal(state_of(fx, "gp-a/h2"), MS(EXPIRED));
	assert_int_equal(depth(fx, "team-b"), 0);
	assert_int_equal(notices(fx, "gp-a", NK(EXPIRED), "gp-a/h2", NULL), 1);
	assert_int_equal(next(fx, "team-b", 0, &d), LC_DELIVER_NONE);
	lifecycle_delivery_clear(&d);
	/* an acknowledged one does not expire */
	assert_int_equal(state_of(fx, "gp-a/h1"), MS(ACKNOWLEDGED));
	assert_int_equal(notices(fx, "gp-a", NK(EXPIRED), "gp-a/h1", NULL), 0);
	assert_int_equal(lifecycle_run_due(&fx->st, now + 4 * DAY, state_now_ms(),
	    64, &next_due), 0);
	commit(fx);
	assert_int_equal(audited(fx, AUDIT_EXPIRED, "gp-a/h2"), 1);
	assert_int_equal(audited(fx, AUDIT_EXPIRED, "gp-a/h1"), 0);
	assert_int_equal(decide(fx, "team-b", "gp-a/h2", OUT(ACCEPT), NULL),
	    CODE(ALREADY_DECIDED));

	/* purge: the bodies go, the histories stay */
	while (lifecycle_run_due(&fx->st, now + 30 * DAY, state_now_ms(), 64,
	    &next_due) > 0)
		commit(fx);
	commit(fx);
	assert_int_equal(next_due, 0);
	m = get(fx, "gp-a/h1");
	assert_true(m->body_purged);
	assert_string_equal(m->events[m->n_events - 1]->event, "purged");
	queue_msg_free(m);
	m = get(fx, "gp-a/h2");
	assert_true(m->body_purged);
	queue_msg_free(m);
	assert_int_equal(audited(fx, AUDIT_PURGED, NULL), 2);
	/* a resend of a purged id is still the original, never a second copy */
	{
		struct lc_result sres;
		struct submit_out sout;
		struct ho o;

		ho_init(&o, "h1", "team-b", "referral");
		assert_int_equal(submit(fx, "gp-a", &o, &sres, &sout), CODE(OK));
		assert_true(sout.duplicate);
		assert_int_equal(depth(fx, "team-b"), 0);
	}
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_submit_ok),
		T(test_submit_duplicate),
		T(test_submit_refusals),
		T(test_submit_store_full),
		T(test_deliver_redacted_by_role),
		T(test_deliver_role_at_delivery),
		T(test_deliver_order_and_redelivery),
		T(test_deliver_quarantine),
		T(test_ack),
		T(test_accept_reject_and_notice_ack),
		T(test_redirect_chain_redacts_at_each_hop),
		T(test_escalate_once),
		T(test_expire_once_and_purge),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
