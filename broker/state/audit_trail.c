/*
 * audit_trail.c - a trail through the audit log, handover by handover
 * (see audit_trail.h).
 *
 * Two halves: taking records in (audit_trail_add: which handover a record
 * belongs to, through a small open-addressing table of message ids, and
 * what it adds to it), and writing the result out, as text wrapped to
 * AUDIT_TRAIL_WIDTH columns or as JSON.
 *
 * Everything kept is copied out of the record, bounded and cleaned
 * (copy_clean): a record is untrusted input, and the trail outlives it.
 * Memory is at most AUDIT_TRAIL_MAX_HANDOVERS handover entries and
 * AUDIT_TRAIL_MAX_EVENTS timeline entries of fixed size (at most about
 * 5 MB with the slack of growing arrays), whatever the length of the log.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_trail.h"
#include "audit_verify_int.h"
#include "store.pb-c.h"
#include "validate.h"

#define TEXT_MAX	256	/* a reason, a section list */
#define ROLE_MAX	32	/* as the registry's */
#define ORG_MAX		128
#define CODE_MAX	32	/* an outcome */
#define WORD_MAX	24	/* a risk level, a transition kind */
#define SLOTS		(2 * AUDIT_TRAIL_MAX_HANDOVERS)	/* a power of two */
#define TIME_COL	2	/* where a timeline line starts, */
#define EVENT_COL	22	/* its event name, */
#define TEXT_COL	35	/* and what follows */

/* One entry of a handover's timeline: what its record said. */
struct trail_event {
	uint64_t	 seq;
	int64_t		 time_ms;
	int64_t		 since_submit_ms;	/* -1: not recorded */
	int64_t		 since_delivery_ms;	/* -1: not recorded */
	char		 event[AUDIT_EVENT_MAX + 1];
	char		 actor[BATON_NODE_ID_MAX + 1];
	char		 role[ROLE_MAX + 1];
	char		 org[ORG_MAX + 1];
	char		 other[BATON_NODE_ID_MAX + 1];
	char		 outcome[CODE_MAX + 1];
	char		 reason[TEXT_MAX + 1];
	char		 disclosed[TEXT_MAX + 1];	/* comma-separated */
	char		 withheld[TEXT_MAX + 1];
};

struct trail_handover {
	char			 id[BATON_MESSAGE_ID_MAX + 1];
	char			 risk[WORD_MAX + 1];	/* "" until a record says */
	char			 kind[WORD_MAX + 1];
	char			 recipient[BATON_NODE_ID_MAX + 1]; /* current */
	const char		*state;		/* a static name */
	int			 submitted;	/* its submitted record seen */
	int			 partial;	/* its first record in the trail
						   is not that: earlier ones
						   are out of range or archived */
	int			 escalated;
	int			 purged;	/* the body was removed */
	struct trail_event	*ev;		/* the timeline */
	size_t			 nev, cap;
	uint64_t		 status_reads;
	uint64_t		 notices_queued, notices_delivered;
	uint64_t		 notices_acked;
	uint64_t		 refusals;	/* ack, decision, status, submit */
	uint64_t		 resubmissions;	/* a resend answered again */
	uint64_t		 left_out;	/* timeline entries past the bound */
};

struct audit_trail {
	struct audit_filter	 f;
	char			 subject[AUDIT_REF_HEX + 1]; /* "": none */
	struct trail_handover	*h;		/* AUDIT_TRAIL_MAX_HANDOVERS */
	size_t			 nh;
	uint16_t		 slot[SLOTS];	/* 1 + index into h; 0: free */
	size_t			 nevents;	/* timeline entries, in all */
	uint64_t		 scanned;	/* records offered */
	uint64_t		 first_seq, last_seq; /* of the records offered */
	uint64_t		 log_reads;	/* audit_read records about it */
	uint64_t		 left_out;	/* records of handovers past the
						   bound, not in the trail */
	uint64_t		 events_left_out; /* timeline entries past it */
};

/* Taking records in. */

/*
 * Copies s into dst (size bytes, NUL included), cut at a character
 * boundary, with control characters and broken UTF-8 as '?': what may
 * be shown on a terminal or put in a JSON string as it is (but for '"'
 * and '\\').
 */
