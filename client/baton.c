/*
 * baton.c - libbaton's protocol layer: Hello/Welcome, Submit/Receipt,
 * Pull/Deliver/Ack, Decision, StatusRequest, on top of conn.c.
 *
 * Every frame goes out through conn.c's output queue and every frame read
 * goes through dispatch(): Deliver and Notice frames are kept, in order, in
 * a FIFO for baton_next(); Ping is answered with Pong; Error kills the
 * connection with the broker's code and text; Receipt and AckResult are
 * matched by id to an asynchronous request in flight (pipe.h), whose
 * result then waits for baton_poll_result(), or else to the one blocking
 * request that may be waiting (sync_*). pump() is one non-blocking pass
 * (write, read all, write); run_until() repeats it, sleeping on the socket,
 * until a condition holds or a deadline passes. Every call, blocking or
 * not, is built on those two.
 *
 * Invariants: at most one blocking request is waiting, and while it waits
 * no asynchronous one is added, so an answer without an id belongs to the
 * oldest asynchronous request of its kind, else to the blocking one; an
 * answer naming nothing outstanding is a protocol error; no id has two
 * requests of one kind outstanding. Once the connection is dead (`dead`),
 * every call returns BATON_E_CLOSED, the FIFO is empty (items not handed
 * to the caller were not acked, so the broker delivers them again), and
 * each asynchronous request in flight has a failed result. Credit counts
 * deliveries the broker may still send and is topped up only from
 * baton_next(). Nothing here prints, exits or logs handover content.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "baton.h"
#include "clockms.h"
#include "conn.h"
#include "exchange.h"
#include "json.h"
#include "pipe.h"
#include "validate.h"
#include "wire_check.h"

/* A broker may ask for larger frames, but not without bound. */
#define MAX_FRAME_CAP	(64u * 1024u * 1024u)

struct pending {
	struct pending	*next;
	Frame		*f;		/* a Deliver or Notice frame */
};

struct baton_client {
	struct conn	 conn;
	int		 timeout_ms;	/* connect, and each request */
	unsigned	 window;	/* credit we keep granted */
	unsigned	 credit;	/* deliveries broker may still send */
	int		 pulled;	/* the first Pull has been sent */
	int		 dead;		/* unusable; why_dead says why */
	char		 why_dead[400];
	char		 broker_text[256]; /* the broker's Error text */
	char		*node_id;	/* from Welcome */
	char		*role;
	char		*organisation;
	char		*broker_id;
	struct pending	*qhead;		/* items not yet returned, in order */
	struct pending	**qtail;
	size_t		 qlen;
	struct pipe	 pipe;		/* asynchronous requests outstanding */
	unsigned	 pipeline;	/* submits that may be outstanding */
	/* the blocking request waiting for its answer, if any */
	Baton__V1__Frame__BodyCase sync_want; /* 0: none */
	Baton__V1__Frame__BodyCase sync_alt; /* another answer it takes, or 0
					   (a stream: its chunk or its end) */
	unsigned	 proto;		/* protocol version of the Welcome */
	const char	*sync_id;	/* the id it names, or "" */
	Frame		*sync_answer;	/* its answer, once read */
};

static void
clear_err(baton_error *err)
{
	err->status = BATON_OK;
	err->broker_code = 0;
	err->code_name[0] = '\0';
	err->text[0] = '\0';
	err->broker_text[0] = '\0';
}

/* Keeps the broker's own words next to our text; returns rc. */
static int
broker_said(baton_error *err, int rc, const char *text)
{
	snprintf(err->broker_text, sizeof(err->broker_text), "%s",
	    text != NULL ? text : "");
	return rc;
}

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

static void
queue_drop(baton_client *c)
{
	struct pending *p;

	while ((p = c->qhead) != NULL) {
		c->qhead = p->next;
		frame_free(p->f);
		free(p);
	}
	c->qtail = &c->qhead;
	c->qlen = 0;
}

/*
 * Gives each asynchronous request still in flight its result: rc, and what
 * to do about it.
 */
static void
fail_outstanding(baton_client *c, int rc)
{
	struct op *op;
	baton_result *r;

	while ((op = c->pipe.fly_head) != NULL) {
		pipe_answered(&c->pipe, op, 0);
		r = &op->res;
		r->status = rc;
		if (r->kind == BATON_RESULT_RECEIPT)
			conn_err(&r->error, rc, 0, "no receipt for message %s: "
			    "connection to broker %s closed (%s); it may or may "
			    "not have been accepted: reconnect and resubmit "
			    "with the same message id, which is safe",
			    r->receipt.message_id, c->conn.peer, c->why_dead);
		else
			conn_err(&r->error, rc, 0, "no answer to the ack of %s: "
			    "connection to broker %s closed (%s); unless the "
			    "ack was committed the item is delivered again",
			    r->ack_id, c->conn.peer, c->why_dead);
	}
}

/*
 * Marks the connection dead after a fatal error and returns rc. Items not
 * yet handed to the caller are dropped: they were not acked, so the broker
 * delivers them again. Asynchronous requests in flight get failed results.
 */
static int
kill_conn(baton_client *c, int rc, const baton_error *err)
{
	if (!c->dead) {
		snprintf(c->why_dead, sizeof(c->why_dead), "%.399s", err->text);
		c->dead = 1;
	}
	conn_close(&c->conn);
	queue_drop(c);
	fail_outstanding(c, rc);
	return rc;
}

static int
check_live(baton_client *c, baton_error *err)
{
	if (c->dead)
		return conn_err(err, BATON_E_CLOSED, 0,
		    "connection closed after an earlier error (%s); "
		    "reconnect", c->why_dead);
	return BATON_OK;
}

/*
 * Queues f for writing (by the next pump). BATON_OK, BATON_E_TOO_LARGE or
 * BATON_E_NOMEM (nothing queued, the connection usable), or BATON_E_CLOSED.
 */
static int
queue_frame(baton_client *c, const Frame *f, baton_error *err)
{
	int rc;

	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	rc = conn_queue_frame(&c->conn, f, err);
	if (rc == BATON_OK || rc == BATON_E_TOO_LARGE || rc == BATON_E_NOMEM)
		return rc;
	return kill_conn(c, rc, err);
}

static int
send_pull(baton_client *c, unsigned credit, baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Pull p = BATON__V1__PULL__INIT;

	p.credit = credit;
	f.body_case = BATON__V1__FRAME__BODY_PULL;
	f.pull = &p;
	return queue_frame(c, &f, err);
}

/*
 * Handles a frame that may arrive at any time. Takes ownership of f.
 * Returns BATON_OK when handled (queued, or Ping answered), -1 when f is
 * not such a frame (ownership stays with the caller), or an error code
 * (fatal; the connection is already dead).
 */
