/*
 * audit_query.c - the AuditQuery frame (see audit_query.h): check who
 * asks and what, record the query, then stream the answer from the state
 * library (audit_page.h for list and export, audit_head for the head,
 * audit_trail.h and audit_report.h fed page by page for a trail and a
 * report). Owns the stream's place and the frames; the reading and the
 * formats are the state layer's, the same code batonctl uses.
 *
 * A trail or a report is built from the whole log before any of it can
 * be written, so its pages are read pass by pass into the builder (its
 * memory is bounded by the builder: audit_trail.h, audit_report.h), then
 * its output is written once into a buffer that the stream sends a window
 * at a time as the client reads, like list and export.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_page.h"
#include "audit_query.h"
#include "audit_report.h"
#include "audit_trail.h"
#include "log.h"
#include "policy.h"
#include "report_store.h"
#include "validate.h"

#define SID(s)		((unsigned long long)(s)->id)
#define CODE(x)		BATON__V1__CODE__CODE_##x
#define KIND(x)		BATON__V1__AUDIT_QUERY_KIND__AUDIT_QUERY_KIND_##x
#define FMT(x)		BATON__V1__AUDIT_FORMAT__AUDIT_FORMAT_##x

/*
 * Pages one stream reads in one pass. The pass's receipts wait for its
 * commit, so a long query reads one page (at most PAGE_SCAN_MAX records)
 * and is taken up again in the next pass, not eight.
 */
#define PAGES_PER_PASS	1
#define PAGE_SCAN_MAX	2048	/* records one page reads at most */

/* What a stream answers with. */
enum stream_mode {
	STREAM_ROWS = 0,	/* list, export: rows as they are read */
	STREAM_TRAIL,		/* the log fed to a trail, then its output */
	STREAM_REPORT,		/* the log fed to a report, then its output */
};

/* One answer in progress: the query as checked, and how far it has got. */
struct audit_stream {
	char			 query_id[BATON_OWN_ID_MAX + 1];
	const char		*kind;		/* "list", "export", ... for logs */
	enum stream_mode	 mode;
	enum audit_format	 fmt;		/* rows */
	int			 json;		/* trail: JSON, not text */
	enum report_format	 rfmt;		/* report */
	struct audit_trail	*trail;		/* STREAM_TRAIL, until written */
	struct report		*report;	/* STREAM_REPORT, until written */
	char			*out;		/* a trail's or report's output */
	size_t			 out_len, out_sent;
	struct audit_filter	 f;		/* subject_ref points below */
	char			 subject_ref[AUDIT_REF_HEX + 1];
	struct audit_page	 page;
	int			 header_done;
	uint64_t		 head_seq;	/* the chain head at the start */
	char			 head_hash[AUDIT_REF_HEX + 1];
};

int
audit_query_is_auditor(const struct session *s)
{
	return strcmp(s->role, AUDIT_QUERY_ROLE) == 0;
}

static void
send_done(struct session *s, const char *id, int code, const char *text,
    const struct audit_stream *as)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__AuditDone d = BATON__V1__AUDIT_DONE__INIT;

	d.query_id = (char *)(validate_own_id(id) ? id : "");
	d.code = code;
	d.text = (char *)text;
	if (as != NULL) {
		d.records = as->page.matched;
		d.head_seq = as->head_seq;
		d.head_hash = (char *)as->head_hash;
	}
	f.body_case = BATON__V1__FRAME__BODY_AUDIT_DONE;
	f.audit_done = &d;
	session_send(s, &f);
}

/* Sends len bytes of the answer as AuditChunk frames that fit max_frame. */
static void
send_data(struct session *s, const char *id, const char *buf, size_t len)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__AuditChunk c = BATON__V1__AUDIT_CHUNK__INIT;
	size_t slice = s->b->cfg->max_frame - 256, n;

	if (slice > AUDIT_CHUNK_MAX)
		slice = AUDIT_CHUNK_MAX;
	c.query_id = (char *)id;
	f.body_case = BATON__V1__FRAME__BODY_AUDIT_CHUNK;
	f.audit_chunk = &c;
	while (len > 0 && s->state == SESSION_READY) {
		n = len < slice ? len : slice;
		c.data.data = (uint8_t *)buf;
		c.data.len = n;
		if (session_send(s, &f) != 0)
			return;
		buf += n;
		len -= n;
	}
}