static void
copy_clean(char *dst, size_t size, const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 o = 0;
	uint32_t		 cp;
	int			 n;

	while (*p != '\0') {
		n = audit_utf8_seq(p, &cp);
		if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			if (o + 1 >= size)
				break;
			dst[o++] = '?';
			p += n == 0 ? 1 : n;
			continue;
		}
		if (o + (size_t)n >= size)
			break;
		memcpy(dst + o, p, (size_t)n);
		o += (size_t)n;
		p += n;
	}
	dst[o] = '\0';
}

static uint32_t
id_hash(const char *id)
{
	uint32_t	 h = 2166136261u;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

/* The slot that holds id, or the free one where it would go. */
static uint16_t *
find_slot(struct audit_trail *t, const char *id)
{
	uint32_t	 i = id_hash(id) & (SLOTS - 1);

	/* never full: at most half the slots are ever used */
	while (t->slot[i] != 0 && strcmp(t->h[t->slot[i] - 1].id, id) != 0)
		i = (i + 1) & (SLOTS - 1);
	return &t->slot[i];
}

/* 1 if a record with no handover yet in the trail starts one. */
static int
starts_handover(const struct audit_trail *t,
    const Baton__Store__V1__AuditRecord *r)
{
	size_t	 i;

	if (t->subject[0] != '\0')
		return strcmp(r->subject_ref, t->subject) == 0;
	for (i = 0; i < t->f.nmessage_ids; i++)
		if (strcmp(r->message_id, t->f.message_ids[i]) == 0)
			return 1;
	return 0;
}

/*
 * The handover r is about: found, or started if r starts one and there is
 * room. NULL when it is not the trail's (or past the bound: counted).
 */
static struct trail_handover *
handover_of(struct audit_trail *t, const Baton__Store__V1__AuditRecord *r)
{
	struct trail_handover	*h;
	uint16_t		*slot;

	if (r->message_id[0] == '\0' ||
	    strlen(r->message_id) > BATON_MESSAGE_ID_MAX)
		return NULL;
	slot = find_slot(t, r->message_id);
	if (*slot != 0)
		return &t->h[*slot - 1];
	if (!starts_handover(t, r))
		return NULL;
	if (t->nh >= AUDIT_TRAIL_MAX_HANDOVERS) {
		t->left_out++;
		return NULL;
	}
	h = &t->h[t->nh++];
	*slot = (uint16_t)t->nh;
	memcpy(h->id, r->message_id, strlen(r->message_id) + 1);
	h->state = "queued";
	h->partial = strcmp(r->event, AUDIT_SUBMIT_ACCEPTED) != 0;
	return h;
}

/* Appends r to h's timeline; 0, or -1 when out of memory. */
static int
timeline_add(struct audit_trail *t, struct trail_handover *h,
    const Baton__Store__V1__AuditRecord *r)
{
	struct trail_event	*e;
	size_t			 cap;

	if (t->nevents >= AUDIT_TRAIL_MAX_EVENTS) {
		h->left_out++;
		t->events_left_out++;
		return 0;
	}
	if (h->nev == h->cap) {
		cap = h->cap == 0 ? 8 : 2 * h->cap;
		if ((e = reallocarray(h->ev, cap, sizeof(*e))) == NULL)
			return -1;
		h->ev = e;
		h->cap = cap;
	}
	e = &h->ev[h->nev++];
	t->nevents++;
	e->seq = r->seq;
	e->time_ms = r->time_ms;
	e->since_submit_ms = audit_record_since_submit(r);
	e->since_delivery_ms = audit_record_since_delivery(r);
	copy_clean(e->event, sizeof(e->event), r->event);
	copy_clean(e->actor, sizeof(e->actor), r->actor);
	copy_clean(e->role, sizeof(e->role), r->actor_role);
	copy_clean(e->org, sizeof(e->org), r->actor_org);
	copy_clean(e->other, sizeof(e->other), r->other);
	copy_clean(e->outcome, sizeof(e->outcome), r->outcome);
	copy_clean(e->reason, sizeof(e->reason), r->reason);
	copy_clean(e->disclosed, sizeof(e->disclosed), r->disclosed);
	copy_clean(e->withheld, sizeof(e->withheld), r->withheld);
	return 0;
}

/*
 * The events of a handover's timeline and the state each leaves it in
 * (NULL: unchanged); the rest are counted.
 */
static const struct {
	const char	*event;
	const char	*state;
} timeline[] = {
	{ AUDIT_SUBMIT_ACCEPTED, "queued" },
	{ AUDIT_DELIVERED, "delivered" },
	{ AUDIT_ACKNOWLEDGED, "acknowledged" },
	{ AUDIT_ACCEPTED, "accepted" },
	{ AUDIT_REJECTED, "rejected" },
	{ AUDIT_REDIRECTED, "queued" },		/* for the new recipient */
	{ AUDIT_ESCALATED, NULL },
	{ AUDIT_EXPIRED, "expired" },
	{ AUDIT_QUARANTINED, "quarantined" },
	{ AUDIT_PURGED, NULL },
	/* pathway control: who held it and why, the versions, the
	 * follow-up after acceptance and every missed contact */
	{ AUDIT_HELD, "held" },
	{ AUDIT_RELEASED, "queued" },
	{ AUDIT_SUPERSEDED, NULL },
	{ AUDIT_CHECKINS_SCHEDULED, NULL },
	{ AUDIT_CHECKIN_RECORDED, NULL },
	{ AUDIT_CONTACT_MISSED, NULL },
	{ AUDIT_CONTACT_ESCALATED, NULL },
};

/* Counts a record that is not on the timeline; 1 if it was one to count. */
static int
count(struct trail_handover *h, const char *event)
{
	uint64_t	*c = NULL;

	if (strcmp(event, AUDIT_STATUS_READ) == 0)
		c = &h->status_reads;
	else if (strcmp(event, AUDIT_NOTICE_QUEUED) == 0)
		c = &h->notices_queued;
	else if (strcmp(event, AUDIT_NOTICE_DELIVERED) == 0)
		c = &h->notices_delivered;
	else if (strcmp(event, AUDIT_NOTICE_ACKED) == 0)
		c = &h->notices_acked;
	else if (strcmp(event, AUDIT_ACK_REFUSED) == 0 ||
	    strcmp(event, AUDIT_DECISION_REFUSED) == 0 ||
	    strcmp(event, AUDIT_STATUS_REFUSED) == 0 ||
	    strcmp(event, AUDIT_SUBMIT_REFUSED) == 0 ||
	    strcmp(event, AUDIT_CHECKIN_REFUSED) == 0)
		c = &h->refusals;
	if (c != NULL)
		(*c)++;
	return c != NULL;
}

/* What r adds to h. 0, or -1 when out of memory. */
static int
handover_add(struct audit_trail *t, struct trail_handover *h,
    const Baton__Store__V1__AuditRecord *r)
{
	size_t	 i;

	if (r->risk[0] != '\0')
		copy_clean(h->risk, sizeof(h->risk), r->risk);
	if (r->kind[0] != '\0')
		copy_clean(h->kind, sizeof(h->kind), r->kind);
	if (count(h, r->event))
		return 0;
	if (strcmp(r->event, AUDIT_SUBMIT_ACCEPTED) == 0 && h->submitted) {
		h->resubmissions++;
		return 0;
	}
	for (i = 0; i < sizeof(timeline) / sizeof(timeline[0]); i++)
		if (strcmp(r->event, timeline[i].event) == 0)
			break;
	if (i == sizeof(timeline) / sizeof(timeline[0]))
		return 0;	/* queued: the submit or redirect says it */
	if (timeline[i].state != NULL)
		h->state = timeline[i].state;
	if (strcmp(r->event, AUDIT_SUBMIT_ACCEPTED) == 0 ||
	    strcmp(r->event, AUDIT_REDIRECTED) == 0)
		copy_clean(h->recipient, sizeof(h->recipient), r->other);
	h->submitted |= strcmp(r->event, AUDIT_SUBMIT_ACCEPTED) == 0;
	h->escalated |= strcmp(r->event, AUDIT_ESCALATED) == 0;
	h->purged |= strcmp(r->event, AUDIT_PURGED) == 0;
	return timeline_add(t, h, r);
}

/* 1 if r is a read of the audit log about the trail's subject or ids. */
static int
reads_trail(const struct audit_trail *t,
    const Baton__Store__V1__AuditRecord *r)
{
	if (strcmp(r->event, AUDIT_LOG_READ) != 0)
		return 0;
	if (t->subject[0] != '\0')
		return strcmp(r->subject_ref, t->subject) == 0;
	return r->message_id[0] != '\0' && starts_handover(t, r);
}

int
audit_trail_add(struct audit_trail *t, const Baton__Store__V1__AuditRecord *r)
{
	struct trail_handover	*h;

	if (t->scanned++ == 0)
		t->first_seq = r->seq;
	t->last_seq = r->seq;
	if (r->time_ms < t->f.since_ms || r->time_ms > t->f.until_ms)
		return 0;
	if (reads_trail(t, r)) {
		t->log_reads++;
		return 0;
	}
	if ((h = handover_of(t, r)) == NULL)
		return 0;
	return handover_add(t, h, r);
}

struct audit_trail *
audit_trail_new(const struct audit_filter *f)
{
	struct audit_trail	*t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->h = calloc(AUDIT_TRAIL_MAX_HANDOVERS, sizeof(*t->h))) ==
	    NULL) {
		free(t);
		return NULL;
	}
	t->f = *f;
	if (f->subject_ref != NULL)
		copy_clean(t->subject, sizeof(t->subject), f->subject_ref);
	t->f.subject_ref = t->subject[0] != '\0' ? t->subject : NULL;
	return t;
}

