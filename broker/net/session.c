/*
 * session.c - the per-connection state machine: TLS handshake outcome,
 * frame reading with bounds, held replies, timeouts and closing.
 *
 * Invariants: a frame's declared length is checked against max_frame
 * before its body is read (the input high-watermark keeps at most one
 * frame buffered); a peer's mistake closes only its own session, after an
 * Error frame, and never affects what other sessions have receipted.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "audit.h"
#include "lifecycle.h"
#include "log.h"
#include "pbarena.h"
#include "session.h"

#define CLOSE_GRACE_S	5	/* how long a closing session may drain */
#define CLOSE_DISCARD_MAX (1u << 20)	/* and how much of its input it discards */
#define FRAME_TIMEOUT_MS(s)	((int64_t)(s)->b->cfg->frame_timeout_s * 1000)

static void session_read_cb(struct bufferevent *, void *);
static void session_write_cb(struct bufferevent *, void *);
static void session_event_cb(struct bufferevent *, short, void *);
static void close_timer_cb(evutil_socket_t, short, void *);

static void
set_timeouts(struct session *s, int read_s, int write_s)
{
	struct timeval rt = { read_s, 0 }, wt = { write_s, 0 };

	bufferevent_set_timeouts(s->bev, read_s > 0 ? &rt : NULL,
	    write_s > 0 ? &wt : NULL);
}

static const char *
state_name(enum session_state st)
{
	switch (st) {
	case SESSION_HANDSHAKE: return "handshake";
	case SESSION_HELLO: return "hello";
	case SESSION_READY: return "ready";
	case SESSION_CLOSING: return "closing";
	case SESSION_DEAD: return "dead";
	}
	return "?";
}

void
session_set_state(struct session *s, enum session_state to)
{
	log_debug("sid=%llu node=%s state %s -> %s", (unsigned long long)s->id,
	    s->node_id, state_name(s->state), state_name(to));
	s->state = to;
}

