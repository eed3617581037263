/*
 * ctl_node_remove.c - "batonctl node remove": takes a node out of the
 * registry.
 *
 * A removed node is unknown from then on: its next connection is refused
 * UNKNOWN_NODE, a live session is closed at the broker's next registry
 * re-check (every 2 s, as for "node disable"), and handovers sent to it
 * are refused as to an unknown recipient. Nothing else is deleted: its
 * history stays in the audit log (a node_changed record says who removed
 * it, committed with the removal), and what is queued for it stays in the
 * store under its id.
 *
 * So a node with handovers waiting or in flight is not removed unless
 * --force: those handovers are someone's care moving between teams. The
 * count is taken in the same write transaction as the removal, so nothing
 * can be queued in between. With --force the command says what becomes
 * of them: never delivered ones expire at the end of the policy's
 * retention and their senders get a non-delivery notice (due_events.c);
 * delivered, unacknowledged ones stay undecided and are escalated at
 * their acceptance deadline; the node, added again, receives them all.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_node.h"
#include "ctl_opts.h"
#include "queue.h"
#include "registry.h"
#include "store.h"
#include "validate.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x

struct node_remove_args {
	const char	*data;
	const char	*node;
	int		 force;
};

/* What is still queued for a node. */
struct backlog {
	uint64_t	 waiting;	/* never delivered (or unreadable) */
	uint64_t	 in_flight;	/* delivered, not acknowledged */
	uint64_t	 notices;	/* notices it has not taken */
};

static int
parse_node_remove(const struct command *c, int argc, char **argv,
    struct node_remove_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help = "the node",
		  .required = 1 },
		{ CTL_FLAG("force", &a->force),
		  .help =
		  "remove it although handovers are queued or in flight for\n"
		  "it (they stay in the store; the command says what becomes\n"
		  "of them)" },
		{ CTL_TEXT, .help =
		  "\nIts live sessions are closed within about 2 s; its history "
		  "stays in\nthe audit log. Its certificates are not revoked: "
		  "revoke them (cert\nrevoke) unless it is coming back.\n" },
	};
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	return ctl_opts_node_id(c, a->node);
}

/*
 * Counts node's queue in the open transaction: each handover entry by its
 * state, and notices. STORE_OK or a store error.
 */
static int
count_backlog(struct store *s, const char *node, struct backlog *b)
{
	char id[BATON_MESSAGE_ID_MAX + 1];
	enum queue_kind kind;
	queue_msg *m;
	uint64_t seq = 0;
	int rc;

	memset(b, 0, sizeof(*b));
	while ((rc = queue_next(s, node, seq, &seq, &kind, id)) == STORE_OK) {
		if (kind == QUEUE_NOTICE) {
			b->notices++;
			continue;
		}
		rc = queue_msg_get(s, id, &m);
		if (rc == STORE_OK) {
			if (m->state == MS(DELIVERED))
				b->in_flight++;
			else
				b->waiting++;
			queue_msg_free(m);
		} else if (rc == STORE_NOTFOUND || rc == STORE_CORRUPT)
			b->waiting++;	/* queued all the same */
		else
			return rc;
	}
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* Says what becomes of what stays queued for a removed node. */
static void
print_fate(const char *node, const struct backlog *b)
{
	if (b->waiting > 0)
		printf("  %llu never delivered: expire at the end of the "
		    "policy's retention\n  (retention, default 5 days, from "
		    "their arrival); each sender gets a\n  non-delivery "
		    "notice\n", (unsigned long long)b->waiting);
	if (b->in_flight > 0)
		printf("  %llu delivered but not acknowledged: stay undecided "
		    "and are escalated\n  at their acceptance deadline, where "
		    "the policy sets one for their risk\n  level\n",
		    (unsigned long long)b->in_flight);
	if (b->notices > 0)
		printf("  %llu notices it has not taken stay queued\n",
		    (unsigned long long)b->notices);
	if (b->waiting + b->in_flight + b->notices > 0)
		printf("Added again (batonctl node add --node %s), it receives "
		    "them all.\n", node);
}

/*
 * Removes the node and records it in the open write transaction, unless
 * its backlog forbids it. EXIT_SUCCESS with the transaction committed,
 * or EXIT_FAILURE printed with it ended.
 */
static int
remove_node(const struct node_remove_args *a, struct audit *au,
    struct store *s, struct backlog *b, char *role, size_t rolelen)
{
	struct registry_node n;
	char change[REGISTRY_ROLE_MAX + 96];
	const char *why;

	if (ctl_node_get(s, a->data, a->node, &n) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	snprintf(role, rolelen, "%s", n.role);
	if (count_backlog(s, a->node, b) != STORE_OK) {
		store_abort(s);
		return ctl_failx("cannot read the queue of node '%s': %s",
		    a->node, store_strerror(s));
	}
	if (b->waiting + b->in_flight > 0 && !a->force) {
		store_abort(s);
		return ctl_failx("node '%s' has %llu handovers queued and %llu "
		    "in flight (delivered, not acknowledged): let it receive "
		    "and decide them (its team may redirect them), or give "
		    "--force to remove it anyway; they then stay in the store "
		    "and expire or are escalated (see --help)", a->node,
		    (unsigned long long)b->waiting,
		    (unsigned long long)b->in_flight);
	}
	snprintf(change, sizeof(change), "removed role=%s queued=%llu "
	    "in_flight=%llu", n.role, (unsigned long long)b->waiting,
	    (unsigned long long)b->in_flight);
	/* The removal and its audit record commit together or not at all. */
	if (ctl_node_commit(au, s, registry_remove(s, a->node), a->node,
	    change, &why) != STORE_OK)
		return ctl_failx("cannot remove node '%s' from %s: %s", a->node,
		    a->data, why);
	return EXIT_SUCCESS;
}

static int
run_node_remove(const struct node_remove_args *a)
{
	struct backlog b;
	struct audit *au;
	struct store *s;
	char role[REGISTRY_ROLE_MAX + 1] = "";
	int r;

	if (ctl_data_exists(a->data) != EXIT_SUCCESS ||
	    ctl_node_open_change(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	r = remove_node(a, au, s, &b, role, sizeof(role));
	store_close(s);
	audit_close(au);
	if (r != EXIT_SUCCESS)
		return r;
	ctl_sanitise(role);
	printf("removed node '%s' (role %s); a live session is closed within "
	    "about 2 s\n", a->node, role);
	if (b.waiting + b.in_flight + b.notices > 0)
		printf("What is queued for it stays in the store, addressed to "
		    "'%s':\n", a->node);
	print_fate(a->node, &b);
	printf("Its certificates still chain to the CA: unless it is coming "
	    "back, revoke them\n(batonctl cert revoke --ca DIR --node %s "
	    "--data %s) and reload.\n", a->node, a->data);
	return EXIT_SUCCESS;
}

int
ctl_node_remove(const struct command *c, int argc, char **argv)
{
	struct node_remove_args a;
	int r;

	if ((r = parse_node_remove(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_node_remove(&a);
}
