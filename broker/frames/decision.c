/*
 * decision.c - the Decision and StatusRequest frames: each turned into a
 * lifecycle call (lifecycle/decide.c, which owns the checks, the
 * transition, its history, audit records and notices) and the result into
 * a reply and a log line.
 */
#include <stdlib.h>
#include <string.h>

#include "checkin.h"
#include "decide.h"
#include "correct.h"
#include "decision.h"
#include "frame.h"
#include "lifecycle.h"
#include "log.h"

#define SID(s)	((unsigned long long)(s)->id)
#define OUT(x)	BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

/* Answers a Decision, echoing its id as the node wrote it. */
static void
send_result(struct session *s, const char *id, int code, const char *text)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__DecisionResult r = BATON__V1__DECISION_RESULT__INIT;

	r.message_id = (char *)(validate_message_id(id) ? id : "");
	r.code = code;
	r.text = (char *)text;
	f.body_case = BATON__V1__FRAME__BODY_DECISION_RESULT;
	f.decision_result = &r;
	session_send(s, &f);
}

void
decision_handle(struct session *s, const Baton__V1__Decision *d)
{
	struct actor a;
	struct lc_result res;
	struct decide_out out;

	session_actor(s, &a);
	lifecycle_decide(&s->b->st, &a, d->message_id, d, &res, &out);
	if (out.refused != NULL)
		log_warnx("sid=%llu node=%s decision id=%s refused code=%s", SID(s),
		    s->node_id, out.reference[0] != '\0' ? out.reference : "-",
		    out.refused);
	send_result(s, d->message_id, res.code, res.text);
	if (res.code != CODE(OK))
		return;
	if (out.acked) {
		/* the decision acknowledged it: a delivery slot is free again */
		if (s->unacked > 0)
			s->unacked--;
		s->want_pump = s->receiving;
	}
	log_info("sid=%llu node=%s decision id=%s outcome=%s%s%s", SID(s),
	    s->node_id, out.reference, d->outcome == OUT(ACCEPT) ? "accept" :
	    d->outcome == OUT(REJECT) ? "reject" : "redirect",
	    d->outcome == OUT(REDIRECT) ? " to=" : "",
	    d->outcome == OUT(REDIRECT) ? d->redirect_to : "");
}

/*
 * m's check-ins for its Status: one allocation holding the pointers and
 * the messages, which point into m's records (free it alone, before m).
 */
static Baton__V1__CheckInInfo **
status_checkins(const queue_msg *m, size_t *n)
{
	Baton__V1__CheckInInfo **v, *info;
	const Baton__Store__V1__CheckInRecord *c;
	size_t i;

	*n = 0;
	if (m->n_checkins == 0)
		return NULL;
	v = malloc(m->n_checkins * (sizeof(*v) + sizeof(*info)));
	if (v == NULL)
		fatalx("out of memory");
	info = (Baton__V1__CheckInInfo *)(v + m->n_checkins);
	for (i = 0; i < m->n_checkins; i++) {
		c = m->checkins[i];
		baton__v1__check_in_info__init(&info[i]);
		info[i].index = c->index;
		info[i].kind = (char *)(c->review ? "review" : "checkin");
		info[i].due_at_ms = c->due_at_ms;
		info[i].window_from_ms = c->window_from_ms;
		info[i].state = (char *)lifecycle_checkin_state(c);
		info[i].recorded_at_ms = c->recorded_at_ms;
		info[i].recorded_by = c->recorded_by;
		info[i].note = c->note;
		info[i].rescheduled = c->rescheduled;
		info[i].grace_ms = c->grace_ms;
		v[i] = &info[i];
	}
	*n = m->n_checkins;
	return v;
}

void
decision_status(struct session *s, const Baton__V1__StatusRequest *q)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Status st = BATON__V1__STATUS__INIT;
	struct actor a;
	struct lc_result res;
	struct status_out out;
	char **versions = NULL;
	Baton__V1__CheckInInfo **checkins = NULL;
	size_t i, nversions = 0, ncheckins = 0;

	st.message_id = (char *)(validate_message_id(q->message_id) ?
	    q->message_id : "");
	session_actor(s, &a);
	st.code = lifecycle_status(&s->b->st, &a, q->message_id, &res, &out);
	st.text = res.text;
	if (st.code != CODE(OK)) {
		log_warnx("sid=%llu node=%s status id=%s refused", SID(s), s->node_id,
		    out.reference[0] != '\0' ? out.reference : "-");
	} else {
		st.state = (char *)lifecycle_state_name(out.m->state);
		st.events = out.m->events;
		st.n_events = out.nvisible;
		if (lifecycle_versions(&s->b->st, out.m, &versions,
		    &nversions) == -1)
			fatalx("out of memory");
		st.versions = versions;
		st.n_versions = nversions;
		checkins = status_checkins(out.m, &ncheckins);
		st.checkins = checkins;
		st.n_checkins = ncheckins;
	}
	f.body_case = BATON__V1__FRAME__BODY_STATUS;
	f.status = &st;
	session_send(s, &f);
	for (i = 0; i < nversions; i++)
		free(versions[i]);
	free(versions);
	free(checkins);
	queue_msg_free(out.m);
}
