/*
 * test_worklist.c - a node's outbox and inbox (lifecycle/worklist.c) over
 * a real LMDB store in a fresh directory, with no libevent and no
 * sessions: which handovers each list holds (own sends only; undecided;
 * received since; delivered to the node and not decided), cursor paging
 * that yields every item exactly once (also when the inbox's bounded scan
 * returns short or empty pages), the refusals of a bad kind, limit or
 * cursor, the status_read record of each read, and that listing consumes
 * nothing.
 *
 * Handovers are written directly with the queue functions in the states
 * the other transitions leave them in, so these tests depend on nothing
 * but the state layer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "audit.h"
#include "lc_fixture.h"
#include "lifecycle.h"
#include "queue.h"
#include "state.h"
#include "store.h"
#include "worklist.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define CODE(x)	BATON__V1__CODE__CODE_##x
#define HOUR	(3600LL * 1000)

static const char policy_text[] =
    "deadline high 1h\n"
    "retention 2d\n"
    "role gp\n"
    "  receive all\n"
    "  send team any\n"
    "role team\n"
    "  receive all\n"
    "  send gp any\n"
    "  send team any\n";

static const struct lc_node nodes[] = {
	{ "gp-a", "gp" }, { "gp-ab", "gp" }, { "team-b", "team" },
	{ "team-c", "team" },
};
#define NNODES	(sizeof(nodes) / sizeof(nodes[0]))

static int
setup(void **state)
{
	*state = lc_fixture_open(policy_text, nodes, NNODES);
	return *state != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	return lc_fixture_close(*state);
}

/*
 * Stores the handover ref (sent by the node named before its '/') to
 * recipient in state st, received at received (0: now), with a deadline
 * an hour after it, queued for recipient as submit leaves it; in the
 * pass's transaction, left open.
 */
static void
put_open(struct lc_fixture *fx, const char *ref, const char *recipient,
    int st, int64_t received)
{
	queue_msg m = BATON__STORE__V1__MESSAGE__INIT;
	uint8_t sha[32] = { 1 }, body[] = "an envelope";
	char sender[BATON_NODE_ID_MAX + 1];

	snprintf(sender, sizeof(sender), "%.*s", (int)strcspn(ref, "/"), ref);
	state_touch(&fx->st);
	m.message_id = (char *)ref;
	m.sender = sender;
	m.recipient = (char *)recipient;
	m.received_at_ms = received != 0 ? received : state_now_ms();
	m.content_sha256.data = sha;
	m.content_sha256.len = sizeof(sha);
	m.state = st;
	m.risk_level = BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH;
	m.transition_kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL;
	m.subject_ref = (char *)"5ub1ec7";
	m.deadline_at_ms = state_due_ms(&fx->st) + HOUR;
	if (st != MS(QUEUED))
		m.delivered_at_ms = m.received_at_ms;
	if (st == MS(ACCEPTED) || st == MS(REJECTED))
		m.decided_at_ms = m.received_at_ms;
	assert_int_equal(queue_insert(fx->st.store, &m, body, sizeof(body)),
	    STORE_OK);
}

/* put_open, committed. */
static void
put(struct lc_fixture *fx, const char *ref, const char *recipient, int st,
    int64_t received)
{
	put_open(fx, ref, recipient, st, received);
	lc_commit(fx);
}

/* One page: asserts the code, commits the pass, returns the code. */
static int
page(struct lc_fixture *fx, const char *node, enum worklist_kind kind,
    int undecided, int64_t since, const char *cursor, unsigned limit,
    struct worklist_page *out)
{
	struct worklist_query q = { 0 };
	struct actor a = lc_actor(nodes, NNODES, node);
	struct lc_result res;
	int code;

	q.kind = kind;
	q.undecided = undecided;
	q.since_ms = since;
	q.cursor = cursor;
	q.limit = limit;
	code = lifecycle_worklist(&fx->st, &a, &q, out, &res);
	assert_int_equal(code, res.code);
	if (code != CODE(OK))
		assert_true(res.text[0] != '\0');
	lc_commit(fx);
	return code;
}