static int
handle_async(baton_client *c, Frame *f, baton_error *err)
{
	Frame pf = BATON__V1__FRAME__INIT;
	Baton__V1__Pong pong = BATON__V1__PONG__INIT;
	struct pending *p;
	int rc;

	switch (f->body_case) {
	case BATON__V1__FRAME__BODY_PING:
		pong.nonce = f->ping->nonce;
		pf.body_case = BATON__V1__FRAME__BODY_PONG;
		pf.pong = &pong;
		frame_free(f);
		rc = queue_frame(c, &pf, err);
		if (rc != BATON_OK && !c->dead)
			return kill_conn(c, rc, err);
		return rc;
	case BATON__V1__FRAME__BODY_ERROR:
		snprintf(c->broker_text, sizeof(c->broker_text), "%s",
		    nz(f->error->text));
		rc = conn_err(err, BATON_E_BROKER, f->error->code,
		    "broker %s closed the connection: %s: %s", c->conn.peer,
		    frame_code_name(f->error->code), nz(f->error->text));
		(void)broker_said(err, rc, f->error->text);
		frame_free(f);
		return kill_conn(c, rc, err);
	case BATON__V1__FRAME__BODY_DELIVER:
		if (f->deliver->envelope == NULL ||
		    !validate_reference(f->deliver->envelope->message_id)) {
			frame_free(f);
			rc = conn_err(err, BATON_E_PROTOCOL, 0,
			    "broker %s sent a delivery without a valid "
			    "reference", c->conn.peer);
			return kill_conn(c, rc, err);
		}
		break;
	case BATON__V1__FRAME__BODY_NOTICE:
		if (!validate_own_id(f->notice->notice_id)) {
			frame_free(f);
			rc = conn_err(err, BATON_E_PROTOCOL, 0,
			    "broker %s sent a notice without a valid notice "
			    "id", c->conn.peer);
			return kill_conn(c, rc, err);
		}
		break;
	default:
		return -1;
	}
	/* a broker that ignores our credit must not exhaust our memory */
	if (c->qlen >= 2 * (size_t)c->window + 16) {
		frame_free(f);
		rc = conn_err(err, BATON_E_PROTOCOL, 0,
		    "broker %s sent more deliveries than the %u credit "
		    "granted", c->conn.peer, c->window);
		return kill_conn(c, rc, err);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		frame_free(f);
		rc = conn_err(err, BATON_E_NOMEM, 0, "out of memory");
		return kill_conn(c, rc, err);
	}
	p->f = f;
	*c->qtail = p;
	c->qtail = &p->next;
	c->qlen++;
	if (c->credit > 0)
		c->credit--;
	return BATON_OK;
}

/*
 * Fills a receipt from the broker's Receipt for our own id; returns
 * BATON_OK when accepted, BATON_E_REFUSED (err set) when not.
 */
static void	set_reference(const baton_client *, baton_receipt *,
		    const char *, const char *);

static int
fill_receipt(const baton_client *c, const Baton__V1__Receipt *r,
    const char *id, baton_receipt *out, baton_error *err)
{
	out->code = r->code;
	out->code_name = frame_code_name(r->code);
	snprintf(out->text, sizeof(out->text), "%s", nz(r->text));
	out->duplicate = r->duplicate ? 1 : 0;
	out->received_at_ms = r->received_at_ms;
	if (r->code == BATON__V1__CODE__CODE_OK) {
		set_reference(c, out, r->reference, id);
		return BATON_OK;
	}
	return broker_said(err, conn_err(err, BATON_E_REFUSED, r->code,
	    "broker refused message %s: %s: %s", id, frame_code_name(r->code),
	    nz(r->text)), r->text);
}

/* The outcome of an AckResult for id: BATON_OK or BATON_E_REFUSED. */
static int
ack_outcome(const Baton__V1__AckResult *r, const char *id, baton_error *err)
{
	if (r->code == BATON__V1__CODE__CODE_OK)
		return BATON_OK;
	return broker_said(err, conn_err(err, BATON_E_REFUSED, r->code,
	    "broker refused the ack of %s: %s: %s", id,
	    frame_code_name(r->code), nz(r->text)), r->text);
}

/* Records the answer f (a Receipt or an AckResult) as op's result. */
static void
complete(baton_client *c, struct op *op, const Frame *f)
{
	baton_result *r = &op->res;

	clear_err(&r->error);
	if (r->kind == BATON_RESULT_RECEIPT)
		r->status = fill_receipt(c, f->receipt, r->receipt.message_id,
		    &r->receipt, &r->error);
	else
		r->status = ack_outcome(f->ack_result, r->ack_id, &r->error);
	pipe_answered(&c->pipe, op, pipe_now_us());
}

/*
 * A Receipt or AckResult naming id: the asynchronous request it answers,
 * else the waiting blocking one. Takes ownership of f.
 */
static int
answer(baton_client *c, Frame *f, enum baton_result_kind kind,
    const char *id, baton_error *err)
{
	struct op *op;
	int rc, sync_ok;

	sync_ok = c->sync_want == f->body_case && c->sync_answer == NULL;
	if (id == NULL || *id == '\0')
		op = pipe_oldest(&c->pipe, kind);
	else {
		op = pipe_find(&c->pipe, kind, id);
		if (sync_ok && strcmp(id, c->sync_id) != 0)
			sync_ok = 0;
	}
	if (op != NULL) {
		complete(c, op, f);
		frame_free(f);
		return BATON_OK;
	}
	if (sync_ok) {
		c->sync_answer = f;
		return BATON_OK;
	}
	rc = conn_err(err, BATON_E_PROTOCOL, 0, "broker %s sent a%s %s for a "
	    "message we have no request outstanding for", c->conn.peer,
	    kind == BATON_RESULT_ACK ? "n" : "", kind == BATON_RESULT_ACK ?
	    "ack result" : "receipt");
	frame_free(f);
	return kill_conn(c, rc, err);
}

/*
 * Handles one frame read from the broker. Takes ownership of f. BATON_OK,
 * or an error code (fatal; the connection is already dead).
 */
static int
dispatch(baton_client *c, Frame *f, baton_error *err)
{
	int rc;

	switch (f->body_case) {
	case BATON__V1__FRAME__BODY_RECEIPT:
		return answer(c, f, BATON_RESULT_RECEIPT,
		    f->receipt->message_id, err);
	case BATON__V1__FRAME__BODY_ACK_RESULT:
		return answer(c, f, BATON_RESULT_ACK,
		    f->ack_result->message_id, err);
	default:
		break;
	}
	if ((rc = handle_async(c, f, err)) != -1)
		return rc;
	if ((c->sync_want == f->body_case || (c->sync_alt != 0 &&
	    c->sync_alt == f->body_case)) && c->sync_answer == NULL) {
		c->sync_answer = f;
		return BATON_OK;
	}
	rc = conn_err(err, BATON_E_PROTOCOL, 0, "broker %s sent an unexpected "
	    "%s frame", c->conn.peer, frame_name(f));
	frame_free(f);
	return kill_conn(c, rc, err);
}

/* Writes what the socket takes; stamps requests sent. */
static int
flush(baton_client *c, baton_error *err)
{
	int rc;

	rc = conn_flush(&c->conn, err);
	pipe_written(&c->pipe, c->conn.out_written, pipe_now_us());
	if (rc == BATON_OK || rc == BATON_E_AGAIN)
		return BATON_OK;
	return kill_conn(c, rc, err);
}

/*
 * One pass that never waits: write, read and dispatch every frame that
 * has arrived (until TLS has nothing buffered), write what that queued.
 */