struct session *
session_new(struct broker *b, struct bufferevent *bev, const char *peer,
    const char *addr)
{
	struct session *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	if ((s->pending = evbuffer_new()) == NULL) {
		free(s);
		return NULL;
	}
	s->b = b;
	s->id = ++b->next_session_id;
	s->bev = bev;
	s->state = SESSION_HANDSHAKE;
	s->accepted_ms = state_mono_ms();
	snprintf(s->peer, sizeof(s->peer), "%s", peer);
	snprintf(s->addr, sizeof(s->addr), "%s", addr);
	strcpy(s->node_id, "-");
	TAILQ_INSERT_TAIL(&b->sessions, s, entry);
	b->nsessions++;
	bufferevent_setcb(bev, session_read_cb, session_write_cb,
	    session_event_cb, s);
	/* a larger frame first takes budget (reserve_frame) */
	bufferevent_setwatermark(bev, EV_READ, 0, SESSION_READ_BASE);
	set_timeouts(s, b->cfg->handshake_timeout_s, b->cfg->handshake_timeout_s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return s;
}

unsigned
session_count_node(struct broker *b, const char *node_id,
    const struct session *except)
{
	struct session *o;
	unsigned n = 0;

	TAILQ_FOREACH(o, &b->sessions, entry)
		if (o != except && (o->state == SESSION_HELLO ||
		    o->state == SESSION_READY) && strcmp(o->node_id, node_id) == 0)
			n++;
	return n;
}

unsigned
session_count_preauth(struct broker *b, const char *addr)
{
	struct session *o;
	unsigned n = 0;

	TAILQ_FOREACH(o, &b->sessions, entry)
		if ((o->state == SESSION_HANDSHAKE || o->state == SESSION_HELLO) &&
		    strcmp(o->addr, addr) == 0)
			n++;
	return n;
}

/* Whether anything holds this session's reading back. */
static int
read_held(const struct session *s)
{
	return s->read_paused || s->pass_paused || s->want_reserve != 0;
}

/* Turns reading on again once nothing holds it back. */
static void
read_resume(struct session *s)
{
	if (read_held(s) || (s->state != SESSION_HELLO &&
	    s->state != SESSION_READY))
		return;
	bufferevent_enable(s->bev, EV_READ);
	/* frames may already be buffered: handle them in a deferred callback,
	 * after the commit pass that called this has finished */
	bufferevent_trigger(s->bev, EV_READ,
	    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Gives back the budget of a frame that has arrived whole (or never will). */
static void
release_frame(struct session *s)
{
	struct broker *b = s->b;

	if (s->reserved == 0)
		return;
	b->buffered -= s->reserved;
	s->reserved = 0;
	if (s->state != SESSION_DEAD)
		bufferevent_setwatermark(s->bev, EV_READ, 0, SESSION_READ_BASE);
	if (b->budget_waiters > 0)
		state_schedule(&b->st);
}

/*
 * A frame of len bytes is arriving and does not fit the base read buffer:
 * takes its length from the broker's budget and lets the buffer grow to
 * hold it, or (budget spent) stops reading until a commit pass finds room.
 */
static void
reserve_frame(struct session *s, uint32_t len)
{
	struct broker *b = s->b;

	if (s->reserved != 0 || (size_t)len + BATON_FRAME_HDR <= SESSION_READ_BASE)
		return;
	if (b->buffered + len > b->cfg->max_buffered) {
		if (s->want_reserve == 0) {
			s->want_reserve = len;
			b->budget_waiters++;
			bufferevent_disable(s->bev, EV_READ);
			log_info("sid=%llu node=%s waits for frame budget (%u bytes; "
			    "%zu of %zu in use)", (unsigned long long)s->id,
			    s->node_id, len, b->buffered, b->cfg->max_buffered);
		}
		return;
	}
	if (s->want_reserve != 0) {
		s->want_reserve = 0;
		b->budget_waiters--;
	}
	s->reserved = len;
	b->buffered += len;
	bufferevent_setwatermark(s->bev, EV_READ, 0, (size_t)len + BATON_FRAME_HDR);
}

unsigned
session_frame_cost(uint32_t len)
{
	return 1 + len / 1024;
}

void
session_pass_spent(struct session *s)
{
	s->pass_frames = SESSION_PASS_SHARE;
}

void
session_pass_begin(struct session *s)
{
	struct broker *b = s->b;

	s->pass_frames = 0;
	if (s->state != SESSION_HELLO && s->state != SESSION_READY)
		return;
	if (s->want_reserve != 0 && b->buffered + s->want_reserve <=
	    b->cfg->max_buffered) {
		/* read_frames takes the budget when it sees the header again */
		s->want_reserve = 0;
		b->budget_waiters--;
		read_resume(s);
	}
	if (s->pass_paused) {
		s->pass_paused = 0;
		read_resume(s);
	}
}

size_t
session_output_len(const struct session *s)
{
	return evbuffer_get_length(bufferevent_get_output(s->bev)) +
	    evbuffer_get_length(s->pending);
}

/*
 * Queues an encoded frame of type body (what: its name) for the client;
 * rc is its encoder's result.
 */
static int
session_queue(struct session *s, int body, const char *what, int rc,
    uint8_t *buf, size_t len)
{
	if (rc != FRAME_OK) {
		log_warnx("sid=%llu node=%s cannot encode %s frame: %s",
		    (unsigned long long)s->id, s->node_id, what,
		    frame_status_text(rc));
		session_kill(s);
		return -1;
	}
	rc = evbuffer_add(s->pending, buf, len);
	free(buf);
	if (rc != 0) {
		session_kill(s);
		return -1;
	}
	/* a client that does not read stops being read now, not at the
	 * commit pass: its requests cannot outrun the bound. Deliveries stop
	 * at the bound by themselves (the pump checks it); a reply that finds
	 * the output over it means the client sends requests without reading
	 * their answers, which no client does that means well */
	if (s->state != SESSION_CLOSING &&
	    session_output_len(s) > s->b->cfg->max_output) {
		if (body != BATON__V1__FRAME__BODY_DELIVER &&
		    body != BATON__V1__FRAME__BODY_NOTICE &&
		    body != BATON__V1__FRAME__BODY_ERROR) {
			session_fail(s, BATON__V1__CODE__CODE_LIMIT_EXCEEDED,
			    "%zu bytes of replies are waiting for this client to "
			    "read (limit %zu): it sends requests without reading "
			    "the answers", session_output_len(s),
			    s->b->cfg->max_output);
			return 0;
		}
		if (!s->read_paused) {
			s->read_paused = 1;
			bufferevent_disable(s->bev, EV_READ);
		}
	}
	state_schedule(&s->b->st);
	return 0;
}

int
session_send(struct session *s, const Frame *f)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (s->state == SESSION_DEAD)
		return -1;
	/* an older client is told only what its version knows */
	frame_for_version((Frame *)(uintptr_t)f, s->proto);
	/* submits leave ENVELOPE_HEADROOM for what the broker adds, and
	 * notes are bounded, so every reply fits the client's max_frame */
	rc = frame_encode(f, s->b->cfg->max_frame, &buf, &len);
	return session_queue(s, f->body_case, frame_name(f), rc, buf, len);
}

/*
 * A stored handover's bytes for a session of a version before 4: they may
 * hold fields it does not know, so they go unpacked, through
 * frame_for_version.
 */
static int
send_deliver_unpacked(struct session *s, const Baton__V1__Deliver *d,
    const uint8_t *env, size_t envlen)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Deliver copy = *d;
	int rc;

	if ((copy.envelope = baton__v1__envelope__unpack(&pbarena, envlen,
	    env)) == NULL) {
		log_warnx("sid=%llu node=%s a stored envelope passed its checks "
		    "but does not unpack", (unsigned long long)s->id, s->node_id);
		return -1;
	}
	f.body_case = BATON__V1__FRAME__BODY_DELIVER;
	f.deliver = &copy;
	rc = session_send(s, &f);
	baton__v1__envelope__free_unpacked(copy.envelope, &pbarena);
	return rc;
}

int
session_send_deliver(struct session *s, const Baton__V1__Deliver *d,
    const uint8_t *env, size_t envlen)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;

	if (s->state == SESSION_DEAD)
		return -1;
	if (s->proto < 4)
		return send_deliver_unpacked(s, d, env, envlen);
	rc = frame_encode_deliver(d, env, envlen, s->b->cfg->max_frame, &buf,
	    &len);
	return session_queue(s, BATON__V1__FRAME__BODY_DELIVER, "Deliver", rc,
	    buf, len);
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
	log_warnx("sid=%llu node=%s peer=%s closing code=%s reason=\"%s\"",
	    (unsigned long long)s->id, s->node_id, s->peer,
	    frame_code_name(code), text);
	e.code = code;
	e.text = text;
	f.body_case = BATON__V1__FRAME__BODY_ERROR;
	f.error = &e;
	session_send(s, &f);
	s->b->net.on_gone(s);
	release_frame(s);
	if (s->want_reserve != 0) {
		s->want_reserve = 0;
		s->b->budget_waiters--;
	}
	s->read_paused = s->pass_paused = 0;
	session_set_state(s, SESSION_CLOSING);
	/* keep reading (and discarding) so the peer's bytes never make the
	 * kernel reset the connection before it has read our Error */
	bufferevent_enable(s->bev, EV_READ);
	state_schedule(&s->b->st);
}

