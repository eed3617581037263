/*
 * audit_report.c - counting audit records into the governance report's
 * cells, and adding cells up into rows (see audit_report.h). The formats
 * are in audit_report_out.c (audit_report_int.h says which file is what).
 *
 * Every string taken from a record is checked before it is used as a key
 * or shown: roles against the registry's rule, reasons against
 * [a-z][a-z0-9_]{0,39}, the sender against the node-id rule; anything else is
 * "?" (roles) or "other" (reasons). A record is trusted for what it says,
 * never for its size: the cells are fixed, and a long string is refused,
 * not copied.
 *
 * Histogram buckets: v < 16 is bucket v; otherwise with e = floor(log2 v)
 * (4 <= e <= 34) and s the 4 bits after the leading one, bucket
 * 16 + 16 (e - 4) + s, which holds [ (16 + s) 2^(e-4), (17 + s) 2^(e-4) ).
 * A bucket is at most 1/16 of its lower bound wide, so its middle is
 * within 1/32 of any value in it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_report.h"
#include "audit_report_int.h"
#include "registry.h"
#include "validate.h"

#define UNKNOWN_ROLE	"?"
#define HIST_TOP	35	/* 2^35 ms and beyond: the last bucket */

const int report_risk_order[REPORT_RISKS] = { 4, 3, 2, 1, 0 };

static const char *const risk_names[REPORT_RISKS] = {
	"unspecified", "low", "medium", "high", "critical"
};

/* The records a report counts. */
enum ev {
	EV_NONE = 0,
	EV_SUBMITTED,
	EV_DELIVERED,
	EV_ACCEPTED,
	EV_REJECTED,
	EV_REDIRECTED,
	EV_ESCALATED,
	EV_EXPIRED
};

static const struct {
	const char	*name;
	enum ev		 ev;
} events[] = {
	{ AUDIT_SUBMIT_ACCEPTED, EV_SUBMITTED },
	{ AUDIT_DELIVERED, EV_DELIVERED },
	{ AUDIT_ACCEPTED, EV_ACCEPTED },
	{ AUDIT_REJECTED, EV_REJECTED },
	{ AUDIT_REDIRECTED, EV_REDIRECTED },
	{ AUDIT_ESCALATED, EV_ESCALATED },
	{ AUDIT_EXPIRED, EV_EXPIRED },
};

/* How a policy_loaded record names the policy (broker.c). */
#define POLICY_DETAIL	"policy_sha256="

/* The reason the first delivery to a recipient carries (delivery.c). */

int
report_risk_index(const char *name)
{
	int i;

	for (i = 0; name != NULL && i < REPORT_RISKS; i++)
		if (strcmp(name, risk_names[i]) == 0)
			return i;
	return 0;
}

const char *
report_risk_name(int risk)
{
	return risk >= 0 && risk < REPORT_RISKS ? risk_names[risk] : "?";
}

static enum ev
event_of(const char *name)
{
	size_t i;

	if (name == NULL)
		return EV_NONE;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(name, events[i].name) == 0)
			return events[i].ev;
	return EV_NONE;
}

/* Histograms. */

static unsigned
hist_index(int64_t ms)
{
	uint64_t v = ms < 0 ? 0 : (uint64_t)ms;
	unsigned e;

	if (v < 16)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	if (e >= HIST_TOP)
		return REPORT_HIST_BUCKETS - 1;
	return 16 + 16 * (e - 4) + (unsigned)((v >> (e - 4)) & 15);
}

/* The middle of bucket i (the value itself below 16). */
static int64_t
hist_middle(unsigned i)
{
	unsigned e, s;
	int64_t lo, w;

	if (i < 16)
		return i;
	e = (i - 16) / 16 + 4;
	s = (i - 16) % 16;
	w = (int64_t)1 << (e - 4);
	lo = (int64_t)(16 + s) * w;
	return lo + (w - 1) / 2;
}

static void
hist_add(struct report_hist *h, int64_t ms)
{
	unsigned i = hist_index(ms);

	h->n++;
	if (h->b[i] < UINT32_MAX)
		h->b[i]++;
}

static void
hist_merge(struct report_hist *to, const struct report_hist *from)
{
	unsigned i;

	to->n += from->n;
	for (i = 0; i < REPORT_HIST_BUCKETS; i++)
		to->b[i] = from->b[i] > UINT32_MAX - to->b[i] ? UINT32_MAX :
		    to->b[i] + from->b[i];
}

