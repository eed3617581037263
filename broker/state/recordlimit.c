/*
 * recordlimit.c - per-node budgets for read and connection audit records
 * (see recordlimit.h).
 */
#include <stdio.h>
#include <string.h>

#include "recordlimit.h"

#define OVERFLOW_NODE	"*"

static int
slot_owes(const struct record_limit_slot *sl)
{
	int k;

	for (k = 0; k < RECORD_KINDS; k++)
		if (sl->counted[k] > 0)
			return 1;
	return 0;
}

/*
 * The slot of node, or a free one, or the least recently started one that
 * owes nothing; the overflow slot if every slot owes a summary.
 */
static struct record_limit_slot *
slot_for(struct record_limit *rl, const char *node)
{
	struct record_limit_slot *sl, *free_sl = NULL, *old = NULL, *over = NULL;
	int i;

	for (i = 0; i < RECORD_LIMIT_SLOTS; i++) {
		sl = &rl->slot[i];
		if (sl->node[0] == '\0') {
			if (free_sl == NULL)
				free_sl = sl;
			continue;
		}
		if (strcmp(sl->node, node) == 0)
			return sl;
		if (strcmp(sl->node, OVERFLOW_NODE) == 0)
			over = sl;
		else if (!slot_owes(sl) &&
		    (old == NULL || sl->window_start_ms < old->window_start_ms))
			old = sl;
	}
	if (free_sl == NULL)
		free_sl = old;
	if (free_sl == NULL) {
		if (over != NULL)
			return over;
		/* every slot owes: the oldest gives way to the overflow slot,
		 * keeping its counts (they are then summarised under "*") */
		free_sl = &rl->slot[0];
		snprintf(free_sl->node, sizeof(free_sl->node), "%s", OVERFLOW_NODE);
		return free_sl;
	}
	memset(free_sl, 0, sizeof(*free_sl));
	snprintf(free_sl->node, sizeof(free_sl->node), "%s", node);
	return free_sl;
}

int
record_limit_admit(struct record_limit *rl, const char *node,
    enum record_kind kind, int64_t now_ms, int may_write)
{
	struct record_limit_slot *sl;

	if (node == NULL || node[0] == '\0' || kind < 0 || kind >= RECORD_KINDS)
		node = OVERFLOW_NODE;
	sl = slot_for(rl, node);
	if (now_ms - sl->window_start_ms >= RECORD_LIMIT_WINDOW_MS &&
	    !slot_owes(sl)) {
		sl->window_start_ms = now_ms;
		sl->written = 0;
	}
	if (may_write && sl->written < RECORD_LIMIT_PER_WINDOW &&
	    strcmp(sl->node, node) == 0) {
		sl->written++;
		return 1;
	}
	sl->counted[kind < 0 || kind >= RECORD_KINDS ? 0 : kind]++;
	return 0;
}

int
record_limit_take_due(struct record_limit *rl, int64_t now_ms, int all,
    struct record_limit_summary *out)
{
	struct record_limit_slot *sl;
	int i;

	for (i = 0; i < RECORD_LIMIT_SLOTS; i++) {
		sl = &rl->slot[i];
		if (sl->node[0] == '\0' || !slot_owes(sl))
			continue;
		if (!all && now_ms - sl->window_start_ms < RECORD_LIMIT_WINDOW_MS)
			continue;
		memset(out, 0, sizeof(*out));
		snprintf(out->node, sizeof(out->node), "%s", sl->node);
		out->window_start_ms = sl->window_start_ms;
		memcpy(out->counted, sl->counted, sizeof(out->counted));
		memset(sl->counted, 0, sizeof(sl->counted));
		/* the next window starts now, with a fresh budget */
		sl->window_start_ms = now_ms;
		sl->written = 0;
		return 1;
	}
	return 0;
}

void
record_limit_restore(struct record_limit *rl,
    const struct record_limit_summary *sum)
{
	struct record_limit_slot *sl = slot_for(rl, sum->node);
	int k;

	for (k = 0; k < RECORD_KINDS; k++)
		sl->counted[k] += sum->counted[k];
}
