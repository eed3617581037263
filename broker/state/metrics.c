/*
 * metrics.c - counters fed by the audited append, the commit histograms,
 * and the Prometheus text exposition (see metrics.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "metrics.h"
#include "queueview.h"

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

	if (code == NULL || code[0] == '\0' || strlen(code) >= METRICS_CODE_LEN)
		return 0;
	for (i = 0; code[i] != '\0'; i++)
		if (!((code[i] >= 'A' && code[i] <= 'Z') ||
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
		{ AUDIT_SUBMIT_ACCEPTED, offsetof(struct metrics, submitted) },
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

void
metrics_count_audit(struct metrics *m, const struct audit_event *ev)
{
	uint64_t *n;

	if (ev->event == NULL)
		return;
	if ((n = event_counter(m, ev->event)) != NULL) {
		(*n)++;
		if (n == &m->submitted)
			m->pass_handovers++;
	} else if (strcmp(ev->event, AUDIT_CONN_REFUSED) == 0)
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

void
metrics_text_printf(struct metrics_text *t, const char *fmt, ...)
{
	va_list ap;
	size_t ncap;
	char *nb;
	int n;

	if (t->failed)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(t->buf == NULL ? NULL : t->buf + t->len,
		    t->cap - t->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = 1;
			return;
		}
		if ((size_t)n < t->cap - t->len) {
			t->len += (size_t)n;
			return;
		}
		ncap = t->cap ? t->cap * 2 : 16384;
		while (ncap < t->len + (size_t)n + 1)
			ncap *= 2;
		if (ncap > METRICS_TEXT_MAX || (nb = realloc(t->buf, ncap)) == NULL) {
			t->failed = 1;
			return;
		}
		t->buf = nb;
		t->cap = ncap;
	}
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
	const char *p;

	for (p = s; *p != '\0'; p++) {
		if (*p == '\\')
			metrics_text_printf(t, "\\\\");
		else if (*p == '"')
			metrics_text_printf(t, "\\\"");
		else if (*p == '\n')
			metrics_text_printf(t, "\\n");
		else
			metrics_text_printf(t, "%c", *p);
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
plain(struct metrics_text *t, const char *name, const char *type,
    const char *help, double v)
{
	head(t, name, type, help);
	metrics_text_printf(t, "%s %.17g\n", name, v);
}

static void
by_code(struct metrics_text *t, const char *name, const char *label,
    const char *help, const struct metrics_by_code *bc)
{
	unsigned i;

	head(t, name, "counter", help);
	for (i = 0; i < bc->n; i++) {
		metrics_text_printf(t, "%s{%s=\"", name, label);
		metrics_text_label(t, bc->c[i].code);
		metrics_text_printf(t, "\"} %llu\n", (unsigned long long)bc->c[i].n);
	}
	if (bc->other > 0)
		metrics_text_printf(t, "%s{%s=\"other\"} %llu\n", name, label,
		    (unsigned long long)bc->other);
}

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
	    "by their recipient.");
	metrics_text_printf(t, "%s{decision=\"accepted\"} %llu\n"
	    "%s{decision=\"rejected\"} %llu\n%s{decision=\"redirected\"} %llu\n",
	    name, (unsigned long long)m->accepted, name,
	    (unsigned long long)m->rejected, name,
	    (unsigned long long)m->redirected);
}

static void
counters(struct metrics_text *t, const struct metrics *m)
{
	plain(t, "baton_connections_accepted_total", "counter",
	    "Connections that passed TLS and Hello.", (double)m->conn_accepted);
	by_code(t, "baton_connections_refused_total", "reason",
	    "Connections refused, by reason code.", &m->conn_refused);
	plain(t, "baton_handovers_submitted_total", "counter",
	    "Handovers accepted with a receipt.", (double)m->submitted);
	by_code(t, "baton_handovers_refused_total", "code",
	    "Handover submissions refused, by code.", &m->submit_refused);
	plain(t, "baton_handovers_delivered_total", "counter",
	    "Deliveries of handovers, redeliveries included.",
	    (double)m->delivered);
	plain(t, "baton_handovers_acked_total", "counter",
	    "Handovers acknowledged by their recipient.", (double)m->acked);
	decided(t, m);
	plain(t, "baton_handovers_escalated_total", "counter",
	    "Handovers escalated at their acceptance deadline.",
	    (double)m->escalated);
	plain(t, "baton_handovers_expired_total", "counter",
	    "Handovers expired undelivered after the retention period.",
	    (double)m->expired);
	plain(t, "baton_quarantined_total", "counter",
	    "Stored records moved to quarantine after failing their check.",
	    (double)m->quarantined);
	by_code(t, "baton_requests_refused_total", "code",
	    "Acks, decisions and status reads refused, by code.",
	    &m->request_refused);
	hist(t, "baton_commit_duration_seconds",
	    "Time to commit one event-loop pass's transaction (with fsync).",
	    &m->commit_seconds);
	hist(t, "baton_commit_handovers", "Handovers submitted per commit.",
	    &m->commit_handovers);
}

/* One gauge line with node and risk labels. */
static void
cell_line(struct metrics_text *t, const char *name, const char *node,
    int risk, double v)
{
	metrics_text_printf(t, "%s{node=\"", name);
	metrics_text_label(t, node);
	metrics_text_printf(t, "\",risk=\"%s\"} %.17g\n",
	    queue_view_risk_name(risk), v);
}