void
audit_trail_free(struct audit_trail *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nh; i++)
		free(t->h[i].ev);
	free(t->h);
	free(t);
}

static int
trail_each(void *arg, const Baton__Store__V1__AuditRecord *r)
{
	return audit_trail_add(arg, r) == 0 ? 0 : -2;
}

int
audit_trail_read(struct store *s, struct audit_trail *t, char *err,
    size_t errlen)
{
	int	 rc;

	rc = audit_walk(s, trail_each, t, err, errlen);
	if (rc == -2)
		(void)snprintf(err, errlen, "out of memory");
	return rc == 0 ? 0 : -1;
}

/* Writing: text. */

/* Where a line of text output stands. */
struct col {
	FILE	*out;
	size_t	 at;		/* the column of the next character */
	size_t	 indent;	/* where a wrapped line goes on */
};

/* Columns n bytes of clean UTF-8 take: one per character. */
static size_t
width_of(const char *s, size_t n)
{
	size_t	 i, w = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			w++;
	return w;
}

/* Bytes of s that fit in w columns (at least one character). */
static size_t
bytes_in(const char *s, size_t n, size_t w)
{
	size_t	 i, cols = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (cols == w && i > 0)
				return i;
			cols++;
		}
	}
	return n;
}

static void
col_newline(struct col *c)
{
	(void)fputc('\n', c->out);
	c->at = 0;
}