/* A refusal: recorded (limited, as every refusal), answered, logged. */
static void
refuse(struct session *s, const Baton__V1__AuditQuery *q, int code,
    const char *text)
{
	struct audit_event ev = { 0 };
	char reason[320];

	snprintf(reason, sizeof(reason), "audit query: %s", text);
	session_audit_actor(s, &ev);
	ev.event = AUDIT_STATUS_REFUSED;
	ev.outcome = frame_code_name(code);
	ev.reason = reason;
	(void)state_audit(&s->b->st, &ev);
	send_done(s, q->query_id, code, text, NULL);
	log_warnx("sid=%llu node=%s role=%s audit query refused code=%s", SID(s),
	    s->node_id, s->role, frame_code_name(code));
}

/* The kind's format: its default, or the one asked for if the kind has it. */
static int
pick_format(const Baton__V1__AuditQuery *q, struct audit_stream *as)
{
	switch (q->kind) {
	case KIND(LIST):
		as->kind = "list";
		if (q->format == FMT(UNSPECIFIED) || q->format == FMT(TABLE))
			as->fmt = AUDIT_FORMAT_TABLE;
		else
			break;
		return 0;
	case KIND(EXPORT):
		as->kind = "export";
		if (q->format == FMT(UNSPECIFIED) || q->format == FMT(JSONL))
			as->fmt = AUDIT_FORMAT_JSONL;
		else if (q->format == FMT(CSV))
			as->fmt = AUDIT_FORMAT_CSV;
		else
			break;
		return 0;
	case KIND(HEAD):
		as->kind = "head";
		return 0;
	case KIND(TRAIL):
		as->kind = "trail";
		as->mode = STREAM_TRAIL;
		if (q->format == FMT(UNSPECIFIED) || q->format == FMT(TABLE))
			as->json = 0;
		else if (q->format == FMT(JSON))
			as->json = 1;
		else
			break;
		return 0;
	case KIND(REPORT):
		as->kind = "report";
		as->mode = STREAM_REPORT;
		if (q->format == FMT(UNSPECIFIED) || q->format == FMT(TABLE))
			as->rfmt = REPORT_TABLE;
		else if (q->format == FMT(CSV))
			as->rfmt = REPORT_CSV;
		else if (q->format == FMT(HTML))
			as->rfmt = REPORT_HTML;
		else
			break;
		return 0;
	default:
		break;
	}
	return -1;
}

/*
 * Adds the n values of one repeated filter field to f (any of them
 * matches). 0, or -1 if one is not valid or there are too many.
 */
static int
add_values(struct audit_filter *f, enum audit_filter_field which,
    char *const *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (audit_filter_add(f, which, v[i]) != 0)
			return -1;
	return 0;
}

/* The query's filters into as->f. Returns 0, or -1 with text set. */
static int
set_filter(struct session *s, const Baton__V1__AuditQuery *q,
    struct audit_stream *as, char *text, size_t textlen)
{
	audit_filter_init(&as->f);
	if (q->since_ms != 0)
		as->f.since_ms = q->since_ms;
	if (q->until_ms != 0)
		as->f.until_ms = q->until_ms;
	if (add_values(&as->f, AUDIT_FILTER_NODE, q->nodes,
	    q->n_nodes) == -1) {
		snprintf(text, textlen, "node filter: not a node id, or more "
		    "than %d", AUDIT_FILTER_MAX);
		return -1;
	}
	if (add_values(&as->f, AUDIT_FILTER_MESSAGE, q->message_ids,
	    q->n_message_ids) == -1) {
		snprintf(text, textlen, "message filter: not a reference, or "
		    "more than %d", AUDIT_FILTER_MAX);
		return -1;
	}
	if (add_values(&as->f, AUDIT_FILTER_EVENT, q->events,
	    q->n_events) == -1) {
		snprintf(text, textlen, "event filter: an unknown event name, "
		    "or more than %d", AUDIT_FILTER_MAX);
		return -1;
	}
	if (q->nhs_number[0] == '\0')
		return 0;
	if (audit_subject_ref(s->b->st.audit, q->nhs_number,
	    as->subject_ref) == -1) {
		snprintf(text, textlen, "not a valid NHS number");
		return -1;
	}
	as->f.subject_ref = as->subject_ref;
	return 0;
}