/*
 * Every page from the start, limit items a page: the references in order,
 * space-separated, into buf; *pages gets the number of pages.
 */
static void
all_pages(struct lc_fixture *fx, const char *node, enum worklist_kind kind,
    int undecided, unsigned limit, char *buf, size_t len, int *pages)
{
	struct worklist_page p;
	char cursor[WORKLIST_CURSOR_MAX + 1] = "";
	unsigned i;

	buf[0] = '\0';
	*pages = 0;
	do {
		assert_int_equal(page(fx, node, kind, undecided, 0, cursor,
		    limit, &p), CODE(OK));
		assert_true(p.n <= (limit == 0 ? WORKLIST_LIMIT_DEFAULT : limit));
		for (i = 0; i < p.n; i++) {
			if (buf[0] != '\0')
				strncat(buf, " ", len - strlen(buf) - 1);
			strncat(buf, p.items[i]->message_id,
			    len - strlen(buf) - 1);
		}
		/* an outbox cursor moves forward, or the list ends; an
		 * inbox cursor is sealed: hex, naming no handover */
		if (kind == WORKLIST_OUTBOX)
			assert_true(p.next_cursor[0] == '\0' ||
			    strcmp(p.next_cursor, cursor) > 0);
		else
			assert_int_equal(strspn(p.next_cursor,
			    "0123456789abcdef"), strlen(p.next_cursor));
		snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
		lifecycle_worklist_clear(&p);
		assert_true(++*pages < 10000);
	} while (cursor[0] != '\0');
}

/* The references of one page, space-separated. */
static const char *
refs(const struct worklist_page *p, char *buf, size_t len)
{
	unsigned i;

	buf[0] = '\0';
	for (i = 0; i < p->n; i++) {
		if (i > 0)
			strncat(buf, " ", len - strlen(buf) - 1);
		strncat(buf, p->items[i]->message_id, len - strlen(buf) - 1);
	}
	return buf;
}

/* gp-a's handovers in every state, and some of others', as in the CLI test. */
static void
scenario(struct lc_fixture *fx)
{
	put(fx, "gp-a/1-queued", "team-b", MS(QUEUED), 0);
	put(fx, "gp-a/2-delivered", "team-b", MS(DELIVERED), 0);
	put(fx, "gp-a/3-acked", "team-b", MS(ACKNOWLEDGED), 0);
	put(fx, "gp-a/4-accepted", "team-b", MS(ACCEPTED), 0);
	put(fx, "gp-a/5-rejected", "team-b", MS(REJECTED), 0);
	put(fx, "gp-a/6-expired", "team-c", MS(EXPIRED), 0);
	put(fx, "gp-a/7-quarantined", "team-b", MS(QUARANTINED), 0);
	put(fx, "gp-a/8-redirected", "team-c", MS(QUEUED), 0);
	/* another sender whose id starts like gp-a's, and a team's own */
	put(fx, "gp-ab/1", "team-b", MS(DELIVERED), 0);
	put(fx, "team-c/1", "team-b", MS(ACKNOWLEDGED), 0);
}

static void
test_outbox_own_only(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	char buf[1024];

	scenario(fx);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 0, 0, NULL, 0, &p),
	    CODE(OK));
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/1-queued "
	    "gp-a/2-delivered gp-a/3-acked gp-a/4-accepted gp-a/5-rejected "
	    "gp-a/6-expired gp-a/7-quarantined gp-a/8-redirected");
	assert_string_equal(p.next_cursor, "");
	assert_string_equal(p.items[0]->sender, "gp-a");
	assert_int_equal(p.items[3]->state, MS(ACCEPTED));
	lifecycle_worklist_clear(&p);
	assert_int_equal(p.n, 0);

	assert_int_equal(page(fx, "gp-ab", WORKLIST_OUTBOX, 0, 0, "", 0, &p),
	    CODE(OK));
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-ab/1");
	lifecycle_worklist_clear(&p);

	/* a node that sent nothing has an empty outbox, and no next page */
	assert_int_equal(page(fx, "team-b", WORKLIST_OUTBOX, 0, 0, NULL, 0,
	    &p), CODE(OK));
	assert_int_equal(p.n, 0);
	assert_string_equal(p.next_cursor, "");
	lifecycle_worklist_clear(&p);
}