/*
 * All our output is on the wire: shut our sending side and wait, reading
 * and discarding, for the peer to close (or the grace timer).
 */
static void
session_linger(struct session *s)
{
	struct timeval tv = { CLOSE_GRACE_S, 0 };

	if (s->lingering)
		return;
	s->lingering = 1;
	shutdown(bufferevent_getfd(s->bev), SHUT_WR);
	if (s->close_timer == NULL &&
	    (s->close_timer = evtimer_new(s->b->base, close_timer_cb, s)) != NULL)
		evtimer_add(s->close_timer, &tv);
	else if (s->close_timer == NULL)
		session_kill(s);
}

void
session_kill(struct session *s)
{
	if (s->state == SESSION_DEAD)
		return;
	s->b->net.on_gone(s);
	release_frame(s);
	if (s->want_reserve != 0) {
		s->want_reserve = 0;
		s->b->budget_waiters--;
	}
	session_set_state(s, SESSION_DEAD);
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	state_schedule(&s->b->st);
}

static void
close_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	log_info("sid=%llu node=%s closed (drain timeout)",
	    (unsigned long long)s->id, s->node_id);
	session_kill(s);
}

void
session_flush(struct session *s, int drop)
{
	if (s->state == SESSION_DEAD)
		return;
	if (drop)
		evbuffer_drain(s->pending, evbuffer_get_length(s->pending));
	else if (evbuffer_get_length(s->pending) > 0)
		bufferevent_write_buffer(s->bev, s->pending);
	if (s->state == SESSION_CLOSING) {
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
			session_linger(s);
			return;
		}
		if (s->close_timer == NULL) {
			struct timeval tv = { CLOSE_GRACE_S, 0 };

			s->close_timer = evtimer_new(s->b->base, close_timer_cb, s);
			if (s->close_timer != NULL)
				evtimer_add(s->close_timer, &tv);
		}
		return;
	}
	/* backpressure: a client that does not read stops being read */
	if (session_output_len(s) > s->b->cfg->max_output) {
		if (!s->read_paused) {
			s->read_paused = 1;
			bufferevent_disable(s->bev, EV_READ);
		}
	}
}

