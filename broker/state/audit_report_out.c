/*
 * audit_report_out.c - the governance report's three formats: a table for
 * an 80-column terminal, CSV with stable column names, and one HTML page
 * with its charts drawn as inline SVG (see audit_report.h).
 *
 * Every figure comes from a row (audit_report.c) through one column table,
 * so CSV and HTML cannot disagree; the terminal table picks from the same
 * values. The HTML page loads nothing: no script, no external style, font
 * or image, and a Content-Security-Policy that forbids them, so it can be
 * mailed and opened offline. Only roles, risk levels, reason codes and
 * counts are written; all text is escaped for its format anyway.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "audit_report.h"
#include "audit_report_int.h"

#define TEXT_MAX	1024
#define WRAP		78

/* Values. */

enum vkind {
	V_EMPTY = 0,	/* not applicable or not known */
	V_TEXT,
	V_COUNT,
	V_MS,		/* a duration */
	V_PCT,		/* num / den as a percentage, one decimal */
	V_RATIO,	/* num / den, two decimals */
	V_REASONS	/* the rejections by reason */
};

struct val {
	enum vkind	 k;
	const char	*s;
	uint64_t	 n, num, den;
	int64_t		 ms;
};

/* What a column shows. */
enum ckind {
	C_SENDER, C_RECIPIENT, C_RISK, C_COUNT, C_QUANT, C_DECIDED,
	C_DEADLINE, C_ON_TIME, C_LATE, C_ON_TIME_PCT, C_REASONS, C_PER_SENT,
	C_UNDECIDED, C_OVERDUE, C_MOST_OVERDUE
};

struct column {
	const char	*name;	/* CSV header, and data-col in HTML */
	const char	*title;	/* HTML header; NULL: CSV only */
	enum ckind	 kind;
	size_t		 off;	/* C_COUNT, C_QUANT, C_PER_SENT */
	unsigned	 pct;		/* C_QUANT */
};

#define CELL(f)		offsetof(struct report_cell, f)

/* The CSV columns, in order; their names are an interface: only append. */
static const struct column columns[] = {
	{ "sender_role", NULL, C_SENDER, 0, 0 },
	{ "recipient_role", NULL, C_RECIPIENT, 0, 0 },
	{ "risk", NULL, C_RISK, 0, 0 },
	{ "handovers", "Sent", C_COUNT, CELL(sent), 0 },
	{ "delivered", "Delivered", C_COUNT, CELL(delivered), 0 },
	{ "delivery_p50_ms", "To delivery p50", C_QUANT, CELL(deliver), 50 },
	{ "delivery_p90_ms", "p90", C_QUANT, CELL(deliver), 90 },
	{ "decided", "Decided", C_DECIDED, 0, 0 },
	{ "accepted", NULL, C_COUNT, CELL(accepted), 0 },
	{ "rejected", NULL, C_COUNT, CELL(rejected), 0 },
	{ "decision_p50_ms", "To decision p50", C_QUANT, CELL(decide), 50 },
	{ "decision_p90_ms", "p90", C_QUANT, CELL(decide), 90 },
	{ "after_delivery_p50_ms", NULL, C_QUANT, CELL(after), 50 },
	{ "after_delivery_p90_ms", NULL, C_QUANT, CELL(after), 90 },
	{ "deadline_ms", NULL, C_DEADLINE, 0, 0 },
	{ "decided_on_time", NULL, C_ON_TIME, 0, 0 },
	{ "decided_late", NULL, C_LATE, 0, 0 },
	{ "on_time_pct", "On time", C_ON_TIME_PCT, 0, 0 },
	{ "rejected_by_reason", "Rejected by reason", C_REASONS, 0, 0 },
	{ "redirected", NULL, C_COUNT, CELL(redirected), 0 },
	{ "redirects_per_handover", "Redirects per handover", C_PER_SENT,
	  CELL(redirected), 0 },
	{ "escalated", "Escalated", C_COUNT, CELL(escalated), 0 },
	{ "expired", "Expired", C_COUNT, CELL(expired), 0 },
	{ "undecided_now", "Undecided now", C_UNDECIDED, 0, 0 },
	{ "overdue_now", "Overdue now", C_OVERDUE, 0, 0 },
	{ "most_overdue_ms", "Most overdue by", C_MOST_OVERDUE, 0, 0 },
};
#define NCOLUMNS	(sizeof(columns) / sizeof(columns[0]))