static void
test_outbox_undecided(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	char buf[1024];

	scenario(fx);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 1, 0, NULL, 0, &p),
	    CODE(OK));
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/1-queued "
	    "gp-a/2-delivered gp-a/3-acked gp-a/8-redirected");
	lifecycle_worklist_clear(&p);
}

static void
test_outbox_since(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	int64_t now = state_now_ms();
	char buf[1024];

	put(fx, "gp-a/old", "team-b", MS(QUEUED), now - 2 * HOUR);
	put(fx, "gp-a/edge", "team-b", MS(QUEUED), now - HOUR);
	put(fx, "gp-a/new", "team-b", MS(ACCEPTED), now);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 0, now - HOUR, NULL,
	    0, &p), CODE(OK));
	/* at or after: the edge is in */
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/edge gp-a/new");
	lifecycle_worklist_clear(&p);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 1, now - HOUR, NULL,
	    0, &p), CODE(OK));
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/edge");
	lifecycle_worklist_clear(&p);
}

static void
test_inbox(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	char buf[1024];

	scenario(fx);
	/* delivered or acknowledged to team-b, not yet decided; not the
	 * queued one, the decided ones, nor team-c's */
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, NULL, 0, &p),
	    CODE(OK));
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/2-delivered "
	    "gp-a/3-acked gp-ab/1 team-c/1");
	assert_string_equal(p.next_cursor, "");
	assert_true(p.due_now_ms > 0);
	lifecycle_worklist_clear(&p);
	assert_int_equal(page(fx, "team-c", WORKLIST_INBOX, 0, 0, NULL, 0, &p),
	    CODE(OK));
	assert_int_equal(p.n, 0);
	lifecycle_worklist_clear(&p);
}

static void
test_paging(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	char buf[1024], cursor[WORKLIST_CURSOR_MAX + 1];
	int pages;

	put(fx, "gp-a/a", "team-b", MS(QUEUED), 0);
	put(fx, "gp-a/b", "team-b", MS(DELIVERED), 0);
	put(fx, "gp-a/c", "team-b", MS(ACCEPTED), 0);
	put(fx, "gp-a/d", "team-b", MS(ACKNOWLEDGED), 0);
	put(fx, "gp-a/e", "team-b", MS(QUEUED), 0);
	put(fx, "gp-a/f", "team-b", MS(REJECTED), 0);
	put(fx, "gp-b0/x", "team-b", MS(QUEUED), 0);	/* past gp-a's range */

	/* limit 2 over 5 undecided: 2, 2, 1, each once, in order */
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 1, 0, NULL, 2, &p),
	    CODE(OK));
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/a gp-a/b");
	assert_string_equal(p.next_cursor, "gp-a/b");
	snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
	lifecycle_worklist_clear(&p);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 1, 0, cursor, 2,
	    &p), CODE(OK));
	/* the cursor is the last record read, so c (decided) is passed */
	assert_string_equal(refs(&p, buf, sizeof(buf)), "gp-a/d gp-a/e");
	snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
	lifecycle_worklist_clear(&p);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 1, 0, cursor, 2,
	    &p), CODE(OK));
	assert_int_equal(p.n, 0);	/* f is decided; then the range ends */
	assert_string_equal(p.next_cursor, "");
	lifecycle_worklist_clear(&p);

	all_pages(fx, "gp-a", WORKLIST_OUTBOX, 0, 2, buf, sizeof(buf), &pages);
	assert_string_equal(buf,
	    "gp-a/a gp-a/b gp-a/c gp-a/d gp-a/e gp-a/f");
	assert_int_equal(pages, 3);
	all_pages(fx, "gp-a", WORKLIST_OUTBOX, 0, 1, buf, sizeof(buf), &pages);
	assert_string_equal(buf,
	    "gp-a/a gp-a/b gp-a/c gp-a/d gp-a/e gp-a/f");
	assert_int_equal(pages, 6);
	all_pages(fx, "team-b", WORKLIST_INBOX, 0, 1, buf, sizeof(buf), &pages);
	assert_string_equal(buf, "gp-a/b gp-a/d");
}

