/*
 * audit_report_svg.c - the governance report page's two charts, drawn as
 * inline SVG (audit_report_int.h): no script, nothing loaded, so the page
 * stays one self-contained file that prints and mails as it is.
 *
 * Both charts draw rows (audit_report.c) and label them with the same
 * formatter the tables use, so a number on a bar is the number in the
 * table. Each mark carries a <title> (shown on hover, read by screen
 * readers) with its figure spelled out.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_report.h"
#include "audit_report_int.h"

#define P50_FILL	"#1f5fa8"
#define P90_FILL	"#8fb3e0"

/* Chart 1: median and p90 time to decision per risk level. */

#define C1_W		640
#define C1_H		300
#define C1_LEFT		80
#define C1_RIGHT	20
#define C1_TOP		40
#define C1_PLOT_H	190
#define C1_TICKS	4

struct level {
	int	 risk;
	int64_t	 p50, p90;
	uint64_t n;
};

/* Steps a time axis may have: whole, readable durations. */
static const int64_t steps[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000,
	30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000,
	7200000, 10800000, 21600000, 43200000, 86400000, 172800000,
	604800000, 1209600000, 2592000000LL, 7776000000LL, 31536000000LL
};

/* The smallest step with C1_TICKS of them reaching max. */
static int64_t
axis_step(int64_t max)
{
	size_t i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]) - 1; i++)
		if (steps[i] * C1_TICKS >= max)
			break;
	return steps[i];
}

/* The levels with decisions, in the order shown. Their number, or -1. */
static int
collect_levels(struct report *r, struct level *lv)
{
	struct report_cell *tmp;
	struct report_row w;
	int i, n = 0;

	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return -1;
	for (i = 0; i < REPORT_RISKS; i++) {
		report_sum(r, NULL, NULL, report_risk_order[i], tmp, &w);
		if (report_hist_quantile(&tmp->decide, 50, &lv[n].p50) == -1 ||
		    report_hist_quantile(&tmp->decide, 90, &lv[n].p90) == -1)
			continue;
		lv[n].risk = report_risk_order[i];
		lv[n].n = tmp->decide.n;
		n++;
	}
	free(tmp);
	return n;
}

static void
c1_axis(FILE *out, int64_t step)
{
	char t[32];
	int k, y;

	for (k = 0; k <= C1_TICKS; k++) {
		y = C1_TOP + C1_PLOT_H - k * C1_PLOT_H / C1_TICKS;
		report_human_ms(t, sizeof(t), step * k);
		(void)fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		    "y2=\"%d\" stroke=\"%s\"/><text x=\"%d\" y=\"%d\" "
		    "text-anchor=\"end\">%s</text>\n", C1_LEFT, y,
		    C1_W - C1_RIGHT, y, k == 0 ? "#555" : "#ddd", C1_LEFT - 6,
		    y + 4, k == 0 ? "0" : t);
	}
}

/* One bar with its value above it. */
static void
c1_bar(FILE *out, int x, int bw, int64_t v, int64_t top, const char *fill,
    const char *what, int risk)
{
	char t[32];
	int h = (int)(v * C1_PLOT_H / top);

	report_human_ms(t, sizeof(t), v);
	(void)fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" "
	    "fill=\"%s\"><title>%s, %s: %s</title></rect>\n", x,
	    C1_TOP + C1_PLOT_H - h, bw, h, fill, report_risk_name(risk), what,
	    t);
	(void)fprintf(out, "<text class=\"value\" data-risk=\"%s\" "
	    "data-what=\"%s\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s"
	    "</text>\n", report_risk_name(risk), what, x + bw / 2,
	    C1_TOP + C1_PLOT_H - h - 4, t);
}

