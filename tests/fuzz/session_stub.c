/*
 * session_stub.c - the stand-in sessions (see session_stub.h).
 *
 * Output is counted, not kept: session_output_len is the bytes sent since
 * the last pass, so the pump's max_output bound still applies.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "dispatch.h"
#include "lifecycle.h"
#include "session_stub.h"

struct session	 stub_sessions[STUB_SESSIONS_MAX];
unsigned	 stub_nsessions;
void		(*stub_on_send)(struct session *, const Frame *, size_t);

static size_t	 stub_output[STUB_SESSIONS_MAX];

static size_t
slot(const struct session *s)
{
	return (size_t)(s - stub_sessions);
}

void
stub_session_reset(struct session *s, struct broker *b, const char *node_id,
    uint64_t id)
{
	char node[sizeof(s->node_id)];

	snprintf(node, sizeof(node), "%s", node_id);	/* may be s->node_id */
	memset(s, 0, sizeof(*s));
	s->b = b;
	s->id = id;
	s->state = SESSION_HELLO;
	snprintf(s->node_id, sizeof(s->node_id), "%s", node);
	snprintf(s->peer, sizeof(s->peer), "127.0.0.1:%llu",
	    (unsigned long long)(40000 + id % 20000));
	snprintf(s->addr, sizeof(s->addr), "127.0.0.1");
	snprintf(s->cert_serial, sizeof(s->cert_serial), "%02llx",
	    (unsigned long long)(id & 0xff));
	snprintf(s->cert_fpr, sizeof(s->cert_fpr), "%064llx",
	    (unsigned long long)id);
	stub_output[slot(s)] = 0;
}

void
stub_sessions_flushed(void)
{
	memset(stub_output, 0, sizeof(stub_output));
}

void
session_set_state(struct session *s, enum session_state to)
{
	s->state = to;
}

int
session_send(struct session *s, const Frame *f)
{
	uint8_t *buf = NULL;
	size_t len = 0;

	if (s->state == SESSION_DEAD)
		return -1;
	/* as the real one: an older client is told what its version knows */
	frame_for_version((Frame *)(uintptr_t)f, s->proto);
	/* as the real one: a reply that does not encode closes the session */
	if (frame_encode(f, s->b->cfg->max_frame, &buf, &len) != FRAME_OK) {
		free(buf);
		s->state = SESSION_CLOSING;
		return -1;
	}
	free(buf);
	stub_output[slot(s)] += len;
	if (stub_on_send != NULL)
		stub_on_send(s, f, len);
	return 0;
}

int
session_send_deliver(struct session *s, const Baton__V1__Deliver *d,
    const uint8_t *env, size_t envlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	Frame *f;
	int st;

	if (s->state == SESSION_DEAD)
		return -1;
	if (frame_encode_deliver(d, env, envlen, s->b->cfg->max_frame, &buf,
	    &len) != FRAME_OK) {
		free(buf);
		s->state = SESSION_CLOSING;
		return -1;
	}
	stub_output[slot(s)] += len;
	/* what the client would read: the frame decoded, as any other */
	if (stub_on_send != NULL) {
		f = frame_decode(buf + BATON_FRAME_HDR, len - BATON_FRAME_HDR, &st);
		if (f == NULL)
			abort();	/* the broker sent what no client can read */
		stub_on_send(s, f, len);
		frame_free(f);
	}
	free(buf);
	return 0;
}

void
session_fail(struct session *s, int code, const char *fmt, ...)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Error e = BATON__V1__ERROR__INIT;
	char text[512];
	va_list ap;

	if (s->state == SESSION_CLOSING || s->state == SESSION_DEAD)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	e.code = code;
	e.text = text;
	f.body_case = BATON__V1__FRAME__BODY_ERROR;
	f.error = &e;
	session_send(s, &f);
	dispatch_session_gone(s);
	s->state = SESSION_CLOSING;
}

void
session_ready(struct session *s)
{
	s->state = SESSION_READY;
}

unsigned
session_count_node(struct broker *b, const char *node_id,
    const struct session *except)
{
	unsigned i, n = 0;

	for (i = 0; i < stub_nsessions; i++) {
		const struct session *s = &stub_sessions[i];

		if (s != except && s->b == b && (s->state == SESSION_HELLO ||
		    s->state == SESSION_READY) && strcmp(s->node_id, node_id) == 0)
			n++;
	}
	return n;
}

struct session *
session_receiver(struct broker *b, const char *node_id)
{
	unsigned i;

	for (i = 0; i < stub_nsessions; i++) {
		struct session *s = &stub_sessions[i];

		if (s->b == b && s->receiving && s->state == SESSION_READY &&
		    strcmp(s->node_id, node_id) == 0)
			return s;
	}
	return NULL;
}

size_t
session_output_len(const struct session *s)
{
	return stub_output[slot(s)];
}

void
session_actor(const struct session *s, struct actor *a)
{
	a->node_id = s->node_id;
	a->role = s->role;
	a->org = s->org;
	a->cert_serial = s->cert_serial;
	a->cert_sha256 = s->cert_fpr;
	a->peer = s->peer;
}

void
session_audit_actor(const struct session *s, struct audit_event *ev)
{
	ev->actor = s->node_id;
	ev->actor_role = s->role;
	ev->actor_org = s->org;
	ev->cert_serial = s->cert_serial;
	ev->cert_sha256 = s->cert_fpr;
	ev->peer = s->peer;
}

void
session_audit_refused(struct session *s, const char *code, const char *reason)
{
	struct audit_event ev = { 0 };

	session_audit_actor(s, &ev);
	ev.event = AUDIT_CONN_REFUSED;
	ev.outcome = code;
	ev.reason = reason;
	state_audit(&s->b->st, &ev);
}

/* No reading to pause here: every frame is handed in by the caller. */
void
session_pass_spent(struct session *s)
{
	(void)s;
}