void
session_destroy(struct session *s)
{
	struct broker *b = s->b;

	if (s->reserved != 0)
		b->buffered -= s->reserved;
	if (s->want_reserve != 0)
		b->budget_waiters--;
	TAILQ_REMOVE(&b->sessions, s, entry);
	b->nsessions--;
	if (s->close_timer != NULL)
		event_free(s->close_timer);
	bufferevent_free(s->bev);
	evbuffer_free(s->pending);
	free(s);
}

static void
session_connected(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	char err[256];

	tls_peer_cert_info(ssl, s->cert_serial, s->cert_fpr);
	if (tls_peer_node_id(ssl, s->node_id, err, sizeof(err)) == -1) {
		strcpy(s->node_id, "-");
		session_audit_refused(s, "BAD_CERTIFICATE", err);
		session_fail(s, BATON__V1__CODE__CODE_BAD_CERTIFICATE,
		    "%s (serial %s)", err, s->cert_serial);
		return;
	}
	/* sessions that have not yet said Hello count too, so a node's
	 * certificate cannot hold more slots than the node may use */
	if (session_count_node(s->b, s->node_id, s) >= s->b->cfg->max_per_node) {
		snprintf(err, sizeof(err), "node '%s' already has %u connections "
		    "(the limit)", s->node_id, s->b->cfg->max_per_node);
		session_audit_refused(s, "LIMIT_EXCEEDED", err);
		session_fail(s, BATON__V1__CODE__CODE_LIMIT_EXCEEDED, "%s", err);
		return;
	}
	session_set_state(s, SESSION_HELLO);
	set_timeouts(s, s->b->cfg->hello_timeout_s, s->b->cfg->idle_timeout_s);
	log_info("sid=%llu node=%s peer=%s tls established serial=%s sha256=%s",
	    (unsigned long long)s->id, s->node_id, s->peer, s->cert_serial,
	    s->cert_fpr);
}