static void
c1_group(const struct report *r, FILE *out, const struct level *l, int i,
    int n, int64_t top)
{
	char d[32];
	int gw = (C1_W - C1_LEFT - C1_RIGHT) / n;
	int bw = gw / 3 < 48 ? gw / 3 : 48;
	int x = C1_LEFT + i * gw + (gw - 2 * bw - 4) / 2;
	int cx = C1_LEFT + i * gw + gw / 2, y = C1_TOP + C1_PLOT_H;

	c1_bar(out, x, bw, l->p50, top, P50_FILL, "p50", l->risk);
	c1_bar(out, x + bw + 4, bw, l->p90, top, P90_FILL, "p90", l->risk);
	if (r->o.deadline_ms[l->risk] > 0)
		report_policy_ms(d, sizeof(d), r->o.deadline_ms[l->risk]);
	else
		(void)snprintf(d, sizeof(d), "none");
	(void)fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" "
	    "font-weight=\"bold\">%s</text>\n<text x=\"%d\" y=\"%d\" "
	    "text-anchor=\"middle\">deadline %s</text>\n<text x=\"%d\" "
	    "y=\"%d\" text-anchor=\"middle\">%" PRIu64 " decided</text>\n",
	    cx, y + 18, report_risk_name(l->risk), cx, y + 34, d, cx, y + 50,
	    l->n);
}

static void
legend_box(FILE *out, int x, int y, const char *fill, const char *text)
{
	(void)fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" "
	    "height=\"12\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s</text>\n",
	    x, y, fill, x + 16, y + 11, text);
}

int
report_svg_decision_times(struct report *r, FILE *out)
{
	struct level lv[REPORT_RISKS];
	int64_t max = 0, step;
	int i, n;

	if ((n = collect_levels(r, lv)) == -1)
		return -1;
	if (n == 0) {
		(void)fputs("<p>No decisions in the period.</p>\n", out);
		return ferror(out) ? -1 : 0;
	}
	for (i = 0; i < n; i++)
		if (lv[i].p90 > max)
			max = lv[i].p90;
	step = axis_step(max);
	(void)fprintf(out, "<svg id=\"decision-times\" "
	    "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\"><title>Median and 90th "
	    "percentile time from receipt to decision, by risk level</title>\n",
	    C1_W, C1_H, C1_W, C1_H);
	legend_box(out, C1_LEFT, 10, P50_FILL, "median (p50)");
	legend_box(out, C1_LEFT + 140, 10, P90_FILL, "90th percentile (p90)");
	c1_axis(out, step);
	for (i = 0; i < n; i++)
		c1_group(r, out, &lv[i], i, n, step * C1_TICKS);
	(void)fputs("</svg>\n", out);
	return ferror(out) ? -1 : 0;
}

/* Chart 2: on time, late, undecided and overdue, per role and route. */

#define C2_W		760
#define C2_LABEL	230
#define C2_BAR		420
#define C2_TOP		36
#define C2_ROW		26
#define C2_SEGS		4

static const struct {
	const char	*fill;
	const char	*name;
} segs[C2_SEGS] = {
	{ "#2e7d32", "decided on time" },
	{ "#f9a825", "decided late" },
	{ "#90a4ae", "undecided, not overdue" },
	{ "#c62828", "undecided, overdue" },
};

struct bar {
	const char	*sender;	/* "*": all senders */
	const char	*recipient;
	uint64_t	 v[C2_SEGS];
	uint64_t	 total;
};

typedef void (*bar_fn)(const struct bar *, void *);

/* The bar of w, if it has anything to show. */
static int
bar_of(const struct report_row *w, struct bar *b)
{
	int i;

	b->sender = w->sender;
	b->recipient = w->recipient;
	b->v[0] = w->c->on_time;
	b->v[1] = w->c->judged - w->c->on_time;
	b->v[2] = w->undecided - w->overdue;
	b->v[3] = w->overdue;
	for (b->total = 0, i = 0; i < C2_SEGS; i++)
		b->total += b->v[i];
	return b->total > 0;
}

