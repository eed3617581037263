/*
 * test_report.c - the governance report (broker/state/audit_report.c):
 * synthetic format-2 audit records in, exact figures out.
 *
 * Routes and roles come from the records and a stand-in registry; the
 * quantiles are checked against the exact nearest-rank values within the
 * stated resolution; the CSV is checked byte for byte; every format is
 * checked to name no node, message or person.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit_report.h"
#include "store.pb-c.h"

#define T0		1700000000000LL		/* the period starts */
#define DAY		86400000LL
#define NOW		(T0 + DAY)		/* the report is made */
#define POLICY_SHA256	"0123456789abcdef0123456789abcdef" \
			"0123456789abcdef0123456789abcdef"

/* The stand-in registry: node -> role now. */
static const char *const registry[][2] = {
	{ "prov1", "provider" },
	{ "prov2", "provider" },
	{ "cmht1", "cmht" },
	{ "crisis1", "crisis" },
	{ "gp1", "gp" },
};

static int
role_of(void *arg, const char *node, char *role, size_t len)
{
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (strcmp(registry[i][0], node) == 0 &&
		    strlen(registry[i][1]) < len) {
			strcpy(role, registry[i][1]);
			return 0;
		}
	return -1;
}

static struct report_opts
opts(void)
{
	struct report_opts o;

	memset(&o, 0, sizeof(o));
	o.since_ms = T0;
	o.until_ms = T0 + DAY - 1;
	o.now_ms = NOW;
	o.deadline_ms[1] = 30000;	/* low */
	o.deadline_ms[2] = 20000;	/* medium */
	o.deadline_ms[3] = 10000;	/* high */
	o.deadline_ms[4] = 5000;	/* critical; unspecified: none */
	o.policy_name = "policy.conf";
	o.policy_sha256 = POLICY_SHA256;
	o.role_of = role_of;
	return o;
}

/* A new report over opts(): the day from T0, the deadlines above. */
static struct report *
new_report(void)
{
	struct report_opts o = opts();
	struct report *r;

	assert_non_null(r = report_new(&o));
	return r;
}

/* One record as the broker writes them (format 2). */
struct ev {
	const char	*event;
	int64_t		 at;		/* ms after T0 */
	const char	*actor;
	const char	*actor_role;
	const char	*other;
	const char	*id;		/* message id (a reference) */
	const char	*risk;
	int64_t		 since_submit;	/* -1: none */
	int64_t		 since_delivery;
	const char	*reason;
};

static void
add(struct report *r, const struct ev *e)
{
	Baton__Store__V1__AuditRecord rec =
	    BATON__STORE__V1__AUDIT_RECORD__INIT;

	rec.format = 2;
	rec.time_ms = T0 + e->at;
	rec.event = (char *)e->event;
	rec.actor = (char *)(e->actor != NULL ? e->actor : "");
	rec.actor_role = (char *)(e->actor_role != NULL ? e->actor_role : "");
	rec.other = (char *)(e->other != NULL ? e->other : "");
	rec.message_id = (char *)(e->id != NULL ? e->id : "");
	rec.risk = (char *)(e->risk != NULL ? e->risk : "");
	rec.since_submit_ms = e->since_submit;
	rec.since_delivery_ms = e->since_delivery;
	rec.reason = (char *)(e->reason != NULL ? e->reason : "");
	assert_int_equal(report_add(r, &rec), 0);
}

static void
submit(struct report *r, const char *id, const char *from, const char *role,
    const char *to, const char *risk, int64_t at)
{
	add(r, &(struct ev){ "submitted", at, from, role, to, id, risk, -1, -1,
	    NULL });
}

static void
deliver(struct report *r, const char *id, const char *to, const char *role,
    const char *risk, int64_t at, int64_t since, const char *attempt)
{
	add(r, &(struct ev){ "delivered", at, to, role, NULL, id, risk, since,
	    -1, attempt });
}

static void
decide(struct report *r, const char *event, const char *id, const char *by,
    const char *role, const char *risk, int64_t since, const char *reason)
{
	add(r, &(struct ev){ event, 100, by, role, NULL, id, risk, since,
	    since / 2, reason });
}

