/*
 * baton_gov.c - libbaton's protocol version 3 calls (baton.h): the work
 * lists (WorkListRequest -> WorkList) and an auditor's audit queries
 * (AuditQuery -> AuditChunk ... AuditDone), over baton.c's blocking
 * exchange (exchange.h).
 *
 * A query's answer is a stream: baton.c reads it one frame at a time (it
 * stops reading once the next frame is in, until it is taken), and each
 * chunk goes to the caller before the next is read, so the client holds
 * one chunk and the broker sends only as fast as we read.
 *
 * Also baton_parse_time, the time syntax of the audit filters.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "baton.h"
#include "conn.h"
#include "exchange.h"
#include "utctime.h"
#include "validate.h"

#define BODY(x)	BATON__V1__FRAME__BODY_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* BATON_OK if c may start a version 3 request. */
static int
check_v3(baton_client *c, const char *call, baton_error *err)
{
	int rc;

	if ((rc = client_check_idle(c, err)) != BATON_OK)
		return rc;
	if (client_protocol(c) < 3)
		return conn_err(err, BATON_E_PROTOCOL, 0, "%s needs a broker "
		    "that speaks protocol version 3; this one speaks %u", call,
		    client_protocol(c));
	return BATON_OK;
}

/* A refusal in an answer: BATON_E_REFUSED with the broker's code and text. */
static int
refused(baton_error *err, int code, const char *what, const char *text)
{
	int rc;

	rc = conn_err(err, BATON_E_REFUSED, code, "broker refused the %s: %s: %s",
	    what, frame_code_name(code), nz(text));
	snprintf(err->broker_text, sizeof(err->broker_text), "%s", nz(text));
	return rc;
}

/*
 * A cursor is the broker's, opaque (an inbox's is sealed for this node):
 * only its length and alphabet are ours to check before it goes back.
 */