/*
 * The query itself, recorded before anything of the answer goes out.
 * Returns STORE_OK, or STORE_FULL: then it was not recorded, and a query
 * that is not recorded is not answered.
 */
static int
record_query(struct session *s, const struct audit_stream *as)
{
	struct audit_event ev = { 0 };
	char reason[AUDIT_FIELD_MAX], t[AUDIT_TIME_LEN + 1];
	int n;

	n = snprintf(reason, sizeof(reason), "%s over tls upto=%" PRIu64,
	    as->kind, as->head_seq);
	if (as->f.since_ms != INT64_MIN && n > 0 && (size_t)n < sizeof(reason)) {
		audit_time_format(as->f.since_ms, t);
		n += snprintf(reason + n, sizeof(reason) - n, " since=%s", t);
	}
	if (as->f.until_ms != INT64_MAX && n > 0 && (size_t)n < sizeof(reason)) {
		audit_time_format(as->f.until_ms, t);
		n += snprintf(reason + n, sizeof(reason) - n, " until=%s", t);
	}
	if (n > 0 && (size_t)n < sizeof(reason))
		audit_filter_describe(&as->f, reason, sizeof(reason));
	session_audit_actor(s, &ev);
	ev.event = AUDIT_LOG_READ;
	ev.message_id = as->f.nmessage_ids == 1 ? as->f.message_ids[0] : NULL;
	ev.subject_ref = as->f.subject_ref;	/* a person: the reference only */
	ev.outcome = "ok";
	ev.reason = reason;
	return state_audit(&s->b->st, &ev);
}

/* Reads the head; 0, or -1 with text set (the last record is damaged). */
static int
read_head(struct session *s, struct audit_stream *as, char *text,
    size_t textlen)
{
	state_touch(&s->b->st);
	if (audit_head(s->b->st.store, &as->head_seq, as->head_hash) ==
	    STORE_OK)
		return 0;
	snprintf(text, textlen, "the audit log's last record fails its check; "
	    "ask the broker's administrator to run batonctl audit verify");
	return -1;
}

static void
stream_free(struct audit_stream *as)
{
	if (as == NULL)
		return;
	audit_trail_free(as->trail);
	report_free(as->report);
	free(as->out);
	free(as);
}

/*
 * A report's options: the period asked for, the policy in force (its
 * deadlines, and the hash of the bytes it was parsed from) and the
 * registry, read in the pass's transaction when the report is fed.
 */
static void
report_opts_for(struct session *s, const struct audit_stream *as,
    struct report_opts *o)
{
	const struct policy *p = s->b->st.policy;
	int i;

	memset(o, 0, sizeof(*o));
	o->since_ms = as->f.since_ms;
	o->until_ms = as->f.until_ms;
	o->now_ms = state_now_ms();
	for (i = 0; i < REPORT_RISKS && i < POLICY_RISK_LEVELS; i++)
		o->deadline_ms[i] = p->deadline_ms[i];
	o->policy_name = "the policy in force";
	o->policy_sha256 = p->sha256[0] != '\0' ? p->sha256 : NULL;
	o->role_of = report_registry_role;
	o->role_arg = s->b->st.store;
}

/* The trail or report a stream feeds, if it has one. 0, or -1 (memory). */
static int
start_builder(struct session *s, struct audit_stream *as)
{
	struct report_opts o;

	switch (as->mode) {
	case STREAM_TRAIL:
		return (as->trail = audit_trail_new(&as->f)) != NULL ? 0 : -1;
	case STREAM_REPORT:
		/* report_new copies what it keeps of o */
		report_opts_for(s, as, &o);
		return (as->report = report_new(&o)) != NULL ? 0 : -1;
	default:
		return 0;
	}
}