int
report_hist_quantile(const struct report_hist *h, unsigned pct, int64_t *out)
{
	uint64_t rank, seen = 0;
	unsigned i, last = 0;

	if (h->n == 0 || pct == 0 || pct > 100)
		return -1;
	rank = (h->n / 100) * pct + ((h->n % 100) * pct + 99) / 100;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < REPORT_HIST_BUCKETS; i++) {
		if (h->b[i] == 0)
			continue;
		last = i;
		seen += h->b[i];
		if (seen >= rank)
			break;
	}
	/* only a saturated bucket can leave seen short: take the last */
	*out = hist_middle(i < REPORT_HIST_BUCKETS ? i : last);
	return 0;
}

/* The report. */

static void
copy_text(char *dst, size_t len, const char *src)
{
	if (src == NULL || strlen(src) >= len)
		dst[0] = '\0';
	else
		memcpy(dst, src, strlen(src) + 1);
}

struct report *
report_new(const struct report_opts *o)
{
	struct report *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->o = *o;
	copy_text(r->policy_name, sizeof(r->policy_name), o->policy_name);
	copy_text(r->policy_sha256, sizeof(r->policy_sha256), o->policy_sha256);
	r->o.policy_name = r->policy_name;
	r->o.policy_sha256 = r->policy_sha256;
	return r;
}

void
report_free(struct report *r)
{
	unsigned i;

	if (r == NULL)
		return;
	for (i = 0; i < r->ncells; i++)
		free(r->cells[i]);
	free(r);
}

/* A role as recorded, if it is one; else NULL. */
static const char *
valid_role(const char *role)
{
	return role != NULL && registry_valid_role(role) ? role : NULL;
}

/* The role of node now, into buf: buf, or UNKNOWN_ROLE. */
static const char *
lookup_role(const struct report *r, const char *node, char *buf, size_t len)
{
	if (node == NULL || !validate_node_id(node) || r->o.role_of == NULL ||
	    r->o.role_of(r->o.role_arg, node, buf, len) == -1 ||
	    valid_role(buf) == NULL)
		return UNKNOWN_ROLE;
	return buf;
}

/* The sender of a handover: its message id up to the '/'; or NULL. */
static const char *
sender_of(const char *message_id, char out[BATON_NODE_ID_MAX + 1])
{
	const char *slash;
	size_t n;

	if (message_id == NULL || !validate_reference(message_id) ||
	    (slash = strchr(message_id, '/')) == NULL ||
	    (n = (size_t)(slash - message_id)) > BATON_NODE_ID_MAX)
		return NULL;
	memcpy(out, message_id, n);
	out[n] = '\0';
	return out;
}

