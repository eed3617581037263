/*
 * correct.c - corrected handovers (see correct.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "correct.h"
#include "due.h"
#include "log.h"
#include "pbstr.h"
#include "policy.h"
#include "validate.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

/* 1 if reference ref names a handover that node sent. */
static int
sent_by(const char *ref, const char *node)
{
	size_t n = strlen(node);

	return strncmp(ref, node, n) == 0 && ref[n] == '/';
}

static unsigned
version_of(const queue_msg *m)
{
	return m->version > 0 ? m->version : 1;
}

int
lifecycle_correction_check(struct state *st, const struct actor *a,
    const char *replaces, queue_msg **prev, char *text, size_t len)
{
	char ref[BATON_MESSAGE_ID_MAX + 1];
	queue_msg *m = NULL;
	int rc;

	*prev = NULL;
	if (!validate_message_id(replaces) ||
	    validate_qualify(a->node_id, replaces, ref) == -1) {
		snprintf(text, len, "replaces must name one of your handovers: "
		    "its message id or its reference");
		return CODE(INVALID);
	}
	rc = queue_msg_get(st->store, ref, &m);
	if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
		state_read_failed(st, "read message");
	if (rc == STORE_OK && !sent_by(ref, a->node_id) &&
	    lifecycle_knows(st, m, a->node_id)) {
		queue_msg_free(m);
		snprintf(text, len, "only the sender of handover %s may correct "
		    "it", ref);
		return CODE(NOT_PERMITTED);
	}
	if (rc != STORE_OK || !sent_by(ref, a->node_id)) {
		queue_msg_free(m);
		snprintf(text, len, "no handover %.200s of yours to correct", ref);
		return CODE(UNKNOWN_MESSAGE);
	}
	if (m->superseded_by[0] != '\0') {
		snprintf(text, len, "handover %.120s was already corrected by "
		    "%.120s: correct the latest version", ref, m->superseded_by);
		queue_msg_free(m);
		return CODE(NOT_LATEST_VERSION);
	}
	if (version_of(m) >= LIFECYCLE_MAX_VERSIONS) {
		snprintf(text, len, "handover %.200s is version %u, the most one "
		    "handover may have; send a new handover instead", ref,
		    version_of(m));
		queue_msg_free(m);
		return CODE(LIMIT_EXCEEDED);
	}
	*prev = m;
	return 0;
}

static int
undecided(const queue_msg *m)
{
	return m->state == MS(QUEUED) || m->state == MS(DELIVERED) ||
	    m->state == MS(ACKNOWLEDGED) || m->state == MS(HELD);
}

int
lifecycle_supersede(struct state *st, const struct actor *a, queue_msg *prev,
    const queue_msg *next)
{
	struct audit_event ev = { 0 };
	struct store *s = st->store;
	int64_t now = state_now_ms();
	int rc = STORE_OK;

	if (pbstr_set(&prev->superseded_by, next->message_id) == -1 ||
	    lifecycle_event(prev, now, "superseded", a->node_id,
	    next->message_id, "ok", undecided(prev) ?
	    "corrected by its sender before a decision" :
	    "corrected by its sender after the decision", NULL) == -1)
		fatalx("out of memory");
	if (undecided(prev)) {
		if (prev->state == MS(HELD))
			rc = store_del(s, STORE_HELD, prev->message_id,
			    strlen(prev->message_id));
		else if (prev->state == MS(QUEUED) ||
		    prev->state == MS(DELIVERED))
			rc = queue_remove(s, prev->recipient, prev->queue_seq);
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return rc;
		prev->state = MS(SUPERSEDED);
		/* its content goes as an acknowledged one's does */
		if (prev->purge_at_ms == 0 && st->policy != NULL) {
			prev->purge_at_ms = state_due_ms(st) +
			    st->policy->purge_after_ms;
			if ((rc = due_add(st, prev->purge_at_ms, DEADLINE_PURGE,
			    prev->message_id)) != STORE_OK)
				return rc;
		}
	}
	if ((rc = queue_msg_put(s, prev)) != STORE_OK)
		return rc;
	lifecycle_audit_actor(a, &ev);
	lifecycle_audit_handover(prev, &ev);
	ev.event = AUDIT_SUPERSEDED;
	ev.other = next->recipient;
	ev.outcome = "ok";
	ev.reason = lifecycle_state_name(prev->state);
	return state_audit(st, &ev);
}

int
lifecycle_versions(struct state *st, const queue_msg *m, char ***refs,
    size_t *n)
{
	char *chain[2 * LIFECYCLE_MAX_VERSIONS + 1], **out;
	char ref[BATON_MESSAGE_ID_MAX + 1];
	queue_msg *cur;
	size_t first = LIFECYCLE_MAX_VERSIONS, last = first, i;
	int rc;

	*refs = NULL;
	*n = 0;
	if (m->replaces[0] == '\0' && m->superseded_by[0] == '\0')
		return 0;
	chain[first] = m->message_id;
	/* back through replaces, forward through superseded_by; bounded */
	snprintf(ref, sizeof(ref), "%s", m->replaces);
	while (ref[0] != '\0' && first > 0) {
		rc = queue_msg_get(st->store, ref, &cur);
		if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
			state_read_failed(st, "read message");
		if (rc != STORE_OK)
			break;
		if ((chain[--first] = strdup(cur->message_id)) == NULL)
			fatalx("out of memory");
		snprintf(ref, sizeof(ref), "%s", cur->replaces);
		queue_msg_free(cur);
	}
	snprintf(ref, sizeof(ref), "%s", m->superseded_by);
	while (ref[0] != '\0' && last < 2 * LIFECYCLE_MAX_VERSIONS) {
		rc = queue_msg_get(st->store, ref, &cur);
		if (rc != STORE_OK && rc != STORE_NOTFOUND && rc != STORE_CORRUPT)
			state_read_failed(st, "read message");
		if (rc != STORE_OK)
			break;
		if ((chain[++last] = strdup(cur->message_id)) == NULL)
			fatalx("out of memory");
		snprintf(ref, sizeof(ref), "%s", cur->superseded_by);
		queue_msg_free(cur);
	}
	if ((out = calloc(last - first + 1, sizeof(*out))) == NULL) {
		for (i = first; i <= last; i++)
			if (i != LIFECYCLE_MAX_VERSIONS)
				free(chain[i]);
		return -1;
	}
	for (i = first; i <= last; i++)
		out[i - first] = i == LIFECYCLE_MAX_VERSIONS ?
		    strdup(m->message_id) : chain[i];
	for (i = 0; i <= last - first; i++)
		if (out[i] == NULL)
			fatalx("out of memory");
	*refs = out;
	*n = last - first + 1;
	return 0;
}