static int
pump(baton_client *c, baton_error *err)
{
	Frame *f;
	int rc;

	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	if ((rc = flush(c, err)) != BATON_OK)
		return rc;
	for (;;) {
		/* a stream's next frame is in: read no further until it is
		 * taken, so a long answer waits in the socket, not here */
		if (c->sync_alt != 0 && c->sync_answer != NULL)
			break;
		rc = conn_try_read_frame(&c->conn, &f, err);
		if (rc == BATON_E_AGAIN)
			break;
		if (rc != BATON_OK)
			return kill_conn(c, rc, err);
		if ((rc = dispatch(c, f, err)) != BATON_OK)
			return rc;
	}
	return flush(c, err);
}

typedef int (*done_fn)(const baton_client *);

static int
sync_answered(const baton_client *c)
{
	return c->sync_answer != NULL;
}

static int
item_ready(const baton_client *c)
{
	return c->qhead != NULL;
}

static int
something_ready(const baton_client *c)
{
	return c->pipe.res_head != NULL || c->qhead != NULL;
}

static int
drained(const baton_client *c)
{
	return !pipe_in_flight(&c->pipe) && !conn_has_output(&c->conn);
}

/*
 * Pumps, sleeping on the socket in between, until done(c) or the deadline.
 * BATON_OK, BATON_E_TIMEOUT (connection intact; err not set), or a fatal
 * error (the connection is dead).
 */
static int
run_until(baton_client *c, done_fn done, int64_t deadline, baton_error *err)
{
	int rc;

	for (;;) {
		if ((rc = pump(c, err)) != BATON_OK)
			return rc;
		if (done(c))
			return BATON_OK;
		rc = conn_wait(&c->conn, deadline, err);
		if (rc == BATON_E_TIMEOUT)
			return rc;
		if (rc != BATON_OK)
			return kill_conn(c, rc, err);
	}
}

/*
 * Sends a request (the frame f, or raw: an encoded frame of rawlen bytes)
 * and waits until its answer of type want, naming id (NULL: none), is in.
 * Any failure, a timeout included, kills the connection: the answer may
 * still come, and nothing could tell it from a later request's.
 */
static int	await_answer(baton_client *, Baton__V1__Frame__BodyCase,
		    Baton__V1__Frame__BodyCase, const char *, const char *,
		    int64_t, Frame **, baton_error *);

static int
request(baton_client *c, const Frame *f, const uint8_t *raw, size_t rawlen,
    Baton__V1__Frame__BodyCase want, const char *what, const char *id,
    int64_t deadline, Frame **out, baton_error *err)
{
	int rc;

	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	if (raw != NULL)
		rc = conn_queue_bytes(&c->conn, raw, rawlen, err);
	else
		rc = queue_frame(c, f, err);
	if (rc != BATON_OK)
		return rc;
	return await_answer(c, want, 0, what, id, deadline, out, err);
}

/*
 * Waits (without sending) for the answer of type want or alt (0: none),
 * naming id, as request() does.
 */
static int
await_answer(baton_client *c, Baton__V1__Frame__BodyCase want,
    Baton__V1__Frame__BodyCase alt, const char *what, const char *id,
    int64_t deadline, Frame **out, baton_error *err)
{
	Frame *ans;
	int rc;

	c->sync_want = want;
	c->sync_alt = alt;
	c->sync_id = id != NULL ? id : "";
	c->sync_answer = NULL;
	rc = run_until(c, sync_answered, deadline, err);
	ans = c->sync_answer;
	c->sync_want = 0;
	c->sync_alt = 0;
	c->sync_id = NULL;
	c->sync_answer = NULL;
	if (ans != NULL) {
		/* a failure after the answer came is the next call's news */
		*out = ans;
		return BATON_OK;
	}
	if (rc == BATON_E_TIMEOUT) {
		conn_err(err, rc, 0, "no %s from broker %s within %d ms; "
		    "connection closed", what, c->conn.peer, c->timeout_ms);
		return kill_conn(c, rc, err);
	}
	return rc;
}

/*
 * An answer naming another message means we are out of step with the
 * broker. One without an id is taken as ours: only one request is ever
 * outstanding, and a broker may not echo an id it found malformed.
 */
static int
check_answer_id(baton_client *c, const char *got, const char *sent,
    const char *what, baton_error *err)
{
	int rc;

	if (got == NULL || *got == '\0' || strcmp(got, sent) == 0)
		return BATON_OK;
	rc = conn_err(err, BATON_E_PROTOCOL, 0,
	    "broker %s sent a %s for another message", c->conn.peer, what);
	return kill_conn(c, rc, err);
}

const char *
baton_strerror(int status)
{
	switch (status) {
	case BATON_OK:
		return "success";
	case BATON_E_INVALID_ARG:
		return "invalid argument";
	case BATON_E_NOMEM:
		return "out of memory";
	case BATON_E_CONFIG:
		return "cannot use the CA, certificate or key";
	case BATON_E_CONNECT:
		return "cannot connect to the broker";
	case BATON_E_TLS:
		return "TLS handshake or verification failed";
	case BATON_E_TIMEOUT:
		return "timed out";
	case BATON_E_CLOSED:
		return "connection closed";
	case BATON_E_PROTOCOL:
		return "protocol error";
	case BATON_E_BROKER:
		return "broker closed the connection with an error";
	case BATON_E_REFUSED:
		return "refused by the broker";
	case BATON_E_JSON:
		return "JSON does not map to the dataset";
	case BATON_E_TOO_LARGE:
		return "frame too large for the broker";
	case BATON_E_AGAIN:
		return "not now: run the connection and try again";
	}
	return "unknown error";
}

char *
baton_format_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	int64_t sec, frac;
	size_t n;

	if (buf == NULL || len == 0)
		return buf;
	buf[0] = '\0';
	sec = ms / 1000;
	frac = ms % 1000;
	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0)
		return buf;
	if ((n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm)) == 0 ||
	    (size_t)snprintf(buf + n, len - n, ".%03dZ", (int)frac) >= len - n)
		buf[0] = '\0';
	return buf;
}

int
baton_new_message_id(char *buf, size_t len)
{
	unsigned char r[16];

	if (buf == NULL || len < 37)
		return BATON_E_INVALID_ARG;
	if (RAND_bytes(r, sizeof(r)) != 1)
		return BATON_E_NOMEM;
	r[6] = (r[6] & 0x0f) | 0x40;	/* version 4 */
	r[8] = (r[8] & 0x3f) | 0x80;	/* RFC 4122 variant */
	snprintf(buf, len, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5],
	    r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]);
	return BATON_OK;
}

static int
copy_str(char **dst, const char *src)
{
	if ((*dst = strdup(nz(src))) == NULL)
		return -1;
	return 0;
}

