/*
 * ctl_queue.c - "batonctl queue": what waits for each node, per risk
 * level: depth, waiting, in flight, undecided, overdue and the age of the
 * oldest handover waiting for delivery.
 *
 * The figures come from state/queueview.c, the one reading behind the
 * broker's queue gauges, so this view and the metrics cannot disagree.
 * It runs in one read-only LMDB transaction, safe while batond runs (a
 * reader neither blocks the broker's writer nor is blocked by it, and
 * sees one committed moment); the transaction ends before anything is
 * printed, so a slow terminal never holds a snapshot open.
 *
 * "Overdue" compares deadlines with the broker's due clock (clock.h). This
 * process has no monotonic history of the broker's, so it takes the later
 * of the wall clock and the value the broker last persisted (at least
 * every CLOCK_SAVE_MS): the due clock itself while the wall clock runs
 * true; after a backward step the persisted value, at most CLOCK_SAVE_MS
 * behind (overdue shows that much late); after a forward step while the
 * broker runs, the wall clock, ahead of the broker's (overdue shows early,
 * by the step). The broker logs such steps.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_opts.h"
#include "queueview.h"
#include "store.h"
#include "validate.h"

#define TABLE_WIDTH	80
#define LABEL_MIN	13	/* "  unspecified" */
/* the numbers' columns, each with its two leading spaces */
#define NUMBERS_FMT	"%7s%9s%11s%11s%9s%9s"
#define NUMBERS_WIDTH	(7 + 9 + 11 + 11 + 9 + 9)

struct queue_args {
	const char	*data;
	const char	*node;		/* NULL: every node */
	int		 json;
};

/* The levels in the order a person reads them: most urgent first. */
static const int risk_order[VIEW_RISKS] = { 4, 3, 2, 1, 0 };

static int
parse_queue(const struct command *c, int argc, char **argv,
    struct queue_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory (it may be running)",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help = "only this node" },
		{ CTL_FLAG("json", &a->json),
		  .help = "one JSON document instead of the table" },
		{ CTL_TEXT,
		  .help = "\n"
		  "Per node and risk level: DEPTH (in its queue: WAITING for "
		  "delivery or\n"
		  "IN-FLIGHT, delivered and not acknowledged), UNDECIDED (not "
		  "accepted or\n"
		  "rejected, acknowledged ones too), OVERDUE (undecided past "
		  "the acceptance\n"
		  "deadline) and OLDEST, how long the oldest waiting one has "
		  "been with the\n"
		  "broker. Read in one read-only transaction: safe while "
		  "batond runs." },
	};
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	return ctl_opts_node_id(c, a->node);
}

/* ---- reading ---- */

/*
 * Reads the view from a's data directory. EXIT_SUCCESS with v filled, or
 * EXIT_FAILURE with the reason printed (v is freed by the caller).
 */
static int
read_queue(const struct queue_args *a, struct queue_view *v)
{
	struct store *s;
	int64_t wall, stored;
	int rc;

	if (ctl_data_begin(a->data, 1, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	wall = clockms_wall();
	if ((rc = clock_load(s, &stored)) == STORE_OK)
		rc = queue_view_read(s, wall, stored > wall ? stored : wall,
		    VIEW_SCAN_MAX, v);
	store_abort(s);
	if (rc != STORE_OK)
		rc = ctl_failx("cannot read the queues in %s: %s", a->data,
		    store_strerror(s));
	else
		rc = EXIT_SUCCESS;
	store_close(s);
	return rc;
}

/* The row of node in v, or NULL. */
static const struct view_node *
find_row(const struct queue_view *v, const char *node)
{
	unsigned i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->nodes[i].node, node) == 0)
			return &v->nodes[i];
	return NULL;
}

/* The earlier of two receive times, 0 being none. */
static int64_t
earlier(int64_t a, int64_t b)
{
	return a == 0 || (b != 0 && b < a) ? b : a;
}

static void
cell_add(struct view_cell *to, const struct view_cell *c)
{
	to->depth += c->depth;
	to->waiting += c->waiting;
	to->in_flight += c->in_flight;
	to->undecided += c->undecided;
	to->overdue += c->overdue;
	to->oldest_waiting_ms = earlier(to->oldest_waiting_ms,
	    c->oldest_waiting_ms);
	to->oldest_undecided_ms = earlier(to->oldest_undecided_ms,
	    c->oldest_undecided_ms);
}

/* Each risk level summed over the rows shown (one, or all of them). */
static void
view_total(const struct queue_view *v, const struct view_node *only,
    struct view_node *out)
{
	unsigned i;
	int r;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < v->n; i++)
		if (only == NULL || &v->nodes[i] == only)
			for (r = 0; r < VIEW_RISKS; r++)
				cell_add(&out->risk[r], &v->nodes[i].risk[r]);
}