static int
cursor_ok(const char *cursor)
{
	size_t n = strlen(cursor);

	return n <= BATON_WORK_CURSOR_MAX &&
	    strspn(cursor, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789/._:-") == n;
}

static int
work_list(baton_client *c, int kind, int undecided, int64_t since_ms,
    const char *cursor, unsigned limit, Baton__V1__WorkList **out,
    baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__WorkListRequest q = BATON__V1__WORK_LIST_REQUEST__INIT;
	const char *what = kind == BATON__V1__WORK_LIST_KIND__WORK_LIST_KIND_OUTBOX ?
	    "outbox" : "inbox";
	baton_error lerr;
	Frame *resp = NULL;
	int rc;

	if (err == NULL)
		err = &lerr;
	client_clear_err(err);
	if (out != NULL)
		*out = NULL;
	if (c == NULL || out == NULL || limit > BATON_WORK_LIST_MAX ||
	    (cursor != NULL && !cursor_ok(cursor)))
		return conn_err(err, BATON_E_INVALID_ARG, 0, "baton_%s: no "
		    "client, or a bad cursor or limit", what);
	if ((rc = check_v3(c, what, err)) != BATON_OK)
		return rc;
	q.kind = kind;
	q.undecided = undecided != 0;
	q.since_ms = since_ms;
	q.cursor = (char *)nz(cursor);
	q.limit = limit;
	f.body_case = BODY(WORK_LIST_REQUEST);
	f.work_list_request = &q;
	if ((rc = client_request(c, &f, BODY(WORK_LIST), 0, what, &resp,
	    err)) != BATON_OK)
		return rc;
	if (resp->work_list->code != CODE(OK)) {
		rc = refused(err, resp->work_list->code, what,
		    resp->work_list->text);
		frame_free(resp);
		return rc;
	}
	/* sub-messages are allocated one by one: detach it from the frame */
	*out = resp->work_list;
	resp->work_list = NULL;
	resp->body_case = BATON__V1__FRAME__BODY__NOT_SET;
	frame_free(resp);
	return BATON_OK;
}

int
baton_outbox(baton_client *c, int undecided, int64_t since_ms,
    const char *cursor, unsigned limit, Baton__V1__WorkList **out,
    baton_error *err)
{
	return work_list(c, BATON__V1__WORK_LIST_KIND__WORK_LIST_KIND_OUTBOX,
	    undecided, since_ms, cursor, limit, out, err);
}

int
baton_inbox(baton_client *c, const char *cursor, unsigned limit,
    Baton__V1__WorkList **out, baton_error *err)
{
	return work_list(c, BATON__V1__WORK_LIST_KIND__WORK_LIST_KIND_INBOX, 0,
	    0, cursor, limit, out, err);
}

void
baton_work_list_free(Baton__V1__WorkList *wl)
{
	if (wl != NULL)
		baton__v1__work_list__free_unpacked(wl, NULL);
}

/* A fresh query id: 16 random hex digits. */
static int
new_query_id(char out[33])
{
	unsigned char r[8];
	int i;

	if (RAND_bytes(r, sizeof(r)) != 1)
		return -1;
	for (i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* 1 if the n values v are all given, and not too many. */
static int
values_ok(const char *const *v, size_t n)
{
	size_t i;

	if (n > BATON_AUDIT_FILTER_MAX || (n > 0 && v == NULL))
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] == NULL)
			return 0;
	return 1;
}

/* 1 if r can be sent: a known kind and format, filter values all given. */
static int
request_ok(const baton_audit_request *r)
{
	return r->kind >= BATON_AUDIT_LIST && r->kind <= BATON_AUDIT_HEAD &&
	    r->format >= BATON_AUDIT_FORMAT_DEFAULT &&
	    r->format <= BATON_AUDIT_FORMAT_HTML &&
	    values_ok(r->nodes, r->n_nodes) &&
	    values_ok(r->message_ids, r->n_message_ids) &&
	    values_ok(r->events, r->n_events);
}

/*
 * The request as an AuditQuery (strings point into r; protobuf-c only
 * reads them, whatever the missing const says).
 */
static void
fill_query(const baton_audit_request *r, const char *id,
    Baton__V1__AuditQuery *q)
{
	q->query_id = (char *)id;
	q->kind = (Baton__V1__AuditQueryKind)r->kind;
	q->format = (Baton__V1__AuditFormat)r->format;
	q->since_ms = r->since_ms;
	q->until_ms = r->until_ms;
	q->nodes = (char **)r->nodes;
	q->n_nodes = r->n_nodes;
	q->message_ids = (char **)r->message_ids;
	q->n_message_ids = r->n_message_ids;
	q->events = (char **)r->events;
	q->n_events = r->n_events;
	q->nhs_number = (char *)nz(r->nhs_number);
}

/* The end of the answer: the summary, or the broker's refusal. */
static int
take_done(const Baton__V1__AuditDone *d, baton_audit_summary *out,
    baton_error *err)
{
	if (d->code != CODE(OK))
		return refused(err, d->code, "audit query", d->text);
	if (out != NULL) {
		out->records = d->records;
		out->head_seq = d->head_seq;
		snprintf(out->head_hash, sizeof(out->head_hash), "%s",
		    nz(d->head_hash));
	}
	return BATON_OK;
}

/* Hands chunks to fn until AuditDone. Takes ownership of first. */
static int
read_stream(baton_client *c, const char *id, Frame *f, baton_chunk_fn fn,
    void *arg, baton_audit_summary *out, baton_error *err)
{
	int rc;

	for (;;) {
		const char *got = f->body_case == BODY(AUDIT_DONE) ?
		    f->audit_done->query_id : f->audit_chunk->query_id;

		if (*nz(got) != '\0' && strcmp(got, id) != 0) {
			frame_free(f);
			return client_fail(c, conn_err(err, BATON_E_PROTOCOL, 0,
			    "broker sent an answer to another audit query"),
			    err);
		}
		if (f->body_case == BODY(AUDIT_DONE)) {
			rc = take_done(f->audit_done, out, err);
			frame_free(f);
			return rc;
		}
		rc = fn(arg, f->audit_chunk->data.data, f->audit_chunk->data.len);
		frame_free(f);
		if (rc != 0)
			return client_fail(c, conn_err(err, BATON_E_CLOSED, 0,
			    "audit query stopped by the caller; connection "
			    "closed"), err);
		if ((rc = client_await(c, BODY(AUDIT_CHUNK), BODY(AUDIT_DONE),
		    "audit answer", &f, err)) != BATON_OK)
			return rc;
	}
}

int
baton_audit_query(baton_client *c, const baton_audit_request *r,
    baton_chunk_fn fn, void *arg, baton_audit_summary *out, baton_error *err)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__AuditQuery q = BATON__V1__AUDIT_QUERY__INIT;
	char id[33];
	baton_error lerr;
	Frame *resp = NULL;
	int rc;

	if (err == NULL)
		err = &lerr;
	client_clear_err(err);
	if (out != NULL)
		memset(out, 0, sizeof(*out));
	if (c == NULL || r == NULL || fn == NULL || !request_ok(r))
		return conn_err(err, BATON_E_INVALID_ARG, 0, "baton_audit_query: "
		    "no client, request or callback, an unknown kind or "
		    "format, or a filter value NULL or more than %d of one",
		    BATON_AUDIT_FILTER_MAX);
	if ((rc = check_v3(c, "an audit query", err)) != BATON_OK)
		return rc;
	if (new_query_id(id) == -1)
		return conn_err(err, BATON_E_NOMEM, 0, "no random bytes for a "
		    "query id");
	fill_query(r, id, &q);
	f.body_case = BODY(AUDIT_QUERY);
	f.audit_query = &q;
	if ((rc = client_request(c, &f, BODY(AUDIT_CHUNK), BODY(AUDIT_DONE),
	    "audit answer", &resp, err)) != BATON_OK)
		return rc;
	return read_stream(c, id, resp, fn, arg, out, err);
}

int
baton_parse_time(const char *s, int end_of, int64_t *out_ms)
{
	if (s == NULL || out_ms == NULL || utctime_parse(s, end_of,
	    out_ms) == -1)
		return BATON_E_INVALID_ARG;
	return BATON_OK;
}