static uint64_t
field(const struct report_cell *c, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)c + off, sizeof(v));
	return v;
}

static void
quantile(const struct report_cell *c, size_t off, unsigned pct,
    struct val *v)
{
	const struct report_hist *h =
	    (const struct report_hist *)(const void *)((const char *)c + off);

	if (report_hist_quantile(h, pct, &v->ms) == 0)
		v->k = V_MS;
}

/* The figures that need a deadline, or what is open. */
static void
judged_value(const struct report_row *w, enum ckind k, struct val *v)
{
	const struct report_cell *c = w->c;

	if (w->deadline_ms == 0)
		return;	/* no deadline: neither on time nor late */
	v->k = V_COUNT;
	if (k == C_ON_TIME)
		v->n = c->on_time;
	else if (k == C_LATE)
		v->n = c->judged - c->on_time;
	else if (c->judged == 0)
		v->k = V_EMPTY;
	else {
		v->k = V_PCT;
		v->num = c->on_time;
		v->den = c->judged;
	}
}

static void
open_value(const struct report_row *w, enum ckind k, struct val *v)
{
	if (!w->has_open)
		return;
	v->k = V_COUNT;
	if (k == C_UNDECIDED)
		v->n = w->undecided;
	else if (k == C_OVERDUE)
		v->n = w->overdue;
	else if (w->most_overdue_ms >= 0) {
		v->k = V_MS;
		v->ms = w->most_overdue_ms;
	} else
		v->k = V_EMPTY;
}

static void
value_of(const struct report_row *w, const struct column *col,
    struct val *v)
{
	const struct report_cell *c = w->c;

	memset(v, 0, sizeof(*v));
	switch (col->kind) {
	case C_SENDER:
	case C_RECIPIENT:
	case C_RISK:
		v->k = V_TEXT;
		v->s = col->kind == C_SENDER ? w->sender : col->kind ==
		    C_RECIPIENT ? w->recipient : w->risk == REPORT_ANY ? "*" :
		    report_risk_name(w->risk);
		break;
	case C_COUNT:
		v->k = V_COUNT;
		v->n = field(c, col->off);
		break;
	case C_QUANT:
		quantile(c, col->off, col->pct, v);
		break;
	case C_DECIDED:
		v->k = V_COUNT;
		v->n = c->accepted + c->rejected;
		break;
	case C_DEADLINE:
		if (w->deadline_ms > 0) {
			v->k = V_MS;
			v->ms = w->deadline_ms;
		}
		break;
	case C_ON_TIME:
	case C_LATE:
	case C_ON_TIME_PCT:
		judged_value(w, col->kind, v);
		break;
	case C_REASONS:
		v->k = V_REASONS;
		break;
	case C_PER_SENT:
		if (c->sent > 0) {
			v->k = V_RATIO;
			v->num = field(c, col->off);
			v->den = c->sent;
		}
		break;
	case C_UNDECIDED:
	case C_OVERDUE:
	case C_MOST_OVERDUE:
		open_value(w, col->kind, v);
		break;
	}
}

/* num/den in tenths (percent) or hundredths (ratio), rounded half up. */
static void
fixed(char *buf, size_t len, uint64_t num, uint64_t den, unsigned scale,
    const char *suffix)
{
	uint64_t q = (2 * scale * num + den) / (2 * den);

	if (scale == 1000)
		(void)snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "%s", q / 10,
		    q % 10, suffix);
	else
		(void)snprintf(buf, len, "%" PRIu64 ".%02" PRIu64 "%s",
		    q / 100, q % 100, suffix);
}

/*
 * The rejections of c by reason, in name order: "a:1;b:2" (csv) or
 * "a 1, b 2".
 */