/* The whole output of r in fmt, as a string to free. */
static char *
output(struct report *r, enum report_format fmt)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_non_null(f = open_memstream(&buf, &len));
	assert_int_equal(report_write(r, f, fmt), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* The index of column name in the CSV header; fails if absent. */
static int
column(const char *csv, const char *name)
{
	size_t n = strlen(name);
	const char *p = csv;
	int i = 0;

	for (;;) {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\r'))
			return i;
		p += strcspn(p, ",\r");
		assert_true(*p == ',');
		p++;
		i++;
	}
}

/*
 * The value in column name of the row for sender, recipient, risk, into
 * out; fails if there is no such row.
 */
static void
cell(const char *csv, const char *sender, const char *recipient,
    const char *risk, const char *name, char *out, size_t outlen)
{
	char key[128];
	const char *p;
	int i, col = column(csv, name);
	size_t n;

	snprintf(key, sizeof(key), "\r\n%s,%s,%s,", sender, recipient, risk);
	p = strstr(csv, key);
	if (p == NULL)
		fail_msg("no CSV row for %s -> %s %s", sender, recipient, risk);
	p += 2;
	for (i = 0; i < col; i++)
		p += strcspn(p, ",\r") + 1;
	n = strcspn(p, ",\r");
	assert_true(n < outlen);
	memcpy(out, p, n);
	out[n] = '\0';
}

static void
assert_cell(const char *csv, const char *sender, const char *recipient,
    const char *risk, const char *name, const char *want)
{
	char got[256];

	cell(csv, sender, recipient, risk, name, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s -> %s %s %s: want '%s', got '%s'", sender,
		    recipient, risk, name, want, got);
}

static int
has_row(const char *csv, const char *sender, const char *recipient,
    const char *risk)
{
	char key[128];

	snprintf(key, sizeof(key), "\r\n%s,%s,%s,", sender, recipient, risk);
	return strstr(csv, key) != NULL;
}

static void	assert_fits_80(const char *);

/* Three high-risk handovers provider -> cmht, one rejected, one late. */
static void
three_high(struct report *r)
{
	submit(r, "prov1/a", "prov1", "provider", "cmht1", "high", 0);
	submit(r, "prov1/b", "prov1", "provider", "cmht1", "high", 10);
	submit(r, "prov2/c", "prov2", "provider", "cmht1", "high", 20);
	deliver(r, "prov1/a", "cmht1", "cmht", "high", 1000, 1000,
	    "attempt 1");
	deliver(r, "prov1/b", "cmht1", "cmht", "high", 1000, 2000,
	    "attempt 1");
	deliver(r, "prov2/c", "cmht1", "cmht", "high", 1000, 3000,
	    "attempt 1");
	/* a redelivery after a reconnect is not a second arrival */
	deliver(r, "prov2/c", "cmht1", "cmht", "high", 2000, 9000,
	    "attempt 2");
	decide(r, "accepted", "prov1/a", "cmht1", "cmht", "high", 4000, NULL);
	decide(r, "rejected", "prov1/b", "cmht1", "cmht", "high", 8000,
	    "wrong_service");
	decide(r, "accepted", "prov2/c", "cmht1", "cmht", "high", 12000, NULL);
}

static void
counts_per_route_and_risk(void **state)
{
	struct report *r;
	char *csv;

	(void)state;
	r = new_report();
	three_high(r);
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "provider", "cmht", "high", "handovers", "3");
	assert_cell(csv, "provider", "cmht", "high", "delivered", "3");
	assert_cell(csv, "provider", "cmht", "high", "decided", "3");
	assert_cell(csv, "provider", "cmht", "high", "accepted", "2");
	assert_cell(csv, "provider", "cmht", "high", "rejected", "1");
	assert_cell(csv, "provider", "cmht", "high", "decided_on_time", "2");
	assert_cell(csv, "provider", "cmht", "high", "decided_late", "1");
	assert_cell(csv, "provider", "cmht", "high", "on_time_pct", "66.7");
	assert_cell(csv, "provider", "cmht", "high", "deadline_ms", "10000");
	assert_cell(csv, "provider", "cmht", "high", "rejected_by_reason",
	    "wrong_service:1");
	/* small times are exact: 1000 -> bucket [992, 1024) ... middle */
	assert_cell(csv, "provider", "cmht", "high", "delivery_p50_ms", "2015");
	assert_cell(csv, "provider", "cmht", "high", "decision_p90_ms",
	    "12031");
	assert_cell(csv, "provider", "cmht", "high", "redirects_per_handover",
	    "0.00");
	/* per route, what is open is not known: empty */
	assert_cell(csv, "provider", "cmht", "high", "undecided_now", "");
	/* all senders, all routes */
	assert_cell(csv, "*", "cmht", "high", "handovers", "3");
	assert_cell(csv, "*", "*", "high", "decided", "3");
	assert_false(has_row(csv, "provider", "cmht", "low"));
	free(csv);
	report_free(r);
}

