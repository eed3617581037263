/*
 * checkin.c - transition check-ins and the missed-contact protocol (see
 * checkin.h).
 *
 * The check-ins live in the handover's state record (at most
 * POLICY_MAX_CHECKINS), so Status shows them with its history and one
 * store operation changes both. A due entry per check-in fires at its due
 * time plus grace; an entry that finds the check-in recorded or moved
 * (rescheduled: a new entry was added) does nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "checkin.h"
#include "due.h"
#include "frame.h"
#include "log.h"
#include "notice.h"
#include "pbstr.h"
#include "policy.h"
#include "registry.h"
#include "sections.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x
#define OC(x)	BATON__V1__CHECK_IN_OUTCOME__CHECK_IN_OUTCOME_##x
#define NK(x)	BATON__V1__NOTICE_KIND__NOTICE_KIND_##x
/* A check-in may be moved at most this far ahead. */
#define RESCHEDULE_MAX_MS	(366LL * 86400 * 1000)

typedef Baton__Store__V1__CheckInRecord checkin_rec;

static int
answer(struct lc_result *res, int code, const char *text)
{
	res->code = code;
	snprintf(res->text, sizeof(res->text), "%s", text);
	return code;
}

/* A whole duration as the policy writes it: "3d", "24h", "90m", "5s". */
static const char *
duration(int64_t ms, char *buf, size_t len)
{
	static const struct { int64_t ms; char unit; } u[] = {
		{ 86400000, 'd' }, { 3600000, 'h' }, { 60000, 'm' }, { 1000, 's' },
	};
	size_t i;

	for (i = 0; i < sizeof(u) / sizeof(u[0]); i++)
		if (ms >= u[i].ms && ms % u[i].ms == 0)
			break;
	if (i == sizeof(u) / sizeof(u[0]))
		snprintf(buf, len, "%lldms", (long long)ms);
	else
		snprintf(buf, len, "%lld%c", (long long)(ms / u[i].ms), u[i].unit);
	return buf;
}

/* "YYYY-MM-DD" as 00:00:00Z of that day in Unix ms; -1 if not a date. */
static int64_t
date_ms(const char *s)
{
	int64_t ms;

	if (s == NULL || strlen(s) != 10 || audit_time_parse(s, 0, &ms) != 0)
		return -1;
	return ms;
}

const char *
lifecycle_checkin_state(const checkin_rec *c)
{
	switch (c->outcome) {
	case OC(MADE):
		return "made";
	case OC(MISSED):
		return c->unrecorded ? "missed_unrecorded" : "missed";
	default:
		return "pending";
	}
}

/*
 * What m's stored body says for its check-ins: the planned date (-1: none)
 * and the lead's node ("": none named, or not a node id).
 */
static void
read_plan(struct state *st, const queue_msg *m, int64_t *planned,
    char lead[BATON_NODE_ID_MAX + 1])
{
	Baton__V1__Envelope *e;
	uint8_t *body = NULL;
	size_t len = 0;
	int rc;

	*planned = -1;
	lead[0] = '\0';
	rc = queue_body_copy(st->store, m->message_id, &body, &len);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read body");
	if (rc != STORE_OK)
		return;
	e = baton__v1__envelope__unpack(&pbarena, len, body);
	free(body);
	if (e == NULL)
		return;
	if (e->handover != NULL && e->handover->transition != NULL)
		*planned = date_ms(e->handover->transition->planned_date);
	if (e->handover != NULL && e->handover->support_plan != NULL) {
		if (*planned < 0)
			*planned = date_ms(
			    e->handover->support_plan->planned_step_down_date);
		if (validate_node_id(e->handover->support_plan->lead_node))
			snprintf(lead, BATON_NODE_ID_MAX + 1, "%s",
			    e->handover->support_plan->lead_node);
	}
	baton__v1__envelope__free_unpacked(e, &pbarena);
}

struct slot {
	int64_t	 wall;
	int64_t	 open;
	int64_t	 grace;
	int	 review;
};

static int
slot_cmp(const void *a, const void *b)
{
	const struct slot *x = a, *y = b;

	return x->wall < y->wall ? -1 : x->wall > y->wall;
}

/* The check-ins of m's kind from acceptance at now (sorted); their count. */
static size_t
lay_out(const struct policy *p, int kind, int64_t now, int64_t planned,
    struct slot *s, size_t *skipped)
{
	const struct policy_pattern *pt;
	size_t n = 0;
	int i, j;