static double
age_s(const struct queue_view *v, int64_t at_ms)
{
	return at_ms == 0 || v->wall_ms <= at_ms ? 0 :
	    (double)(v->wall_ms - at_ms) / 1000.0;
}

/* Which field of a cell a per-node gauge shows. */
enum cell_field { F_DEPTH, F_WAITING, F_IN_FLIGHT, F_UNDECIDED, F_AGE_WAITING,
	F_AGE_UNDECIDED };

static double
cell_value(const struct queue_view *v, const struct view_cell *c,
    enum cell_field f)
{
	switch (f) {
	case F_DEPTH:		return (double)c->depth;
	case F_WAITING:		return (double)c->waiting;
	case F_IN_FLIGHT:	return (double)c->in_flight;
	case F_UNDECIDED:	return (double)c->undecided;
	case F_AGE_WAITING:	return age_s(v, c->oldest_waiting_ms);
	case F_AGE_UNDECIDED:	return age_s(v, c->oldest_undecided_ms);
	}
	return 0;
}

static void
node_gauge(struct metrics_text *t, const struct queue_view *v,
    const char *name, const char *help, enum cell_field f)
{
	unsigned i;
	int r;

	head(t, name, "gauge", help);
	for (i = 0; i < v->n; i++)
		for (r = 0; r < VIEW_RISKS; r++)
			cell_line(t, name, v->nodes[i].node, r,
			    cell_value(v, &v->nodes[i].risk[r], f));
}

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
		metrics_text_printf(t, "%s{risk=\"%s\"} %llu\n", name,
		    queue_view_risk_name(r), (unsigned long long)n[r]);
}

static void
queue_gauges(struct metrics_text *t, const struct queue_view *v)
{
	node_gauge(t, v, "baton_queue_depth", "Handovers in the node's queue: "
	    "waiting or delivered and not acknowledged.", F_DEPTH);
	node_gauge(t, v, "baton_queue_waiting", "Handovers queued for the node, "
	    "not yet delivered.", F_WAITING);
	node_gauge(t, v, "baton_queue_in_flight", "Handovers delivered to the "
	    "node, not yet acknowledged.", F_IN_FLIGHT);
	node_gauge(t, v, "baton_queue_undecided", "Handovers for the node not "
	    "yet accepted or rejected.", F_UNDECIDED);
	node_gauge(t, v, "baton_queue_oldest_waiting_age_seconds", "Age of the "
	    "oldest handover waiting for delivery (0: none).", F_AGE_WAITING);
	node_gauge(t, v, "baton_queue_oldest_undecided_age_seconds", "Age of "
	    "the oldest undecided handover (0: none).", F_AGE_UNDECIDED);
	overdue(t, v);
	plain(t, "baton_queue_scan_records", "gauge", "State records read for "
	    "the queue gauges of this scrape.", (double)v->scanned);
	plain(t, "baton_queue_scan_truncated", "gauge", "1 when the queue "
	    "gauges stopped at the scan bound and are lower bounds.",
	    (double)v->truncated);
}

static void
gauges(struct metrics_text *t, const struct metrics_gauges *g)
{
	plain(t, "baton_up", "gauge", "1 when the broker is healthy (as "
	    "/healthz), else 0.", (double)(g->healthy != 0));
	plain(t, "baton_start_time_seconds", "gauge", "When the broker started, "
	    "Unix time.", g->start_time_s);
	plain(t, "baton_connections_open", "gauge", "Client connections open now.",
	    (double)g->connections_open);
	if (g->have_cert)
		plain(t, "baton_certificate_expiry_seconds", "gauge", "Time left "
		    "until the broker's own certificate expires (negative: "
		    "expired).", g->cert_seconds_left);
	if (g->have_crl)
		plain(t, "baton_crl_next_update_seconds", "gauge", "Time left "
		    "until the CRL in force lapses (negative: lapsed).",
		    g->crl_seconds_left);
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
