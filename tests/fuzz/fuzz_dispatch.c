/*
 * fuzz_dispatch.c - libFuzzer target: sequences of frames from several
 * sessions through the frame dispatch table (broker/frames/) into the
 * lifecycle over a real LMDB store, with commit passes and time passing,
 * as the event-loop layer would run them; no libevent (the sessions are
 * session_stub.c's).
 *
 * The input format is in dispatch_ops.h: raw frame bodies (decoded as the
 * network layer does) and frames built from a few bytes, so the fuzzer
 * reaches submits that validate, deliveries, acks and decisions.
 *
 * Invariants, checked as it goes (abort() on a breach):
 *  - none delivered with a section the recipient's role may not see: every
 *    Deliver frame's handover holds only sections the policy grants the
 *    role of the node it goes to, none of those it names as withheld, and
 *    is addressed to that node;
 *  - no receipted handover lost: after each commit, every handover that
 *    got an accepting Receipt in a committed pass has its state record;
 *    while queued or delivered it is in its recipient's queue, otherwise
 *    it was acknowledged, decided or expired (never quarantined: nothing
 *    here damages the store).
 *
 * One store per process, in a fresh directory (on /dev/shm when it is
 * there, so commits cost no disk flush), emptied between inputs in one
 * transaction; the registry is written once.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "deliver.h"
#include "dispatch.h"
#include "dispatch_ops.h"
#include "due_events.h"
#include "frame.h"
#include "log.h"
#include "policy.h"
#include "queue.h"
#include "registry.h"
#include "sections.h"
#include "session_stub.h"
#include "state.h"
#include "store.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define FC(x)	BATON__V1__FRAME__BODY_##x

/* As shipped (deploy/policy.conf), but gp sees less, so more is withheld. */
static const char policy_text[] =
    "deadline critical 1h\n"
    "deadline high 4h\n"
    "deadline medium 24h\n"
    "deadline low 72h\n"
    "escalate crisis\n"
    "retention 5d\n"
    "purge 30d\n"
    "role provider\n"
    "  receive all\n"
    "  send cmht any\n"
    "  send gp referral discharge step_down transfer\n"
    "  send crisis crisis_handover referral\n"
    "  send housing referral transfer\n"
    "role cmht\n"
    "  receive all\n"
    "  send provider step_down discharge referral transfer\n"
    "  send gp discharge step_down transfer\n"
    "  send crisis crisis_handover step_up referral\n"
    "  send housing referral transfer\n"
    "role gp\n"
    "  receive subject risk_summary medication_and_physical_health transition\n"
    "  send cmht referral step_up\n"
    "  send crisis crisis_handover\n"
    "  send provider referral\n"
    "role crisis\n"
    "  receive all\n"
    "  send cmht step_down discharge transfer\n"
    "  send gp discharge\n"
    "  send provider step_down\n"
    "role housing\n"
    "  receive subject contacts crisis_plan support_plan transition\n"
    "  send cmht referral\n"
    "  send provider referral\n"
    "role auditor\n"
    "  receive none\n";

/* The registry: node, role, enabled. */
static const struct {
	const char	*node;
	const char	*role;
	int		 enabled;
} registry[] = {
	{ "provider", "provider", 1 }, { "cmht", "cmht", 1 }, { "gp", "gp", 1 },
	{ "crisis", "crisis", 1 }, { "housing", "housing", 1 },
	{ "auditor", "auditor", 1 }, { "retired", "cmht", 0 },
};
#define NREGISTRY	(sizeof(registry) / sizeof(registry[0]))

/* The sessions' nodes: two of cmht, one unknown to the registry. */
static const char *const session_nodes[] = {
	"provider", "cmht", "cmht", "gp", "crisis", "housing", "auditor",
	"stranger", "retired",
};
#define NSESSIONS	(sizeof(session_nodes) / sizeof(session_nodes[0]))

/* Nodes a frame may name. */
static const char *const names[] = {
	"provider", "cmht", "gp", "crisis", "housing", "auditor", "retired",
	"nobody", "",
};
#define NNAMES		(sizeof(names) / sizeof(names[0]))

#define IDS_MAX		64
#define RECEIPTED_MAX	256
#define FRAMES_PER_PASS	8