/* Moves to column n (a new line first if past it). */
static void
col_to(struct col *c, size_t n)
{
	if (c->at > n)
		col_newline(c);
	for (; c->at < n; c->at++)
		(void)fputc(' ', c->out);
}

/* One word of n bytes, on this line if it fits, else on the next. */
static void
col_word(struct col *c, const char *w, size_t n)
{
	size_t	 cols = width_of(w, n), room, take;

	if (c->at > c->indent && c->at + 1 + cols > AUDIT_TRAIL_WIDTH)
		col_newline(c);
	if (c->at < c->indent)
		col_to(c, c->indent);
	else if (c->at > c->indent) {
		(void)fputc(' ', c->out);
		c->at++;
	}
	/* a word wider than a line (a long id) is cut across lines */
	while (c->at + cols > AUDIT_TRAIL_WIDTH) {
		room = AUDIT_TRAIL_WIDTH - c->at;
		take = bytes_in(w, n, room > 0 ? room : 1);
		(void)fwrite(w, 1, take, c->out);
		w += take;
		n -= take;
		cols = width_of(w, n);
		col_newline(c);
		col_to(c, c->indent);
	}
	(void)fwrite(w, 1, n, c->out);
	c->at += cols;
}

/* The words of s (split at blanks), wrapped. */
static void
col_text(struct col *c, const char *s)
{
	size_t	 n;

	for (;;) {
		s += strspn(s, " ");
		if ((n = strcspn(s, " ")) == 0)
			return;
		col_word(c, s, n);
		s += n;
	}
}