/* Age in ms of a receive time at the view's moment; -1 for none. */
static int64_t
age_ms(const struct queue_view *v, int64_t at_ms)
{
	if (at_ms <= 0)
		return -1;
	return v->wall_ms > at_ms ? v->wall_ms - at_ms : 0;
}

/* ---- the table ---- */

static void
print_numbers(const struct queue_view *v, const struct view_cell *c)
{
	char depth[24], waiting[24], flight[24], undecided[24], overdue[24];
	char oldest[24];

	snprintf(depth, sizeof(depth), "%llu", (unsigned long long)c->depth);
	snprintf(waiting, sizeof(waiting), "%llu",
	    (unsigned long long)c->waiting);
	snprintf(flight, sizeof(flight), "%llu",
	    (unsigned long long)c->in_flight);
	snprintf(undecided, sizeof(undecided), "%llu",
	    (unsigned long long)c->undecided);
	snprintf(overdue, sizeof(overdue), "%llu",
	    (unsigned long long)c->overdue);
	ctl_duration(age_ms(v, c->oldest_waiting_ms), oldest, sizeof(oldest));
	printf(NUMBERS_FMT "\n", depth, waiting, flight, undecided, overdue,
	    oldest);
}

/*
 * One line: label in a column of width w, then the numbers. A label too
 * long for the column goes on a line of its own, so the table stays
 * TABLE_WIDTH wide whatever the node ids.
 */
static void
print_line(const struct queue_view *v, const char *label, int w,
    const struct view_cell *c)
{
	if ((int)strlen(label) > w) {
		printf("%s\n", label);
		label = "";
	}
	printf("%-*s", w, label);
	print_numbers(v, c);
}

/* A node's line, then a line per risk level with anything undecided. */
static void
print_node(const struct queue_view *v, const struct view_node *n, int w)
{
	struct view_cell t;
	char label[BATON_NODE_ID_MAX + 32];
	int i, r;

	queue_view_node_total(n, &t);
	snprintf(label, sizeof(label), "%s%s", n->node, n->registered ? "" :
	    " (not registered)");
	ctl_sanitise(label);
	print_line(v, label, w, &t);
	for (i = 0; i < VIEW_RISKS; i++) {
		r = risk_order[i];
		if (n->risk[r].undecided == 0 && n->risk[r].depth == 0)
			continue;
		snprintf(label, sizeof(label), "  %s", queue_view_risk_name(r));
		print_line(v, label, w, &n->risk[r]);
	}
}

/* Width of the label column: the longest label that fits TABLE_WIDTH. */
static int
label_width(const struct queue_view *v, const struct view_node *only)
{
	int w = LABEL_MIN, max = TABLE_WIDTH - NUMBERS_WIDTH, len;
	unsigned i;

	for (i = 0; i < v->n; i++) {
		if (only != NULL && &v->nodes[i] != only)
			continue;
		len = (int)strlen(v->nodes[i].node) +
		    (v->nodes[i].registered ? 0 : 17);
		if (len > w)
			w = len;
	}
	return w > max ? max : w;
}

static void
print_table(const struct queue_view *v, const struct view_node *only)
{
	struct view_node total;
	struct view_cell t;
	int w = label_width(v, only), i, r, first = 1;
	unsigned j;

	printf("%-*s" NUMBERS_FMT "\n", w, "NODE", "DEPTH", "WAITING",
	    "IN-FLIGHT", "UNDECIDED", "OVERDUE", "OLDEST");
	for (j = 0; j < v->n; j++)
		if (only == NULL || &v->nodes[j] == only)
			print_node(v, &v->nodes[j], w);
	if (only == NULL) {
		view_total(v, NULL, &total);
		queue_view_node_total(&total, &t);
		print_line(v, "total", w, &t);
	} else
		view_total(v, only, &total);
	printf("overdue by risk:");
	for (i = 0; i < VIEW_RISKS; i++) {
		r = risk_order[i];
		if (r == 0 && total.risk[r].overdue == 0)
			continue;	/* no level given: rare, shown if it counts */
		printf("%s %s %llu", first ? "" : ",", queue_view_risk_name(r),
		    (unsigned long long)total.risk[r].overdue);
		first = 0;
	}
	printf("\n");
}

/* ---- JSON ---- */

/* A time or an age: null when there is none (negative). */
static json_t *
int_or_null(int64_t ms)
{
	return ms < 0 ? json_null() : json_integer((json_int_t)ms);
}