static void
reasons_text(const struct report *r, const struct report_cell *c, int csv,
    char *buf, size_t len)
{
	size_t n = 0;
	unsigned i, k;

	buf[0] = '\0';
	for (i = 0; i <= r->nreasons && n < len; i++) {
		k = i < r->nreasons ? r->reason_order[i] : REPORT_OTHER_REASON;
		if (c->reasons[k] == 0)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s%s%" PRIu64,
		    n > 0 ? (csv ? ";" : ", ") : "", k == REPORT_OTHER_REASON ?
		    "other" : r->reasons[k], csv ? ":" : " ", c->reasons[k]);
	}
}

/* v as CSV (machine form) or for people (human) into buf. */
static void
val_text(const struct report *r, const struct report_row *w,
    const struct val *v, int csv, char *buf, size_t len)
{
	buf[0] = '\0';
	switch (v->k) {
	case V_EMPTY:
		if (!csv)
			(void)snprintf(buf, len, "-");
		break;
	case V_TEXT:
		(void)snprintf(buf, len, "%s", v->s);
		break;
	case V_COUNT:
		(void)snprintf(buf, len, "%" PRIu64, v->n);
		break;
	case V_MS:
		if (csv)
			(void)snprintf(buf, len, "%lld", (long long)v->ms);
		else
			report_human_ms(buf, len, v->ms);
		break;
	case V_PCT:
		fixed(buf, len, v->num, v->den, 1000, csv ? "" : "%");
		break;
	case V_RATIO:
		fixed(buf, len, v->num, v->den, 100, "");
		break;
	case V_REASONS:
		reasons_text(r, w->c, csv, buf, len);
		if (!csv && buf[0] == '\0')
			(void)snprintf(buf, len, "-");
		break;
	}
}

/* Rows, in the order every format shows them. */

typedef int (*row_fn)(struct report *, const struct report_row *, void *);

/* Each route's cells. */
static int
each_route_row(struct report *r, row_fn fn, void *arg)
{
	struct report_row w;
	unsigned i;

	for (i = 0; i < r->ncells; i++) {
		report_cell_row(r, r->cells[i], &w);
		if (fn(r, &w, arg) == -1)
			return -1;
	}
	return 0;
}

/* All senders to each receiving role (recipient "*": every role). */
static int
each_sum_row(struct report *r, const char *recipient, row_fn fn, void *arg)
{
	struct report_cell *tmp;
	struct report_row w;
	int i, ret = 0;

	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return -1;
	for (i = 0; i < REPORT_RISKS && ret == 0; i++)
		if (report_sum(r, NULL, recipient, report_risk_order[i], tmp,
		    &w))
			ret = fn(r, &w, arg);
	free(tmp);
	return ret;
}

static int
each_role_row(struct report *r, row_fn fn, void *arg)
{
	unsigned i;

	for (i = 0; i < r->nroles; i++)
		if (each_sum_row(r, r->roles[i], fn, arg) == -1)
			return -1;
	return 0;
}

/* CSV. */

static void
csv_field(FILE *out, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		(void)fputs(s, out);
		return;
	}
	(void)fputc('"', out);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			(void)fputc('"', out);
		(void)fputc(*s, out);
	}
	(void)fputc('"', out);
}

static int
csv_row(struct report *r, const struct report_row *w, void *arg)
{
	FILE *out = arg;
	char buf[TEXT_MAX];
	struct val v;
	size_t i;

	for (i = 0; i < NCOLUMNS; i++) {
		value_of(w, &columns[i], &v);
		val_text(r, w, &v, 1, buf, sizeof(buf));
		if (i > 0)
			(void)fputc(',', out);
		csv_field(out, buf);
	}
	(void)fputs("\r\n", out);
	return ferror(out) ? -1 : 0;
}

static int
report_write_csv(struct report *r, FILE *out)
{
	size_t i;

	for (i = 0; i < NCOLUMNS; i++)
		(void)fprintf(out, "%s%s", i > 0 ? "," : "", columns[i].name);
	(void)fputs("\r\n", out);
	if (each_route_row(r, csv_row, out) == -1 ||
	    each_role_row(r, csv_row, out) == -1 ||
	    each_sum_row(r, NULL, csv_row, out) == -1)
		return -1;
	return fflush(out) == EOF || ferror(out) ? -1 : 0;
}