void
audit_query_handle(struct session *s, const Baton__V1__AuditQuery *q)
{
	struct audit_stream *as;
	char text[256], line[AUDIT_REF_HEX + 32];
	int n;

	if (s->stream != NULL) {
		session_fail(s, CODE(LIMIT_EXCEEDED), "one audit query at a time "
		    "per connection");
		return;
	}
	if (!audit_query_is_auditor(s)) {
		snprintf(text, sizeof(text), "role '%s' may not query the audit "
		    "log; only a node with role '%s' may", s->role,
		    AUDIT_QUERY_ROLE);
		refuse(s, q, CODE(NOT_PERMITTED), text);
		return;
	}
	if ((as = calloc(1, sizeof(*as))) == NULL) {
		session_fail(s, CODE(INTERNAL), "out of memory");
		return;
	}
	if (!validate_own_id(q->query_id)) {
		refuse(s, q, CODE(INVALID), "the query id is not valid");
		goto done;
	}
	if (pick_format(q, as) == -1) {
		refuse(s, q, CODE(INVALID), "no such query kind, or a format "
		    "it does not have (trail: table or json; report: table, "
		    "csv or html; list: table; export: csv or jsonl)");
		goto done;
	}
	if (set_filter(s, q, as, text, sizeof(text)) == -1) {
		refuse(s, q, CODE(INVALID), text);
		goto done;
	}
	if (as->mode == STREAM_TRAIL && as->f.subject_ref == NULL &&
	    as->f.nmessage_ids == 0) {
		refuse(s, q, CODE(INVALID), "a trail is of a person or of "
		    "handovers: give an NHS number or a message reference");
		goto done;
	}
	if (read_head(s, as, text, sizeof(text)) == -1) {
		refuse(s, q, CODE(INTERNAL), text);
		goto done;
	}
	snprintf(as->query_id, sizeof(as->query_id), "%s", q->query_id);
	if (record_query(s, as) != STORE_OK) {
		refuse(s, q, CODE(STORE_FULL), "the broker's store is full, so "
		    "this query could not be recorded; retry later");
		goto done;
	}
	log_info("sid=%llu node=%s audit query=%s kind=%s upto=%" PRIu64, SID(s),
	    s->node_id, as->query_id, as->kind, as->head_seq);
	if (q->kind == KIND(HEAD)) {
		n = snprintf(line, sizeof(line), "%" PRIu64 ":%s\n", as->head_seq,
		    as->head_hash);
		send_data(s, as->query_id, line, (size_t)n);
		send_done(s, as->query_id, CODE(OK), "", as);
		goto done;
	}
	if (start_builder(s, as) == -1) {
		/* recorded as asked; the answer says why it stopped */
		send_done(s, as->query_id, CODE(INTERNAL), "out of memory", as);
		goto done;
	}
	as->page.upto = as->head_seq;
	s->stream = as;		/* the commit pass pumps it (broker.c) */
	s->want_drain = 1;	/* and the write callback, once the window drains */
	state_schedule(&s->b->st);
	return;
done:
	stream_free(as);
}

/* The bytes a stream may leave queued: half of max-output, at most a window. */
static size_t
stream_window(const struct session *s)
{
	size_t w = s->b->cfg->max_output / 2;

	return w < AUDIT_STREAM_WINDOW ? w : AUDIT_STREAM_WINDOW;
}

/*
 * The answer ended (or failed): AuditDone, and the stream goes. It is
 * taken off the session first: sending can close the session (its output
 * bound), whose on_gone would free a stream still attached.
 */
static void
finish(struct session *s, int code, const char *text)
{
	struct audit_stream *as = s->stream;

	s->stream = NULL;
	s->want_drain = 0;
	send_done(s, as->query_id, code, text, as);
	if (code == CODE(OK))
		log_info("sid=%llu node=%s audit query=%s kind=%s records=%" PRIu64
		    " done", SID(s), s->node_id, as->query_id, as->kind,
		    as->page.matched);
	else
		log_warnx("sid=%llu node=%s audit query=%s stopped: %s", SID(s),
		    s->node_id, as->query_id, text);
	stream_free(as);
}

static int
feed_trail(void *arg, const Baton__Store__V1__AuditRecord *r)
{
	return audit_trail_add(arg, r);
}

static int
feed_report(void *arg, const Baton__Store__V1__AuditRecord *r)
{
	return report_add(arg, r);
}

/*
 * The builder's output, once every page is in: what is open now (a
 * report), then the text into as->out. 0, or -1 with err set.
 */