static void
outside_period_and_other_records_ignored(void **state)
{
	Baton__Store__V1__AuditRecord old =
	    BATON__STORE__V1__AUDIT_RECORD__INIT;
	struct report *r;
	char *csv, *table;

	(void)state;
	r = new_report();
	submit(r, "prov1/a", "prov1", "provider", "cmht1", "high", 0);
	submit(r, "prov1/early", "prov1", "provider", "cmht1", "high", -1);
	submit(r, "prov1/late", "prov1", "provider", "cmht1", "high", DAY);
	submit(r, "prov1/last", "prov1", "provider", "cmht1", "high",
	    DAY - 1);
	add(r, &(struct ev){ "status_read", 5, "prov1", "provider", NULL,
	    "prov1/a", "high", -1, -1, NULL });
	add(r, &(struct ev){ "notice_queued", 5, "broker", NULL, "prov1",
	    "prov1/a", "high", -1, -1, NULL });
	/* written before record format 2: counted apart */
	old.time_ms = T0 + 5;
	old.event = "submitted";
	old.actor = "prov1";
	old.actor_role = "provider";
	old.other = "cmht1";
	old.message_id = "prov1/old";
	assert_int_equal(report_add(r, &old), 0);
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "provider", "cmht", "high", "handovers", "2");
	assert_cell(csv, "provider", "cmht", "high", "decided", "0");
	assert_cell(csv, "provider", "cmht", "high", "on_time_pct", "");
	assert_cell(csv, "provider", "cmht", "high", "decision_p50_ms", "");
	table = output(r, REPORT_TABLE);
	assert_non_null(strstr(table, "1 handover records in the period were "
	    "written before record format 2"));
	free(table);
	free(csv);
	report_free(r);
}

/*
 * A record's route: the roles it states for its actor, else the
 * registry's; the sender from the message id.
 */
static void
route_from_records_and_registry(void **state)
{
	struct report *r;
	char *csv;

	(void)state;
	r = new_report();
	submit(r, "prov1/a", "prov1", "provider", "cmht1", "critical", 0);
	/* cmht redirects it to crisis: counted on the route it left */
	add(r, &(struct ev){ "redirected", 50, "cmht1", "cmht", "crisis1",
	    "prov1/a", "critical", 3000, 1000, NULL });
	/* escalated and expired: the broker acts; the recipient is other */
	add(r, &(struct ev){ "escalated", 60, "broker", NULL, "crisis1",
	    "prov1/a", "critical", 5001, -1, "critical risk" });
	/* crisis decides it: provider -> crisis, late (deadline 5 s) */
	decide(r, "accepted", "prov1/a", "crisis1", "crisis", "critical",
	    6000, NULL);
	submit(r, "gp1/x", "gp1", "gp", "crisis1", "low", 10);
	add(r, &(struct ev){ "expired", 70, "broker", NULL, "crisis1",
	    "gp1/x", "low", 50000, -1, NULL });
	/* a role that is not a role is looked up instead */
	submit(r, "gp1/y", "gp1", "Not A Role!", "cmht1", "medium", 20);
	/* a sender the registry does not know */
	submit(r, "ghost/z", "ghost", NULL, "cmht1", "medium", 30);
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "provider", "cmht", "critical", "handovers", "1");
	assert_cell(csv, "provider", "cmht", "critical", "redirected", "1");
	assert_cell(csv, "provider", "cmht", "critical",
	    "redirects_per_handover", "1.00");
	assert_cell(csv, "provider", "crisis", "critical", "escalated", "1");
	assert_cell(csv, "provider", "crisis", "critical", "decided", "1");
	assert_cell(csv, "provider", "crisis", "critical", "decided_late", "1");
	assert_cell(csv, "provider", "crisis", "critical", "on_time_pct",
	    "0.0");
	assert_cell(csv, "provider", "crisis", "critical", "handovers", "0");
	assert_cell(csv, "provider", "crisis", "critical",
	    "redirects_per_handover", "");
	assert_cell(csv, "gp", "crisis", "low", "expired", "1");
	assert_cell(csv, "gp", "cmht", "medium", "handovers", "1");
	assert_cell(csv, "?", "cmht", "medium", "handovers", "1");
	free(csv);
	report_free(r);
}

