/*
 * test_queueview.c - the per-node queue reading (broker/state/queueview.c)
 * over a real LMDB store in a fresh directory: state records of every
 * state and risk level sorted into rows, the deadline's boundary, records
 * that fail their checks, unregistered recipients, the scan bound.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "queue.h"
#include "queueview.h"
#include "registry.h"
#include "store.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x
#define DUE	1000000		/* the due clock at every reading */
#define WALL	2000000		/* and the wall clock */

struct fixture {
	char		 dir[PATH_MAX];
	struct store	*s;
};

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct store_opts o = { .map_size = 8u << 20 };
	const char *tmp = getenv("TMPDIR");
	char err[256];

	if (fx == NULL)
		return -1;
	snprintf(fx->dir, sizeof(fx->dir), "%s/baton-queueview-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	o.dir = fx->dir;
	if (mkdtemp(fx->dir) == NULL ||
	    store_open(&o, &fx->s, err, sizeof(err)) != STORE_OK ||
	    store_begin(fx->s, 0) != STORE_OK)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[PATH_MAX + 16];

	store_close(fx->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static void
add_node(struct fixture *fx, const char *id)
{
	struct registry_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.node_id, sizeof(n.node_id), "%s", id);
	snprintf(n.role, sizeof(n.role), "cmht");
	n.enabled = 1;
	assert_int_equal(registry_add(fx->s, &n, 1), STORE_OK);
}

struct msg {
	const char	*id;
	const char	*recipient;
	int		 state;
	int		 risk;
	int64_t		 received;
	int64_t		 deadline;
	int		 escalated;
};

static void
put_msg(struct fixture *fx, const struct msg *d)
{
	Baton__Store__V1__Message m = BATON__STORE__V1__MESSAGE__INIT;

	m.message_id = (char *)d->id;
	m.sender = "provider";
	m.recipient = (char *)d->recipient;
	m.state = d->state;
	m.risk_level = d->risk;
	m.received_at_ms = d->received;
	m.deadline_at_ms = d->deadline;
	m.escalated = d->escalated;
	assert_int_equal(queue_msg_put(fx->s, &m), STORE_OK);
}

/* Commits what was written and reads the view in a read transaction. */
static void
read_view(struct fixture *fx, uint64_t max, struct queue_view *v)
{
	if (store_active(fx->s))
		assert_int_equal(store_commit(fx->s), STORE_OK);
	assert_int_equal(store_begin(fx->s, 1), STORE_OK);
	assert_int_equal(queue_view_read(fx->s, WALL, DUE, max, v), STORE_OK);
	store_abort(fx->s);
}

static const struct view_node *
row(const struct queue_view *v, const char *node)
{
	unsigned i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->nodes[i].node, node) == 0)
			return &v->nodes[i];
	fail_msg("no row for %s", node);
	return NULL;
}

static void
test_counts(void **state)
{
	struct fixture *fx = *state;
	const struct msg msgs[] = {
		{ "provider/w-high", "cmht", MS(QUEUED), 3, 1000, DUE + 1, 0 },
		{ "provider/w-low", "cmht", MS(QUEUED), 1, 500, 0, 0 },
		{ "provider/d-high", "cmht", MS(DELIVERED), 3, 2000, DUE + 9, 0 },
		/* due exactly now: the timer fires at the deadline, so overdue */
		{ "provider/a-crit", "cmht", MS(ACKNOWLEDGED), 4, 300, DUE, 0 },
		{ "provider/late", "cmht", MS(ACKNOWLEDGED), 4, 400, DUE - 1, 0 },
		{ "provider/done1", "cmht", MS(ACCEPTED), 4, 100, DUE - 5, 0 },
		{ "provider/done2", "cmht", MS(REJECTED), 3, 100, 0, 0 },
		{ "provider/done3", "cmht", MS(EXPIRED), 3, 100, 0, 0 },
		{ "provider/done4", "cmht", MS(QUARANTINED), 3, 100, 0, 0 },
		{ "provider/done5", "cmht", MS(REDIRECTED), 3, 100, 0, 0 },
		/* escalated counts as overdue whatever the clocks say */
		{ "provider/esc", "gp", MS(QUEUED), 2, 700, DUE + 50, 1 },
		{ "provider/odd", "gp", MS(DELIVERED), 9, 800, 0, 0 },
		{ "provider/lost", "gone", MS(QUEUED), 1, 900, 0, 0 },
	};
	struct queue_view v;
	struct view_cell t;
	const struct view_node *n;
	size_t i;

	add_node(fx, "gp");
	add_node(fx, "idle");
	add_node(fx, "cmht");
	for (i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++)
		put_msg(fx, &msgs[i]);
	read_view(fx, VIEW_SCAN_MAX, &v);

	assert_int_equal(v.n, 4);	/* in id order, the unregistered too */
	assert_string_equal(v.nodes[0].node, "cmht");
	assert_string_equal(v.nodes[1].node, "gone");
	assert_string_equal(v.nodes[2].node, "gp");
	assert_string_equal(v.nodes[3].node, "idle");
	assert_int_equal(v.scanned, sizeof(msgs) / sizeof(msgs[0]));
	assert_int_equal(v.unreadable, 0);
	assert_int_equal(v.truncated, 0);
	assert_int_equal(v.wall_ms, WALL);
	assert_int_equal(v.due_ms, DUE);

	n = row(&v, "cmht");
	assert_true(n->registered);
	assert_int_equal(n->risk[3].depth, 2);
	assert_int_equal(n->risk[3].waiting, 1);
	assert_int_equal(n->risk[3].in_flight, 1);
	assert_int_equal(n->risk[3].undecided, 2);
	assert_int_equal(n->risk[3].overdue, 0);
	assert_int_equal(n->risk[3].oldest_waiting_ms, 1000);
	assert_int_equal(n->risk[3].oldest_undecided_ms, 1000);
	assert_int_equal(n->risk[4].depth, 0);
	assert_int_equal(n->risk[4].undecided, 2);
	assert_int_equal(n->risk[4].overdue, 2);
	assert_int_equal(n->risk[4].oldest_waiting_ms, 0);
	assert_int_equal(n->risk[4].oldest_undecided_ms, 300);
	assert_int_equal(n->risk[1].waiting, 1);
	queue_view_node_total(n, &t);
	assert_int_equal(t.depth, 3);
	assert_int_equal(t.waiting, 2);
	assert_int_equal(t.in_flight, 1);
	assert_int_equal(t.undecided, 5);
	assert_int_equal(t.overdue, 2);
	assert_int_equal(t.oldest_waiting_ms, 500);
	assert_int_equal(t.oldest_undecided_ms, 300);

	n = row(&v, "gp");
	assert_int_equal(n->risk[2].overdue, 1);
	assert_int_equal(n->risk[2].waiting, 1);
	assert_int_equal(n->risk[0].in_flight, 1);	/* level 9: unspecified */
	assert_int_equal(n->risk[0].overdue, 0);

	n = row(&v, "gone");
	assert_false(n->registered);
	assert_int_equal(n->risk[1].waiting, 1);

	n = row(&v, "idle");
	assert_true(n->registered);
	queue_view_node_total(n, &t);
	assert_int_equal(t.undecided, 0);
	assert_int_equal(t.oldest_waiting_ms, 0);
	queue_view_free(&v);
	assert_null(v.nodes);
}