	*skipped = 0;
	for (i = 0; i < p->npatterns[kind]; i++) {
		pt = &p->patterns[kind][i];
		if (pt->review && planned < 0) {
			(*skipped)++;	/* no planned date to count back from */
			continue;
		}
		for (j = 0; j <= (pt->review ? 0 : pt->repeat) &&
		    n < POLICY_MAX_CHECKINS; j++) {
			s[n].review = pt->review;
			s[n].grace = pt->grace_ms > 0 ? pt->grace_ms :
			    p->missed_grace_ms;
			if (pt->review) {
				s[n].wall = planned - pt->first_ms;
				s[n].open = planned - pt->open_ms;
				if (s[n].wall < now)	/* accepted late */
					s[n].wall = now;
			} else {
				s[n].wall = now + pt->first_ms + j * pt->every_ms;
				s[n].open = 0;
			}
			n++;
		}
	}
	qsort(s, n, sizeof(*s), slot_cmp);
	return n;
}

static checkin_rec *
new_record(void)
{
	checkin_rec *c;

	if ((c = malloc(sizeof(*c))) == NULL)
		fatalx("out of memory");
	baton__store__v1__check_in_record__init(c);
	return c;
}

/*
 * 1 if m corrects an accepted version whose check-ins were laid out: the
 * team follows the case up once, under that version.
 */
static int
earlier_has_checkins(struct state *st, const queue_msg *m)
{
	queue_msg *prev = NULL;
	int rc, has;

	if (m->replaces[0] == '\0')
		return 0;
	rc = queue_msg_get(st->store, m->replaces, &prev);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read message");
	has = rc == STORE_OK && prev->n_checkins > 0 &&
	    strcmp(prev->recipient, m->recipient) == 0;
	queue_msg_free(prev);
	return has;
}

int
lifecycle_checkins_schedule(struct state *st, queue_msg *m, int64_t now_wall)
{
	struct audit_event ev = { 0 };
	struct slot s[POLICY_MAX_CHECKINS];
	char lead[BATON_NODE_ID_MAX + 1], first[32], why[256];
	checkin_rec **grown, *c;
	int64_t planned;
	size_t i, n, skipped;
	int rc;

	if (st->policy == NULL ||
	    policy_checkin_count(st->policy, m->transition_kind) == 0 ||
	    m->n_checkins > 0)
		return STORE_OK;
	if (earlier_has_checkins(st, m)) {
		/* an update to a case already followed up: one schedule */
		snprintf(why, sizeof(why), "check-ins continue under the "
		    "earlier version %.200s", m->replaces);
		if (lifecycle_event(m, now_wall, "checkins_scheduled", "broker",
		    m->recipient, "ok", why, NULL) == -1)
			fatalx("out of memory");
		return STORE_OK;
	}
	read_plan(st, m, &planned, lead);
	n = lay_out(st->policy, m->transition_kind, now_wall, planned, s,
	    &skipped);
	if (pbstr_set(&m->lead_node, lead) == -1)
		fatalx("out of memory");
	for (i = 0; i < n; i++) {
		c = new_record();
		c->index = (uint32_t)(i + 1);
		c->review = s[i].review;
		c->due_at_ms = s[i].wall;
		c->due_clock_ms = state_due_ms(st) + (s[i].wall - now_wall);
		c->window_from_ms = s[i].open;
		c->grace_ms = s[i].grace;
		grown = pbarena_array_grow(m->checkins, m->n_checkins,
		    sizeof(*grown));
		if (grown == NULL)
			fatalx("out of memory");
		m->checkins = grown;
		m->checkins[m->n_checkins++] = c;
		if ((rc = due_add(st, c->due_clock_ms + c->grace_ms,
		    DEADLINE_CHECKIN, m->message_id)) != STORE_OK)
			return rc;
	}
	if (n > 0)
		lifecycle_iso_time(s[0].wall, first, sizeof(first));
	snprintf(why, sizeof(why), "%zu check-ins%s%s%s", n,
	    n > 0 ? ", the first due " : "", n > 0 ? first : "",
	    skipped > 0 ? "; reviews before the planned date not scheduled: "
	    "it has none" : "");
	if (lifecycle_event(m, now_wall, "checkins_scheduled", "broker",
	    m->recipient, "ok", why, NULL) == -1)
		fatalx("out of memory");
	lifecycle_audit_handover(m, &ev);
	ev.event = AUDIT_CHECKINS_SCHEDULED;
	ev.actor = "broker";
	ev.other = m->recipient;
	ev.outcome = "ok";
	ev.reason = why;
	return state_audit(st, &ev);
}

