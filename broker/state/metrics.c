/*
 * metrics.c - counters fed by the audited append, the commit histograms,
 * and the Prometheus text exposition (see metrics.h; the reference of
 * every name is docs/metrics.md, which must change with this file).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "metrics.h"
#include "queueview.h"

/*
 * A resend of an id its sender already used, with the same content, is
 * audited as "submitted" again (lifecycle/submit.c, answer_existing) with
 * this reason; it is no new handover. 11-ops-metrics checks the two stay
 * in step.
 */

/* Commit latency: fsync dominates, from well under a millisecond to seconds. */
static const double commit_seconds_bounds[METRICS_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5
};
/* Handovers per commit: a pass groups every submit of its I/O callbacks. */
static const double commit_handovers_bounds[METRICS_BUCKETS] = {
	0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024
};

void
metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->commit_seconds.bounds = commit_seconds_bounds;
	m->commit_handovers.bounds = commit_handovers_bounds;
}

/* A code label value: upper-case letters, digits and '_' only. */
static int
code_ok(const char *code)
{
	size_t i;

	if (code == NULL || code[0] == '\0')
		return 0;
	for (i = 0; code[i] != '\0'; i++)
		if (i + 1 >= METRICS_CODE_LEN ||
		    !((code[i] >= 'A' && code[i] <= 'Z') ||
		    (code[i] >= '0' && code[i] <= '9') || code[i] == '_'))
			return 0;
	return 1;
}

static void
count_code(struct metrics_by_code *bc, const char *code)
{
	unsigned i;

	if (!code_ok(code)) {
		bc->other++;
		return;
	}
	for (i = 0; i < bc->n; i++)
		if (strcmp(bc->c[i].code, code) == 0) {
			bc->c[i].n++;
			return;
		}
	if (bc->n == METRICS_CODES_MAX) {
		bc->other++;
		return;
	}
	memcpy(bc->c[bc->n].code, code, strlen(code) + 1);
	bc->c[bc->n++].n = 1;
}

