/*
 * test_dispatch.c - the frame dispatch table (broker/frames/dispatch.c)
 * and its thin handlers, over a real LMDB store in a fresh directory and
 * the stand-in sessions of tests/fuzz/session_stub.c (no libevent): the
 * session state each frame needs, the registry re-read before every
 * request (a disabled node is refused at once, a role change applies to
 * the next request), and the replies a handler turns a lifecycle result
 * into (Receipt, AckResult, Deliver through the pump).
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
#include "deliver.h"
#include "dispatch.h"
#include "policy.h"
#include "registry.h"
#include "session_stub.h"
#include "state.h"
#include "store.h"

#define FC(x)	BATON__V1__FRAME__BODY_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

static const char policy_text[] =
    "role gp\n"
    "  receive all\n"
    "  send team referral step_down step_up crisis_handover transfer\n"
    "  send team discharge basis consent\n"
    "role team\n"
    "  receive subject transition\n"
    "role desk\n"
    "  receive none\n";

/* What the sessions sent, in order: frame type, code, and a name. */
struct sent {
	int	 body;
	int	 code;
	char	 id[BATON_REFERENCE_MAX + 1];
	size_t	 withheld;
};

static struct {
	char			 dir[256];
	struct broker_config	 cfg;
	struct broker		 b;
	struct sent		 sent[64];
	unsigned		 nsent;
} fx;

static void
on_send(struct session *s, const Frame *f, size_t len)
{
	struct sent *e;

	(void)s;
	(void)len;
	if (fx.nsent == sizeof(fx.sent) / sizeof(fx.sent[0]))
		fail_msg("too many frames sent");
	e = &fx.sent[fx.nsent++];
	memset(e, 0, sizeof(*e));
	e->body = f->body_case;
	switch (f->body_case) {
	case FC(ERROR):
		e->code = f->error->code;
		break;
	case FC(RECEIPT):
		e->code = f->receipt->code;
		snprintf(e->id, sizeof(e->id), "%s", f->receipt->reference);
		break;
	case FC(ACK_RESULT):
		e->code = f->ack_result->code;
		snprintf(e->id, sizeof(e->id), "%s", f->ack_result->message_id);
		break;
	case FC(DELIVER):
		snprintf(e->id, sizeof(e->id), "%s",
		    f->deliver->envelope->message_id);
		e->withheld = f->deliver->n_withheld;
		break;
	default:
		break;
	}
}

/* The last frame sent, which must be of type body. */
static const struct sent *
last(int body)
{
	assert_true(fx.nsent > 0);
	assert_int_equal(fx.sent[fx.nsent - 1].body, body);
	return &fx.sent[fx.nsent - 1];
}

static void
add_node(const char *id, const char *role)
{
	struct registry_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.node_id, sizeof(n.node_id), "%s", id);
	snprintf(n.role, sizeof(n.role), "%s", role);
	snprintf(n.organisation, sizeof(n.organisation), "Test Trust");
	assert_int_equal(registry_add(fx.b.st.store, &n, state_now_ms()), STORE_OK);
}

/* Changes node id's role, or disables it (role NULL). */
static void
change_node(const char *id, const char *role)
{
	struct registry_node n;

	state_touch(&fx.b.st);
	assert_int_equal(registry_get(fx.b.st.store, id, &n), STORE_OK);
	if (role != NULL)
		snprintf(n.role, sizeof(n.role), "%s", role);
	else
		n.enabled = 0;
	assert_int_equal(registry_update(fx.b.st.store, &n, state_now_ms()),
	    STORE_OK);
}

/* The commit pass, as broker.c runs it: pumps, then one commit. */
static void
pass(void)
{
	unsigned i;

	for (i = 0; i < stub_nsessions; i++)
		if (stub_sessions[i].want_pump)
			deliver_pump(&stub_sessions[i]);
	if (store_active(fx.b.st.store))
		assert_int_equal(store_commit(fx.b.st.store), STORE_OK);
	stub_sessions_flushed();
}