/* A decision exactly at the deadline is on time; a millisecond later, not. */
static void
deadline_is_inclusive(void **state)
{
	struct report *r;
	char *csv;

	(void)state;
	r = new_report();
	decide(r, "accepted", "prov1/a", "cmht1", "cmht", "critical", 5000,
	    NULL);
	decide(r, "accepted", "prov1/b", "cmht1", "cmht", "critical", 5001,
	    NULL);
	/* no deadline for unspecified: neither on time nor late */
	decide(r, "accepted", "prov1/c", "cmht1", "cmht", "unspecified", 1,
	    NULL);
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "provider", "cmht", "critical", "decided_on_time",
	    "1");
	assert_cell(csv, "provider", "cmht", "critical", "decided_late", "1");
	assert_cell(csv, "provider", "cmht", "critical", "on_time_pct", "50.0");
	assert_cell(csv, "provider", "cmht", "unspecified", "decided", "1");
	assert_cell(csv, "provider", "cmht", "unspecified", "deadline_ms", "");
	assert_cell(csv, "provider", "cmht", "unspecified", "decided_on_time",
	    "");
	assert_cell(csv, "provider", "cmht", "unspecified", "on_time_pct", "");
	free(csv);
	report_free(r);
}

/* Nothing in the period: a header, a sentence, a page without charts. */
static void
empty_period(void **state)
{
	struct report *r;
	char *text;

	(void)state;
	r = new_report();
	report_open_done(r, 0);
	text = output(r, REPORT_CSV);
	assert_int_equal(strlen(text), strcspn(text, "\n") + 1);
	assert_non_null(strstr(text, "sender_role,recipient_role,risk,"));
	free(text);
	text = output(r, REPORT_TABLE);
	assert_non_null(strstr(text, "(no handovers in the period)"));
	assert_fits_80(text);
	free(text);
	text = output(r, REPORT_HTML);
	assert_non_null(strstr(text, "No decisions in the period."));
	assert_null(strstr(text, "<svg"));
	assert_non_null(strstr(text, "</html>"));
	free(text);
	report_free(r);
}

/* The exact nearest-rank percentile of sorted v[n]. */
static int64_t
exact(const int64_t *v, size_t n, unsigned pct)
{
	size_t rank = (n * pct + 99) / 100;

	return v[(rank == 0 ? 1 : rank) - 1];
}

static int
cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* got is within 1/32 of want (3.2%), and exact below 16 ms. */
static void
assert_close(int64_t want, int64_t got)
{
	int64_t d = got > want ? got - want : want - got;

	if (want < 16 ? d != 0 : d * 32 > want)
		fail_msg("quantile %lld, exact %lld: more than 1/32 apart",
		    (long long)got, (long long)want);
}

static int64_t
csv_ms(const char *csv, const char *risk, const char *name)
{
	char v[64];

	cell(csv, "provider", "cmht", risk, name, v, sizeof(v));
	return strtoll(v, NULL, 10);
}

