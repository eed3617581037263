/*
 * test_metrics.c - the broker's counters and their Prometheus text
 * (broker/state/metrics.c): counting from audit events, the "other" label
 * past the code limit, label escaping, cumulative histogram buckets, the
 * per-node gauges of a queue view and the bounds on the text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "metrics.h"
#include "queueview.h"

static struct metrics m;
static struct metrics_text t;

static int
setup(void **state)
{
	metrics_init(&m);
	memset(&t, 0, sizeof(t));
	return 0;
}

static int
teardown(void **state)
{
	metrics_text_free(&t);
	return 0;
}

static void
audit(const char *event, const char *outcome, const char *reason)
{
	struct audit_event ev = { 0 };

	ev.event = event;
	ev.outcome = outcome;
	ev.reason = reason;
	metrics_count_audit(&m, &ev);
}

/*
 * The value of the sample whose name and labels are exactly series in
 * text, or -1 when there is no such line.
 */
static double
sample(const char *text, const char *series)
{
	size_t n = strlen(series);
	const char *p, *end = text + strlen(text), *nl;

	/* memchr over the known length: strchr per line would measure the
	 * rest of the text each time under ASan's strict_string_checks */
	for (p = text; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > n && memcmp(p, series, n) == 0 &&
		    p[n] == ' ')
			return strtod(p + n + 1, NULL);
	}
	return -1;
}

/* The value of series in the text formatted last is want (-1: absent). */
static void
assert_sample(const char *series, double want)
{
	double got = sample(t.buf, series);

	if (got != want)
		fail_msg("%s: want %g, got %g", series, want, got);
}

static void
format(const struct queue_view *v)
{
	struct metrics_gauges g = { 0 };

	g.healthy = 1;
	metrics_text_reset(&t);
	assert_int_equal(metrics_format(&t, &m, &g, v), 0);
	assert_non_null(t.buf);
	assert_int_equal(strlen(t.buf), t.len);
}

static void
counts_from_audit_events(void **state)
{
	int i;

	for (i = 0; i < 3; i++)
		audit(AUDIT_SUBMIT_ACCEPTED, "ok", "referral");
	audit(AUDIT_SUBMIT_ACCEPTED, "ok",
	    "resubmitted: original receipt returned");
	audit(AUDIT_SUBMIT_REFUSED, "ROUTE_NOT_ALLOWED", "no route");
	audit(AUDIT_SUBMIT_REFUSED, "UNKNOWN_RECIPIENT", NULL);
	audit(AUDIT_SUBMIT_REFUSED, "ROUTE_NOT_ALLOWED", NULL);
	audit(AUDIT_QUEUED, "ok", NULL);		/* not counted anywhere */
	audit(AUDIT_DELIVERED, "ok", "attempt 1");
	audit(AUDIT_DELIVERED, "ok", "attempt 2");
	audit(AUDIT_ACKNOWLEDGED, "ok", NULL);
	audit(AUDIT_ACCEPTED, "ok", NULL);
	audit(AUDIT_REJECTED, "ok", NULL);
	audit(AUDIT_ESCALATED, "ok", NULL);
	audit(AUDIT_EXPIRED, "ok", NULL);
	audit(AUDIT_QUARANTINED, "CORRUPT", NULL);
	audit(AUDIT_CONN_ACCEPTED, "ok", NULL);
	audit(AUDIT_CONN_REFUSED, "TLS_HANDSHAKE", "unknown ca");
	audit(AUDIT_ACK_REFUSED, "UNKNOWN_MESSAGE", NULL);
	audit(AUDIT_DECISION_REFUSED, "NOT_DELIVERED", NULL);
	audit(AUDIT_BROKER_STARTED, "ok", NULL);
	audit(NULL, NULL, NULL);

	assert_int_equal(m.submitted, 3);
	assert_int_equal(m.resubmitted, 1);
	assert_int_equal(m.pass_handovers, 3);
	assert_int_equal(m.delivered, 2);
	assert_int_equal(m.acked, 1);
	assert_int_equal(m.accepted, 1);
	assert_int_equal(m.rejected, 1);
	assert_int_equal(m.redirected, 0);
	assert_int_equal(m.escalated, 1);
	assert_int_equal(m.expired, 1);
	assert_int_equal(m.quarantined, 1);
	assert_int_equal(m.conn_accepted, 1);

	format(NULL);
	assert_sample("baton_handovers_submitted_total", 3);
	assert_sample("baton_handovers_resubmitted_total", 1);
	assert_sample("baton_handovers_refused_total"
	    "{code=\"ROUTE_NOT_ALLOWED\"}", 2);
	assert_sample("baton_handovers_refused_total"
	    "{code=\"UNKNOWN_RECIPIENT\"}", 1);
	assert_sample("baton_connections_refused_total"
	    "{reason=\"TLS_HANDSHAKE\"}", 1);
	assert_sample("baton_requests_refused_total"
	    "{code=\"NOT_DELIVERED\"}", 1);
	assert_sample("baton_handovers_decided_total"
	    "{decision=\"rejected\"}", 1);
	assert_sample("baton_handovers_quarantined_total", 1);
	assert_sample("baton_healthy", 1);
	/* no code was past the limit: no "other" series */
	assert_null(strstr(t.buf, "\"other\""));
	/* no queue view: no queue gauges */
	assert_null(strstr(t.buf, "baton_queue_depth"));
}