static int
setup(void **state)
{
	struct store_opts o = { 0 };
	const char *tmp = getenv("TMPDIR");
	char err[1024];

	(void)state;
	memset(&fx, 0, sizeof(fx));
	snprintf(fx.dir, sizeof(fx.dir), "%s/baton-dispatch-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx.dir) == NULL)
		return -1;
	o.dir = fx.dir;
	o.map_size = 32u << 20;
	if (store_open(&o, &fx.b.st.store, err, sizeof(err)) != STORE_OK)
		fail_msg("store_open: %s", err);
	if ((fx.b.st.audit = audit_open(fx.dir, 1, err, sizeof(err))) == NULL)
		fail_msg("audit_open: %s", err);
	if ((fx.b.st.policy = policy_parse("policy.conf", policy_text,
	    strlen(policy_text), err, sizeof(err))) == NULL)
		fail_msg("policy_parse: %s", err);
	broker_config_defaults(&fx.cfg);
	fx.b.cfg = &fx.cfg;
	fx.b.st.cfg = &fx.cfg;
	snprintf(fx.b.broker_id, sizeof(fx.b.broker_id), "test-broker");
	state_measure_space(&fx.b.st);
	state_touch(&fx.b.st);
	add_node("gp-a", "gp");
	add_node("team-b", "team");
	pass();
	stub_session_reset(&stub_sessions[0], &fx.b, "gp-a", 1);
	stub_session_reset(&stub_sessions[1], &fx.b, "team-b", 2);
	stub_session_reset(&stub_sessions[2], &fx.b, "nobody", 3);
	stub_nsessions = 3;
	stub_on_send = on_send;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[320];

	(void)state;
	if (store_active(fx.b.st.store))
		store_abort(fx.b.st.store);
	policy_free(fx.b.st.policy);
	audit_close(fx.b.st.audit);
	store_close(fx.b.st.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* A Hello asking for protocol version v. */
static void
hello_version(struct session *s, uint32_t v)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;

	h.protocol_version = v;
	f.body_case = FC(HELLO);
	f.hello = &h;
	dispatch_frame(s, &f);
}

static void
hello(struct session *s)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;

	h.protocol_version = BATON_PROTOCOL_VERSION;
	f.body_case = FC(HELLO);
	f.hello = &h;
	dispatch_frame(s, &f);
}

static void
pull(struct session *s, uint32_t credit)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Pull p = BATON__V1__PULL__INIT;

	p.credit = credit;
	f.body_case = FC(PULL);
	f.pull = &p;
	dispatch_frame(s, &f);
}

static void
ack(struct session *s, const char *id)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Ack a = BATON__V1__ACK__INIT;

	a.message_id = (char *)id;
	f.body_case = FC(ACK);
	f.ack = &a;
	dispatch_frame(s, &f);
}

static void	submit_kind(struct session *, const char *, const char *,
		    int);

static void
submit(struct session *s, const char *id, const char *to)
{
	submit_kind(s, id, to,
	    BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL);
}

/* A Submit of a handover of transition kind, no lawful basis stated. */
static void
submit_kind(struct session *s, const char *id, const char *to, int kind)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Submit sub = BATON__V1__SUBMIT__INIT;
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	Baton__V1__Subject subject = BATON__V1__SUBJECT__INIT;
	Baton__V1__RiskSummary risk = BATON__V1__RISK_SUMMARY__INIT;
	Baton__V1__Transition tr = BATON__V1__TRANSITION__INIT;

	subject.nhs_number = (char *)"9434765919";
	subject.family_name = (char *)"Example";
	risk.level = BATON__V1__RISK_LEVEL__RISK_LEVEL_LOW;
	tr.kind = kind;
	h.subject = &subject;
	h.risk_summary = &risk;
	h.transition = &tr;
	env.message_id = (char *)id;
	env.to = (char *)to;
	env.handover = &h;
	sub.envelope = &env;
	f.body_case = FC(SUBMIT);
	f.submit = &sub;
	dispatch_frame(s, &f);
}

static void
test_hello_first(void **state)
{
	struct session *s = &stub_sessions[0];

	(void)state;
	pull(s, 1);
	assert_int_equal(last(FC(ERROR))->code, CODE(UNEXPECTED_FRAME));
	assert_int_equal(s->state, SESSION_CLOSING);
	/* a closed session hears nothing more */
	fx.nsent = 0;
	hello(s);
	assert_int_equal(fx.nsent, 0);

	stub_session_reset(s, &fx.b, "gp-a", 4);
	hello(s);
	assert_int_equal(last(FC(WELCOME))->body, FC(WELCOME));
	assert_int_equal(s->state, SESSION_READY);
	assert_string_equal(s->role, "gp");
	/* Hello once only */
	hello(s);
	assert_int_equal(last(FC(ERROR))->code, CODE(UNEXPECTED_FRAME));
}