/*
 * An inbox page reads at most WORKLIST_SCAN_MAX state records: with more
 * handovers than that, none for the node among the first, the first page
 * is empty but has a cursor, and paging on finds every item exactly once.
 */
static void
test_inbox_scan_bound(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	char ref[64], buf[1024], cursor[WORKLIST_CURSOR_MAX + 1];
	int i, pages;

	for (i = 0; i < WORKLIST_SCAN_MAX + 100; i++) {
		snprintf(ref, sizeof(ref), "gp-a/%05d", i);
		put_open(fx, ref, i == 7 || i >= WORKLIST_SCAN_MAX + 50 ?
		    "team-c" : "team-b", i == WORKLIST_SCAN_MAX + 60 ?
		    MS(QUEUED) : MS(DELIVERED), 0);
	}
	lc_commit(fx);
	/* the first page ends on team-c's first item, 00007 ... */
	assert_int_equal(page(fx, "team-c", WORKLIST_INBOX, 0, 0, NULL, 1, &p),
	    CODE(OK));
	assert_int_equal(p.n, 1);
	assert_string_equal(p.items[0]->message_id, "gp-a/00007");
	snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
	lifecycle_worklist_clear(&p);
	/* ... and the next reads its bound of others' without one of its own */
	assert_int_equal(page(fx, "team-c", WORKLIST_INBOX, 0, 0, cursor, 50,
	    &p), CODE(OK));
	assert_int_equal(p.n, 0);
	assert_true(p.next_cursor[0] != '\0');
	/* where it stopped is someone else's handover: the cursor hides it */
	assert_null(strstr(p.next_cursor, "gp-a"));
	assert_int_equal(strspn(p.next_cursor, "0123456789abcdef"),
	    strlen(p.next_cursor));
	lifecycle_worklist_clear(&p);

	all_pages(fx, "team-c", WORKLIST_INBOX, 0, 20, buf, sizeof(buf),
	    &pages);
	assert_true(pages >= 2);
	assert_true(strncmp(buf, "gp-a/00007 gp-a/02050 gp-a/02051", 32) == 0);
	/* 50 past the bound, one of them queued, and the one before */
	assert_int_equal(strlen(buf), 50 * 11 - 1);
	assert_null(strstr(buf, "gp-a/02060"));
}

static void
test_refusals(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;

	scenario(fx);
	assert_int_equal(page(fx, "gp-a", 0, 0, 0, NULL, 0, &p), CODE(INVALID));
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 0, 0, NULL,
	    WORKLIST_LIMIT_MAX + 1, &p), CODE(INVALID));
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 0, 0, NULL,
	    WORKLIST_LIMIT_MAX, &p), CODE(OK));
	lifecycle_worklist_clear(&p);
	/* an outbox cursor is one of the node's own references */
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 0, 0, "gp-ab/1", 0,
	    &p), CODE(INVALID));
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 0, 0, "gp-a", 0,
	    &p), CODE(INVALID));
	assert_int_equal(page(fx, "gp-a", WORKLIST_INBOX, 0, 0, "no/such/ref",
	    0, &p), CODE(INVALID));
	assert_int_equal(page(fx, "gp-a", WORKLIST_INBOX, 0, 0, "a b/c", 0,
	    &p), CODE(INVALID));
	assert_int_equal(p.n, 0);
}

/*
 * An inbox cursor is sealed for the node it was given to: a reference in
 * the clear, another node's cursor, or one changed by a bit is refused.
 */
static void
test_inbox_cursor_sealed(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	char cursor[WORKLIST_CURSOR_MAX + 1];
	size_t n;

	scenario(fx);
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, NULL, 1, &p),
	    CODE(OK));
	assert_true(p.next_cursor[0] != '\0');
	snprintf(cursor, sizeof(cursor), "%s", p.next_cursor);
	lifecycle_worklist_clear(&p);
	/* it opens for team-b, again and again */
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, cursor, 1,
	    &p), CODE(OK));
	lifecycle_worklist_clear(&p);
	/* not for team-c */
	assert_int_equal(page(fx, "team-c", WORKLIST_INBOX, 0, 0, cursor, 1,
	    &p), CODE(INVALID));
	/* a reference is not a cursor */
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, "gp-a/a", 1,
	    &p), CODE(INVALID));
	/* one changed hex digit, and a cut one, are refused */
	n = strlen(cursor);
	cursor[n / 2] = cursor[n / 2] == '0' ? '1' : '0';
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, cursor, 1,
	    &p), CODE(INVALID));
	cursor[n / 2] = '\0';
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, cursor, 1,
	    &p), CODE(INVALID));
}