static void
codes_past_the_limit_are_other(void **state)
{
	char code[32];
	int i;

	for (i = 0; i < METRICS_CODES_MAX + 3; i++) {
		snprintf(code, sizeof(code), "CODE_%d", i);
		audit(AUDIT_SUBMIT_REFUSED, code, NULL);
	}
	/* a code seen before the limit still counts under its own name */
	audit(AUDIT_SUBMIT_REFUSED, "CODE_0", NULL);
	/* what is not a code name never becomes a label value */
	audit(AUDIT_SUBMIT_REFUSED, "route\"not\nallowed", NULL);
	audit(AUDIT_SUBMIT_REFUSED, NULL, NULL);
	audit(AUDIT_SUBMIT_REFUSED, "", NULL);
	audit(AUDIT_SUBMIT_REFUSED,
	    "A_CODE_NAME_FAR_TOO_LONG_TO_BE_ANY_CODE_THIS_BROKER_HAS", NULL);

	assert_int_equal(m.submit_refused.n, METRICS_CODES_MAX);
	assert_int_equal(m.submit_refused.other, 3 + 4);
	format(NULL);
	assert_sample("baton_handovers_refused_total{code=\"CODE_0\"}", 2);
	snprintf(code, sizeof(code), "{code=\"CODE_%d\"}", METRICS_CODES_MAX - 1);
	assert_non_null(strstr(t.buf, code));
	snprintf(code, sizeof(code), "{code=\"CODE_%d\"}", METRICS_CODES_MAX);
	assert_null(strstr(t.buf, code));
	assert_sample("baton_handovers_refused_total{code=\"other\"}", 7);
	assert_null(strstr(t.buf, "route"));
}

static void
label_values_are_escaped(void **state)
{
	metrics_text_label(&t, "plain");
	metrics_text_label(&t, "|a\\b\"c\nd|");
	metrics_text_label(&t, "\\\\");
	assert_false(t.failed);
	assert_string_equal(t.buf, "plain|a\\\\b\\\"c\\nd|\\\\\\\\");
	assert_int_equal(t.len, strlen(t.buf));
}

/*
 * The bucket lines of name are want (METRICS_BUCKETS of them, in order,
 * never decreasing), then +Inf, equal to _count, which is count.
 */
static void
check_cumulative(const char *name, const uint64_t *want, uint64_t count)
{
	char prefix[128];
	const char *p = t.buf;
	uint64_t prev = 0, v;
	int i = 0;

	snprintf(prefix, sizeof(prefix), "\n%s_bucket{le=\"", name);
	while ((p = strstr(p, prefix)) != NULL) {
		p = strchr(p, '}');
		assert_non_null(p);
		v = strtoull(p + 2, NULL, 10);
		assert_true(v >= prev);
		if (i < METRICS_BUCKETS)
			assert_int_equal(v, want[i]);
		prev = v;
		i++;
	}
	assert_int_equal(i, METRICS_BUCKETS + 1);
	assert_int_equal(prev, count);
	snprintf(prefix, sizeof(prefix), "%s_bucket{le=\"+Inf\"}", name);
	assert_sample(prefix, (double)count);
	snprintf(prefix, sizeof(prefix), "%s_count", name);
	assert_sample(prefix, (double)count);
}