static int
do_hello(baton_client *c, const char *client_name, int64_t deadline,
    baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;
	Baton__V1__Welcome *w;
	Frame *resp = NULL;
	int rc;

	h.protocol_version = BATON_PROTOCOL_VERSION;
	h.client_name = (char *)client_name;
	f.body_case = BATON__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	if ((rc = request(c, &f, NULL, 0, BATON__V1__FRAME__BODY_WELCOME,
	    "welcome", NULL, deadline, &resp, err)) != BATON_OK)
		return rc;
	w = resp->welcome;
	if (w->protocol_version < BATON_PROTOCOL_MIN ||
	    w->protocol_version > BATON_PROTOCOL_VERSION) {
		rc = conn_err(err, BATON_E_PROTOCOL, 0,
		    "broker %s speaks protocol version %u; this library "
		    "speaks %d to %d", c->conn.peer, w->protocol_version,
		    BATON_PROTOCOL_MIN, BATON_PROTOCOL_VERSION);
		goto fail;
	}
	c->proto = w->protocol_version;
	if (!validate_node_id(w->node_id)) {
		rc = conn_err(err, BATON_E_PROTOCOL, 0,
		    "broker %s welcomed us without a valid node id",
		    c->conn.peer);
		goto fail;
	}
	if (copy_str(&c->node_id, w->node_id) == -1 ||
	    copy_str(&c->role, w->role) == -1 ||
	    copy_str(&c->organisation, w->organisation) == -1 ||
	    copy_str(&c->broker_id, w->broker_id) == -1) {
		rc = conn_err(err, BATON_E_NOMEM, 0, "out of memory");
		goto fail;
	}
	if (w->max_frame != 0)
		c->conn.max_frame = w->max_frame < MAX_FRAME_CAP ?
		    w->max_frame : MAX_FRAME_CAP;
	frame_free(resp);
	return BATON_OK;
fail:
	frame_free(resp);
	return kill_conn(c, rc, err);
}

int
baton_connect(const baton_config *cfg, baton_client **out, baton_error *err)
{
	baton_error lerr;
	baton_client *c = NULL;
	SSL_CTX *ctx = NULL;
	char host[256], port[8];
	const char *name;
	int64_t deadline;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (out == NULL || cfg == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_connect: NULL argument");
	*out = NULL;
	if (cfg->window > BATON_MAX_WINDOW)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "window %u exceeds %u", cfg->window, BATON_MAX_WINDOW);
	if (cfg->timeout_ms < 0)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "negative timeout");
	if ((rc = conn_split_hostport(cfg->broker, host, sizeof(host), port,
	    sizeof(port), err)) != BATON_OK)
		return rc;
	name = cfg->server_name != NULL && *cfg->server_name != '\0' ?
	    cfg->server_name : host;
	if ((rc = conn_tls_ctx(cfg, &ctx, err)) != BATON_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		SSL_CTX_free(ctx);
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	}
	conn_init(&c->conn);
	c->qtail = &c->qhead;
	pipe_init(&c->pipe);
	c->pipeline = BATON_DEFAULT_PIPELINE;
	c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms :
	    BATON_DEFAULT_TIMEOUT_MS;
	c->window = cfg->window > 0 ? cfg->window : BATON_DEFAULT_WINDOW;
	snprintf(c->conn.peer, sizeof(c->conn.peer), "%s", cfg->broker);
	snprintf(c->conn.ca_file, sizeof(c->conn.ca_file), "%s",
	    cfg->ca_file);

	deadline = conn_now() + c->timeout_ms;
	if ((rc = conn_open(&c->conn, ctx, host, port, name, deadline,
	    err)) != BATON_OK)
		goto fail;
	rc = do_hello(c, cfg->client_name != NULL && *cfg->client_name ?
	    cfg->client_name : BATON_CLIENT_NAME, deadline, err);
	if (rc == BATON_E_CLOSED) {
		/*
		 * In TLS 1.3 the broker checks our certificate after our
		 * side of the handshake is done, so a refusal whose alert
		 * was lost (reset) shows up here as a closed connection.
		 */
		conn_err(err, rc, 0, "broker %s closed the connection before "
		    "welcoming us: it may have refused our certificate %s "
		    "(revoked, expired, not from its CA) or failed; the "
		    "broker's log says why", cfg->broker, cfg->cert_file);
	} else if (rc == BATON_E_BROKER) {
		conn_err(err, rc, err->broker_code,
		    "broker %s refused the connection: %s: %s", cfg->broker,
		    frame_code_name(err->broker_code), c->broker_text);
		(void)broker_said(err, rc, c->broker_text);
	}
	if (rc != BATON_OK)
		goto fail;
	*out = c;
	return BATON_OK;
fail:
	baton_close(c);
	return rc;
}

void
baton_close(baton_client *c)
{
	if (c == NULL)
		return;
	/* what is queued goes out if the socket takes it now; no waiting */
	if (!c->dead)
		(void)conn_flush(&c->conn, NULL);
	conn_close(&c->conn);
	queue_drop(c);
	pipe_free(&c->pipe);
	free(c->node_id);
	free(c->role);
	free(c->organisation);
	free(c->broker_id);
	free(c);
}

const char *
baton_node_id(const baton_client *c)
{
	return c != NULL ? nz(c->node_id) : "";
}

const char *
baton_role(const baton_client *c)
{
	return c != NULL ? nz(c->role) : "";
}

const char *
baton_organisation(const baton_client *c)
{
	return c != NULL ? nz(c->organisation) : "";
}

uint32_t
baton_max_frame(const baton_client *c)
{
	return c != NULL ? c->conn.max_frame : 0;
}

/*
 * Fills out->reference from an accepting Receipt: the broker's reference
 * if it names our own id, else the one our node id and id make.
 */
static void
set_reference(const baton_client *c, baton_receipt *out, const char *ref,
    const char *id)
{
	if (ref != NULL && validate_reference(ref) &&
	    strcmp(validate_own_part(ref), id) == 0)
		snprintf(out->reference, sizeof(out->reference), "%s", ref);
	else
		snprintf(out->reference, sizeof(out->reference), "%s/%s",
		    c->node_id, id);
}

/*
 * Checks a submit's recipient and id; *id is message_id, or a new UUIDv4
 * in idbuf (at least 37 bytes) when message_id is NULL or "".
 */
static int
check_submit(const char *to, const char *message_id, char *idbuf,
    size_t idlen, const char **id, baton_error *err)
{
	int rc;

	*id = NULL;	/* set on BATON_OK only; -O3 cannot see conn_err's rc */
	/* "": a correction, which the broker sends to the case's holder */
	if (*to != '\0' && !validate_node_id(to))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "recipient \"%.64s\" is not a node id ([a-z0-9._-], at "
		    "most 64)", to);
	if (message_id == NULL || *message_id == '\0') {
		if ((rc = baton_new_message_id(idbuf, idlen)) != BATON_OK)
			return conn_err(err, rc, 0,
			    "cannot generate a message id");
		*id = idbuf;
	} else if (!validate_own_id(message_id))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "message id \"%.128s\" is not [A-Za-z0-9._:-]{1,128}",
		    message_id);
	else
		*id = message_id;
	return BATON_OK;
}

/* A request of kind for id would be the second outstanding one. */
static int
check_not_outstanding(const baton_client *c, enum baton_result_kind kind,
    const char *id, baton_error *err)
{
	if (pipe_find(&c->pipe, kind, id) == NULL)
		return BATON_OK;
	return conn_err(err, BATON_E_INVALID_ARG, 0, "%s %s is already "
	    "outstanding on this connection; wait for its result",
	    kind == BATON_RESULT_RECEIPT ? "a submit of message" :
	    "an ack of", id);
}