/* Hello has been answered: the session's timeouts become the idle ones. */
void
session_ready(struct session *s)
{
	session_set_state(s, SESSION_READY);
	set_timeouts(s, s->b->cfg->idle_timeout_s, s->b->cfg->idle_timeout_s);
}

/*
 * Checks the header of the frame at the head of the input: 0 and *len if
 * it may be read, -1 if the session was failed for it.
 */
static int
check_header(struct session *s, const uint8_t *hdr, uint32_t *len)
{
	uint32_t limit = s->state == SESSION_HELLO ? SESSION_PREHELLO_MAX :
	    s->b->cfg->max_frame;
	int rc;

	rc = frame_parse_header(hdr, BATON_FRAME_HDR, limit, len);
	if (rc == FRAME_TOO_LARGE) {
		if (s->state == SESSION_HELLO)
			session_fail(s, BATON__V1__CODE__CODE_FRAME_TOO_LARGE,
			    "frame of %u bytes before hello exceeds the %u-byte "
			    "limit for frames before hello", *len, limit);
		else
			session_fail(s, BATON__V1__CODE__CODE_FRAME_TOO_LARGE,
			    "frame of %u bytes exceeds max_frame %u", *len, limit);
		return -1;
	}
	if (rc != FRAME_OK) {
		session_fail(s, BATON__V1__CODE__CODE_MALFORMED_FRAME, "%s",
		    frame_status_text(rc));
		return -1;
	}
	return 0;
}

/* Its share of this pass is used: not read again until the commit pass. */
static void
pause_for_pass(struct session *s)
{
	s->pass_paused = 1;
	bufferevent_disable(s->bev, EV_READ);
	s->b->resume_pending = 1;
	state_schedule(&s->b->st);
}

static void
session_read_frames(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	uint8_t hdr[BATON_FRAME_HDR];
	uint32_t len;
	int rc;

	while ((s->state == SESSION_HELLO || s->state == SESSION_READY) &&
	    !read_held(s)) {
		size_t avail = evbuffer_get_length(in);
		unsigned char *body;
		Frame *f;

		if (avail == 0) {
			s->partial_since_ms = 0;
			return;
		}
		if (s->partial_since_ms == 0)
			s->partial_since_ms = state_mono_ms();
		else if (state_mono_ms() - s->partial_since_ms > FRAME_TIMEOUT_MS(s)) {
			session_fail(s, BATON__V1__CODE__CODE_TIMEOUT,
			    "a frame did not arrive whole within %d s",
			    s->b->cfg->frame_timeout_s);
			return;
		}
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return;
		if (check_header(s, hdr, &len) == -1)
			return;
		if (avail < BATON_FRAME_HDR + (size_t)len) {
			reserve_frame(s, len);
			return;
		}
		if (s->pass_frames >= SESSION_PASS_SHARE) {
			pause_for_pass(s);
			return;
		}
		s->pass_frames += session_frame_cost(len);
		evbuffer_drain(in, BATON_FRAME_HDR);
		body = evbuffer_pullup(in, len);
		f = body ? frame_decode(body, len, &rc) : NULL;
		evbuffer_drain(in, len);
		release_frame(s);
		s->partial_since_ms = 0;	/* the next frame starts its own clock */
		if (f == NULL) {
			session_fail(s, BATON__V1__CODE__CODE_MALFORMED_FRAME, "%s",
			    body ? frame_status_text(rc) : "out of memory");
			return;
		}
		s->idle_pinged = 0;
		s->b->net.on_frame(s, f);
		frame_free(f);
	}
}