/* Notes, the same in the table and the page. */

typedef void (*note_fn)(void *, const char *);

static void
deadlines_text(const struct report *r, char *buf, size_t len)
{
	char d[32];
	size_t n = 0;
	int i, risk;

	buf[0] = '\0';
	for (i = 0; i < REPORT_RISKS && n < len; i++) {
		risk = report_risk_order[i];
		if (r->o.deadline_ms[risk] > 0)
			report_policy_ms(d, sizeof(d), r->o.deadline_ms[risk]);
		else
			(void)snprintf(d, sizeof(d), "none");
		n += (size_t)snprintf(buf + n, len - n, "%s%s %s",
		    i > 0 ? ", " : "", report_risk_name(risk), d);
	}
}

static void
note_period(const struct report *r, note_fn fn, void *arg)
{
	char t0[AUDIT_TIME_LEN + 1], t1[AUDIT_TIME_LEN + 1], buf[TEXT_MAX];

	audit_time_format(r->o.since_ms, t0);
	audit_time_format(r->o.until_ms, t1);
	(void)snprintf(buf, sizeof(buf), "Period: audit records from %s to "
	    "%s (UTC, both included). Figures count the events in the "
	    "period: a handover sent before it and decided in it counts "
	    "among the decisions, not among those sent.", t0, t1);
	fn(arg, buf);
}

static void
note_policy(const struct report *r, note_fn fn, void *arg)
{
	char d[256], buf[TEXT_MAX];

	deadlines_text(r, d, sizeof(d));
	(void)snprintf(buf, sizeof(buf), "On time: the share of decisions "
	    "(timed, at a level with a deadline) made within the policy's "
	    "acceptance deadline for the risk level, counted from receipt: "
	    "%s. Policy %s%s%s.", d, r->policy_name[0] != '\0' ?
	    r->policy_name : "(not named)", r->policy_sha256[0] != '\0' ?
	    ", sha256 " : "", r->policy_sha256);
	fn(arg, buf);
}

/* Notes that are there only when something was left out. */
static void
note_gaps(const struct report *r, note_fn fn, void *arg)
{
	char buf[TEXT_MAX];

	if (r->format1 > 0) {
		(void)snprintf(buf, sizeof(buf), "%" PRIu64 " handover records "
		    "in the period were written before record format 2 (no "
		    "risk level or times) and are not counted.", r->format1);
		fn(arg, buf);
	}
	if (r->left_out > 0) {
		(void)snprintf(buf, sizeof(buf), "%" PRIu64 " records of "
		    "routes "
		    "past the first %d route and risk level pairs are not "
		    "counted.", r->left_out, REPORT_CELLS_MAX);
		fn(arg, buf);
	}
	if (r->loaded_sha256[0] != '\0' && r->policy_sha256[0] != '\0' &&
	    strcmp(r->loaded_sha256, r->policy_sha256) != 0) {
		(void)snprintf(buf, sizeof(buf), "The policy the broker last "
		    "loaded up to the period's end has sha256 %s, not the one "
		    "the deadlines here come from.", r->loaded_sha256);
		fn(arg, buf);
	}
	if (!r->open_read)
		fn(arg, "What is undecided now was not read from the store.");
	else if (r->open_partial || r->open_left_out > 0)
		fn(arg, "The figures of what is undecided now are lower "
		    "bounds: "
		    "the store was not read to the end.");
}