/* The wire check of packed handover bytes, as the broker runs it. */
static int
check_packed(const void *h, size_t len, baton_error *err)
{
	struct wire_fault wf;
	char buf[200];

	if (h == NULL && len > 0)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "packed handover: NULL bytes");
	if (wire_check(&baton__v1__handover__descriptor, h, len,
	    BATON_FRAME_MAX_TAGS, &wf) == WIRE_OK)
		return BATON_OK;
	return conn_err(err, BATON_E_INVALID_ARG, 0, "packed handover is not "
	    "a valid baton.v1.Handover: %s",
	    wire_fault_format(&wf, buf, sizeof(buf)));
}

/* Encodes a Submit of h (struct) or hp/hlen (packed) into *buf. */
static int
encode_submit(const baton_client *c, const char *to, const char *id,
    const char *replaces, const Baton__V1__Handover *h, const void *hp,
    size_t hlen, uint8_t **buf, size_t *len, baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Submit s = BATON__V1__SUBMIT__INIT;
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	size_t size;
	int st;

	if (h != NULL) {
		env.message_id = (char *)id;
		env.to = (char *)to;
		env.created_at_ms = clockms_wall();
		env.handover = (Baton__V1__Handover *)h;
		if (replaces != NULL)
			env.replaces = (char *)replaces;
		s.envelope = &env;
		f.body_case = BATON__V1__FRAME__BODY_SUBMIT;
		f.submit = &s;
		st = frame_encode(&f, c->conn.max_frame, buf, len);
		size = st == FRAME_TOO_LARGE ?
		    baton__v1__frame__get_packed_size(&f) : 0;
	} else {
		st = pipe_submit_frame(id, to, clockms_wall(), hp, hlen,
		    c->conn.max_frame, buf, len);
		size = hlen;
	}
	if (st == FRAME_OK)
		return BATON_OK;
	if (st == FRAME_NOMEM)
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	return conn_err(err, BATON_E_TOO_LARGE, 0, "submit of message %s "
	    "(%zu bytes) exceeds the broker's limit of %u bytes", id, size,
	    c->conn.max_frame);
}

/*
 * baton_submit, baton_submit_packed and baton_correct: h, or the packed
 * hp/hlen; replaces NULL but for a correction.
 */
static int
submit_blocking(baton_client *c, const char *to, const char *replaces,
    const Baton__V1__Handover *h, const void *hp, size_t hlen,
    const char *message_id, baton_receipt *out, baton_error *err)
{
	Baton__V1__Receipt *r;
	Frame *resp = NULL;
	uint8_t *buf = NULL;
	char idbuf[40];
	const char *id;
	size_t len;
	int rc;

	if ((rc = check_submit(to, message_id, idbuf, sizeof(idbuf), &id,
	    err)) != BATON_OK ||
	    (rc = check_not_outstanding(c, BATON_RESULT_RECEIPT, id, err)) !=
	    BATON_OK)
		return rc;
	snprintf(out->message_id, sizeof(out->message_id), "%s", id);
	if ((rc = check_live(c, err)) != BATON_OK ||
	    (rc = encode_submit(c, to, id, replaces, h, hp, hlen, &buf, &len,
	    err)) != BATON_OK)
		return rc;
	rc = request(c, NULL, buf, len, BATON__V1__FRAME__BODY_RECEIPT,
	    "receipt", id, conn_now() + c->timeout_ms, &resp, err);
	free(buf);
	if (rc == BATON_E_TIMEOUT)
		return conn_err(err, rc, 0, "no receipt from broker %s within "
		    "%d ms for message %s: it may or may not have been "
		    "accepted; reconnect and resubmit with the same message "
		    "id, which is safe", c->conn.peer, c->timeout_ms, id);
	if (rc != BATON_OK)
		return rc;
	r = resp->receipt;
	if ((rc = check_answer_id(c, r->message_id, id, "receipt", err)) ==
	    BATON_OK)
		rc = fill_receipt(c, r, id, out, err);
	frame_free(resp);
	return rc;
}