static json_t *
cell_json(const struct queue_view *v, const struct view_cell *c)
{
	int64_t ow = age_ms(v, c->oldest_waiting_ms);
	int64_t ou = age_ms(v, c->oldest_undecided_ms);

	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o}",
	    "depth", (json_int_t)c->depth,
	    "waiting", (json_int_t)c->waiting,
	    "in_flight", (json_int_t)c->in_flight,
	    "undecided", (json_int_t)c->undecided,
	    "overdue", (json_int_t)c->overdue,
	    "oldest_waiting_at_ms",
	    int_or_null(ow < 0 ? -1 : c->oldest_waiting_ms),
	    "oldest_waiting_age_s", int_or_null(ow < 0 ? -1 : ow / 1000),
	    "oldest_undecided_at_ms",
	    int_or_null(ou < 0 ? -1 : c->oldest_undecided_ms),
	    "oldest_undecided_age_s", int_or_null(ou < 0 ? -1 : ou / 1000));
}

/*
 * A node's figures (name NULL: the totals, without node and registered),
 * with "by_risk" for every level; NULL when out of memory.
 */
static json_t *
node_json(const struct queue_view *v, const struct view_node *n,
    const char *name)
{
	struct view_cell t;
	json_t *o, *cell, *by;
	int r;

	queue_view_node_total(n, &t);
	o = name != NULL ? json_pack("{s:s, s:b}", "node", name, "registered",
	    n->registered) : json_object();
	cell = cell_json(v, &t);
	/* set_new takes by even when it fails */
	if (o == NULL || cell == NULL || json_object_update(o, cell) != 0 ||
	    (by = json_object()) == NULL ||
	    json_object_set_new(o, "by_risk", by) != 0) {
		json_decref(cell);
		json_decref(o);
		return NULL;
	}
	json_decref(cell);
	for (r = 0; r < VIEW_RISKS; r++)
		if (json_object_set_new(by, queue_view_risk_name(r),
		    cell_json(v, &n->risk[r])) != 0) {
			json_decref(o);
			return NULL;
		}
	return o;
}

static json_t *
view_json(const struct queue_view *v, const struct view_node *only)
{
	struct view_node total;
	json_t *doc, *nodes, *o;
	unsigned i;

	view_total(v, only, &total);
	doc = json_pack("{s:I, s:o, s:o, s:{s:I, s:I, s:b, s:I}}",
	    "at_ms", (json_int_t)v->wall_ms,
	    "nodes", json_array(),
	    "total", node_json(v, &total, NULL),
	    "scan", "records", (json_int_t)v->scanned,
	    "unreadable", (json_int_t)v->unreadable,
	    "truncated", v->truncated,
	    "nodes_dropped", (json_int_t)v->nodes_dropped);
	if (doc == NULL)
		return NULL;
	nodes = json_object_get(doc, "nodes");
	for (i = 0; i < v->n; i++) {
		if (only != NULL && &v->nodes[i] != only)
			continue;
		if ((o = node_json(v, &v->nodes[i], v->nodes[i].node)) == NULL ||
		    json_array_append_new(nodes, o) != 0) {
			json_decref(doc);
			return NULL;
		}
	}
	return doc;
}

static int
print_json(const struct queue_view *v, const struct view_node *only)
{
	json_t *doc;

	if ((doc = view_json(v, only)) == NULL)
		return ctl_failx("out of memory");
	return ctl_json_put(doc, JSON_INDENT(2));
}

/* ---- the command ---- */

/* What a person must know about how complete the figures are (stderr). */
static void
print_notes(const struct queue_view *v)
{
	if (v->truncated)
		fprintf(stderr, "batonctl: note: stopped after %llu records; "
		    "the figures are lower bounds\n",
		    (unsigned long long)v->scanned);
	if (v->unreadable > 0)
		fprintf(stderr, "batonctl: note: %llu handover records failed "
		    "their checks and are not counted (the broker quarantines "
		    "them when it meets them)\n",
		    (unsigned long long)v->unreadable);
	if (v->nodes_dropped > 0)
		fprintf(stderr, "batonctl: note: %llu handovers not counted: "
		    "more than %d nodes\n", (unsigned long long)v->nodes_dropped,
		    VIEW_NODES_MAX);
}

static int
run_queue(const struct queue_args *a)
{
	struct queue_view v;
	const struct view_node *only = NULL;
	int r;

	memset(&v, 0, sizeof(v));
	if ((r = read_queue(a, &v)) != EXIT_SUCCESS)
		goto done;
	if (a->node != NULL && (only = find_row(&v, a->node)) == NULL) {
		r = ctl_failx("no node '%s' in %s: not registered and nothing "
		    "waits for it", a->node, a->data);
		goto done;
	}
	if (a->json)
		r = print_json(&v, only);
	else
		print_table(&v, only);
	if (r == EXIT_SUCCESS && fflush(stdout) == EOF)
		r = ctl_failx("cannot write the view: %s", strerror(errno));
	print_notes(&v);
done:
	queue_view_free(&v);
	return r;
}

int
ctl_queue(const struct command *c, int argc, char **argv)
{
	struct queue_args a;
	int r;

	if ((r = parse_queue(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_queue(&a);
}