/* 1 if node's role may see risk levels (as escalation notices do). */
static int
may_see_risk(struct state *st, const char *node)
{
	struct registry_node n;

	return registry_get(st->store, node, &n) == STORE_OK &&
	    (policy_sections(st->policy, n.role) &
	    sections_bit("risk_summary")) != 0;
}

/* 1 if node is registered and enabled. */
static int
node_usable(struct state *st, const char *node)
{
	struct registry_node n;
	int rc;

	rc = registry_get(st->store, node, &n);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read registry");
	return rc == STORE_OK && n.enabled;
}

/* Whether this miss escalates under the policy; why into buf. */
static int
miss_escalates(const struct policy *p, const queue_msg *m, char *buf,
    size_t len)
{
	if (p->nmissed_escalate == 0)
		return 0;
	if (p->missed_risk > 0 && m->risk_level >= p->missed_risk) {
		snprintf(buf, len, "%s risk", policy_risk_name(m->risk_level));
		return 1;
	}
	if (p->missed_after > 0 && m->misses >= (uint32_t)p->missed_after) {
		snprintf(buf, len, "missed contact %u", m->misses);
		return 1;
	}
	return 0;
}

/* Sends a contact-missed notice about m to node, with note. */
static int
tell(struct state *st, const char *node, const queue_msg *m, const char *note,
    int64_t overdue)
{
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;

	d.note = (char *)note;
	return notice_send(st, node, NK(CONTACT_MISSED), m, &d, overdue,
	    may_see_risk(st, node));
}

/* An audit record by `by` about m's check-ins. */
static int
audit_checkin(struct state *st, const struct actor *a, const char *event,
    const queue_msg *m, const char *other, const char *outcome,
    const char *reason)
{
	struct audit_event ev = { 0 };

	if (a != NULL)
		lifecycle_audit_actor(a, &ev);
	else
		ev.actor = "broker";
	lifecycle_audit_handover(m, &ev);
	ev.event = event;
	ev.other = other;
	ev.outcome = outcome;
	ev.reason = reason;
	return state_audit(st, &ev);
}

/*
 * The missed-contact protocol for check-in c of m, missed as recorded by
 * a (NULL: not recorded within its grace): the lead and the sender are
 * told, and the escalation nodes when the policy says so.
 */
static int
contact_missed(struct state *st, const struct actor *a, queue_msg *m,
    const checkin_rec *c, int64_t now_wall)
{
	const struct policy *p = st->policy;
	char due[32], why[256], esc[64], note[352], grace[24];
	const char *lead, *by = a != NULL ? a->node_id : "broker";
	/* on the due clock, as for escalations: a wall-clock step while the
	 * broker runs must not make a contact look days overdue */
	int64_t overdue = state_due_ms(st) - c->due_clock_ms;
	int i, rc;

	m->misses++;
	lifecycle_iso_time(c->due_at_ms, due, sizeof(due));
	if (a != NULL)
		snprintf(why, sizeof(why), "%s %u of %zu, due %s, was recorded "
		    "missed by %s", c->review ? "review" : "check-in", c->index,
		    m->n_checkins, due, a->node_id);
	else
		snprintf(why, sizeof(why), "%s %u of %zu, due %s, was not "
		    "recorded within %s of its due time",
		    c->review ? "review" : "check-in", c->index, m->n_checkins,
		    due, duration(c->grace_ms, grace, sizeof(grace)));
	/* the named lead acts; with none (or none that can be told), the
	 * team that holds the case */
	lead = m->lead_node[0] != '\0' && node_usable(st, m->lead_node) ?
	    m->lead_node : m->recipient;
	if ((rc = tell(st, lead, m, why, overdue < 0 ? 0 : overdue)) !=
	    STORE_OK)
		return rc;
	if (strcmp(m->sender, lead) != 0 &&
	    (rc = tell(st, m->sender, m, why, overdue < 0 ? 0 : overdue)) !=
	    STORE_OK)
		return rc;
	if (lifecycle_event(m, now_wall, "contact_missed", by, lead, "ok", why,
	    NULL) == -1)
		fatalx("out of memory");
	if ((rc = audit_checkin(st, a, AUDIT_CONTACT_MISSED, m, lead, "ok",
	    why)) != STORE_OK)
		return rc;
	log_warnx("contact missed id=%s checkin=%u lead=%s misses=%u",
	    m->message_id, c->index, lead, m->misses);
	if (!miss_escalates(p, m, esc, sizeof(esc)))
		return STORE_OK;
	snprintf(note, sizeof(note), "escalated (%s): %s", esc, why);
	for (i = 0; i < p->nmissed_escalate; i++) {
		const char *node = p->missed_escalate[i];
		int j;

		if (strcmp(node, lead) == 0 || strcmp(node, m->sender) == 0)
			continue;	/* told already */
		for (j = 0; j < i; j++)
			if (strcmp(p->missed_escalate[j], node) == 0)
				break;
		if (j < i)
			continue;	/* named twice (two escalate lines) */
		if (!node_usable(st, node)) {
			log_warnx("missed-contact escalation node %s is not an "
			    "enabled node; id=%s not escalated to it", node,
			    m->message_id);
			continue;
		}
		if ((rc = tell(st, node, m, note, overdue < 0 ? 0 : overdue)) !=
		    STORE_OK)
			return rc;
		if (lifecycle_event(m, now_wall, "contact_escalated", "broker",
		    node, "ok", esc, NULL) == -1)
			fatalx("out of memory");
		if ((rc = audit_checkin(st, NULL, AUDIT_CONTACT_ESCALATED, m,
		    node, "ok", note)) != STORE_OK)
			return rc;
		log_warnx("contact escalated id=%s to=%s (%s)", m->message_id,
		    node, esc);
	}
	return STORE_OK;
}