/* Each receiving role's bar, then its routes' bars, through fn. */
static int
each_bar(struct report *r, bar_fn fn, void *arg)
{
	struct report_cell *tmp;
	struct report_row w;
	struct bar b;
	const struct report_cell *c;
	unsigned i, j;

	if ((tmp = malloc(sizeof(*tmp))) == NULL)
		return -1;
	for (i = 0; i < r->nroles; i++) {
		if (report_sum(r, NULL, r->roles[i], REPORT_ANY, tmp, &w) &&
		    bar_of(&w, &b))
			fn(&b, arg);
		for (j = 0; j < r->ncells; j++) {
			c = r->cells[j];
			if (strcmp(c->recipient, r->roles[i]) != 0 || (j > 0 &&
			    strcmp(r->cells[j - 1]->sender, c->sender) == 0 &&
			    strcmp(r->cells[j - 1]->recipient, c->recipient) ==
			    0))
				continue;	/* another role, or seen */
			if (report_sum(r, c->sender, c->recipient, REPORT_ANY,
			    tmp, &w) && bar_of(&w, &b))
				fn(&b, arg);
		}
	}
	free(tmp);
	return 0;
}

static void
count_bar(const struct bar *b, void *arg)
{
	(void)b;
	(*(unsigned *)arg)++;
}

struct c2_state {
	FILE		*out;
	unsigned	 row;
};

static void
c2_label(FILE *out, const struct bar *b, int y)
{
	int all = strcmp(b->sender, "*") == 0;

	(void)fprintf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\"%s>",
	    C2_LABEL - 8, y + 16, all ? " font-weight=\"bold\"" : "");
	report_html_text(out, all ? "all senders" : b->sender);
	(void)fputs(" &#8594; ", out);
	report_html_text(out, b->recipient);
	(void)fputs("</text>\n", out);
}

static void
draw_bar(const struct bar *b, void *arg)
{
	struct c2_state *st = arg;
	FILE *out = st->out;
	int y = C2_TOP + (int)st->row++ * C2_ROW, x = C2_LABEL, wd, i;
	uint64_t before = 0;

	c2_label(out, b, y);
	for (i = 0; i < C2_SEGS; i++) {
		if (b->v[i] == 0)
			continue;
		/* edges at whole pixels of the running total: no gaps */
		wd = (int)((before + b->v[i]) * C2_BAR / b->total -
		    before * C2_BAR / b->total);
		before += b->v[i];
		(void)fprintf(out, "<rect x=\"%d\" y=\"%d\" width=\"%d\" "
		    "height=\"%d\" fill=\"%s\"><title>%s: %" PRIu64
		    "</title></rect>\n", x, y + 3, wd, C2_ROW - 6,
		    segs[i].fill, segs[i].name, b->v[i]);
		if (wd >= 22)
			(void)fprintf(out, "<text class=\"value\" x=\"%d\" "
			    "y=\"%d\" text-anchor=\"middle\" fill=\"#fff\">%"
			    PRIu64 "</text>\n", x + wd / 2, y + 17, b->v[i]);
		x += wd;
	}
	(void)fprintf(out, "<text x=\"%d\" y=\"%d\">%" PRIu64 "</text>\n",
	    C2_LABEL + C2_BAR + 8, y + 16, b->total);
}

int
report_svg_on_time(struct report *r, FILE *out)
{
	struct c2_state st = { out, 0 };
	unsigned n = 0;
	int i, h;

	if (each_bar(r, count_bar, &n) == -1)
		return -1;
	if (n == 0) {
		(void)fputs("<p>No decisions in the period and nothing "
		    "undecided now.</p>\n", out);
		return ferror(out) ? -1 : 0;
	}
	h = C2_TOP + (int)n * C2_ROW + 8;
	(void)fprintf(out, "<svg id=\"on-time\" "
	    "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	    "viewBox=\"0 0 %d %d\" role=\"img\"><title>Decisions on time and "
	    "late in the period, and handovers undecided now, per receiving "
	    "role and route</title>\n", C2_W, h, C2_W, h);
	for (i = 0; i < C2_SEGS; i++)
		legend_box(out, 10 + i * 185, 8, segs[i].fill,
		    segs[i].name);
	if (each_bar(r, draw_bar, &st) == -1)
		return -1;
	(void)fputs("</svg>\n<p>Bars count decisions at levels with a "
	    "deadline, and what is undecided now; undecided handovers are "
	    "known per receiving role only (from the store), so a route's "
	    "bar shows its decisions.</p>\n", out);
	return ferror(out) ? -1 : 0;
}