static void
notes_each(const struct report *r, note_fn fn, void *arg)
{
	note_period(r, fn, arg);
	fn(arg, "Route: the sender's role -> the role of the node the "
	    "handover was with at the event. A role is as the record states "
	    "it (the sender's on the submit, the recipient's on its delivery "
	    "and decisions), otherwise the node's role in the registry now. "
	    "After a redirect later events count on the new route; the "
	    "redirect counts on the route it left.");
	fn(arg, "Sent: handovers the broker received. Decided: accepted or "
	    "rejected (a redirect is not a decision).");
	fn(arg, "To delivery: from receipt by the broker to the first "
	    "delivery to each recipient (a redelivery after a reconnect is "
	    "not counted again). To decision: from receipt to accept or "
	    "reject; the CSV also has from delivery to decision. p50 is the "
	    "median and p90 the 90th percentile (nearest rank), from "
	    "log-scale histograms: exact below 16 ms, otherwise within "
	    REPORT_RESOLUTION_TEXT " of the true value.");
	note_policy(r, fn, arg);
	fn(arg, "Redirects per handover: redirects on the route per handover "
	    "sent on it (bouncing). Escalated: undecided at the deadline. "
	    "Expired: not delivered within the retention period.");
	fn(arg, "Undecided now: handovers not yet accepted or rejected when "
	    "the report was made, read from the store (not the log), by "
	    "receiving role; overdue: past the acceptance deadline; most "
	    "overdue by: how far the oldest of them is past it.");
	note_gaps(r, fn, arg);
	fn(arg, "Computed from the audit log in one pass in constant memory. "
	    "The report names roles, risk levels and reason codes only: no "
	    "person, node or message.");
}

/* The table, for an 80-column terminal. */

/* Writes text wrapped at WRAP columns, the first line after first. */
static void
wrap(FILE *out, const char *first, const char *indent, const char *text)
{
	size_t col = strlen(first), w;
	int start = 1;		/* nothing of text on this line yet */

	(void)fputs(first, out);
	while (*text != '\0') {
		w = strcspn(text, " ");
		if (!start && col + 1 + w > WRAP) {
			(void)fprintf(out, "\n%s", indent);
			col = strlen(indent);
			start = 1;
		}
		if (!start) {
			(void)fputc(' ', out);
			col++;
		}
		col += fwrite(text, 1, w, out);
		start = 0;
		text += w;
		text += strspn(text, " ");
	}
	(void)fputc('\n', out);
}

static void
table_note(void *arg, const char *text)
{
	wrap(arg, "- ", "  ", text);
}

#define TABLE_HEAD1	"%-11s%6s%6s%14s%14s\n"
#define TABLE_ROW	"%-11s%6s%6s%7s%7s%7s%7s%8s%8s%5s%5s\n"

/* The column table's value number i of w, for people, into buf. */
static void
human(const struct report *r, const struct report_row *w, const char *name,
    char *buf, size_t len)
{
	struct val v;
	size_t i;

	for (i = 0; i < NCOLUMNS; i++)
		if (strcmp(columns[i].name, name) == 0)
			break;
	value_of(w, &columns[i], &v);
	val_text(r, w, &v, 0, buf, len);
}

struct table_state {
	FILE		*out;
	const char	*last_sender;	/* the last heading's route */
	const char	*last_recipient;
};

static int
table_row(struct report *r, const struct report_row *w, void *arg)
{
	struct table_state *t = arg;
	char v[11][40], reasons[TEXT_MAX];
	static const char *const names[11] = {
		"risk", "handovers", "decided", "delivery_p50_ms",
		"delivery_p90_ms", "decision_p50_ms", "decision_p90_ms",
		"on_time_pct", "redirects_per_handover", "escalated", "expired"
	};
	unsigned i;

	if (t->last_sender == NULL || strcmp(t->last_sender, w->sender) != 0 ||
	    strcmp(t->last_recipient, w->recipient) != 0) {
		(void)fprintf(t->out, "\n%s -> %s\n", strcmp(w->sender, "*") ==
		    0 ? "all senders" : w->sender, strcmp(w->recipient, "*") ==
		    0 ? "all roles" : w->recipient);
		t->last_sender = w->sender;
		t->last_recipient = w->recipient;
	}
	for (i = 0; i < 11; i++)
		human(r, w, names[i], v[i], sizeof(v[i]));
	(void)fprintf(t->out, TABLE_ROW, v[0], v[1], v[2], v[3], v[4], v[5],
	    v[6], v[7], v[8], v[9], v[10]);
	reasons_text(r, w->c, 0, reasons, sizeof(reasons));
	if (reasons[0] != '\0')
		wrap(t->out, "           rejected: ", "             ", reasons);
	return ferror(t->out) ? -1 : 0;
}