int
lifecycle_checkins_due(struct state *st, queue_msg *m, int64_t due_now,
    int64_t wall_now)
{
	checkin_rec *c;
	size_t i;
	int rc, changed = 0;

	if (m->state != MS(ACCEPTED))
		return STORE_NOTFOUND;
	for (i = 0; i < m->n_checkins; i++) {
		c = m->checkins[i];
		if (c->outcome != OC(UNSPECIFIED) ||
		    c->due_clock_ms + c->grace_ms > due_now)
			continue;
		c->outcome = OC(MISSED);
		c->unrecorded = 1;
		c->recorded_at_ms = wall_now;
		if (pbstr_set(&c->recorded_by, "broker") == -1)
			fatalx("out of memory");
		if ((rc = contact_missed(st, NULL, m, c, wall_now)) != STORE_OK)
			return rc;
		changed = 1;
	}
	return changed ? queue_msg_put(st->store, m) : STORE_NOTFOUND;
}

/* ---- recording ---- */

/* Records a refused CheckIn of ref (NULL: none named) by a. */
static int
refuse(struct state *st, const struct actor *a, const char *ref,
    const queue_msg *m, int code, const char *text, struct lc_result *res)
{
	struct audit_event ev = { 0 };

	lifecycle_audit_actor(a, &ev);
	if (m != NULL)
		lifecycle_audit_handover(m, &ev);
	ev.event = AUDIT_CHECKIN_REFUSED;
	ev.message_id = ref;
	ev.outcome = frame_code_name(code);
	ev.reason = text;
	state_audit(st, &ev);
	return answer(res, code, text);
}

/* Which of m's check-ins ci names; NULL with a refusal code and text. */
static checkin_rec *
chosen(const queue_msg *m, const Baton__V1__CheckIn *ci, int *code,
    char *text, size_t len)
{
	checkin_rec *c;
	size_t i;

	if (m->n_checkins == 0) {
		*code = CODE(INVALID);
		snprintf(text, len, "this handover has no check-ins: the policy "
		    "gives %s handovers no contact pattern",
		    policy_kind_name(m->transition_kind));
		return NULL;
	}
	if (ci->index == 0) {
		for (i = 0; i < m->n_checkins; i++)
			if (m->checkins[i]->outcome == OC(UNSPECIFIED))
				return m->checkins[i];
		*code = CODE(INVALID);
		snprintf(text, len, "every check-in of this handover is recorded");
		return NULL;
	}
	if (ci->index > m->n_checkins) {
		*code = CODE(INVALID);
		snprintf(text, len, "this handover has %zu check-ins; there is "
		    "no check-in %u", m->n_checkins, ci->index);
		return NULL;
	}
	c = m->checkins[ci->index - 1];
	if (c->outcome != OC(UNSPECIFIED)) {
		*code = CODE(ALREADY_DECIDED);
		snprintf(text, len, "check-in %u was already recorded (%s)",
		    c->index, lifecycle_checkin_state(c));
		return NULL;
	}
	return c;
}