static void
test_unknown_node_and_server_frames(void **state)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Welcome w = BATON__V1__WELCOME__INIT;

	(void)state;
	hello(&stub_sessions[2]);
	assert_int_equal(last(FC(ERROR))->code, CODE(UNKNOWN_NODE));
	/* a frame only the broker sends */
	hello(&stub_sessions[0]);
	f.body_case = FC(WELCOME);
	f.welcome = &w;
	dispatch_frame(&stub_sessions[0], &f);
	assert_int_equal(last(FC(ERROR))->code, CODE(UNEXPECTED_FRAME));
}

static void
test_submit_deliver_ack(void **state)
{
	struct session *gp = &stub_sessions[0], *team = &stub_sessions[1];

	(void)state;
	hello(gp);
	hello(team);
	pull(team, 4);
	submit(gp, "h1", "team-b");
	assert_int_equal(last(FC(RECEIPT))->code, CODE(OK));
	assert_string_equal(last(FC(RECEIPT))->id, "gp-a/h1");
	submit(gp, "h2", "nobody");
	assert_int_equal(last(FC(RECEIPT))->code, CODE(UNKNOWN_RECIPIENT));
	assert_string_equal(last(FC(RECEIPT))->id, "");	/* refused: no reference */
	pass();
	assert_string_equal(last(FC(DELIVER))->id, "gp-a/h1");
	assert_int_equal(last(FC(DELIVER))->withheld, 1);	/* risk_summary */
	assert_int_equal(team->unacked, 1);
	assert_int_equal(team->credit, 3);
	ack(team, "gp-a/h1");
	assert_int_equal(last(FC(ACK_RESULT))->code, CODE(OK));
	assert_string_equal(last(FC(ACK_RESULT))->id, "gp-a/h1");
	assert_int_equal(team->unacked, 0);
	/* an id that is no id is answered without echoing it */
	ack(team, "a b");
	assert_int_equal(last(FC(ACK_RESULT))->code, CODE(INVALID));
	assert_string_equal(last(FC(ACK_RESULT))->id, "");
	pass();
}

static void
test_registry_reread(void **state)
{
	struct session *gp = &stub_sessions[0], *team = &stub_sessions[1];

	(void)state;
	hello(gp);
	hello(team);
	/* a role change applies to the next request */
	change_node("team-b", "desk");
	pull(team, 1);
	assert_string_equal(team->role, "desk");
	assert_int_equal(last(FC(ERROR))->code, CODE(NOT_PERMITTED));
	/* a node disabled while connected is refused at its next request */
	change_node("gp-a", NULL);
	submit(gp, "h1", "team-b");
	assert_int_equal(last(FC(ERROR))->code, CODE(NODE_DISABLED));
	assert_int_equal(gp->state, SESSION_CLOSING);
	pass();
}

/* A session of protocol 3 hears only what version 3 knows. */
static void
test_older_session(void **state)
{
	struct session *gp = &stub_sessions[0];
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__CheckIn ci = BATON__V1__CHECK_IN__INIT;

	(void)state;
	hello(gp);
	submit_kind(gp, "d1", "team-b",
	    BATON__V1__TRANSITION_KIND__TRANSITION_KIND_DISCHARGE);
	assert_int_equal(last(FC(RECEIPT))->code, CODE(NO_LAWFUL_BASIS));
	stub_session_reset(gp, &fx.b, "gp-a", 5);
	hello_version(gp, 3);
	assert_int_equal(last(FC(WELCOME))->body, FC(WELCOME));
	submit_kind(gp, "d2", "team-b",
	    BATON__V1__TRANSITION_KIND__TRANSITION_KIND_DISCHARGE);
	assert_int_equal(last(FC(RECEIPT))->code, CODE(ROUTE_NOT_ALLOWED));
	/* a CheckIn is a version 4 frame */
	ci.message_id = (char *)"gp-a/d2";
	ci.outcome = BATON__V1__CHECK_IN_OUTCOME__CHECK_IN_OUTCOME_MADE;
	f.body_case = FC(CHECK_IN);
	f.check_in = &ci;
	dispatch_frame(gp, &f);
	assert_int_equal(last(FC(ERROR))->code, CODE(UNEXPECTED_FRAME));
	assert_int_equal(gp->state, SESSION_CLOSING);
	pass();
}

int
main(void)
{
#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_hello_first),
		T(test_unknown_node_and_server_frames),
		T(test_submit_deliver_ack),
		T(test_registry_reread),
		T(test_older_session),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
