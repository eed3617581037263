/*
 * lifecycle.c - the history kept in each handover's state record, and who
 * may know of a handover at all.
 *
 * The history is bounded (LIFECYCLE_MAX_EVENTS) so a state record stays
 * small; the audit log is the complete record.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "lifecycle.h"
#include "names.h"
#include "pbarena.h"
#include "policy.h"

static char *
dup_or_empty(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static void
history_event_free(Baton__V1__LifecycleEvent *e)
{
	baton__v1__lifecycle_event__free_unpacked(e, &pbarena);
}

int
lifecycle_event(queue_msg *m, int64_t at_ms, const char *event,
    const char *actor, const char *other, const char *outcome,
    const char *reason, const char *note)
{
	Baton__V1__LifecycleEvent *e, **grown;

	if (m->n_events >= LIFECYCLE_MAX_EVENTS &&
	    (strcmp(event, "delivered") == 0 || m->n_events >= 2 * LIFECYCLE_MAX_EVENTS))
		return 0;
	if ((e = malloc(sizeof(*e))) == NULL)
		return -1;
	baton__v1__lifecycle_event__init(e);
	e->at_ms = at_ms;
	e->event = dup_or_empty(event);
	e->actor = dup_or_empty(actor);
	e->other = dup_or_empty(other);
	e->outcome = dup_or_empty(outcome);
	e->reason = dup_or_empty(reason);
	e->note = dup_or_empty(note);
	if (!e->event || !e->actor || !e->other || !e->outcome || !e->reason ||
	    !e->note) {
		history_event_free(e);
		return -1;
	}
	grown = pbarena_array_grow(m->events, m->n_events, sizeof(*grown));
	if (grown == NULL) {
		history_event_free(e);
		return -1;
	}
	m->events = grown;
	m->events[m->n_events++] = e;
	return 0;
}

void
lifecycle_events_clear(queue_msg *m)
{
	size_t i;

	for (i = 0; i < m->n_events; i++)
		history_event_free(m->events[i]);
	pbarena.free(pbarena.allocator_data, m->events);
	m->events = NULL;
	m->n_events = 0;
}

int
lifecycle_party(const queue_msg *m, const char *node)
{
	size_t i;

	if (strcmp(m->sender, node) == 0 || strcmp(m->recipient, node) == 0)
		return 1;
	for (i = 0; i < m->n_past_recipients; i++)
		if (strcmp(m->past_recipients[i], node) == 0)
			return 1;
	return 0;
}

int
lifecycle_knows(const struct state *st, const queue_msg *m, const char *node)
{
	int i;

	if (lifecycle_party(m, node))
		return 1;
	/* escalation nodes were sent a notice naming it */
	for (i = 0; m->escalated && st->policy != NULL &&
	    i < st->policy->nescalate; i++)
		if (strcmp(st->policy->escalate[i], node) == 0)
			return 1;
	return 0;
}

const char *
lifecycle_state_name(int state)
{
	static char buf[16][32];

	if (state < 0 || state >= 16)
		return "unknown";
	return names_enum_short(&baton__store__v1__message_state__descriptor, state,
	    "MESSAGE_STATE_", buf[state], sizeof(buf[state]));
}

const char *
lifecycle_reason_name(int reason)
{
	static char buf[16][40];

	if (reason < 0 || reason >= 16)
		return "unknown";
	return names_enum_short(&baton__v1__reject_reason__descriptor, reason,
	    "REJECT_REASON_", buf[reason], sizeof(buf[reason]));
}

void
lifecycle_iso_time(int64_t ms, char *buf, size_t len)
{
	char t[AUDIT_TIME_LEN + 1];

	/* the audit log's format, to the second */
	audit_time_format(ms, t);
	snprintf(buf, len, "%.19sZ", t);
}

void
lifecycle_audit_actor(const struct actor *a, struct audit_event *ev)
{
	ev->actor = a->node_id;
	ev->actor_role = a->role;
	ev->actor_org = a->org;
	ev->cert_serial = a->cert_serial;
	ev->cert_sha256 = a->cert_sha256;
	ev->peer = a->peer;
}

/* One blank between words, none at the ends. */
static void
squeeze_blanks(char *s)
{
	char *w = s, *r;

	for (r = s; *r != '\0'; r++)
		if (*r != ' ' || (w > s && w[-1] != ' '))
			*w++ = *r;
	if (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

void
lifecycle_audit_handover(const queue_msg *m, struct audit_event *ev)
{
	const char *ag = m->agreement_id != NULL ? m->agreement_id : "";
	const char *rep = m->replaces != NULL ? m->replaces : "";
	const char *sup = m->superseded_by != NULL ? m->superseded_by : "";

	ev->message_id = m->message_id;
	ev->subject_ref = m->subject_ref;
	ev->risk = policy_risk_name(m->risk_level);
	ev->kind = policy_kind_name(m->transition_kind);
	/* IG asks under which agreement and on what basis it was shared,
	 * and which version of the truth it was */
	if (m->lawful_basis > 0 || ag[0] != '\0' || rep[0] != '\0' ||
	    sup[0] != '\0') {
		snprintf(ev->detail_buf, sizeof(ev->detail_buf),
		    "%s%s %s%s %s%s %s%s",
		    m->lawful_basis > 0 ? "lawful_basis=" : "",
		    m->lawful_basis > 0 ? policy_basis_name(m->lawful_basis) : "",
		    ag[0] != '\0' ? "agreement=" : "", ag,
		    rep[0] != '\0' ? "replaces=" : "", rep,
		    sup[0] != '\0' ? "superseded_by=" : "", sup);
		squeeze_blanks(ev->detail_buf);
		ev->detail = ev->detail_buf;
	}
}

void
lifecycle_audit_times(const queue_msg *m, struct audit_event *ev,
    int64_t now, int delivered)
{
	ev->since_submit_ms = now - m->received_at_ms;
	ev->has_since_submit = 1;
	/* delivered_at_ms is the first delivery to the current recipient */
	if (delivered && m->delivered_at_ms > 0) {
		ev->since_delivery_ms = now - m->delivered_at_ms;
		ev->has_since_delivery = 1;
	}
}