static void
histogram_buckets_are_cumulative(void **state)
{
	/* le: 0.0005 0.001 0.0025 0.005 0.01 0.025 ... 2.5 */
	static const uint64_t want_s[] = { 2, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4 };
	/* le: 0 1 2 4 8 ... 1024 */
	static const uint64_t want_n[] = { 3, 3, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5 };
	int i;

	metrics_commit(&m, 0.0001);		/* no handover */
	for (i = 0; i < 2; i++)
		audit(AUDIT_SUBMIT_ACCEPTED, "ok", "referral");
	metrics_commit(&m, 0.001);		/* exactly on a bound */
	for (i = 0; i < 3; i++)
		audit(AUDIT_SUBMIT_ACCEPTED, "ok", "referral");
	metrics_commit(&m, 0.007);
	metrics_commit(&m, 9.0);		/* past every bound: +Inf only */
	metrics_commit(&m, -1.0);		/* a clock oddity counts as 0 */
	assert_int_equal(m.pass_handovers, 0);

	format(NULL);
	check_cumulative("baton_commit_duration_seconds", want_s, 5);
	assert_sample("baton_commit_duration_seconds_bucket{le=\"0.0005\"}", 2);
	assert_sample("baton_commit_duration_seconds_bucket{le=\"2.5\"}", 4);
	assert_sample("baton_commit_duration_seconds_sum",
	    0.0001 + 0.001 + 0.007 + 9.0);
	check_cumulative("baton_commit_handovers", want_n, 5);
	assert_sample("baton_commit_handovers_bucket{le=\"2\"}", 4);
	assert_sample("baton_commit_handovers_sum", 5);
}

/* A view of n nodes named prefix-NNNN; every busy-th one has work. */
static void
make_view(struct queue_view *v, unsigned n, const char *prefix, unsigned busy)
{
	unsigned i;

	memset(v, 0, sizeof(*v));
	v->nodes = calloc(n, sizeof(*v->nodes));
	assert_non_null(v->nodes);
	v->n = v->cap = n;
	v->wall_ms = 100000;
	assert_true(strlen(prefix) + 4 <= BATON_NODE_ID_MAX);
	for (i = 0; i < n; i++) {
		char id[BATON_NODE_ID_MAX + 16];

		snprintf(id, sizeof(id), "%s%04u", prefix, i % 10000);
		memcpy(v->nodes[i].node, id, strlen(id) + 1);
		if (busy != 0 && i % busy == 0) {
			v->nodes[i].risk[4].undecided = 1;
			v->nodes[i].risk[4].oldest_undecided_ms = 1;
		}
	}
}

static void
queue_gauges_per_node_and_risk(void **state)
{
	struct queue_view v;
	struct view_cell *c;

	make_view(&v, 3, "node-", 0);
	strcpy(v.nodes[2].node, "odd\"node");	/* escaped, never raw */
	c = &v.nodes[0].risk[3];		/* node-0000, high */
	c->depth = 3;
	c->waiting = 2;
	c->in_flight = 1;
	c->undecided = 4;
	c->overdue = 1;
	c->oldest_waiting_ms = 40000;
	c->oldest_undecided_ms = 10500;
	v.nodes[1].risk[0].undecided = 1;	/* an old record without level */
	v.nodes[1].risk[0].overdue = 1;

	format(&v);
	assert_sample("baton_queue_depth{node=\"node-0000\",risk=\"high\"}", 3);
	assert_sample("baton_queue_waiting"
	    "{node=\"node-0000\",risk=\"high\"}", 2);
	assert_sample("baton_queue_in_flight"
	    "{node=\"node-0000\",risk=\"high\"}", 1);
	assert_sample("baton_queue_undecided"
	    "{node=\"node-0000\",risk=\"high\"}", 4);
	assert_sample("baton_queue_overdue"
	    "{node=\"node-0000\",risk=\"high\"}", 1);
	assert_sample("baton_queue_oldest_waiting_age_seconds"
	    "{node=\"node-0000\",risk=\"high\"}", 60);
	assert_sample("baton_queue_oldest_undecided_age_seconds"
	    "{node=\"node-0000\",risk=\"high\"}", 89.5);
	/* every level of every node, zero included ... */
	assert_sample("baton_queue_depth{node=\"node-0000\",risk=\"low\"}", 0);
	assert_sample("baton_queue_oldest_waiting_age_seconds"
	    "{node=\"odd\\\"node\",risk=\"critical\"}", 0);
	/* ... but "unspecified" only where it holds something */
	assert_sample("baton_queue_depth"
	    "{node=\"node-0000\",risk=\"unspecified\"}", -1);
	assert_sample("baton_queue_undecided"
	    "{node=\"node-0001\",risk=\"unspecified\"}", 1);
	assert_sample("baton_handovers_overdue{risk=\"high\"}", 1);
	assert_sample("baton_handovers_overdue{risk=\"unspecified\"}", 1);
	assert_sample("baton_handovers_overdue{risk=\"low\"}", 0);
	assert_sample("baton_queue_nodes_omitted", 0);
	assert_null(strstr(t.buf, "odd\"node"));
	queue_view_free(&v);
}

