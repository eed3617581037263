/*
 * due.c - durable due entries (see due.h).
 */
#include <string.h>

#include "due.h"
#include "store.h"

int
due_add(struct state *st, int64_t due_ms, enum deadline_kind kind,
    const char *message_id)
{
	uint8_t key[DUE_KEY_MAX];
	size_t il = strlen(message_id);
	int rc;

	if (due_ms <= 0 || il == 0 || il > BATON_MESSAGE_ID_MAX)
		return STORE_OK;
	store_u64be(key, (uint64_t)due_ms);
	key[8] = (uint8_t)kind;
	memcpy(key + 9, message_id, il);
	rc = store_put(st->store, STORE_DEADLINES, key, 9 + il, "", 0);
	if (rc == STORE_OK &&
	    (st->earliest_due_ms == 0 || due_ms < st->earliest_due_ms))
		st->earliest_due_ms = due_ms;
	return rc;
}