/* Many times spread over 1 ms .. 10 days: p50 and p90 within 3.2%. */
static void
quantiles_within_resolution(void **state)
{
	struct report *r;
	static int64_t v[2000];
	uint64_t x = 88172645463325252ULL;
	size_t i, n = sizeof(v) / sizeof(v[0]);
	char *csv;

	(void)state;
	r = new_report();
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		/* log-uniform: a random power of two, a random mantissa */
		v[i] = (int64_t)((x >> 20) % ((uint64_t)1 << (x % 30 + 1)));
		decide(r, "accepted", "prov1/q", "cmht1", "cmht", "low", v[i],
		    NULL);
	}
	qsort(v, n, sizeof(v[0]), cmp64);
	csv = output(r, REPORT_CSV);
	assert_close(exact(v, n, 50), csv_ms(csv, "low", "decision_p50_ms"));
	assert_close(exact(v, n, 90), csv_ms(csv, "low", "decision_p90_ms"));
	free(csv);
	report_free(r);
}

/* One value alone: its p50 is its bucket's middle, within 3.2%. */
static void
every_bucket_within_resolution(void **state)
{
	struct report *r;
	int64_t v;
	char *csv;
	int k;

	(void)state;
	for (k = 0; k < 400; k++) {
		/* 0..15, then both sides of powers of two, then spread */
		v = k < 16 ? k : k < 80 ? ((int64_t)1 << (k / 2 - 4)) -
		    (k % 2) : (int64_t)k * k * k * 37 + k;
		r = new_report();
		decide(r, "accepted", "prov1/q", "cmht1", "cmht", "medium", v,
		    NULL);
		csv = output(r, REPORT_CSV);
		assert_close(v, csv_ms(csv, "medium", "decision_p50_ms"));
		assert_close(v, csv_ms(csv, "medium", "decision_p90_ms"));
		free(csv);
		report_free(r);
	}
}

static void
rejections_by_reason_and_redirects(void **state)
{
	struct report *r;
	char *csv, *table;

	(void)state;
	r = new_report();
	submit(r, "prov1/a", "prov1", "provider", "cmht1", "medium", 0);
	submit(r, "prov1/b", "prov1", "provider", "cmht1", "medium", 1);
	add(r, &(struct ev){ "redirected", 5, "cmht1", "cmht", "gp1",
	    "prov1/a", "medium", 100, 50, NULL });
	add(r, &(struct ev){ "redirected", 6, "cmht1", "cmht", "gp1",
	    "prov1/b", "medium", 100, 50, NULL });
	add(r, &(struct ev){ "redirected", 7, "cmht1", "cmht", "gp1",
	    "prov1/b", "medium", 100, 50, NULL });
	decide(r, "rejected", "prov1/c", "cmht1", "cmht", "medium", 10,
	    "wrong_service");
	decide(r, "rejected", "prov1/d", "cmht1", "cmht", "medium", 10,
	    "no_capacity");
	decide(r, "rejected", "prov1/e", "cmht1", "cmht", "medium", 10,
	    "wrong_service");
	decide(r, "rejected", "prov1/f", "cmht1", "cmht", "medium", 10,
	    "Free text, not a code");
	decide(r, "rejected", "prov1/g", "cmht1", "cmht", "medium", 10,
	    "9434765919");
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "provider", "cmht", "medium", "redirected", "3");
	assert_cell(csv, "provider", "cmht", "medium",
	    "redirects_per_handover", "1.50");
	assert_cell(csv, "provider", "cmht", "medium", "rejected_by_reason",
	    "no_capacity:1;wrong_service:2;other:2");
	assert_cell(csv, "provider", "cmht", "medium", "decided", "5");
	table = output(r, REPORT_TABLE);
	assert_non_null(strstr(table, "rejected: no_capacity 1, "
	    "wrong_service 2, other 2"));
	assert_null(strstr(table, "Free text"));
	assert_null(strstr(table, "9434765919"));
	free(table);
	free(csv);
	report_free(r);
}