int
baton_submit(baton_client *c, const char *to, const Baton__V1__Handover *h,
    const char *message_id, baton_receipt *out, baton_error *err)
{
	baton_error lerr;
	baton_receipt lrec;

	if (err == NULL)
		err = &lerr;
	if (out == NULL)
		out = &lrec;
	clear_err(err);
	memset(out, 0, sizeof(*out));
	out->code_name = "";
	if (c == NULL || h == NULL || to == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit: NULL argument");
	if (*to == '\0')
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit: no recipient");
	return submit_blocking(c, to, NULL, h, NULL, 0, message_id, out, err);
}

int
baton_submit_packed(baton_client *c, const char *to, const void *handover,
    size_t len, const char *message_id, baton_receipt *out, baton_error *err)
{
	baton_error lerr;
	baton_receipt lrec;
	int rc;

	if (err == NULL)
		err = &lerr;
	if (out == NULL)
		out = &lrec;
	clear_err(err);
	memset(out, 0, sizeof(*out));
	out->code_name = "";
	if (c == NULL || to == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit_packed: NULL argument");
	if ((rc = check_packed(handover, len, err)) != BATON_OK)
		return rc;
	if (*to == '\0')
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit_packed: no recipient");
	return submit_blocking(c, to, NULL, NULL, handover, len, message_id,
	    out, err);
}

/*
 * baton_submit_json and baton_correct_json: the JSON mapped to a handover,
 * then baton_correct (replaces set) or baton_submit.
 */
static int
submit_json(baton_client *c, const char *to, const char *replaces,
    const char *json, size_t len, const char *message_id, baton_receipt *out,
    baton_error *err)
{
	ProtobufCMessage *m;
	baton_error lerr;
	char jerr[256];
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (out != NULL) {
		memset(out, 0, sizeof(*out));
		out->code_name = "";
	}
	if (json == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "%s: NULL argument", replaces != NULL ?
		    "baton_correct_json" : "baton_submit_json");
	jerr[0] = '\0';
	m = baton_json_parse(json, len, &baton__v1__handover__descriptor, jerr,
	    sizeof(jerr));
	if (m == NULL)
		return conn_err(err, BATON_E_JSON, 0, "%s",
		    jerr[0] ? jerr : "cannot parse the handover JSON");
	if (replaces != NULL)
		rc = baton_correct(c, replaces, (const Baton__V1__Handover *)m,
		    message_id, out, err);
	else
		rc = baton_submit(c, to, (const Baton__V1__Handover *)m,
		    message_id, out, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int
baton_submit_json(baton_client *c, const char *to, const char *json,
    size_t len, const char *message_id, baton_receipt *out, baton_error *err)
{
	return submit_json(c, to, NULL, json, len, message_id, out, err);
}

int
baton_correct(baton_client *c, const char *replaces,
    const Baton__V1__Handover *h, const char *message_id, baton_receipt *out,
    baton_error *err)
{
	baton_error lerr;
	baton_receipt lrec;

	if (err == NULL)
		err = &lerr;
	if (out == NULL)
		out = &lrec;
	clear_err(err);
	memset(out, 0, sizeof(*out));
	out->code_name = "";
	if (c == NULL || h == NULL || replaces == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_correct: NULL argument");
	if (!validate_message_id(replaces))
		return conn_err(err, BATON_E_INVALID_ARG, 0, "replaces "
		    "\"%.128s\" is neither a message id nor a reference",
		    replaces);
	if (c->proto != 0 && c->proto < 4)
		return conn_err(err, BATON_E_PROTOCOL, 0, "broker %s speaks "
		    "protocol %u; corrections need 4", c->conn.peer, c->proto);
	return submit_blocking(c, "", replaces, h, NULL, 0, message_id, out,
	    err);
}

int
baton_correct_json(baton_client *c, const char *replaces, const char *json,
    size_t len, const char *message_id, baton_receipt *out, baton_error *err)
{
	if (replaces == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_correct_json: NULL argument");
	return submit_json(c, "", replaces, json, len, message_id, out, err);
}

static int
make_incoming(baton_client *c, Frame *f, baton_incoming **out,
    baton_error *err)
{
	baton_incoming *in;
	Baton__V1__Deliver *d;
	Baton__V1__Notice *n;

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		frame_free(f);
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	}
	in->priv = f;
	if (f->body_case == BATON__V1__FRAME__BODY_DELIVER) {
		d = f->deliver;
		in->type = BATON_INCOMING_HANDOVER;
		in->envelope = d->envelope;
		in->handover = d->envelope->handover;
		in->ack_id = in->reference = nz(d->envelope->message_id);
		in->message_id = validate_own_part(in->reference);
		in->from = nz(d->envelope->from);
		in->to = nz(d->envelope->to);
		in->attempt = d->attempt;
		in->at_ms = d->received_at_ms;
		in->n_withheld = d->n_withheld;
		in->withheld = d->withheld;
	} else {
		n = f->notice;
		in->type = BATON_INCOMING_NOTICE;
		in->notice = n;
		in->ack_id = nz(n->notice_id);
		in->reference = nz(n->message_id);
		in->message_id = validate_own_part(in->reference);
		in->from = nz(n->sender);
		in->to = nz(n->recipient);
		in->attempt = n->attempt;
		in->at_ms = n->at_ms;
	}
	*out = in;
	return BATON_OK;
}

static int
queue_pop(baton_client *c, baton_incoming **out, baton_error *err)
{
	struct pending *p = c->qhead;
	Frame *f = p->f;

	c->qhead = p->next;
	if (c->qhead == NULL)
		c->qtail = &c->qhead;
	c->qlen--;
	free(p);
	return make_incoming(c, f, out, err);
}

int
baton_next(baton_client *c, int timeout_ms, baton_incoming **out,
    baton_error *err)
{
	baton_error lerr;
	int64_t deadline;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || out == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_next: NULL argument");
	*out = NULL;
	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	if (c->qhead != NULL)
		return queue_pop(c, out, err);

	/* keep at least half the window granted so deliveries stream */
	if (!c->pulled || c->credit * 2 < c->window) {
		if ((rc = send_pull(c, c->window - c->credit, err)) !=
		    BATON_OK)
			return rc;
		c->pulled = 1;
		c->credit = c->window;
	}

	deadline = conn_now() + (timeout_ms > 0 ? timeout_ms : 0);
	rc = run_until(c, item_ready, deadline, err);
	if (rc == BATON_E_TIMEOUT)
		return conn_err(err, rc, 0, "nothing received within %d ms",
		    timeout_ms > 0 ? timeout_ms : 0);
	if (rc != BATON_OK)
		return rc;
	return queue_pop(c, out, err);
}

void
baton_incoming_free(baton_incoming *in)
{
	if (in == NULL)
		return;
	frame_free(in->priv);
	free(in);
}

int
baton_ack(baton_client *c, const baton_incoming *in, baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Ack a = BATON__V1__ACK__INIT;
	Baton__V1__AckResult *r;
	baton_error lerr;
	Frame *resp = NULL;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || in == NULL || in->ack_id == NULL ||
	    !validate_message_id(in->ack_id))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_ack: no item or no id to acknowledge");
	if ((rc = check_not_outstanding(c, BATON_RESULT_ACK, in->ack_id,
	    err)) != BATON_OK)
		return rc;
	a.message_id = (char *)in->ack_id;
	a.attempt = in->attempt;
	f.body_case = BATON__V1__FRAME__BODY_ACK;
	f.ack = &a;
	rc = request(c, &f, NULL, 0, BATON__V1__FRAME__BODY_ACK_RESULT,
	    "ack result", in->ack_id, conn_now() + c->timeout_ms, &resp, err);
	if (rc != BATON_OK)
		return rc;
	r = resp->ack_result;
	if ((rc = check_answer_id(c, r->message_id, in->ack_id, "ack result",
	    err)) == BATON_OK)
		rc = ack_outcome(r, in->ack_id, err);
	frame_free(resp);
	return rc;
}

static int
set_str(json_t *o, const char *k, const char *v)
{
	return json_object_set_new(o, k, json_string(nz(v)));
}

static int
set_time(json_t *o, const char *k, int64_t ms)
{
	char buf[40];

	if (ms == 0)
		return 0;
	baton_format_time(ms, buf, sizeof(buf));
	if (buf[0] == '\0')
		return 0;
	return json_object_set_new(o, k, json_string(buf));
}

char *
baton_incoming_to_json(const baton_incoming *in)
{
	json_t *o, *h = NULL, *w, *n;
	const Baton__V1__Envelope *e;
	char *s = NULL;
	size_t i;
	int bad = 0;

	if (in == NULL || (o = json_object()) == NULL)
		return NULL;
	if (in->type == BATON_INCOMING_HANDOVER) {
		e = in->envelope;
		bad |= set_str(o, "type", "handover");
		bad |= set_str(o, "reference", in->reference);
		bad |= set_str(o, "message_id", in->message_id);
		bad |= set_str(o, "from", in->from);
		bad |= set_str(o, "to", in->to);
		if (e != NULL && e->redirected_from != NULL &&
		    *e->redirected_from != '\0')
			bad |= set_str(o, "redirected_from",
			    e->redirected_from);
		if (e != NULL && e->replaces != NULL && *e->replaces != '\0')
			bad |= set_str(o, "replaces", e->replaces);
		bad |= json_object_set_new(o, "attempt",
		    json_integer(in->attempt));
		if (e != NULL)
			bad |= set_time(o, "created_at", e->created_at_ms);
		bad |= set_time(o, "received_at", in->at_ms);
		h = in->handover != NULL ?
		    baton_json_from_message(&in->handover->base) :
		    json_object();
		bad |= json_object_set_new(o, "handover", h);
		if ((w = json_array()) == NULL)
			bad = 1;
		for (i = 0; w != NULL && i < in->n_withheld; i++)
			bad |= json_array_append_new(w,
			    json_string(nz(in->withheld[i])));
		bad |= json_object_set_new(o, "withheld", w);
	} else if (in->type == BATON_INCOMING_NOTICE && in->notice != NULL) {
		bad |= set_str(o, "type", "notice");
		bad |= set_time(o, "at", in->at_ms);
		if ((n = baton_json_from_message(&in->notice->base)) == NULL)
			bad = 1;
		else {
			bad |= json_object_update(o, n);
			json_decref(n);
		}
		/* the Notice names the handover by reference: show both
		 * forms, as for a handover */
		bad |= set_str(o, "reference", in->reference);
		bad |= set_str(o, "message_id", in->message_id);
	} else
		bad = 1;
	if (!bad)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

int
baton_decide(baton_client *c, const Baton__V1__Decision *d, baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__DecisionResult *r;
	baton_error lerr;
	Frame *resp = NULL;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || d == NULL || !validate_message_id(d->message_id))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_decide: no decision or no valid message id");
	f.body_case = BATON__V1__FRAME__BODY_DECISION;
	f.decision = (Baton__V1__Decision *)d;
	rc = request(c, &f, NULL, 0, BATON__V1__FRAME__BODY_DECISION_RESULT,
	    "decision result", d->message_id, conn_now() + c->timeout_ms,
	    &resp, err);
	if (rc != BATON_OK)
		return rc;
	r = resp->decision_result;
	if ((rc = check_answer_id(c, r->message_id, d->message_id,
	    "decision result", err)) != BATON_OK)
		goto done;
	if (r->code == BATON__V1__CODE__CODE_OK)
		rc = BATON_OK;
	else
		rc = broker_said(err, conn_err(err, BATON_E_REFUSED,
		    r->code, "broker refused the decision on %s: %s: %s",
		    d->message_id, frame_code_name(r->code), nz(r->text)),
		    r->text);
done:
	frame_free(resp);
	return rc;
}

int
baton_checkin(baton_client *c, const Baton__V1__CheckIn *ci, uint32_t *index,
    baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__CheckInResult *r;
	baton_error lerr;
	Frame *resp = NULL;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (index != NULL)
		*index = 0;
	if (c == NULL || ci == NULL || !validate_message_id(ci->message_id))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_checkin: no check-in or no valid message id");
	if (c->proto != 0 && c->proto < 4)
		return conn_err(err, BATON_E_PROTOCOL, 0, "broker %s speaks "
		    "protocol %u; check-ins need 4", c->conn.peer, c->proto);
	f.body_case = BATON__V1__FRAME__BODY_CHECK_IN;
	f.check_in = (Baton__V1__CheckIn *)ci;
	rc = request(c, &f, NULL, 0, BATON__V1__FRAME__BODY_CHECK_IN_RESULT,
	    "check-in result", ci->message_id, conn_now() + c->timeout_ms,
	    &resp, err);
	if (rc != BATON_OK)
		return rc;
	r = resp->check_in_result;
	if ((rc = check_answer_id(c, r->message_id, ci->message_id,
	    "check-in result", err)) != BATON_OK)
		goto done;
	if (r->code == BATON__V1__CODE__CODE_OK) {
		rc = BATON_OK;
		if (index != NULL)
			*index = r->index;
	} else
		rc = broker_said(err, conn_err(err, BATON_E_REFUSED,
		    r->code, "broker refused the check-in of %s: %s: %s",
		    ci->message_id, frame_code_name(r->code), nz(r->text)),
		    r->text);
done:
	frame_free(resp);
	return rc;
}

int
baton_status(baton_client *c, const char *message_id, Baton__V1__Status **out,
    baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__StatusRequest q = BATON__V1__STATUS_REQUEST__INIT;
	Baton__V1__Status *s;
	baton_error lerr;
	Frame *resp = NULL;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL || message_id == NULL ||
	    !validate_message_id(message_id))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_status: no valid message id");
	q.message_id = (char *)message_id;
	f.body_case = BATON__V1__FRAME__BODY_STATUS_REQUEST;
	f.status_request = &q;
	rc = request(c, &f, NULL, 0, BATON__V1__FRAME__BODY_STATUS, "status",
	    message_id, conn_now() + c->timeout_ms, &resp, err);
	if (rc != BATON_OK)
		return rc;
	s = resp->status;
	if ((rc = check_answer_id(c, s->message_id, message_id, "status",
	    err)) != BATON_OK)
		goto done;
	if (s->code != BATON__V1__CODE__CODE_OK) {
		rc = broker_said(err, conn_err(err, BATON_E_REFUSED,
		    s->code, "broker refused the status of %s: %s: %s",
		    message_id, frame_code_name(s->code), nz(s->text)),
		    s->text);
		goto done;
	}
	/* sub-messages are allocated one by one: detach it from the frame */
	resp->status = NULL;
	resp->body_case = BATON__V1__FRAME__BODY__NOT_SET;
	*out = s;
	rc = BATON_OK;
done:
	frame_free(resp);
	return rc;
}

void
baton_status_free(Baton__V1__Status *s)
{
	if (s != NULL)
		baton__v1__status__free_unpacked(s, NULL);
}

/* ------------------------------------------------------------------------
 * Pipelined calls (baton.h, "Pipelined calls")
 * ---------------------------------------------------------------------- */

int64_t
baton_monotonic_us(void)
{
	return pipe_now_us();
}

int
baton_set_pipeline(baton_client *c, unsigned window)
{
	if (c == NULL || window < 1 || window > BATON_MAX_PIPELINE)
		return BATON_E_INVALID_ARG;
	c->pipeline = window;
	return BATON_OK;
}

/*
 * Queues an encoded request (buf, len) as a new op of kind for id. The
 * op is made first, so a failure leaves nothing queued.
 */
static int
queue_op(baton_client *c, enum baton_result_kind kind, const char *id,
    uint32_t attempt, void *user, const uint8_t *buf, size_t len,
    baton_error *err)
{
	struct op *op;
	int rc;

	if ((op = pipe_op_new(kind, id, user)) == NULL)
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	op->res.attempt = attempt;
	if ((rc = conn_queue_bytes(&c->conn, buf, len, err)) != BATON_OK) {
		free(op);
		return rc;
	}
	pipe_add(&c->pipe, op, c->conn.out_queued);
	return BATON_OK;
}

/* baton_submit_async and baton_submit_packed_async. */
static int
submit_async(baton_client *c, const char *to, const Baton__V1__Handover *h,
    const void *hp, size_t hlen, const char *message_id, void *user,
    baton_error *err)
{
	uint8_t *buf = NULL;
	char idbuf[40];
	const char *id;
	size_t len;
	int rc;

	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	if (*to == '\0')
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "submit: no recipient");
	if (c->pipe.n[BATON_RESULT_RECEIPT] >= c->pipeline)
		return conn_err(err, BATON_E_AGAIN, 0, "%u submits outstanding, "
		    "the pipeline window: run the connection and take results "
		    "first", c->pipe.n[BATON_RESULT_RECEIPT]);
	if ((rc = check_submit(to, message_id, idbuf, sizeof(idbuf), &id,
	    err)) != BATON_OK ||
	    (rc = check_not_outstanding(c, BATON_RESULT_RECEIPT, id, err)) !=
	    BATON_OK ||
	    (rc = encode_submit(c, to, id, NULL, h, hp, hlen, &buf, &len,
	    err)) != BATON_OK)
		return rc;
	rc = queue_op(c, BATON_RESULT_RECEIPT, id, 0, user, buf, len, err);
	free(buf);
	return rc;
}

int
baton_submit_async(baton_client *c, const char *to,
    const Baton__V1__Handover *h, const char *message_id, void *user,
    baton_error *err)
{
	baton_error lerr;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || h == NULL || to == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit_async: NULL argument");
	return submit_async(c, to, h, NULL, 0, message_id, user, err);
}

int
baton_submit_packed_async(baton_client *c, const char *to,
    const void *handover, size_t len, const char *message_id, void *user,
    baton_error *err)
{
	baton_error lerr;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || to == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit_packed_async: NULL argument");
	if ((rc = check_packed(handover, len, err)) != BATON_OK)
		return rc;
	return submit_async(c, to, NULL, handover, len, message_id, user, err);
}

int
baton_submit_json_async(baton_client *c, const char *to, const char *json,
    size_t len, const char *message_id, void *user, baton_error *err)
{
	ProtobufCMessage *m;
	baton_error lerr;
	char jerr[256];
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || json == NULL || to == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_submit_json_async: NULL argument");
	jerr[0] = '\0';
	m = baton_json_parse(json, len, &baton__v1__handover__descriptor, jerr,
	    sizeof(jerr));
	if (m == NULL)
		return conn_err(err, BATON_E_JSON, 0, "%s",
		    jerr[0] ? jerr : "cannot parse the handover JSON");
	rc = submit_async(c, to, (const Baton__V1__Handover *)m, NULL, 0,
	    message_id, user, err);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int
baton_ack_async(baton_client *c, const baton_incoming *in, void *user,
    baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Ack a = BATON__V1__ACK__INIT;
	baton_error lerr;
	uint8_t *buf;
	size_t len;
	int rc;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL || in == NULL || in->ack_id == NULL ||
	    !validate_message_id(in->ack_id))
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_ack_async: no item or no id to acknowledge");
	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	if (c->pipe.n[BATON_RESULT_ACK] >= BATON_MAX_ACKS_OUTSTANDING)
		return conn_err(err, BATON_E_AGAIN, 0, "%u acks outstanding: "
		    "run the connection and take results first",
		    c->pipe.n[BATON_RESULT_ACK]);
	if ((rc = check_not_outstanding(c, BATON_RESULT_ACK, in->ack_id,
	    err)) != BATON_OK)
		return rc;
	a.message_id = (char *)in->ack_id;
	a.attempt = in->attempt;
	f.body_case = BATON__V1__FRAME__BODY_ACK;
	f.ack = &a;
	switch (frame_encode(&f, c->conn.max_frame, &buf, &len)) {
	case FRAME_OK:
		break;
	case FRAME_NOMEM:
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	default:
		return conn_err(err, BATON_E_TOO_LARGE, 0,
		    "ack frame exceeds the broker's limit");
	}
	rc = queue_op(c, BATON_RESULT_ACK, in->ack_id, in->attempt, user, buf,
	    len, err);
	free(buf);
	return rc;
}

int
baton_poll_result(baton_client *c, baton_result *out)
{
	struct op *op;

	if (c == NULL || out == NULL)
		return BATON_E_INVALID_ARG;
	if ((op = pipe_take(&c->pipe)) == NULL)
		return BATON_E_AGAIN;
	*out = op->res;
	free(op);
	return BATON_OK;
}

unsigned
baton_outstanding(const baton_client *c)
{
	if (c == NULL)
		return 0;
	return c->pipe.n[BATON_RESULT_RECEIPT] + c->pipe.n[BATON_RESULT_ACK];
}

int
baton_fd(const baton_client *c)
{
	if (c == NULL || c->dead)
		return -1;
	return c->conn.sock.fd;
}

int
baton_want_write(const baton_client *c)
{
	if (c == NULL || c->dead)
		return 0;
	return conn_want_write(&c->conn);
}

int
baton_process(baton_client *c, baton_error *err)
{
	baton_error lerr;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_process: NULL argument");
	return pump(c, err);
}

/* baton_wait and baton_drain: run until done or timeout_ms passed. */
static int
wait_for(baton_client *c, done_fn done, int timeout_ms, const char *what,
    baton_error *err)
{
	int rc;

	if (timeout_ms < 0)
		timeout_ms = 0;
	rc = run_until(c, done, conn_now() + timeout_ms, err);
	if (rc == BATON_E_TIMEOUT)
		return conn_err(err, rc, 0, "%s within %d ms", what,
		    timeout_ms);
	return rc;
}

int
baton_wait(baton_client *c, int timeout_ms, baton_error *err)
{
	baton_error lerr;

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_wait: NULL argument");
	if (something_ready(c))
		return BATON_OK;
	return wait_for(c, something_ready, timeout_ms,
	    "no result and no delivery", err);
}

void
baton_disconnect(baton_client *c)
{
	baton_error e;

	if (c == NULL || c->dead)
		return;
	conn_err(&e, BATON_E_CLOSED, 0, "closed by this program");
	(void)kill_conn(c, BATON_E_CLOSED, &e);
}

int
baton_drain(baton_client *c, int timeout_ms, baton_error *err)
{
	baton_error lerr;
	char what[80];

	if (err == NULL)
		err = &lerr;
	clear_err(err);
	if (c == NULL)
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "baton_drain: NULL argument");
	if (c->dead && !pipe_in_flight(&c->pipe))
		return check_live(c, err);
	snprintf(what, sizeof(what), "%u requests still without an answer",
	    baton_outstanding(c));
	return wait_for(c, drained, timeout_ms, what, err);
}

/* ------------------------------------------------------------------------
 * For the version 3 calls in baton_gov.c (exchange.h)
 * ---------------------------------------------------------------------- */

unsigned
client_protocol(const baton_client *c)
{
	return c->proto;
}

int
client_timeout_ms(const baton_client *c)
{
	return c->timeout_ms;
}

int
client_check_idle(baton_client *c, baton_error *err)
{
	int rc;

	if ((rc = check_live(c, err)) != BATON_OK)
		return rc;
	if (pipe_in_flight(&c->pipe))
		return conn_err(err, BATON_E_INVALID_ARG, 0, "a query cannot "
		    "start while pipelined requests are outstanding; drain "
		    "them first");
	return BATON_OK;
}

int
client_request(baton_client *c, const Frame *f,
    Baton__V1__Frame__BodyCase want, Baton__V1__Frame__BodyCase alt,
    const char *what, Frame **out, baton_error *err)
{
	int rc;

	if ((rc = queue_frame(c, f, err)) != BATON_OK)
		return rc;
	return client_await(c, want, alt, what, out, err);
}

int
client_await(baton_client *c, Baton__V1__Frame__BodyCase want,
    Baton__V1__Frame__BodyCase alt, const char *what, Frame **out,
    baton_error *err)
{
	return await_answer(c, want, alt, what, NULL,
	    conn_now() + c->timeout_ms, out, err);
}

int
client_fail(baton_client *c, int rc, baton_error *err)
{
	return kill_conn(c, rc, err);
}

void
client_clear_err(baton_error *err)
{
	clear_err(err);
}