static void
table_head(FILE *out, const char *title)
{
	(void)fprintf(out, "\n%s\n", title);
	(void)fprintf(out, TABLE_HEAD1, "", "", "", "to delivery",
	    "to decision");
	(void)fprintf(out, TABLE_ROW, "risk", "sent", "dec.", "p50", "p90",
	    "p50", "p90", "on time", "redir/h", "esc", "exp");
}

static int
table_open_row(struct report *r, const struct report_row *w, void *arg)
{
	FILE *out = arg;
	char u[24], o[24], m[40];

	if (w->undecided == 0)
		return 0;
	human(r, w, "undecided_now", u, sizeof(u));
	human(r, w, "overdue_now", o, sizeof(o));
	human(r, w, "most_overdue_ms", m, sizeof(m));
	(void)fprintf(out, "%-20s%-12s%10s%9s%17s\n", w->recipient,
	    report_risk_name(w->risk), u, o, m);
	return ferror(out) ? -1 : 0;
}

static void
table_title(const struct report *r, FILE *out)
{
	char t0[AUDIT_TIME_LEN + 1], t1[AUDIT_TIME_LEN + 1];

	audit_time_format(r->o.since_ms, t0);
	audit_time_format(r->o.until_ms, t1);
	(void)fprintf(out, "Handover report\nPeriod  %s to %s\n", t0, t1);
	audit_time_format(r->o.now_ms, t0);
	(void)fprintf(out, "Made    %s\n", t0);
}

static int
report_write_table(struct report *r, FILE *out)
{
	struct table_state t = { out, NULL, NULL };

	table_title(r, out);
	table_head(out, "BY ROUTE (sender's role -> recipient's role)");
	if (r->ncells == 0)
		(void)fprintf(out, "\n(no handovers in the period)\n");
	if (each_route_row(r, table_row, &t) == -1)
		return -1;
	table_head(out, "ALL ROUTES");
	t.last_sender = NULL;
	if (each_sum_row(r, NULL, table_row, &t) == -1)
		return -1;
	(void)fprintf(out, "\nUNDECIDED NOW, by receiving role\n");
	(void)fprintf(out, "%-20s%-12s%10s%9s%17s\n", "role", "risk",
	    "undecided", "overdue", "most overdue by");
	if (each_role_row(r, table_open_row, out) == -1)
		return -1;
	(void)fprintf(out, "\nNOTES\n");
	notes_each(r, table_note, out);
	return fflush(out) == EOF || ferror(out) ? -1 : 0;
}

/* HTML. */

static void
html_note(void *arg, const char *text)
{
	FILE *out = arg;

	(void)fputs("<li>", out);
	report_html_text(out, text);
	(void)fputs("</li>\n", out);
}

static int
html_row(struct report *r, const struct report_row *w, void *arg)
{
	FILE *out = arg;
	char buf[TEXT_MAX];
	struct val v;
	size_t i;

	(void)fputs("<tr data-sender=\"", out);
	report_html_text(out, w->sender);
	(void)fputs("\" data-recipient=\"", out);
	report_html_text(out, w->recipient);
	(void)fprintf(out, "\" data-risk=\"%s\"><th>", w->risk == REPORT_ANY ?
	    "*" : report_risk_name(w->risk));
	report_html_text(out, strcmp(w->sender, "*") == 0 ? "all" : w->sender);
	(void)fputs(" &rarr; ", out);
	report_html_text(out, strcmp(w->recipient, "*") == 0 ? "all" :
	    w->recipient);
	(void)fprintf(out, "</th><td>%s</td>", report_risk_name(w->risk));
	for (i = 0; i < NCOLUMNS; i++) {
		if (columns[i].title == NULL)
			continue;
		value_of(w, &columns[i], &v);
		val_text(r, w, &v, 0, buf, sizeof(buf));
		(void)fprintf(out, "<td data-col=\"%s\"", columns[i].name);
		if (v.k == V_MS)
			(void)fprintf(out, " data-ms=\"%lld\"",
			    (long long)v.ms);
		(void)fputc('>', out);
		report_html_text(out, buf);
		(void)fputs("</td>", out);
	}
	(void)fputs("</tr>\n", out);
	return ferror(out) ? -1 : 0;
}