static void
text_is_capped(void **state)
{
	static char line[1000];
	size_t before;
	int i;

	memset(line, 'x', sizeof(line) - 1);
	for (i = 0; i < (int)(METRICS_TEXT_MAX / 999) + 10 && !t.failed; i++)
		metrics_text_printf(&t, "%s", line);
	assert_true(t.failed);
	assert_true(t.len < METRICS_TEXT_MAX);
	assert_true(t.cap <= METRICS_TEXT_MAX);
	assert_int_equal(t.len % 999, 0);	/* no line was cut in half */
	before = t.len;
	metrics_text_add(&t, "y", 1);
	metrics_text_label(&t, "z");
	assert_int_equal(t.len, before);
	/* a failed text is never served */
	assert_int_equal(metrics_format(&t, &m, &(struct metrics_gauges){ 0 },
	    NULL), -1);
	/* and reset, it is good again */
	metrics_text_reset(&t);
	assert_false(t.failed);
	assert_int_equal(t.len, 0);
	format(NULL);
}

/* Lines of text that start with prefix and hold part. */
static unsigned
count_lines(const char *prefix, const char *part)
{
	const char *p, *end = t.buf + strlen(t.buf), *nl;
	unsigned n = 0;
	size_t pl = strlen(prefix);

	/* line by line over the known length, looking within the line
	 * only: str* calls per line would measure the rest of the text
	 * each time (quadratic; minutes under ASan's strict_string_checks) */
	for (p = t.buf; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) >= pl && memcmp(p, prefix, pl) == 0 &&
		    memmem(p, (size_t)(nl - p), part, strlen(part)) != NULL)
			n++;
	}
	return n;
}

/* Node prefix-NNNN's critical undecided gauge is in the text, at 1. */
static void
assert_busy_shown(const char *prefix, unsigned i)
{
	char series[200];

	snprintf(series, sizeof(series), "baton_queue_undecided{node=\"%s%04u\","
	    "risk=\"critical\"}", prefix, i);
	assert_sample(series, 1);
}

static void
largest_view_fits_the_cap(void **state)
{
	char name[BATON_NODE_ID_MAX + 1];
	struct queue_view v;
	unsigned i;

	/* the most nodes a view holds, with the longest ids; one in five busy */
	memset(name, 'n', BATON_NODE_ID_MAX - 4);
	name[BATON_NODE_ID_MAX - 4] = '\0';
	make_view(&v, VIEW_NODES_MAX, name, 5);
	format(&v);
	assert_true(t.len < METRICS_TEXT_MAX);
	assert_sample("baton_queue_nodes_omitted",
	    VIEW_NODES_MAX - METRICS_NODES_MAX);
	assert_int_equal(count_lines("baton_queue_depth{", "risk=\"critical\""),
	    METRICS_NODES_MAX);
	assert_int_equal(count_lines("baton_queue_oldest_undecided_age_seconds{",
	    "risk=\"low\""), METRICS_NODES_MAX);
	/* busy nodes are among those shown: every 37th of them and the
	 * last (each look scans the whole text, megabytes: all 820 would
	 * take minutes under ASan) */
	for (i = 0; i < VIEW_NODES_MAX; i += 5 * 37)
		assert_busy_shown(name, i);
	assert_busy_shown(name, (VIEW_NODES_MAX - 1) / 5 * 5);
	queue_view_free(&v);
}

static void
busy_nodes_first_past_the_limit(void **state)
{
	struct queue_view v;

	/* 2048 busy nodes: the first METRICS_NODES_MAX of them, no idle one */
	make_view(&v, VIEW_NODES_MAX, "node-", 2);
	format(&v);
	assert_int_equal(count_lines("baton_queue_undecided{",
	    "risk=\"critical\"} 1"), METRICS_NODES_MAX);
	assert_int_equal(count_lines("baton_queue_undecided{",
	    "risk=\"critical\"} 0"), 0);
	assert_sample("baton_queue_undecided"
	    "{node=\"node-0000\",risk=\"critical\"}", 1);
	assert_sample("baton_queue_undecided"
	    "{node=\"node-0001\",risk=\"critical\"}", -1);
	queue_view_free(&v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counts_from_audit_events, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(codes_past_the_limit_are_other,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(label_values_are_escaped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(histogram_buckets_are_cumulative,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(queue_gauges_per_node_and_risk,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(text_is_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(largest_view_fits_the_cap, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(busy_nodes_first_past_the_limit,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