/* Reads are recorded as status_read by the reader; nothing is consumed. */
static void
test_recorded_consumes_nothing(void **state)
{
	struct lc_fixture *fx = *state;
	struct worklist_page p;
	struct audit_filter af;
	uint64_t depth_before, depth_after, matched = 0;
	queue_msg *m = NULL;
	char err[256], line[4096];
	FILE *out;

	scenario(fx);
	state_touch(&fx->st);
	assert_int_equal(queue_depth(fx->st.store, "team-b", &depth_before),
	    STORE_OK);
	lc_commit(fx);
	assert_int_equal(page(fx, "team-b", WORKLIST_INBOX, 0, 0, NULL, 0, &p),
	    CODE(OK));
	lifecycle_worklist_clear(&p);
	assert_int_equal(page(fx, "gp-a", WORKLIST_OUTBOX, 1, 0, NULL, 0, &p),
	    CODE(OK));
	lifecycle_worklist_clear(&p);

	state_touch(&fx->st);
	assert_int_equal(queue_depth(fx->st.store, "team-b", &depth_after),
	    STORE_OK);
	assert_int_equal(depth_after, depth_before);
	assert_int_equal(queue_msg_get(fx->st.store, "gp-a/2-delivered", &m),
	    STORE_OK);
	assert_int_equal(m->state, MS(DELIVERED));
	assert_int_equal(m->n_events, 0);	/* no history added */
	queue_msg_free(m);
	lc_commit(fx);

	audit_filter_init(&af);
	assert_int_equal(audit_filter_add(&af, AUDIT_FILTER_EVENT,
	    AUDIT_STATUS_READ), 0);
	assert_int_equal(audit_filter_add(&af, AUDIT_FILTER_NODE, "team-b"), 0);
	assert_int_equal(audit_filter_add(&af, AUDIT_FILTER_NODE, "gp-a"), 0);
	assert_non_null(out = tmpfile());
	if (audit_export(fx->st.store, &af, AUDIT_FORMAT_JSONL, out, &matched,
	    err, sizeof(err)) != 0)
		fail_msg("audit_export: %s", err);
	assert_int_equal(matched, 2);
	rewind(out);
	assert_non_null(fgets(line, sizeof(line), out));
	assert_non_null(strstr(line, "\"actor\":\"team-b\""));
	assert_non_null(strstr(line, "inbox items=4"));
	assert_non_null(fgets(line, sizeof(line), out));
	assert_non_null(strstr(line, "\"actor\":\"gp-a\""));
	assert_non_null(strstr(line, "outbox undecided items=4"));
	fclose(out);
}

/* Which states are open, i.e. still have a deadline to meet. */
static void
test_open_states(void **state)
{
	queue_msg m = BATON__STORE__V1__MESSAGE__INIT;
	static const struct {
		int	 st;
		int	 open;
	} cases[] = {
		{ MS(QUEUED), 1 }, { MS(DELIVERED), 1 }, { MS(ACKNOWLEDGED), 1 },
		{ MS(REDIRECTED), 1 }, { MS(ACCEPTED), 0 }, { MS(REJECTED), 0 },
		{ MS(EXPIRED), 0 }, { MS(QUARANTINED), 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m.state = cases[i].st;
		assert_int_equal(lifecycle_worklist_open(&m), cases[i].open);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_outbox_own_only, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_outbox_undecided, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_outbox_since, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_paging, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inbox_scan_bound, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_inbox_cursor_sealed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_recorded_consumes_nothing,
		    setup, teardown),
		cmocka_unit_test(test_open_states),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