static void
undecided_now_from_the_caller(void **state)
{
	struct report *r;
	char *csv, *table;

	(void)state;
	r = new_report();
	three_high(r);
	/* two cmht nodes: their figures add up; the oldest is 25 s old */
	assert_int_equal(report_add_open(r, "cmht", 3, 2, 1,
	    NOW - 25000), 0);
	assert_int_equal(report_add_open(r, "cmht", 3, 1, 0,
	    NOW - 1000), 0);
	assert_int_equal(report_add_open(r, "housing", 1, 4, 0, 0), 0);
	report_open_done(r, 0);
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "*", "cmht", "high", "undecided_now", "3");
	assert_cell(csv, "*", "cmht", "high", "overdue_now", "1");
	/* 25 s since receipt, deadline 10 s */
	assert_cell(csv, "*", "cmht", "high", "most_overdue_ms", "15000");
	assert_cell(csv, "*", "housing", "low", "undecided_now", "4");
	assert_cell(csv, "*", "housing", "low", "most_overdue_ms", "");
	assert_cell(csv, "*", "*", "high", "undecided_now", "3");
	assert_cell(csv, "*", "*", "low", "undecided_now", "4");
	assert_cell(csv, "provider", "cmht", "high", "undecided_now", "");
	table = output(r, REPORT_TABLE);
	/* role (20), risk (12), undecided (10), overdue (9), most (17) */
	assert_non_null(strstr(table, "\ncmht                high        "
	    "         3        1              15s\n"));
	assert_null(strstr(table, "not read from the store"));
	free(table);
	free(csv);
	report_free(r);

	/* not read at all: said so, and the columns stay empty */
	r = new_report();
	three_high(r);
	csv = output(r, REPORT_CSV);
	assert_cell(csv, "*", "cmht", "high", "undecided_now", "");
	table = output(r, REPORT_TABLE);
	assert_non_null(strstr(table, "What is undecided now was not read from "
	    "the store."));
	free(table);
	free(csv);
	report_free(r);
}

/* The CSV, byte for byte: header, route rows, role rows, all rows. */
static void
csv_bytes(void **state)
{
	static const char want[] =
	    "sender_role,recipient_role,risk,handovers,delivered,"
	    "delivery_p50_ms,delivery_p90_ms,decided,accepted,rejected,"
	    "decision_p50_ms,decision_p90_ms,after_delivery_p50_ms,"
	    "after_delivery_p90_ms,deadline_ms,decided_on_time,decided_late,"
	    "on_time_pct,rejected_by_reason,redirected,"
	    "redirects_per_handover,escalated,expired,undecided_now,"
	    "overdue_now,most_overdue_ms\r\n"
	    "gp,crisis,critical,1,0,,,0,0,0,,,,,5000,0,0,,,0,0.00,0,0,,,\r\n"
	    "provider,cmht,high,3,3,2015,3007,3,2,1,8063,12031,4031,6015,"
	    "10000,2,1,66.7,wrong_service:1,0,0.00,0,0,,,\r\n"
	    "*,cmht,high,3,3,2015,3007,3,2,1,8063,12031,4031,6015,10000,2,1,"
	    "66.7,wrong_service:1,0,0.00,0,0,1,1,2000\r\n"
	    "*,crisis,critical,1,0,,,0,0,0,,,,,5000,0,0,,,0,0.00,0,0,0,0,\r\n"
	    "*,*,critical,1,0,,,0,0,0,,,,,5000,0,0,,,0,0.00,0,0,0,0,\r\n"
	    "*,*,high,3,3,2015,3007,3,2,1,8063,12031,4031,6015,10000,2,1,"
	    "66.7,wrong_service:1,0,0.00,0,0,1,1,2000\r\n";
	struct report *r;
	char *csv;

	(void)state;
	r = new_report();
	three_high(r);
	submit(r, "gp1/k", "gp1", "gp", "crisis1", "critical", 40);
	assert_int_equal(report_add_open(r, "cmht", 3, 1, 1,
	    NOW - 12000), 0);
	report_open_done(r, 0);
	csv = output(r, REPORT_CSV);
	assert_string_equal(csv, want);
	free(csv);
	report_free(r);
}