/* A comma-separated list, as "a, b, c", wrapped between its items. */
static void
col_list(struct col *c, const char *s)
{
	char	 item[TEXT_MAX + 2];
	size_t	 n;

	while (*s != '\0') {
		n = strcspn(s, ",");
		(void)snprintf(item, sizeof(item), "%.*s%s", (int)n, s,
		    s[n] == ',' ? "," : "");
		col_word(c, item, strlen(item));
		s += s[n] == ',' ? n + 1 : n;
	}
}

/* A length of time for people: "0.4s", "12.0s", "4m05s", "2h03m", "3d04h". */
static void
duration(int64_t ms, char *buf, size_t len)
{
	if (ms < 60000)
		(void)snprintf(buf, len, "%" PRId64 ".%" PRId64 "s", ms / 1000,
		    (ms % 1000) / 100);
	else if (ms < 3600000)
		(void)snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s",
		    ms / 60000, (ms / 1000) % 60);
	else if (ms < 86400000)
		(void)snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m",
		    ms / 3600000, (ms / 60000) % 60);
	else
		(void)snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h",
		    ms / 86400000, (ms / 3600000) % 24);
}

/* "node (role, org)", the parts there are, into buf. */
static void
who(const char *node, const char *role, const char *org, char *buf,
    size_t len)
{
	if (role[0] != '\0' && org[0] != '\0')
		(void)snprintf(buf, len, "%s (%s, %s)", node, role, org);
	else if (role[0] != '\0' || org[0] != '\0')
		(void)snprintf(buf, len, "%s (%s)", node, role[0] != '\0' ?
		    role : org);
	else
		(void)snprintf(buf, len, "%s", node);
}

/* "; 12.0s after submit, 3.1s after delivery", for the times there are. */
static void
col_times(struct col *c, const struct trail_event *e)
{
	char	 d[32], text[96];

	if (e->since_submit_ms >= 0) {
		duration(e->since_submit_ms, d, sizeof(d));
		(void)snprintf(text, sizeof(text), "%s after submit%s", d,
		    e->since_delivery_ms >= 0 ? "," : "");
		col_text(c, text);
	}
	if (e->since_delivery_ms >= 0) {
		duration(e->since_delivery_ms, d, sizeof(d));
		(void)snprintf(text, sizeof(text), "%s after delivery", d);
		col_text(c, text);
	}
}

/* What an event says after its name, on the first of its lines. */
static void
event_text(struct col *c, const struct trail_event *e)
{
	char	 actor[BATON_NODE_ID_MAX + ROLE_MAX + ORG_MAX + 8];
	char	 text[TEXT_MAX + ORG_MAX + ROLE_MAX + 3 * BATON_NODE_ID_MAX +
	    96];
	int	 timed = e->since_submit_ms >= 0 || e->since_delivery_ms >= 0;
	const char *end = timed ? ";" : "";

	/* a node's role and organisation where it comes in: the sender on
	   the submit, each recipient on its delivery */
	who(e->actor, e->role, e->org, actor, sizeof(actor));
	if (strcmp(e->event, AUDIT_SUBMIT_ACCEPTED) == 0)
		(void)snprintf(text, sizeof(text), "by %s to %s", actor,
		    e->other);
	else if (strcmp(e->event, AUDIT_DELIVERED) == 0)
		(void)snprintf(text, sizeof(text), "to %s, %s%s", actor,
		    e->reason, end);
	else if (strcmp(e->event, AUDIT_ACKNOWLEDGED) == 0)
		(void)snprintf(text, sizeof(text), "by %s", e->actor);
	else if (strcmp(e->event, AUDIT_REJECTED) == 0)
		(void)snprintf(text, sizeof(text), "by %s, reason %s%s",
		    e->actor, e->reason[0] != '\0' ? e->reason : "(none)", end);
	else if (strcmp(e->event, AUDIT_REDIRECTED) == 0)
		(void)snprintf(text, sizeof(text), "by %s to %s%s", e->actor,
		    e->other, end);
	else if (strcmp(e->event, AUDIT_ACCEPTED) == 0)
		(void)snprintf(text, sizeof(text), "by %s%s", e->actor, end);
	else if (strcmp(e->event, AUDIT_PURGED) == 0)
		(void)snprintf(text, sizeof(text), "content removed: %s",
		    e->reason);
	else if (strcmp(e->event, AUDIT_QUARANTINED) == 0)
		(void)snprintf(text, sizeof(text), "%s (%s), at %s", e->reason,
		    e->outcome, e->other);
	else if (strcmp(e->event, AUDIT_SUPERSEDED) == 0 ||
	    strcmp(e->event, AUDIT_CHECKIN_RECORDED) == 0)
		(void)snprintf(text, sizeof(text), "by %s: %s", e->actor,
		    e->reason);
	else if (strcmp(e->event, AUDIT_CONTACT_MISSED) == 0 ||
	    strcmp(e->event, AUDIT_CONTACT_ESCALATED) == 0)
		(void)snprintf(text, sizeof(text), "%s (told %s)", e->reason,
		    e->other);
	else	/* escalated, expired: the broker's, about the recipient */
		(void)snprintf(text, sizeof(text), "%s (recipient %s)%s",
		    e->reason, e->other, end);
	col_text(c, text);
	col_times(c, e);
}