/* Applies outcome ci to check-in c of m in one store operation. */
static int
record(struct state *st, const struct actor *a, queue_msg *m, checkin_rec *c,
    const Baton__V1__CheckIn *ci, char *what, size_t len)
{
	int64_t now = state_now_ms();
	char when[32];
	int rc;

	if ((rc = store_op_begin(st->store)) != STORE_OK)
		return rc;
	if (ci->outcome == OC(RESCHEDULED)) {
		lifecycle_iso_time(ci->rescheduled_to_ms, when, sizeof(when));
		snprintf(what, len, "check-in %u rescheduled to %s", c->index,
		    when);
		c->due_clock_ms = state_due_ms(st) +
		    (ci->rescheduled_to_ms - now);
		c->due_at_ms = ci->rescheduled_to_ms;
		c->rescheduled++;
		rc = due_add(st, c->due_clock_ms + c->grace_ms,
		    DEADLINE_CHECKIN, m->message_id);
	} else {
		c->outcome = ci->outcome;
		snprintf(what, len, "check-in %u %s", c->index,
		    ci->outcome == OC(MADE) ? "made" : "missed");
	}
	c->recorded_at_ms = now;
	if (pbstr_set(&c->recorded_by, a->node_id) == -1 ||
	    pbstr_set(&c->note, ci->note) == -1 ||
	    lifecycle_event(m, now, "checkin", a->node_id, NULL,
	    ci->outcome == OC(MADE) ? "made" : ci->outcome == OC(MISSED) ?
	    "missed" : "rescheduled", what, NULL) == -1)
		fatalx("out of memory");
	if (rc == STORE_OK)
		rc = audit_checkin(st, a, AUDIT_CHECKIN_RECORDED, m, m->sender,
		    ci->outcome == OC(MADE) ? "made" : ci->outcome == OC(MISSED) ?
		    "missed" : "rescheduled", what);
	if (rc == STORE_OK && ci->outcome == OC(MISSED))
		rc = contact_missed(st, a, m, c, now);
	if (rc == STORE_OK)
		rc = queue_msg_put(st->store, m);
	return store_op_end(st->store, rc);
}

int
lifecycle_checkin(struct state *st, const struct actor *a,
    const Baton__V1__CheckIn *ci, struct lc_result *res, uint32_t *index)
{
	char ref[BATON_MESSAGE_ID_MAX + 1], text[sizeof(res->text)];
	char what[96];
	queue_msg *m = NULL;
	checkin_rec *c;
	int64_t now;
	int rc, code;

	*index = 0;
	state_touch(st);
	if (!validate_message_id(ci->message_id) ||
	    validate_qualify(a->node_id, ci->message_id, ref) == -1)
		return refuse(st, a, NULL, NULL, CODE(INVALID), "a check-in "
		    "needs the reference of a handover", res);
	rc = queue_msg_get(st->store, ref, &m);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read message");
	if (rc != STORE_OK || !lifecycle_knows(st, m, a->node_id)) {
		queue_msg_free(m);
		return refuse(st, a, ref, NULL, CODE(UNKNOWN_MESSAGE),
		    LIFECYCLE_UNKNOWN_TEXT, res);
	}
	if (m->state != MS(ACCEPTED) || strcmp(m->recipient, a->node_id) != 0) {
		code = refuse(st, a, ref, m, CODE(NOT_RECIPIENT), "only the team "
		    "that accepted this handover records its check-ins", res);
		goto done;
	}
	now = state_now_ms();
	if ((c = chosen(m, ci, &code, text, sizeof(text))) == NULL) {
		code = refuse(st, a, ref, m, code, text, res);
		goto done;
	}
	if (strlen(ci->note) > LC_CHECKIN_NOTE_MAX ||
	    (ci->outcome != OC(MADE) && ci->outcome != OC(MISSED) &&
	    ci->outcome != OC(RESCHEDULED)) ||
	    (ci->outcome == OC(RESCHEDULED) && (ci->rescheduled_to_ms <= now ||
	    ci->rescheduled_to_ms > now + RESCHEDULE_MAX_MS))) {
		code = refuse(st, a, ref, m, CODE(INVALID), ci->outcome ==
		    OC(RESCHEDULED) ? "a rescheduled check-in needs a new time "
		    "in the future, within a year" : strlen(ci->note) >
		    LC_CHECKIN_NOTE_MAX ? "note is longer than 1024 bytes" :
		    "outcome must be made, missed or rescheduled", res);
		goto done;
	}
	*index = c->index;
	if ((rc = record(st, a, m, c, ci, what, sizeof(what))) != STORE_OK) {
		state_store_failed(st, "record check-in", rc);
		code = answer(res, CODE(STORE_FULL), "the broker's store is full; "
		    "record the check-in again later");
		goto done;
	}
	code = answer(res, CODE(OK), what);
done:
	queue_msg_free(m);
	return code;
}