static uint32_t
cell_hash(const char *sender, const char *recipient, int risk)
{
	uint32_t h = 2166136261u;
	const char *p;

	for (p = sender; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (p = recipient; *p != '\0'; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return (h ^ (uint32_t)risk) * 16777619u;
}

static int
cell_is(const struct report_cell *c, const char *sender,
    const char *recipient, int risk)
{
	return c->risk == risk && strcmp(c->sender, sender) == 0 &&
	    strcmp(c->recipient, recipient) == 0;
}

/* Puts cell i in the hash table (there is always a free slot). */
static void
slot_put(struct report *r, unsigned i)
{
	const struct report_cell *c = r->cells[i];
	unsigned s = cell_hash(c->sender, c->recipient, c->risk) %
	    (2 * REPORT_CELLS_MAX);

	while (r->slots[s] != 0)
		s = (s + 1) % (2 * REPORT_CELLS_MAX);
	r->slots[s] = (uint16_t)(i + 1);
}

/*
 * The cell of the route and risk, made if new. NULL when REPORT_CELLS_MAX
 * are held already (*full set) or out of memory (*full clear).
 */
static struct report_cell *
cell_get(struct report *r, const char *sender, const char *recipient,
    int risk, int *full)
{
	struct report_cell *c;
	unsigned s = cell_hash(sender, recipient, risk) %
	    (2 * REPORT_CELLS_MAX);

	*full = 0;
	for (; r->slots[s] != 0; s = (s + 1) % (2 * REPORT_CELLS_MAX))
		if (cell_is(r->cells[r->slots[s] - 1], sender, recipient, risk))
			return r->cells[r->slots[s] - 1];
	if (r->ncells == REPORT_CELLS_MAX) {
		*full = 1;
		return NULL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	copy_text(c->sender, sizeof(c->sender), sender);
	copy_text(c->recipient, sizeof(c->recipient), recipient);
	c->risk = risk;
	r->cells[r->ncells] = c;
	r->slots[s] = (uint16_t)(r->ncells + 1);
	r->ncells++;
	return c;
}

/* The report's index of a rejection reason, named on first sight. */
static unsigned
reason_index(struct report *r, const char *reason)
{
	size_t i, n = reason != NULL ? strlen(reason) : 0;

	/* a code's name: never free text, never a number */
	if (n == 0 || n > REPORT_REASON_MAX || reason[0] < 'a' ||
	    reason[0] > 'z' ||
	    strspn(reason, "abcdefghijklmnopqrstuvwxyz0123456789_") != n)
		return REPORT_OTHER_REASON;
	for (i = 0; i < r->nreasons; i++)
		if (strcmp(r->reasons[i], reason) == 0)
			return (unsigned)i;
	if (r->nreasons == REPORT_REASONS_MAX || strcmp(reason, "other") == 0)
		return REPORT_OTHER_REASON;
	memcpy(r->reasons[r->nreasons], reason, n + 1);
	return r->nreasons++;
}

/* A decision (accepted or rejected): counts, times, deadline, reason. */
static void
count_decision(struct report *r, struct report_cell *c, enum ev ev,
    const Baton__Store__V1__AuditRecord *rec)
{
	int64_t deadline = r->o.deadline_ms[c->risk];
	int64_t since_submit = audit_record_since_submit(rec);
	int64_t since_delivery = audit_record_since_delivery(rec);

	if (ev == EV_ACCEPTED)
		c->accepted++;
	else {
		c->rejected++;
		c->reasons[reason_index(r, rec->reason)]++;
	}
	if (since_delivery >= 0)
		hist_add(&c->after, since_delivery);
	if (since_submit < 0)
		return;
	hist_add(&c->decide, since_submit);
	if (deadline > 0) {
		c->judged++;
		if (since_submit <= deadline)
			c->on_time++;
	}
}

static void
count_event(struct report *r, struct report_cell *c, enum ev ev,
    const Baton__Store__V1__AuditRecord *rec)
{
	switch (ev) {
	case EV_SUBMITTED:
		c->sent++;
		break;
	case EV_DELIVERED:
		/* a redelivery after a reconnect is not a second arrival */
		if (rec->reason == NULL ||
		    strcmp(rec->reason, AUDIT_REASON_FIRST_ATTEMPT) != 0)
			break;
		c->delivered++;
		if (audit_record_since_submit(rec) >= 0)
			hist_add(&c->deliver, audit_record_since_submit(rec));
		break;
	case EV_ACCEPTED:
	case EV_REJECTED:
		count_decision(r, c, ev, rec);
		break;
	case EV_REDIRECTED:
		c->redirected++;
		break;
	case EV_ESCALATED:
		c->escalated++;
		break;
	case EV_EXPIRED:
		c->expired++;
		break;
	case EV_NONE:
		break;
	}
}

/*
 * The route of a record: the sender's role as recorded on the submit,
 * else from the registry; the recipient's as recorded on its own
 * delivery and decisions, else from the registry (the node the record
 * names as other: the recipient of a submit, escalation or expiry).
 */
static void
route_of(const struct report *r, enum ev ev,
    const Baton__Store__V1__AuditRecord *rec, const char **sender,
    char *sbuf, const char **recipient, char *rbuf)
{
	char node[BATON_NODE_ID_MAX + 1];
	const char *own = valid_role(rec->actor_role);

	if (ev == EV_SUBMITTED && own != NULL)
		*sender = own;
	else
		*sender = lookup_role(r, sender_of(rec->message_id, node), sbuf,
		    REPORT_ROLE_MAX + 1);
	if (ev == EV_SUBMITTED || ev == EV_ESCALATED || ev == EV_EXPIRED)
		*recipient = lookup_role(r, rec->other, rbuf,
		    REPORT_ROLE_MAX + 1);
	else if (own != NULL)
		*recipient = own;
	else
		*recipient = lookup_role(r, rec->actor, rbuf,
		    REPORT_ROLE_MAX + 1);
}

/*
 * Keeps the policy a policy_loaded record up to the period's end names
 * (detail policy_sha256=HEX), to say whether it is the one the report's
 * deadlines came from.
 */
static void
note_policy_loaded(struct report *r, const Baton__Store__V1__AuditRecord *rec)
{
	const char *p = rec->detail;
	size_t n = strlen(POLICY_DETAIL);

	if (rec->time_ms > r->o.until_ms || p == NULL ||
	    strncmp(p, POLICY_DETAIL, n) != 0 || strlen(p + n) != 64 ||
	    strspn(p + n, "0123456789abcdef") != 64)
		return;
	memcpy(r->loaded_sha256, p + n, 65);
}

int
report_add(struct report *r, const Baton__Store__V1__AuditRecord *rec)
{
	char sbuf[REPORT_ROLE_MAX + 1], rbuf[REPORT_ROLE_MAX + 1];
	const char *sender, *recipient;
	struct report_cell *c;
	enum ev ev;
	int full;

	if (rec->event != NULL && strcmp(rec->event, AUDIT_POLICY_LOADED) == 0)
		note_policy_loaded(r, rec);
	if ((ev = event_of(rec->event)) == EV_NONE ||
	    rec->time_ms < r->o.since_ms || rec->time_ms > r->o.until_ms)
		return 0;
	if (rec->format < 2) {
		r->format1++;
		return 0;
	}
	route_of(r, ev, rec, &sender, sbuf, &recipient, rbuf);
	c = cell_get(r, sender, recipient, report_risk_index(rec->risk), &full);
	if (c == NULL) {
		if (!full)
			return -1;
		r->left_out++;
		return 0;
	}
	count_event(r, c, ev, rec);
	r->counted++;
	return 0;
}

int
report_add_open(struct report *r, const char *role, int risk,
    uint64_t undecided, uint64_t overdue, int64_t oldest_ms)
{
	struct report_open *p;
	unsigned i;

	if (valid_role(role) == NULL)
		role = UNKNOWN_ROLE;
	if (risk < 0 || risk >= REPORT_RISKS)
		risk = 0;
	for (i = 0; i < r->nopen; i++)
		if (r->open[i].risk == risk &&
		    strcmp(r->open[i].role, role) == 0)
			break;
	if (i == r->nopen) {
		if (r->nopen == REPORT_OPEN_MAX) {
			r->open_left_out += undecided;
			return -1;
		}
		p = &r->open[r->nopen++];
		copy_text(p->role, sizeof(p->role), role);
		p->risk = risk;
	}
	p = &r->open[i];
	p->undecided += undecided;
	p->overdue += overdue;
	if (oldest_ms > 0 && (p->oldest_ms == 0 || oldest_ms < p->oldest_ms))
		p->oldest_ms = oldest_ms;
	return 0;
}

void
report_open_done(struct report *r, int partial)
{
	r->open_read = 1;
	if (partial)
		r->open_partial = 1;
}

/* Rows. */

static int
risk_rank(int risk)
{
	return REPORT_RISKS - 1 - risk;		/* critical first */
}

static int
cell_cmp(const void *a, const void *b)
{
	const struct report_cell *x = *(const struct report_cell *const *)a;
	const struct report_cell *y = *(const struct report_cell *const *)b;
	int d;

	if ((d = strcmp(x->sender, y->sender)) != 0 ||
	    (d = strcmp(x->recipient, y->recipient)) != 0)
		return d;
	return risk_rank(x->risk) - risk_rank(y->risk);
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The receiving roles of the cells and of what is open, sorted, unique. */
static void
sort_roles(struct report *r)
{
	unsigned i, n = 0, k;

	for (i = 0; i < r->ncells; i++)
		r->roles[n++] = r->cells[i]->recipient;
	for (i = 0; i < r->nopen; i++)
		r->roles[n++] = r->open[i].role;
	qsort(r->roles, n, sizeof(r->roles[0]), str_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (k == 0 || strcmp(r->roles[k - 1], r->roles[i]) != 0)
			r->roles[k++] = r->roles[i];
	r->nroles = k;
}

void
report_sort(struct report *r)
{
	unsigned i, j, t;

	qsort(r->cells, r->ncells, sizeof(r->cells[0]), cell_cmp);
	memset(r->slots, 0, sizeof(r->slots));
	for (i = 0; i < r->ncells; i++)
		slot_put(r, i);
	sort_roles(r);
	for (i = 0; i < r->nreasons; i++)
		r->reason_order[i] = i;
	for (i = 1; i < r->nreasons; i++)	/* at most 16: insertion */
		for (j = i; j > 0 && strcmp(r->reasons[r->reason_order[j - 1]],
		    r->reasons[r->reason_order[j]]) > 0; j--) {
			t = r->reason_order[j];
			r->reason_order[j] = r->reason_order[j - 1];
			r->reason_order[j - 1] = t;
		}
}

static void
cell_merge(struct report_cell *to, const struct report_cell *from)
{
	unsigned i;

	to->sent += from->sent;
	to->delivered += from->delivered;
	to->accepted += from->accepted;
	to->rejected += from->rejected;
	to->judged += from->judged;
	to->on_time += from->on_time;
	to->redirected += from->redirected;
	to->escalated += from->escalated;
	to->expired += from->expired;
	for (i = 0; i <= REPORT_REASONS_MAX; i++)
		to->reasons[i] += from->reasons[i];
	hist_merge(&to->deliver, &from->deliver);
	hist_merge(&to->decide, &from->decide);
	hist_merge(&to->after, &from->after);
}

/* How long the oldest open one of p is past its deadline; -1: not. */
static int64_t
most_overdue(const struct report *r, const struct report_open *p)
{
	int64_t deadline = r->o.deadline_ms[p->risk], late;

	if (p->overdue == 0 || deadline <= 0 || p->oldest_ms <= 0)
		return -1;
	late = r->o.now_ms - p->oldest_ms - deadline;
	return late > 0 ? late : 0;
}

/* Adds what is open at recipient (NULL: any) and risk into w. */
static void
sum_open(const struct report *r, const char *recipient, int risk,
    struct report_row *w)
{
	const struct report_open *p;
	unsigned i;
	int64_t late;

	w->has_open = r->open_read;
	for (i = 0; i < r->nopen; i++) {
		p = &r->open[i];
		if ((risk != REPORT_ANY && p->risk != risk) ||
		    (recipient != NULL && strcmp(p->role, recipient) != 0))
			continue;
		w->undecided += p->undecided;
		w->overdue += p->overdue;
		if ((late = most_overdue(r, p)) > w->most_overdue_ms)
			w->most_overdue_ms = late;
	}
}

static int
row_empty(const struct report_row *w)
{
	const struct report_cell *c = w->c;

	return c->sent == 0 && c->delivered == 0 && c->accepted == 0 &&
	    c->rejected == 0 && c->redirected == 0 && c->escalated == 0 &&
	    c->expired == 0 && w->undecided == 0;
}

int
report_sum(const struct report *r, const char *sender, const char *recipient,
    int risk, struct report_cell *tmp, struct report_row *w)
{
	const struct report_cell *c;
	unsigned i;

	memset(tmp, 0, sizeof(*tmp));
	tmp->risk = risk;
	memset(w, 0, sizeof(*w));
	w->sender = sender != NULL ? sender : "*";
	w->recipient = recipient != NULL ? recipient : "*";
	w->risk = risk;
	w->c = tmp;
	w->most_overdue_ms = -1;
	w->deadline_ms = risk == REPORT_ANY ? REPORT_ANY :
	    r->o.deadline_ms[risk];
	for (i = 0; i < r->ncells; i++) {
		c = r->cells[i];
		if ((risk != REPORT_ANY && c->risk != risk) ||
		    (sender != NULL && strcmp(c->sender, sender) != 0) ||
		    (recipient != NULL && strcmp(c->recipient, recipient) != 0))
			continue;
		cell_merge(tmp, c);
	}
	if (sender == NULL)
		sum_open(r, recipient, risk, w);
	return !row_empty(w);
}

void
report_cell_row(const struct report *r, const struct report_cell *c,
    struct report_row *w)
{
	memset(w, 0, sizeof(*w));
	w->sender = c->sender;
	w->recipient = c->recipient;
	w->risk = c->risk;
	w->c = c;
	w->most_overdue_ms = -1;
	w->deadline_ms = r->o.deadline_ms[c->risk];
}
