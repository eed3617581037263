/*
 * report_store.c - the report's readings of the store (report_store.h).
 */
#include <string.h>

#include "queueview.h"
#include "registry.h"
#include "report_store.h"

int
report_registry_role(void *arg, const char *node, char *role, size_t len)
{
	struct registry_node	 n;

	if (registry_get(arg, node, &n) != STORE_OK || strlen(n.role) >= len)
		return -1;
	memcpy(role, n.role, strlen(n.role) + 1);
	return 0;
}

int
report_feed_open(struct report *r, struct store *s, int64_t wall_ms,
    int64_t due_ms)
{
	struct queue_view	 v;
	const struct view_cell	*cell;
	char			 role[REGISTRY_ROLE_MAX + 1];
	unsigned		 i;
	int			 risk, partial;

	if (queue_view_read(s, wall_ms, due_ms, VIEW_SCAN_MAX, &v) !=
	    STORE_OK) {
		queue_view_free(&v);
		return STORE_ERROR;
	}
	partial = v.truncated || v.nodes_dropped > 0;
	for (i = 0; i < v.n; i++) {
		if (report_registry_role(s, v.nodes[i].node, role,
		    sizeof(role)) == -1)
			role[0] = '\0';		/* shown as "?" */
		for (risk = 0; risk < VIEW_RISKS; risk++) {
			cell = &v.nodes[i].risk[risk];
			if (cell->undecided > 0 && report_add_open(r, role,
			    risk, cell->undecided, cell->overdue,
			    cell->oldest_undecided_ms) == -1)
				partial = 1;
		}
	}
	report_open_done(r, partial);
	queue_view_free(&v);
	return STORE_OK;
}