/* text with each line break and the indent after it as one space. */
static char *
unwrapped(const char *text)
{
	char *u, *q;

	assert_non_null(u = strdup(text));
	for (q = u; *text != '\0'; text++) {
		if (*text == '\n') {
			*q++ = ' ';
			text += strspn(text + 1, " ");
		} else
			*q++ = *text;
	}
	*q = '\0';
	return u;
}

/* Lines of the table are at most 80 columns. */
static void
assert_fits_80(const char *text)
{
	const char *p = text, *nl;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (nl - p > 80)
			fail_msg("line wider than 80: %.*s", (int)(nl - p), p);
	}
}

static void
table_fits_80_columns(void **state)
{
	struct report *r;
	char *table, *u;

	(void)state;
	r = new_report();
	three_high(r);
	decide(r, "rejected", "prov1/z", "cmht1", "cmht", "high", 9 * DAY,
	    "insufficient_information");
	decide(r, "rejected", "prov1/z", "cmht1", "cmht", "high", 9 * DAY,
	    "not_eligible");
	decide(r, "rejected", "prov1/z", "cmht1", "cmht", "high", 9 * DAY,
	    "no_capacity");
	add(r, &(struct ev){ "escalated", 60, "broker", NULL, "crisis1",
	    "gp1/x", "unspecified", 5001, -1, NULL });
	assert_int_equal(report_add_open(r, "cmht", 3, 12345, 678,
	    NOW - 3 * DAY), 0);
	report_open_done(r, 1);
	table = output(r, REPORT_TABLE);
	assert_fits_80(table);
	assert_non_null(strstr(table, "\nprovider -> cmht\n"));
	u = unwrapped(table);
	assert_non_null(strstr(u, "exact below 16 ms, otherwise within 3.2% "
	    "of the true value."));
	assert_non_null(strstr(u, "deadline for the risk level, counted from "
	    "receipt: critical 5s, high 10s, medium 20s, low 30s, unspecified "
	    "none."));
	assert_non_null(strstr(u, "are lower bounds"));
	free(u);
	/* high: 6 sent? no: 3 sent, 6 decided, 2 of 6 on time */
	assert_non_null(strstr(table, "\nhigh            3     6"));
	assert_non_null(strstr(table, "33.3%"));
	free(table);
	report_free(r);
}

static void
html_is_self_contained(void **state)
{
	struct report *r;
	char *html, *p;

	(void)state;
	r = new_report();
	three_high(r);
	assert_int_equal(report_add_open(r, "cmht", 3, 2, 1,
	    NOW - 25000), 0);
	report_open_done(r, 0);
	html = output(r, REPORT_HTML);
	assert_non_null(strstr(html, "<!DOCTYPE html>"));
	assert_non_null(strstr(html, "Content-Security-Policy"));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "https:"));
	assert_null(strstr(html, "<link"));
	assert_null(strstr(html, "<img"));
	assert_null(strstr(html, "url("));
	/* the only http: is the SVG namespace */
	for (p = html; (p = strstr(p, "http:")) != NULL; p++)
		assert_int_equal(strncmp(p, "http://www.w3.org/2000/svg\"", 27),
		    0);
	assert_non_null(strstr(html, "<svg id=\"decision-times\""));
	assert_non_null(strstr(html, "<svg id=\"on-time\""));
	assert_non_null(strstr(html, "<tr data-sender=\"provider\" "
	    "data-recipient=\"cmht\" data-risk=\"high\">"));
	assert_non_null(strstr(html, "<td data-col=\"handovers\">3</td>"));
	assert_non_null(strstr(html,
	    "<td data-col=\"on_time_pct\">66.7%</td>"));
	assert_non_null(strstr(html, "<td data-col=\"decision_p50_ms\" "
	    "data-ms=\"8063\">8.1s</td>"));
	assert_non_null(strstr(html, "<td data-col=\"rejected_by_reason\">"
	    "wrong_service 1</td>"));
	/* the chart's labels are the table's figures */
	assert_non_null(strstr(html, "data-risk=\"high\" data-what=\"p50\""));
	assert_non_null(strstr(html, ">8.1s</text>"));
	assert_non_null(strstr(html, ">12s</text>"));
	free(html);
	report_free(r);
}