static int
write_built(struct session *s, struct audit_stream *as, char *err,
    size_t errlen)
{
	FILE *out;
	int rc;

	if (as->mode == STREAM_REPORT && report_feed_open(as->report,
	    s->b->st.store, state_now_ms(), state_due_ms(&s->b->st)) !=
	    STORE_OK) {
		snprintf(err, errlen, "reading the queues: %s",
		    store_strerror(s->b->st.store));
		return -1;
	}
	if ((out = open_memstream(&as->out, &as->out_len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = as->mode == STREAM_TRAIL ?
	    audit_trail_write(as->trail, out, as->json) :
	    report_write(as->report, out, as->rfmt);
	if (fclose(out) != 0 || rc != 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	audit_trail_free(as->trail);
	report_free(as->report);
	as->trail = NULL;
	as->report = NULL;
	return 0;
}

/* Feeds one page to the stream's builder. 0, or -1 with err set. */
static int
feed_page(struct session *s, struct audit_stream *as, char *err,
    size_t errlen)
{
	/* every record: a trail and a report pick their own */
	return audit_page_feed(s->b->st.store, NULL, &as->page, PAGE_SCAN_MAX,
	    as->mode == STREAM_TRAIL ? feed_trail : feed_report,
	    as->mode == STREAM_TRAIL ? (void *)as->trail : (void *)as->report,
	    err, errlen);
}

/*
 * Sends what of a built output fits the window; 1 once all of it went.
 * The stream is off the session while it sends (see finish); if sending
 * closed the session, the stream is freed here and 0 returned.
 */
static int
send_built(struct session *s, struct audit_stream *as)
{
	size_t n = as->out_len - as->out_sent, room = 0;

	if (session_output_len(s) < stream_window(s))
		room = stream_window(s) - session_output_len(s);
	if (n > room)
		n = room;
	s->stream = NULL;
	send_data(s, as->query_id, as->out + as->out_sent, n);
	if (s->state != SESSION_READY) {
		stream_free(as);
		return 0;
	}
	s->stream = as;
	as->out_sent += n;
	return as->out_sent == as->out_len;
}

/* Reads and sends one page. 0, or -1 with err set. */
static int
one_page(struct session *s, struct audit_stream *as, char *err,
    size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out;
	int rc;

	if ((out = open_memstream(&buf, &len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!as->header_done) {
		audit_page_header(out, as->fmt);
		as->header_done = 1;
	}
	rc = audit_page_read(s->b->st.store, &as->f, as->fmt, &as->page,
	    stream_window(s) / 4, PAGE_SCAN_MAX, out, err, errlen);
	if (fclose(out) != 0 && rc == 0) {
		snprintf(err, errlen, "out of memory");
		rc = -1;
	}
	if (rc == 0)
		send_data(s, as->query_id, buf, len);
	free(buf);
	return rc;
}

int
audit_query_pump(struct session *s)
{
	struct audit_stream *as = s->stream;
	char err[256];
	int pages = 0;

	/* a full window waits for the session's write callback, and a
	 * pass that reads nothing opens no transaction */
	if (as == NULL || s->state != SESSION_READY ||
	    session_output_len(s) >= stream_window(s))
		return 0;
	if (as->out != NULL) {		/* a trail or report, written */
		if (send_built(s, as) && s->state == SESSION_READY)
			finish(s, CODE(OK), "");
		return 0;
	}
	state_touch(&s->b->st);
	while (session_output_len(s) < stream_window(s)) {
		if (pages++ == PAGES_PER_PASS)
			return 1;	/* its share of this pass is used */
		if ((as->mode == STREAM_ROWS ? one_page(s, as, err,
		    sizeof(err)) : feed_page(s, as, err, sizeof(err))) == -1) {
			finish(s, CODE(INTERNAL), err);
			return 0;
		}
		if (s->state != SESSION_READY)
			return 0;
		if (as->page.done && as->mode != STREAM_ROWS) {
			if (write_built(s, as, err, sizeof(err)) == -1) {
				finish(s, CODE(INTERNAL), err);
				return 0;
			}
			if (send_built(s, as) && s->state == SESSION_READY)
				finish(s, CODE(OK), "");
			return 0;
		}
		if (as->page.done) {
			finish(s, CODE(OK), "");
			return 0;
		}
	}
	/* the window is full: the session's write callback resumes it */
	return 0;
}

void
audit_query_gone(struct session *s)
{
	stream_free(s->stream);
	s->stream = NULL;
	s->want_drain = 0;
}