/* Plain counters by event name. */
static uint64_t *
event_counter(struct metrics *m, const char *e)
{
	static const struct {
		const char	*event;
		size_t		 off;
	} rows[] = {
		{ AUDIT_CONN_ACCEPTED, offsetof(struct metrics, conn_accepted) },
		{ AUDIT_DELIVERED, offsetof(struct metrics, delivered) },
		{ AUDIT_ACKNOWLEDGED, offsetof(struct metrics, acked) },
		{ AUDIT_ACCEPTED, offsetof(struct metrics, accepted) },
		{ AUDIT_REJECTED, offsetof(struct metrics, rejected) },
		{ AUDIT_REDIRECTED, offsetof(struct metrics, redirected) },
		{ AUDIT_ESCALATED, offsetof(struct metrics, escalated) },
		{ AUDIT_EXPIRED, offsetof(struct metrics, expired) },
		{ AUDIT_QUARANTINED, offsetof(struct metrics, quarantined) },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (strcmp(rows[i].event, e) == 0)
			return (uint64_t *)((char *)m + rows[i].off);
	return NULL;
}

/* A receipted submit: a new handover, or a resend of one. */
static void
count_submitted(struct metrics *m, const struct audit_event *ev)
{
	if (ev->reason != NULL &&
	    strcmp(ev->reason, AUDIT_REASON_RESUBMITTED) == 0) {
		m->resubmitted++;
		return;
	}
	m->submitted++;
	m->pass_handovers++;
}

void
metrics_count_audit(struct metrics *m, const struct audit_event *ev)
{
	uint64_t *n;

	if (ev->event == NULL)
		return;
	if ((n = event_counter(m, ev->event)) != NULL)
		(*n)++;
	else if (strcmp(ev->event, AUDIT_SUBMIT_ACCEPTED) == 0)
		count_submitted(m, ev);
	else if (strcmp(ev->event, AUDIT_CONN_REFUSED) == 0)
		count_code(&m->conn_refused, ev->outcome);
	else if (strcmp(ev->event, AUDIT_SUBMIT_REFUSED) == 0)
		count_code(&m->submit_refused, ev->outcome);
	else if (strcmp(ev->event, AUDIT_ACK_REFUSED) == 0 ||
	    strcmp(ev->event, AUDIT_DECISION_REFUSED) == 0 ||
	    strcmp(ev->event, AUDIT_STATUS_REFUSED) == 0 ||
	    strcmp(ev->event, AUDIT_PULL_REFUSED) == 0)
		count_code(&m->request_refused, ev->outcome);
}

static void
observe(struct metrics_hist *h, double v)
{
	int i;

	for (i = 0; i < METRICS_BUCKETS; i++)
		if (v <= h->bounds[i]) {
			h->bucket[i]++;
			break;
		}
	h->count++;
	h->sum += v;
}

void
metrics_commit(struct metrics *m, double seconds)
{
	observe(&m->commit_seconds, seconds < 0 ? 0 : seconds);
	observe(&m->commit_handovers, (double)m->pass_handovers);
	m->pass_handovers = 0;
}

/* Makes room for n more bytes and the NUL. Returns 0, or -1 (t failed). */
static int
text_room(struct metrics_text *t, size_t n)
{
	size_t ncap;
	char *nb;

	if (t->failed)
		return -1;
	if (n < t->cap - t->len)
		return 0;
	if (n >= METRICS_TEXT_MAX - t->len) {
		t->failed = 1;
		return -1;
	}
	ncap = t->cap ? t->cap : 16384;
	while (ncap - t->len <= n)
		ncap *= 2;
	if (ncap > METRICS_TEXT_MAX)
		ncap = METRICS_TEXT_MAX;
	if ((nb = realloc(t->buf, ncap)) == NULL) {
		t->failed = 1;
		return -1;
	}
	t->buf = nb;
	t->cap = ncap;
	return 0;
}

void
metrics_text_add(struct metrics_text *t, const char *s, size_t n)
{
	if (text_room(t, n) == -1)
		return;
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

void
metrics_text_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->failed = 1;
		return;
	}
	if (text_room(t, (size_t)n) == -1)
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

void
metrics_text_reset(struct metrics_text *t)
{
	t->len = 0;
	t->failed = 0;
	if (t->buf != NULL)
		t->buf[0] = '\0';
}

void
metrics_text_free(struct metrics_text *t)
{
	free(t->buf);
	memset(t, 0, sizeof(*t));
}

void
metrics_text_label(struct metrics_text *t, const char *s)
{
	size_t run;

	for (;;) {
		/* copy the stretch that needs no escape in one go */
		run = strcspn(s, "\\\"\n");
		metrics_text_add(t, s, run);
		s += run;
		if (*s == '\0')
			return;
		metrics_text_add(t, *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" :
		    "\\n", 2);
		s++;
	}
}

static void
head(struct metrics_text *t, const char *name, const char *type,
    const char *help)
{
	metrics_text_printf(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
	    type);
}

static void
counter(struct metrics_text *t, const char *name, const char *help,
    uint64_t v)
{
	head(t, name, "counter", help);
	metrics_text_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

/* A gauge in seconds taken from milliseconds: three decimals are exact. */
static void
gauge_s(struct metrics_text *t, const char *name, const char *help, double v)
{
	head(t, name, "gauge", help);
	metrics_text_printf(t, "%s %.3f\n", name, v);
}

static void
gauge_n(struct metrics_text *t, const char *name, const char *help,
    uint64_t v)
{
	head(t, name, "gauge", help);
	metrics_text_printf(t, "%s %llu\n", name, (unsigned long long)v);
}

static void
by_code(struct metrics_text *t, const char *name, const char *label,
    const char *help, const struct metrics_by_code *bc)
{
	unsigned i;

	head(t, name, "counter", help);
	for (i = 0; i < bc->n; i++)
		metrics_text_printf(t, "%s{%s=\"%s\"} %llu\n", name, label,
		    bc->c[i].code, (unsigned long long)bc->c[i].n);
	if (bc->other > 0)
		metrics_text_printf(t, "%s{%s=\"other\"} %llu\n", name, label,
		    (unsigned long long)bc->other);
}

/* Buckets are written cumulative, as the format requires. */
static void
hist(struct metrics_text *t, const char *name, const char *help,
    const struct metrics_hist *h)
{
	uint64_t cum = 0;
	int i;

	head(t, name, "histogram", help);
	for (i = 0; i < METRICS_BUCKETS; i++) {
		cum += h->bucket[i];
		metrics_text_printf(t, "%s_bucket{le=\"%g\"} %llu\n", name,
		    h->bounds[i], (unsigned long long)cum);
	}
	metrics_text_printf(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.17g\n"
	    "%s_count %llu\n", name, (unsigned long long)h->count, name, h->sum,
	    name, (unsigned long long)h->count);
}

static void
decided(struct metrics_text *t, const struct metrics *m)
{
	const char *name = "baton_handovers_decided_total";

	head(t, name, "counter", "Handovers accepted, rejected or redirected "
	    "by their recipient, by decision.");
	metrics_text_printf(t, "%s{decision=\"accepted\"} %llu\n"
	    "%s{decision=\"rejected\"} %llu\n%s{decision=\"redirected\"} %llu\n",
	    name, (unsigned long long)m->accepted, name,
	    (unsigned long long)m->rejected, name,
	    (unsigned long long)m->redirected);
}

static void
counters(struct metrics_text *t, const struct metrics *m)
{
	counter(t, "baton_connections_accepted_total", "Connections that "
	    "passed TLS and Hello.", m->conn_accepted);
	by_code(t, "baton_connections_refused_total", "reason",
	    "Connections refused, by reason code.", &m->conn_refused);
	counter(t, "baton_handovers_submitted_total", "New handovers accepted "
	    "with a receipt.", m->submitted);
	counter(t, "baton_handovers_resubmitted_total", "Resends of a receipted "
	    "handover, answered with the original receipt.", m->resubmitted);
	by_code(t, "baton_handovers_refused_total", "code",
	    "Handover submissions refused, by code.", &m->submit_refused);
	counter(t, "baton_handovers_delivered_total", "Deliveries of handovers, "
	    "redeliveries included.", m->delivered);
	counter(t, "baton_handovers_acked_total", "Handovers acknowledged by "
	    "their recipient.", m->acked);
	decided(t, m);
	counter(t, "baton_handovers_escalated_total", "Handovers escalated at "
	    "their acceptance deadline.", m->escalated);
	counter(t, "baton_handovers_expired_total", "Handovers expired "
	    "undelivered after the retention period.", m->expired);
	counter(t, "baton_handovers_quarantined_total", "Stored handovers moved "
	    "to quarantine after failing their integrity check.",
	    m->quarantined);
	by_code(t, "baton_requests_refused_total", "code", "Acks, decisions, "
	    "status reads and pulls refused, by code.", &m->request_refused);
	hist(t, "baton_commit_duration_seconds", "Time to commit one event-loop "
	    "pass's transaction (with fsync).", &m->commit_seconds);
	hist(t, "baton_commit_handovers", "New handovers per commit.",
	    &m->commit_handovers);
}

/* Which field of a cell a per-node gauge shows. */
enum cell_field { F_DEPTH, F_WAITING, F_IN_FLIGHT, F_UNDECIDED, F_OVERDUE,
	F_AGE_WAITING, F_AGE_UNDECIDED };

/* Seconds from at_ms to the view's moment; 0 for none. */
static double
age_s(const struct queue_view *v, int64_t at_ms)
{
	return at_ms == 0 || v->wall_ms <= at_ms ? 0 :
	    (double)(v->wall_ms - at_ms) / 1000.0;
}

/* One gauge line with node and risk labels. */
static void
cell_line(struct metrics_text *t, const char *name, const char *node,
    int risk, const struct queue_view *v, const struct view_cell *c,
    enum cell_field f)
{
	metrics_text_printf(t, "%s{node=\"", name);
	metrics_text_label(t, node);
	metrics_text_printf(t, "\",risk=\"%s\"} ", queue_view_risk_name(risk));
	switch (f) {
	case F_DEPTH:
		metrics_text_printf(t, "%llu\n", (unsigned long long)c->depth);
		break;
	case F_WAITING:
		metrics_text_printf(t, "%llu\n", (unsigned long long)c->waiting);
		break;
	case F_IN_FLIGHT:
		metrics_text_printf(t, "%llu\n", (unsigned long long)c->in_flight);
		break;
	case F_UNDECIDED:
		metrics_text_printf(t, "%llu\n", (unsigned long long)c->undecided);
		break;
	case F_OVERDUE:
		metrics_text_printf(t, "%llu\n", (unsigned long long)c->overdue);
		break;
	case F_AGE_WAITING:
		metrics_text_printf(t, "%.3f\n", age_s(v, c->oldest_waiting_ms));
		break;
	case F_AGE_UNDECIDED:
		metrics_text_printf(t, "%.3f\n", age_s(v, c->oldest_undecided_ms));
		break;
	}
}

static int
node_busy(const struct view_node *n)
{
	int r;

	for (r = 0; r < VIEW_RISKS; r++)
		if (n->risk[r].undecided > 0)
			return 1;
	return 0;
}

/*
 * Which nodes get per-node gauges: all, or past METRICS_NODES_MAX those
 * with undecided handovers first, then idle ones, each in id order. The
 * choice is the same for every gauge of one exposition (same view).
 */
struct node_pick {
	unsigned	 busy;		/* nodes with undecided handovers */
	unsigned	 seen_busy, seen_idle;
};

static int
node_shown(const struct queue_view *v, const struct view_node *n,
    struct node_pick *p)
{
	if (v->n <= METRICS_NODES_MAX)
		return 1;
	if (node_busy(n))
		return p->seen_busy++ < METRICS_NODES_MAX;
	return p->busy < METRICS_NODES_MAX &&
	    p->seen_idle++ < METRICS_NODES_MAX - p->busy;
}

static unsigned
count_busy(const struct queue_view *v)
{
	unsigned i, busy = 0;

	for (i = 0; i < v->n; i++)
		busy += node_busy(&v->nodes[i]);
	return busy;
}

/*
 * A per-node gauge: every risk level for each node shown, "unspecified"
 * only where it holds something (submit requires a level, so only old
 * records can have none).
 */
static void
node_gauge(struct metrics_text *t, const struct queue_view *v,
    const char *name, const char *help, enum cell_field f)
{
	struct node_pick p = { count_busy(v), 0, 0 };
	const struct view_node *n;
	unsigned i;
	int r;

	head(t, name, "gauge", help);
	for (i = 0; i < v->n && !t->failed; i++) {
		n = &v->nodes[i];
		if (!node_shown(v, n, &p))
			continue;
		for (r = 0; r < VIEW_RISKS; r++)
			if (r != 0 || n->risk[r].undecided > 0)
				cell_line(t, name, n->node, r, v, &n->risk[r], f);
	}
}

/* Overdue handovers by risk level over every node, shown or not. */
static void
overdue(struct metrics_text *t, const struct queue_view *v)
{
	const char *name = "baton_handovers_overdue";
	uint64_t n[VIEW_RISKS] = { 0 };
	unsigned i;
	int r;

	for (i = 0; i < v->n; i++)
		for (r = 0; r < VIEW_RISKS; r++)
			n[r] += v->nodes[i].risk[r].overdue;
	head(t, name, "gauge", "Undecided handovers past their acceptance "
	    "deadline, by risk level.");
	for (r = 0; r < VIEW_RISKS; r++)
		if (r != 0 || n[r] > 0)
			metrics_text_printf(t, "%s{risk=\"%s\"} %llu\n", name,
			    queue_view_risk_name(r), (unsigned long long)n[r]);
}

static void
queue_gauges(struct metrics_text *t, const struct queue_view *v)
{
	unsigned shown = v->n <= METRICS_NODES_MAX ? v->n : METRICS_NODES_MAX;

	overdue(t, v);
	node_gauge(t, v, "baton_queue_depth", "Handovers in the node's queue: "
	    "waiting or delivered and not acknowledged.", F_DEPTH);
	node_gauge(t, v, "baton_queue_waiting", "Handovers queued for the node, "
	    "not yet delivered.", F_WAITING);
	node_gauge(t, v, "baton_queue_in_flight", "Handovers delivered to the "
	    "node, not yet acknowledged.", F_IN_FLIGHT);
	node_gauge(t, v, "baton_queue_undecided", "Handovers for the node not "
	    "yet accepted or rejected.", F_UNDECIDED);
	node_gauge(t, v, "baton_queue_overdue", "Undecided handovers for the "
	    "node past their acceptance deadline.", F_OVERDUE);
	node_gauge(t, v, "baton_queue_oldest_waiting_age_seconds", "Age of the "
	    "oldest handover waiting for delivery (0: none).", F_AGE_WAITING);
	node_gauge(t, v, "baton_queue_oldest_undecided_age_seconds", "Age of "
	    "the oldest undecided handover (0: none).", F_AGE_UNDECIDED);
	gauge_n(t, "baton_queue_nodes_omitted", "Nodes read but given no "
	    "per-node gauges (past the limit of nodes shown).",
	    (uint64_t)(v->n - shown));
	gauge_n(t, "baton_queue_unplaced", "Undecided handovers in no node's "
	    "gauges (recipients past the limit of nodes read).",
	    v->nodes_dropped);
	gauge_n(t, "baton_queue_scan_records", "State records read for the "
	    "queue gauges of this scrape.", v->scanned);
	gauge_n(t, "baton_queue_scan_unreadable_records", "State records that "
	    "failed their check in this scrape's read.", v->unreadable);
	gauge_n(t, "baton_queue_scan_truncated", "1 when the queue gauges "
	    "stopped at the scan bound and are lower bounds.",
	    (uint64_t)(v->truncated != 0));
}

static void
gauges(struct metrics_text *t, const struct metrics_gauges *g)
{
	gauge_n(t, "baton_healthy", "1 when /healthz answers 200, else 0.",
	    (uint64_t)(g->healthy != 0));
	gauge_s(t, "baton_start_time_seconds", "When the broker started, Unix "
	    "time.", g->start_time_s);
	gauge_n(t, "baton_connections_open", "Client connections open now, "
	    "handshakes included.", g->connections_open);
	if (g->have_cert)
		gauge_s(t, "baton_certificate_remaining_seconds", "Time left "
		    "until the broker's own certificate expires (negative: "
		    "expired).", g->cert_seconds_left);
	if (g->have_crl)
		gauge_s(t, "baton_crl_remaining_seconds", "Time left until the "
		    "CRL in force passes its next update and every client is "
		    "refused (negative: lapsed).", g->crl_seconds_left);
}

int
metrics_format(struct metrics_text *t, const struct metrics *m,
    const struct metrics_gauges *g, const struct queue_view *v)
{
	gauges(t, g);
	counters(t, m);
	if (v != NULL)
		queue_gauges(t, v);
	return t->failed ? -1 : 0;
}