static struct {
	char			 dir[128];
	struct broker_config	 cfg;
	struct broker		 b;
	uint64_t		 next_sid;
	/* ids seen in this input, for acks, decisions and status reads */
	char			 ids[IDS_MAX][BATON_REFERENCE_MAX + 1];
	unsigned		 nids;
	/* references receipted in this pass, and in committed passes */
	char			 pending[RECEIPTED_MAX][BATON_REFERENCE_MAX + 1];
	unsigned		 npending;
	char			 receipted[RECEIPTED_MAX][BATON_REFERENCE_MAX + 1];
	unsigned		 nreceipted;
	int64_t			 offset_ms;	/* time passed in this input */
} fz;

/* The input being read; bytes past its end read as 0. */
struct in {
	const uint8_t	*p;
	size_t		 left;
};

static uint8_t
byte(struct in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static void
remember(char list[][BATON_REFERENCE_MAX + 1], unsigned *n, unsigned max,
    const char *id)
{
	unsigned i;

	if (*id == '\0' || strlen(id) > BATON_REFERENCE_MAX)
		return;
	for (i = 0; i < *n; i++)
		if (strcmp(list[i], id) == 0)
			return;
	if (*n < max)
		snprintf(list[(*n)++], BATON_REFERENCE_MAX + 1, "%s", id);
}

static const char *
pick(uint8_t i)
{
	return fz.nids == 0 ? "m0" : fz.ids[i % fz.nids];
}

static const char *
role_of(const char *node)
{
	size_t i;

	for (i = 0; i < NREGISTRY; i++)
		if (strcmp(registry[i].node, node) == 0 && registry[i].enabled)
			return registry[i].role;
	return NULL;
}

/* Invariant 1, at the moment a Deliver goes out. */
static void
check_deliver(const struct session *s, const Baton__V1__Deliver *d)
{
	const char *role = role_of(s->node_id);
	section_mask may, present, bit;
	size_t i;

	if (d->envelope == NULL || d->envelope->handover == NULL)
		abort();
	if (role == NULL || strcmp(d->envelope->to, s->node_id) != 0)
		abort();	/* to a node that is not registered, or not it */
	may = policy_sections(fz.b.st.policy, role);
	present = sections_present(d->envelope->handover);
	if ((present & ~may) != 0)
		abort();	/* a section the role may not see */
	for (i = 0; i < d->n_withheld; i++) {
		bit = sections_bit(d->withheld[i]);
		if (bit == 0 || (present & bit) != 0)
			abort();
	}
}

static void
on_send(struct session *s, const Frame *f, size_t len)
{
	(void)len;
	switch (f->body_case) {
	case FC(DELIVER):
		check_deliver(s, f->deliver);
		remember(fz.ids, &fz.nids, IDS_MAX, f->deliver->envelope->message_id);
		break;
	case FC(NOTICE):
		remember(fz.ids, &fz.nids, IDS_MAX, f->notice->notice_id);
		break;
	case FC(RECEIPT):
		/* a receipt counts once its pass has committed */
		if (f->receipt->code == BATON__V1__CODE__CODE_OK) {
			remember(fz.pending, &fz.npending, RECEIPTED_MAX,
			    f->receipt->reference);
			remember(fz.ids, &fz.nids, IDS_MAX, f->receipt->reference);
		}
		break;
	case FC(ERROR):
		/* the real session logs why it closes; so does its stand-in */
		log_info("sid=%llu node=%s error code=%s text=\"%s\"",
		    (unsigned long long)s->id, s->node_id,
		    frame_code_name(f->error->code), f->error->text);
		break;
	default:
		break;
	}
}

/* Whether ref has an entry in node's queue. */
static int
queued(const char *node, const char *ref)
{
	char id[BATON_MESSAGE_ID_MAX + 1];
	enum queue_kind kind;
	uint64_t seq = 0;

	while (queue_next(fz.b.st.store, node, seq, &seq, &kind, id) == STORE_OK)
		if (kind == QUEUE_HANDOVER && strcmp(id, ref) == 0)
			return 1;
	return 0;
}

/* Invariant 2, after a commit. */
static void
check_receipted(void)
{
	struct store *st = fz.b.st.store;
	queue_msg *m;
	unsigned i;

	if (store_begin(st, 1) != STORE_OK)
		abort();
	for (i = 0; i < fz.nreceipted; i++) {
		if (queue_msg_get(st, fz.receipted[i], &m) != STORE_OK)
			abort();	/* a receipted handover is gone */
		switch (m->state) {
		case MS(QUEUED):
		case MS(DELIVERED):
			if (!queued(m->recipient, m->message_id))
				abort();	/* nobody will ever get it */
			break;
		case MS(ACKNOWLEDGED):
		case MS(ACCEPTED):
		case MS(REJECTED):
		case MS(EXPIRED):
			break;
		default:
			abort();
		}
		queue_msg_free(m);
	}
	store_abort(st);
}

/* The event-loop layer's commit pass (broker.c), without the sockets. */
static void
pass(void)
{
	struct wake_set woken;
	unsigned i;
	int rc;

	state_wake_take(&fz.b.st, &woken);
	for (i = 0; i < stub_nsessions; i++) {
		struct session *s = &stub_sessions[i];

		if (s->want_pump || (s->receiving &&
		    wake_set_has(&woken, s->node_id)))
			deliver_pump(s);
	}
	if (store_active(fz.b.st.store)) {
		rc = store_commit(fz.b.st.store);
		if (rc == STORE_FULL)
			fz.npending = 0;	/* nothing of it is durable */
		else if (rc != STORE_OK)
			abort();
	}
	for (i = 0; i < fz.npending; i++)
		remember(fz.receipted, &fz.nreceipted, RECEIPTED_MAX,
		    fz.pending[i]);
	fz.npending = 0;
	stub_sessions_flushed();
	state_remeasure_space(&fz.b.st);
	check_receipted();
}

/* The session a frame arrives on: a closed one connects again first. */
static struct session *
session_for(uint8_t i)
{
	struct session *s = &stub_sessions[i % stub_nsessions];

	if (s->state != SESSION_HELLO && s->state != SESSION_READY)
		stub_session_reset(s, &fz.b, s->node_id, ++fz.next_sid);
	return s;
}

static void
op_raw(struct in *in)
{
	struct session *s = session_for(byte(in));
	size_t len = (size_t)byte(in) << 8;
	Frame *f;
	int status;

	len |= byte(in);
	if (len > in->left)
		len = in->left;
	f = len > 0 ? frame_decode(in->p, len, &status) : NULL;
	in->p += len;
	in->left -= len;
	if (f == NULL) {
		/* as the network layer answers a frame that does not decode */
		session_fail(s, BATON__V1__CODE__CODE_MALFORMED_FRAME, "bad frame");
		return;
	}
	dispatch_frame(s, f);
	frame_free(f);
}

static void
op_hello(struct in *in)
{
	struct session *s = session_for(byte(in));
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;
	uint8_t v = byte(in);

	h.protocol_version = v == 0 ? BATON_PROTOCOL_VERSION : v;
	h.client_name = (char *)"fuzz";
	f.body_case = FC(HELLO);
	f.hello = &h;
	dispatch_frame(s, &f);
}

/* A handover as a partner system would build it (see dispatch_ops.h). */
struct handover {
	Baton__V1__Handover			 h;
	Baton__V1__Subject			 subject;
	Baton__V1__RiskSummary			 risk;
	Baton__V1__Safeguarding			 sg;
	Baton__V1__CrisisPlan			 cp;
	Baton__V1__Contacts			 contacts;
	Baton__V1__Contact			 person, *people[1];
	Baton__V1__SupportPlan			 sp;
	Baton__V1__MedicationAndPhysicalHealth	 med;
	Baton__V1__Transition			 tr;
};

static void
handover_build(struct handover *o, uint8_t kind, uint8_t risk,
    uint8_t sections, uint8_t flags)
{
	baton__v1__handover__init(&o->h);
	baton__v1__subject__init(&o->subject);
	baton__v1__risk_summary__init(&o->risk);
	baton__v1__safeguarding__init(&o->sg);
	baton__v1__crisis_plan__init(&o->cp);
	baton__v1__contacts__init(&o->contacts);
	baton__v1__contact__init(&o->person);
	baton__v1__support_plan__init(&o->sp);
	baton__v1__medication_and_physical_health__init(&o->med);
	baton__v1__transition__init(&o->tr);
	o->subject.nhs_number = (char *)((flags & SUBMIT_BAD_NHS) ?
	    "9434765918" : "9434765919");
	o->subject.family_name = (char *)"Fictional";
	o->h.subject = (flags & SUBMIT_NO_SUBJECT) ? NULL : &o->subject;
	o->risk.level = risk % 5;
	o->h.risk_summary = &o->risk;
	o->tr.kind = kind % 7;
	o->h.transition = &o->tr;
	/* (5 + 1) % 6 = 0: a status is required, so that one is refused */
	o->sg.status = ((sections >> 5) + 1) % 6;
	if (sections & SUBMIT_SAFEGUARDING)
		o->h.safeguarding = &o->sg;
	o->cp.out_of_hours_route = (char *)"duty line";
	if (sections & SUBMIT_CRISIS_PLAN)
		o->h.crisis_plan = &o->cp;
	o->person.name = (char *)"A Contact";
	o->people[0] = &o->person;
	o->contacts.people = o->people;
	o->contacts.n_people = 1;
	if (sections & SUBMIT_CONTACTS)
		o->h.contacts = &o->contacts;
	o->sp.contact_pattern = (char *)"weekly";
	if (sections & SUBMIT_SUPPORT_PLAN)
		o->h.support_plan = &o->sp;
	o->med.monitoring = (char *)"none";
	if (sections & SUBMIT_MEDICATION)
		o->h.medication_and_physical_health = &o->med;
}

static void
op_submit(struct in *in)
{
	struct session *s = session_for(byte(in));
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Submit sub = BATON__V1__SUBMIT__INIT;
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	struct handover o;
	char id[16];
	uint8_t n, to, kind, risk, sections, flags;

	n = byte(in);
	to = byte(in);
	kind = byte(in);
	risk = byte(in);
	sections = byte(in);
	flags = byte(in);
	snprintf(id, sizeof(id), "m%u", n);
	remember(fz.ids, &fz.nids, IDS_MAX, id);
	handover_build(&o, kind, risk, sections, flags);
	env.message_id = id;
	env.to = (char *)names[to % NNAMES];
	env.created_at_ms = 1741170000000;
	env.handover = &o.h;
	sub.envelope = &env;
	f.body_case = FC(SUBMIT);
	f.submit = &sub;
	dispatch_frame(s, &f);
}

static void
op_pull(struct in *in)
{
	struct session *s = session_for(byte(in));
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Pull p = BATON__V1__PULL__INIT;

	p.credit = byte(in) % 8;
	f.body_case = FC(PULL);
	f.pull = &p;
	dispatch_frame(s, &f);
}

static void
op_ack(struct in *in)
{
	struct session *s = session_for(byte(in));
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Ack a = BATON__V1__ACK__INIT;

	a.message_id = (char *)pick(byte(in));
	f.body_case = FC(ACK);
	f.ack = &a;
	dispatch_frame(s, &f);
}

static void
op_decide(struct in *in)
{
	struct session *s = session_for(byte(in));
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;

	d.message_id = (char *)pick(byte(in));
	d.outcome = byte(in) % 4;
	d.reason = byte(in) % 8;
	d.redirect_to = (char *)names[byte(in) % NNAMES];
	f.body_case = FC(DECISION);
	f.decision = &d;
	dispatch_frame(s, &f);
}

static void
op_status(struct in *in)
{
	struct session *s = session_for(byte(in));
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__StatusRequest q = BATON__V1__STATUS_REQUEST__INIT;
	Baton__V1__Ping p = BATON__V1__PING__INIT;
	const char *id = pick(byte(in));

	if (byte(in) & 1) {
		p.nonce = 7;
		f.body_case = FC(PING);
		f.ping = &p;
	} else {
		q.message_id = (char *)id;
		f.body_case = FC(STATUS_REQUEST);
		f.status_request = &q;
	}
	dispatch_frame(s, &f);
}

/* Time passes: every due entry up to then is carried out. */
static void
time_passes(uint8_t arg)
{
	int64_t next;
	int rounds;

	fz.offset_ms += ((int64_t)arg + 1) * 15 * 60 * 1000;
	for (rounds = 0; rounds < 16; rounds++)
		if (lifecycle_run_due(&fz.b.st, state_due_ms(&fz.b.st) +
		    fz.offset_ms, state_now_ms() + fz.offset_ms, 64, &next) == 0)
			break;
}

static void
op_ctrl(struct in *in)
{
	uint8_t what = byte(in), arg = byte(in);
	struct session *s;

	switch (what % 3) {
	case CTRL_PASS:
		pass();
		break;
	case CTRL_RECONNECT:
		s = &stub_sessions[arg % stub_nsessions];
		dispatch_session_gone(s);
		stub_session_reset(s, &fz.b, s->node_id, ++fz.next_sid);
		break;
	default:
		time_passes(arg);
		break;
	}
}

/* Deletes every record but the registry and the schema version. */
static void
store_empty(void)
{
	struct store *st = fz.b.st.store;
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	int t, rc;

	if (store_active(st))
		store_abort(st);
	if (store_begin(st, 0) != STORE_OK)
		abort();
	for (t = 0; t < STORE_TABLE_COUNT; t++) {
		if (t == STORE_NODES)
			continue;
		if (store_cursor_open(st, t, &c) != STORE_OK)
			abort();
		rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		while (rc == STORE_OK || rc == STORE_CORRUPT) {
			if (t == STORE_META && kl == 6 && memcmp(k, "schema", 6) == 0)
				rc = store_cursor_next(c, &k, &kl, &v, &vl);
			else if (store_cursor_del(c) != STORE_OK)
				abort();
			else
				rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
		}
		store_cursor_close(c);
	}
	if (store_commit(st) != STORE_OK)
		abort();
}

static void
reset(void)
{
	unsigned i;

	store_empty();
	for (i = 0; i < NSESSIONS; i++)
		stub_session_reset(&stub_sessions[i], &fz.b, session_nodes[i],
		    ++fz.next_sid);
	stub_nsessions = NSESSIONS;
	fz.nids = fz.npending = fz.nreceipted = 0;
	fz.offset_ms = 0;
	memset(&fz.b.st.wake, 0, sizeof(fz.b.st.wake));
	fz.b.st.space_taken = 0;
	state_measure_space(&fz.b.st);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
cleanup(void)
{
	if (fz.b.st.store != NULL)
		store_close(fz.b.st.store);
	if (fz.dir[0] != '\0')
		nftw(fz.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

static void
open_state(void)
{
	struct store_opts o = { 0 };
	const char *tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" :
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	char err[1024];
	size_t i;

	snprintf(fz.dir, sizeof(fz.dir), "%s/baton-fuzz-dispatch-XXXXXX", tmp);
	if (mkdtemp(fz.dir) == NULL)
		abort();
	atexit(cleanup);
	o.dir = fz.dir;
	o.map_size = 64u << 20;
	if (store_open(&o, &fz.b.st.store, err, sizeof(err)) != STORE_OK ||
	    (fz.b.st.audit = audit_open(fz.dir, 1, err, sizeof(err))) == NULL ||
	    (fz.b.st.policy = policy_parse("policy.conf", policy_text,
	    strlen(policy_text), err, sizeof(err))) == NULL) {
		fprintf(stderr, "fuzz_dispatch: %s\n", err);
		abort();
	}
	state_touch(&fz.b.st);
	for (i = 0; i < NREGISTRY; i++) {
		struct registry_node n;

		memset(&n, 0, sizeof(n));
		snprintf(n.node_id, sizeof(n.node_id), "%s", registry[i].node);
		snprintf(n.role, sizeof(n.role), "%s", registry[i].role);
		snprintf(n.organisation, sizeof(n.organisation), "Fuzz Trust");
		if (registry_add(fz.b.st.store, &n, state_now_ms()) != STORE_OK)
			abort();
		/* a node is added enabled; disabling it is a change of its own */
		n.enabled = registry[i].enabled;
		if (!n.enabled && registry_update(fz.b.st.store, &n,
		    state_now_ms()) != STORE_OK)
			abort();
	}
	if (store_commit(fz.b.st.store) != STORE_OK)
		abort();
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* the log is the broker's: only a critical line matters here, unless
	 * BATON_FUZZ_LOG is set (to follow what an input does) */
	log_init("fuzz_dispatch", getenv("BATON_FUZZ_LOG") != NULL ?
	    LOG_LEVEL_INFO : LOG_LEVEL_CRIT);
	broker_config_defaults(&fz.cfg);
	fz.b.cfg = &fz.cfg;
	fz.b.st.cfg = &fz.cfg;
	snprintf(fz.b.broker_id, sizeof(fz.b.broker_id), "fuzz-broker");
	stub_on_send = on_send;
	open_state();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned frames = 0;

	reset();
	while (in.left > 0) {
		switch (byte(&in) & 7) {
		case OP_RAW:	op_raw(&in);	break;
		case OP_HELLO:	op_hello(&in);	break;
		case OP_SUBMIT:	op_submit(&in);	break;
		case OP_PULL:	op_pull(&in);	break;
		case OP_ACK:	op_ack(&in);	break;
		case OP_DECIDE:	op_decide(&in);	break;
		case OP_STATUS:	op_status(&in);	break;
		default:	op_ctrl(&in);	frames = 0; continue;
		}
		if (++frames % FRAMES_PER_PASS == 0)
			pass();
	}
	pass();
	return 0;
}