/* No format ever names a node, a message or a person. */
static void
no_identifiers_in_any_format(void **state)
{
	static const char *const ids[] = { "prov1", "prov2", "cmht1",
	    "crisis1", "gp1", "prov1/a", "prov1/b", "prov2/c", "9434765919" };
	enum report_format f;
	struct report *r;
	char *text;
	size_t i;

	(void)state;
	r = new_report();
	three_high(r);
	add(r, &(struct ev){ "escalated", 60, "broker", NULL, "crisis1",
	    "prov1/a", "high", 50000, -1, "9434765919" });
	assert_int_equal(report_add_open(r, "cmht", 3, 2, 1,
	    NOW - 25000), 0);
	report_open_done(r, 0);
	for (f = REPORT_TABLE; f <= REPORT_HTML; f++) {
		text = output(r, f);
		for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
			if (strstr(text, ids[i]) != NULL)
				fail_msg("format %d shows '%s'", f, ids[i]);
		free(text);
	}
	report_free(r);
}

/* Past REPORT_CELLS_MAX routes, records are counted as left out. */
static void
cells_are_bounded(void **state)
{
	struct report *r;
	char role[16], *table, *csv;
	int i;

	(void)state;
	r = new_report();
	for (i = 0; i < REPORT_CELLS_MAX + 10; i++) {
		snprintf(role, sizeof(role), "r%03d", i);
		submit(r, "prov1/a", "prov1", role, "cmht1", "low", i);
	}
	table = output(r, REPORT_TABLE);
	assert_non_null(strstr(table,
	    "10 records of routes past the first 256"));
	free(table);
	csv = output(r, REPORT_CSV);
	assert_true(has_row(csv, "r255", "cmht", "low"));
	assert_false(has_row(csv, "r256", "cmht", "low"));
	assert_cell(csv, "*", "cmht", "low", "handovers", "256");
	free(csv);
	report_free(r);
}

/* The policy the broker loaded is compared with the one given. */
static void
policy_loaded_compared(void **state)
{
	Baton__Store__V1__AuditRecord rec =
	    BATON__STORE__V1__AUDIT_RECORD__INIT;
	struct report *r;
	char *table, detail[128];

	(void)state;
	r = new_report();
	snprintf(detail, sizeof(detail), "policy_sha256=%s", POLICY_SHA256);
	rec.format = 2;
	rec.time_ms = T0 - DAY;	/* before the period: still in force */
	rec.event = "policy_loaded";
	rec.detail = detail;
	assert_int_equal(report_add(r, &rec), 0);
	table = output(r, REPORT_TABLE);
	assert_null(strstr(table, "The policy the broker last loaded"));
	free(table);
	detail[strlen(detail) - 1] = '0';
	rec.time_ms = T0 + 5;
	assert_int_equal(report_add(r, &rec), 0);
	table = output(r, REPORT_TABLE);
	assert_non_null(strstr(table, "The policy the broker last loaded"));
	free(table);
	report_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(counts_per_route_and_risk),
		cmocka_unit_test(outside_period_and_other_records_ignored),
		cmocka_unit_test(route_from_records_and_registry),
		cmocka_unit_test(deadline_is_inclusive),
		cmocka_unit_test(empty_period),
		cmocka_unit_test(quantiles_within_resolution),
		cmocka_unit_test(every_bucket_within_resolution),
		cmocka_unit_test(rejections_by_reason_and_redirects),
		cmocka_unit_test(undecided_now_from_the_caller),
		cmocka_unit_test(csv_bytes),
		cmocka_unit_test(table_fits_80_columns),
		cmocka_unit_test(html_is_self_contained),
		cmocka_unit_test(no_identifiers_in_any_format),
		cmocka_unit_test(cells_are_bounded),
		cmocka_unit_test(policy_loaded_compared),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