/* Records that fail their checks are counted as unreadable, never in a row. */
static void
test_unreadable(void **state)
{
	struct fixture *fx = *state;
	const struct msg good = { "provider/ok", "cmht", MS(QUEUED), 3, 10, 0, 0 };
	const struct msg bad_node = { "provider/bad", "Not A Node", MS(QUEUED),
	    3, 10, 0, 0 };
	Baton__Store__V1__Message m = BATON__STORE__V1__MESSAGE__INIT;
	const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff };
	uint8_t buf[256];
	size_t len;
	struct queue_view v;

	put_msg(fx, &good);
	put_msg(fx, &bad_node);
	/* not a protobuf message at all */
	assert_int_equal(store_put(fx->s, STORE_MESSAGES, "provider/junk", 13,
	    junk, sizeof(junk)), STORE_OK);
	/* a sound record under another record's key */
	m.message_id = "provider/elsewhere";
	m.sender = "provider";
	m.recipient = "cmht";
	m.state = MS(QUEUED);
	len = baton__store__v1__message__get_packed_size(&m);
	assert_true(len <= sizeof(buf));
	baton__store__v1__message__pack(&m, buf);
	assert_int_equal(store_put(fx->s, STORE_MESSAGES, "provider/moved", 14,
	    buf, len), STORE_OK);
	read_view(fx, VIEW_SCAN_MAX, &v);
	assert_int_equal(v.scanned, 4);
	assert_int_equal(v.unreadable, 3);
	assert_int_equal(v.nodes_dropped, 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.nodes[0].node, "cmht");
	assert_false(v.nodes[0].registered);
	assert_int_equal(v.nodes[0].risk[3].waiting, 1);
	queue_view_free(&v);
}

/* The walk stops at its bound and says so; below it, it does not. */
static void
test_truncated(void **state)
{
	struct fixture *fx = *state;
	char id[32];
	struct msg d = { NULL, "cmht", MS(QUEUED), 2, 5, 0, 0 };
	struct queue_view v;
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "provider/m%d", i);
		d.id = id;
		put_msg(fx, &d);
	}
	read_view(fx, 3, &v);
	assert_int_equal(v.truncated, 1);
	assert_int_equal(v.scanned, 3);
	assert_int_equal(v.nodes[0].risk[2].waiting, 3);
	queue_view_free(&v);
	read_view(fx, 5, &v);
	assert_int_equal(v.truncated, 0);
	assert_int_equal(v.scanned, 5);
	queue_view_free(&v);
}

/* An empty store: no rows, nothing scanned, and freeing twice is fine. */
static void
test_empty(void **state)
{
	struct fixture *fx = *state;
	struct queue_view v;

	read_view(fx, VIEW_SCAN_MAX, &v);
	assert_int_equal(v.n, 0);
	assert_int_equal(v.scanned, 0);
	queue_view_free(&v);
	queue_view_free(&v);
}

static void
test_risk_names(void **state)
{
	(void)state;
	assert_string_equal(queue_view_risk_name(0), "unspecified");
	assert_string_equal(queue_view_risk_name(1), "low");
	assert_string_equal(queue_view_risk_name(2), "medium");
	assert_string_equal(queue_view_risk_name(3), "high");
	assert_string_equal(queue_view_risk_name(4), "critical");
	assert_string_equal(queue_view_risk_name(5), "unspecified");
	assert_string_equal(queue_view_risk_name(-1), "unspecified");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreadable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test(test_risk_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