static void
session_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (s->state == SESSION_CLOSING) {
		/* discarding keeps the kernel from resetting the connection under
		 * our Error frame, but a peer that floods while we close gets no
		 * more of our time than CLOSE_DISCARD_MAX */
		s->discarded += evbuffer_get_length(in);
		evbuffer_drain(in, evbuffer_get_length(in));
		if (s->discarded > CLOSE_DISCARD_MAX) {
			log_info("sid=%llu node=%s closed: kept sending while being "
			    "closed", (unsigned long long)s->id, s->node_id);
			session_kill(s);
		}
		return;
	}
	session_read_frames(s);
}

static void
session_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	/* the output buffer has drained below its low-water mark (0) */
	if (s->state == SESSION_CLOSING) {
		if (evbuffer_get_length(s->pending) == 0)
			session_linger(s);
		return;
	}
	if (s->read_paused && session_output_len(s) <= s->b->cfg->max_output / 2) {
		s->read_paused = 0;
		read_resume(s);
	}
	if (s->receiving || s->want_drain) {
		/* a delivery, or what the layer above waits to send, goes on */
		s->want_pump = 1;
		state_schedule(&s->b->st);
	}
}

static void
session_idle(struct session *s)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Ping p = BATON__V1__PING__INIT;

	if (s->partial_since_ms != 0 &&
	    state_mono_ms() - s->partial_since_ms > FRAME_TIMEOUT_MS(s)) {
		session_fail(s, BATON__V1__CODE__CODE_TIMEOUT,
		    "a frame did not arrive whole within %d s",
		    s->b->cfg->frame_timeout_s);
		return;
	}
	if (s->state == SESSION_HELLO) {
		session_audit_refused(s, "TIMEOUT", "no hello after the handshake");
		session_fail(s, BATON__V1__CODE__CODE_TIMEOUT,
		    "no hello within %d s of the TLS handshake",
		    s->b->cfg->hello_timeout_s);
		return;
	}
	if (s->idle_pinged) {
		log_info("sid=%llu node=%s closed: idle, no answer to ping",
		    (unsigned long long)s->id, s->node_id);
		session_kill(s);
		return;
	}
	s->idle_pinged = 1;
	p.nonce = s->id;
	f.body_case = BATON__V1__FRAME__BODY_PING;
	f.ping = &p;
	session_send(s, &f);
	/* libevent disabled reading when the timeout fired */
	if (!read_held(s))
		bufferevent_enable(s->bev, EV_READ);
}

static void
session_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char why[256];
	unsigned long e;

	if (what & BEV_EVENT_CONNECTED) {
		session_connected(s);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) &&
	    (s->state == SESSION_HELLO || s->state == SESSION_READY)) {
		session_idle(s);
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		e = bufferevent_get_openssl_error(bev);
		if (what & BEV_EVENT_TIMEOUT)
			snprintf(why, sizeof(why), "handshake timeout");
		else
			tls_handshake_error(bufferevent_openssl_get_ssl(bev), e,
			    why, sizeof(why));
		log_warnx("sid=%llu peer=%s tls handshake refused reason=\"%s\"",
		    (unsigned long long)s->id, s->peer, why);
		tls_peer_cert_info(bufferevent_openssl_get_ssl(bev), s->cert_serial,
		    s->cert_fpr);
		session_audit_refused(s, "TLS_HANDSHAKE", why);
	} else if (what & BEV_EVENT_TIMEOUT) {
		log_warnx("sid=%llu node=%s closed: write timeout (client not reading)",
		    (unsigned long long)s->id, s->node_id);
	} else if (s->state != SESSION_CLOSING) {
		log_info("sid=%llu node=%s disconnected", (unsigned long long)s->id,
		    s->node_id);
	}
	while (bufferevent_get_openssl_error(bev) != 0)
		;
	ERR_clear_error();
	session_kill(s);
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

struct session *
session_receiver(struct broker *b, const char *node_id)
{
	struct session *s;

	TAILQ_FOREACH(s, &b->sessions, entry)
		if (s->receiving && s->state == SESSION_READY &&
		    strcmp(s->node_id, node_id) == 0)
			return s;
	return NULL;
}
