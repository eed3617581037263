/*
 * queueview.c - the per-node queue reading (see queueview.h).
 *
 * Two walks in one transaction: the registry, so every node appears even
 * with nothing waiting, then the handover state records, each unpacked
 * and sorted into its recipient's row by state. Rows stay in node-id
 * order, so a recipient is found by binary search.
 */
#include <stdlib.h>
#include <string.h>

#include "queueview.h"
#include "store.pb-c.h"

#define MS(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x

static const char *const risk_names[VIEW_RISKS] = {
	"unspecified", "low", "medium", "high", "critical"
};

const char *
queue_view_risk_name(int level)
{
	return level >= 0 && level < VIEW_RISKS ? risk_names[level] : "unspecified";
}

void
queue_view_free(struct queue_view *v)
{
	free(v->nodes);
	v->nodes = NULL;
	v->n = v->cap = 0;
}

/* Index of node in v, or where it would go (*found 0). */
static unsigned
find_node(const struct queue_view *v, const char *node, int *found)
{
	unsigned lo = 0, hi = v->n, mid;
	int c;

	*found = 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if ((c = strcmp(v->nodes[mid].node, node)) == 0) {
			*found = 1;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The row of node, added if new; NULL past VIEW_NODES_MAX or out of memory. */
static struct view_node *
node_row(struct queue_view *v, const char *node)
{
	unsigned i, ncap;
	struct view_node *nn;
	int found;

	i = find_node(v, node, &found);
	if (found)
		return &v->nodes[i];
	if (v->n >= VIEW_NODES_MAX)
		return NULL;
	if (v->n == v->cap) {
		ncap = v->cap ? v->cap * 2 : 32;
		if ((nn = realloc(v->nodes, ncap * sizeof(*nn))) == NULL)
			return NULL;
		v->nodes = nn;
		v->cap = ncap;
	}
	memmove(&v->nodes[i + 1], &v->nodes[i], (v->n - i) * sizeof(v->nodes[0]));
	memset(&v->nodes[i], 0, sizeof(v->nodes[i]));
	memcpy(v->nodes[i].node, node, strlen(node) + 1);
	v->n++;
	return &v->nodes[i];
}

/* Every registered node gets a row (keys are node ids). */
static int
read_registry(struct store *s, struct queue_view *v)
{
	struct store_cursor *c;
	const void *k, *val;
	size_t kl, vl;
	char id[BATON_NODE_ID_MAX + 1];
	struct view_node *row;
	int rc;

	if ((rc = store_cursor_open(s, STORE_NODES, &c)) != STORE_OK)
		return rc;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &val, &vl);
	    rc == STORE_OK || rc == STORE_CORRUPT;
	    rc = store_cursor_next(c, &k, &kl, &val, &vl)) {
		/* a key with a NUL inside would pass as its prefix */
		if (kl == 0 || kl > BATON_NODE_ID_MAX || memchr(k, '\0', kl))
			continue;
		memcpy(id, k, kl);
		id[kl] = '\0';
		if (validate_node_id(id) && (row = node_row(v, id)) != NULL)
			row->registered = 1;
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

static void
oldest(int64_t *slot, int64_t at_ms)
{
	if (at_ms > 0 && (*slot == 0 || at_ms < *slot))
		*slot = at_ms;
}

/*
 * Whether a state record may be counted: it names the key it is stored
 * under and a valid recipient (as queue_msg_get checks).
 */
static int
sound(const Baton__Store__V1__Message *m, const void *key, size_t klen)
{
	return m->message_id != NULL && strlen(m->message_id) == klen &&
	    memcmp(m->message_id, key, klen) == 0 &&
	    m->recipient != NULL && validate_node_id(m->recipient);
}

/* Counts one sound state record into its recipient's row. */
static void
count_message(struct queue_view *v, const Baton__Store__V1__Message *m)
{
	struct view_node *row;
	struct view_cell *c;
	int risk = m->risk_level >= 0 && m->risk_level < VIEW_RISKS ?
	    m->risk_level : 0;

	if (m->state != MS(QUEUED) && m->state != MS(DELIVERED) &&
	    m->state != MS(ACKNOWLEDGED))
		return;
	if ((row = node_row(v, m->recipient)) == NULL) {
		v->nodes_dropped++;
		return;
	}
	c = &row->risk[risk];
	c->undecided++;
	oldest(&c->oldest_undecided_ms, m->received_at_ms);
	/* due at deadline_at_ms, as the deadline timer fires (due_events.c) */
	if (m->escalated ||
	    (m->deadline_at_ms > 0 && v->due_ms >= m->deadline_at_ms))
		c->overdue++;
	if (m->state == MS(QUEUED)) {
		c->depth++;
		c->waiting++;
		oldest(&c->oldest_waiting_ms, m->received_at_ms);
	} else if (m->state == MS(DELIVERED)) {
		c->depth++;
		c->in_flight++;
	}
}

int
queue_view_read(struct store *s, int64_t wall_ms, int64_t due_ms,
    uint64_t max_records, struct queue_view *v)
{
	struct store_cursor *c;
	Baton__Store__V1__Message *m;
	const void *k, *val;
	size_t kl, vl;
	int rc;

	memset(v, 0, sizeof(*v));
	v->wall_ms = wall_ms;
	v->due_ms = due_ms;
	if ((rc = read_registry(s, v)) != STORE_OK)
		return STORE_ERROR;
	if ((rc = store_cursor_open(s, STORE_MESSAGES, &c)) != STORE_OK)
		return STORE_ERROR;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &val, &vl);
	    rc == STORE_OK || rc == STORE_CORRUPT;
	    rc = store_cursor_next(c, &k, &kl, &val, &vl)) {
		if (v->scanned >= max_records) {
			v->truncated = 1;
			break;
		}
		v->scanned++;
		if (rc == STORE_CORRUPT ||
		    (m = baton__store__v1__message__unpack(NULL, vl, val)) == NULL) {
			v->unreadable++;
			continue;
		}
		if (sound(m, k, kl))
			count_message(v, m);
		else
			v->unreadable++;
		baton__store__v1__message__free_unpacked(m, NULL);
	}
	store_cursor_close(c);
	return rc == STORE_OK || rc == STORE_NOTFOUND || rc == STORE_CORRUPT ?
	    STORE_OK : STORE_ERROR;
}

void
queue_view_node_total(const struct view_node *n, struct view_cell *out)
{
	int r;

	memset(out, 0, sizeof(*out));
	for (r = 0; r < VIEW_RISKS; r++) {
		const struct view_cell *c = &n->risk[r];

		out->depth += c->depth;
		out->waiting += c->waiting;
		out->in_flight += c->in_flight;
		out->undecided += c->undecided;
		out->overdue += c->overdue;
		oldest(&out->oldest_waiting_ms, c->oldest_waiting_ms);
		oldest(&out->oldest_undecided_ms, c->oldest_undecided_ms);
	}
}