static void
write_event(struct col *c, const struct trail_event *e)
{
	char	 t[AUDIT_TIME_LEN + 1];

	audit_time_format(e->time_ms, t);
	t[10] = ' ';
	t[19] = '\0';		/* to the second: the JSON has the rest */
	col_to(c, TIME_COL);
	(void)fputs(t, c->out);
	c->at += strlen(t);
	col_to(c, EVENT_COL);
	(void)fputs(e->event, c->out);
	c->at += strlen(e->event);
	c->indent = TEXT_COL;
	event_text(c, e);
	c->indent = TEXT_COL + 2;
	if (e->disclosed[0] != '\0') {
		col_newline(c);
		col_to(c, TEXT_COL);
		col_text(c, "disclosed:");
		col_list(c, e->disclosed);
	}
	if (e->withheld[0] != '\0' || strcmp(e->event, AUDIT_DELIVERED) == 0) {
		col_newline(c);
		col_to(c, TEXT_COL);
		col_text(c, "withheld:");
		col_list(c, e->withheld[0] != '\0' ? e->withheld : "none");
	}
	col_newline(c);
}

/* The counts under a handover's timeline, when there is any. */
static void
write_counts(struct col *c, const struct trail_handover *h)
{
	char	 text[256];

	c->indent = 4;
	col_to(c, 2);
	(void)snprintf(text, sizeof(text), "status reads %" PRIu64 "; "
	    "notices %" PRIu64 " queued, %" PRIu64 " delivered, %" PRIu64
	    " acknowledged", h->status_reads, h->notices_queued,
	    h->notices_delivered, h->notices_acked);
	col_text(c, text);
	if (h->refusals > 0) {
		(void)snprintf(text, sizeof(text), "; refused requests %"
		    PRIu64, h->refusals);
		col_text(c, text);
	}
	if (h->resubmissions > 0) {
		(void)snprintf(text, sizeof(text), "; resubmitted %" PRIu64
		    " time%s", h->resubmissions, h->resubmissions == 1 ? "" :
		    "s");
		col_text(c, text);
	}
	col_newline(c);
	if (h->left_out > 0) {
		col_to(c, 2);
		(void)snprintf(text, sizeof(text), "(%" PRIu64 " later event%s "
		    "not shown: the trail holds %d in all; narrow it with "
		    "--since, --until or --message)", h->left_out,
		    h->left_out == 1 ? "" : "s", AUDIT_TRAIL_MAX_EVENTS);
		col_text(c, text);
		col_newline(c);
	}
}

static void
write_handover_text(struct col *c, const struct trail_handover *h)
{
	char	 text[BATON_MESSAGE_ID_MAX + 128], risk[WORD_MAX + 8];
	size_t	 i;

	c->indent = 0;
	col_newline(c);
	(void)snprintf(risk, sizeof(risk), "%s risk", h->risk);
	(void)snprintf(text, sizeof(text), "%s: %s, %s, now %s%s%s", h->id,
	    h->kind[0] != '\0' ? h->kind : "kind not recorded",
	    h->risk[0] != '\0' ? risk : "risk not recorded", h->state,
	    h->escalated ? ", escalated" : "",
	    h->purged ? ", content purged" : "");
	col_text(c, text);
	col_newline(c);
	if (h->partial) {
		c->indent = 2;
		col_text(c, "(its earlier records are before --since or "
		    "archived)");
		col_newline(c);
	}
	for (i = 0; i < h->nev; i++)
		write_event(c, &h->ev[i]);
	write_counts(c, h);
}