static void
html_table_head(FILE *out, const char *id)
{
	size_t i;

	(void)fprintf(out, "<table id=\"%s\">\n<thead><tr><th>Route</th>"
	    "<th>Risk</th>", id);
	for (i = 0; i < NCOLUMNS; i++)
		if (columns[i].title != NULL)
			(void)fprintf(out, "<th>%s</th>", columns[i].title);
	(void)fputs("</tr></thead>\n<tbody>\n", out);
}

#define HTML_STYLE \
	"body{font-family:sans-serif;margin:2em;color:#222}" \
	"table{border-collapse:collapse;margin:1em 0;font-size:85%}" \
	"th,td{border:1px solid #bbb;padding:.25em .5em;text-align:right}" \
	"td{white-space:nowrap}" \
	"tbody th{text-align:left;white-space:nowrap}" \
	"thead th{background:#eee}caption{text-align:left}" \
	"svg text{font-family:sans-serif;font-size:12px}" \
	".notes{max-width:60em}.notes li{margin:.3em 0}"

static void
html_head(const struct report *r, FILE *out)
{
	char t0[AUDIT_TIME_LEN + 1], t1[AUDIT_TIME_LEN + 1];
	char t2[AUDIT_TIME_LEN + 1];

	audit_time_format(r->o.since_ms, t0);
	audit_time_format(r->o.until_ms, t1);
	audit_time_format(r->o.now_ms, t2);
	(void)fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n"
	    "<meta http-equiv=\"Content-Security-Policy\" content=\""
	    "default-src 'none'; style-src 'unsafe-inline'\">\n"
	    "<title>Handover report %s to %s</title>\n<style>%s</style>\n"
	    "</head>\n<body>\n<h1>Handover report</h1>\n"
	    "<p id=\"period\">Period <time>%s</time> to <time>%s</time> (UTC); "
	    "made <time>%s</time>.</p>\n", t0, t1, HTML_STYLE, t0, t1, t2);
}

static int
report_write_html(struct report *r, FILE *out)
{
	html_head(r, out);
	(void)fputs("<h2>Time to decision by risk level, all routes</h2>\n",
	    out);
	if (report_svg_decision_times(r, out) == -1)
		return -1;
	(void)fputs("<h2>Decisions on time, late, and undecided now, by "
	    "receiving role and route</h2>\n", out);
	if (report_svg_on_time(r, out) == -1)
		return -1;
	(void)fputs("<h2>By route and risk level</h2>\n", out);
	html_table_head(out, "routes");
	if (each_route_row(r, html_row, out) == -1)
		return -1;
	(void)fputs("</tbody></table>\n<h2>All senders, by receiving role"
	    "</h2>\n", out);
	html_table_head(out, "roles");
	if (each_role_row(r, html_row, out) == -1)
		return -1;
	(void)fputs("</tbody></table>\n<h2>All routes</h2>\n", out);
	html_table_head(out, "all");
	if (each_sum_row(r, NULL, html_row, out) == -1)
		return -1;
	(void)fputs("</tbody></table>\n<h2>Notes</h2>\n<ul class=\"notes\">\n",
	    out);
	notes_each(r, html_note, out);
	(void)fputs("</ul>\n</body>\n</html>\n", out);
	return fflush(out) == EOF || ferror(out) ? -1 : 0;
}

int
report_write(struct report *r, FILE *out, enum report_format fmt)
{
	report_sort(r);
	switch (fmt) {
	case REPORT_TABLE:
		return report_write_table(r, out);
	case REPORT_CSV:
		return report_write_csv(r, out);
	case REPORT_HTML:
		return report_write_html(r, out);
	}
	return -1;
}