static void
write_text(const struct audit_trail *t, FILE *out)
{
	struct col	 c = { out, 0, 0 };
	char		 text[256];
	size_t		 i;

	if (t->subject[0] != '\0') {
		col_text(&c, "Audit trail of subject");
		col_text(&c, t->subject);
	} else {
		col_text(&c, "Audit trail of");
		for (i = 0; i < t->f.nmessage_ids; i++)
			col_text(&c, t->f.message_ids[i]);
	}
	col_newline(&c);
	(void)snprintf(text, sizeof(text), "%zu handover%s, from %" PRIu64
	    " records read (seq %" PRIu64 " to %" PRIu64 "); times UTC. "
	    "Reads of the audit log about %s: %" PRIu64 ", this one "
	    "included.", t->nh, t->nh == 1 ? "" : "s", t->scanned,
	    t->first_seq, t->last_seq, t->subject[0] != '\0' ? "this person" :
	    "these handovers", t->log_reads);
	col_text(&c, text);
	col_newline(&c);
	for (i = 0; i < t->nh; i++)
		write_handover_text(&c, &t->h[i]);
	if (t->left_out > 0) {
		col_newline(&c);
		(void)snprintf(text, sizeof(text), "Not shown: %" PRIu64
		    " records of handovers past the %d one trail holds; narrow "
		    "it with --since and --until.", t->left_out,
		    AUDIT_TRAIL_MAX_HANDOVERS);
		col_text(&c, text);
		col_newline(&c);
	}
}

/* Writing: JSON. */

/* A clean string (copy_clean's) as a JSON string. */
static void
json_s(FILE *out, const char *s)
{
	(void)fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			(void)fputc('\\', out);
		(void)fputc(*s, out);
	}
	(void)fputc('"', out);
}

static void
json_kv(FILE *out, const char *name, const char *v)
{
	(void)fprintf(out, ",\"%s\":", name);
	json_s(out, v);
}

/* A comma-separated list as a JSON array of strings. */
static void
json_list(FILE *out, const char *name, const char *s)
{
	char	 item[TEXT_MAX + 1];
	size_t	 n;
	int	 first = 1;

	(void)fprintf(out, ",\"%s\":[", name);
	while (*s != '\0') {
		n = strcspn(s, ",");
		(void)snprintf(item, sizeof(item), "%.*s", (int)n, s);
		if (n > 0) {
			(void)fputs(first ? "" : ",", out);
			json_s(out, item);
			first = 0;
		}
		s += s[n] == ',' ? n + 1 : n;
	}
	(void)fputc(']', out);
}

static void
json_ms(FILE *out, const char *name, int64_t ms)
{
	if (ms >= 0)
		(void)fprintf(out, ",\"%s\":%" PRId64, name, ms);
	else
		(void)fprintf(out, ",\"%s\":null", name);
}

static void
json_event(FILE *out, const struct trail_event *e)
{
	char	 t[AUDIT_TIME_LEN + 1];

	audit_time_format(e->time_ms, t);
	(void)fprintf(out, "{\"seq\":%" PRIu64 ",\"time\":\"%s\",\"time_ms\":%"
	    PRId64, e->seq, t, e->time_ms);
	json_kv(out, "event", e->event);
	json_kv(out, "actor", e->actor);
	json_kv(out, "actor_role", e->role);
	json_kv(out, "actor_org", e->org);
	json_kv(out, "other", e->other);
	json_kv(out, "outcome", e->outcome);
	json_kv(out, "reason", e->reason);
	json_list(out, "disclosed", e->disclosed);
	json_list(out, "withheld", e->withheld);
	json_ms(out, "since_submit_ms", e->since_submit_ms);
	json_ms(out, "since_delivery_ms", e->since_delivery_ms);
	(void)fputc('}', out);
}

/* The sender (from the submit) and every recipient in turn. */
static void
json_parties(FILE *out, const struct trail_handover *h)
{
	const struct trail_event	*e;
	size_t				 i;
	int				 first = 1;

	(void)fputs(",\"sender\":", out);
	for (i = 0; i < h->nev; i++)
		if (strcmp(h->ev[i].event, AUDIT_SUBMIT_ACCEPTED) == 0)
			break;
	if (i < h->nev) {
		e = &h->ev[i];
		(void)fputs("{\"node\":", out);
		json_s(out, e->actor);
		json_kv(out, "role", e->role);
		json_kv(out, "org", e->org);
		(void)fputc('}', out);
	} else
		(void)fputs("null", out);
	(void)fputs(",\"recipients\":[", out);
	for (i = 0; i < h->nev; i++) {
		e = &h->ev[i];
		if (strcmp(e->event, AUDIT_SUBMIT_ACCEPTED) != 0 &&
		    strcmp(e->event, AUDIT_REDIRECTED) != 0)
			continue;
		(void)fputs(first ? "" : ",", out);
		json_s(out, e->other);
		first = 0;
	}
	(void)fputc(']', out);
}

static void
json_handover(FILE *out, const struct trail_handover *h)
{
	size_t	 i;

	(void)fputs("{\"message_id\":", out);
	json_s(out, h->id);
	json_kv(out, "kind", h->kind);
	json_kv(out, "risk", h->risk);
	json_kv(out, "state", h->state);
	json_kv(out, "recipient", h->recipient);
	(void)fprintf(out, ",\"escalated\":%s,\"purged\":%s,\"partial\":%s",
	    h->escalated ? "true" : "false", h->purged ? "true" : "false",
	    h->partial ? "true" : "false");
	json_parties(out, h);
	(void)fputs(",\"events\":[", out);
	for (i = 0; i < h->nev; i++) {
		(void)fputs(i == 0 ? "\n   " : ",\n   ", out);
		json_event(out, &h->ev[i]);
	}
	(void)fprintf(out, "],\"status_reads\":%" PRIu64 ",\"notices\":{"
	    "\"queued\":%" PRIu64 ",\"delivered\":%" PRIu64 ",\"acknowledged\":%"
	    PRIu64 "},\"refusals\":%" PRIu64 ",\"resubmissions\":%" PRIu64
	    ",\"events_left_out\":%" PRIu64 "}", h->status_reads,
	    h->notices_queued, h->notices_delivered, h->notices_acked,
	    h->refusals, h->resubmissions, h->left_out);
}

static void
json_time(FILE *out, const char *name, int64_t ms, int64_t none)
{
	char	 t[AUDIT_TIME_LEN + 1];

	if (ms == none) {
		(void)fprintf(out, ",\"%s\":null", name);
		return;
	}
	audit_time_format(ms, t);
	(void)fprintf(out, ",\"%s\":\"%s\"", name, t);
}

static void
write_json(const struct audit_trail *t, FILE *out)
{
	size_t	 i;

	(void)fputs("{\"subject_ref\":", out);
	if (t->subject[0] != '\0')
		json_s(out, t->subject);
	else
		(void)fputs("null", out);
	(void)fputs(",\"message_ids\":[", out);
	for (i = 0; i < t->f.nmessage_ids; i++) {
		(void)fputs(i == 0 ? "" : ",", out);
		json_s(out, t->f.message_ids[i]);
	}
	(void)fputc(']', out);
	json_time(out, "since", t->f.since_ms, INT64_MIN);
	json_time(out, "until", t->f.until_ms, INT64_MAX);
	(void)fprintf(out, ",\"records_read\":%" PRIu64 ",\"first_seq\":%"
	    PRIu64 ",\"last_seq\":%" PRIu64 ",\"audit_reads\":%" PRIu64
	    ",\"records_left_out\":%" PRIu64 ",\"truncated\":%s,"
	    "\"handovers\":[", t->scanned, t->first_seq, t->last_seq,
	    t->log_reads, t->left_out, t->left_out > 0 ||
	    t->events_left_out > 0 ? "true" : "false");
	for (i = 0; i < t->nh; i++) {
		(void)fputs(i == 0 ? "\n  " : ",\n  ", out);
		json_handover(out, &t->h[i]);
	}
	(void)fputs("\n]}\n", out);
}

int
audit_trail_write(const struct audit_trail *t, FILE *out, int json)
{
	if (json)
		write_json(t, out);
	else
		write_text(t, out);
	return fflush(out) == EOF || ferror(out) ? -1 : 0;
}
