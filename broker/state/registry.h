/*
 * registry.h - the node registry: node id -> role, organisation, enabled.
 *
 * Roles live here, not in certificates, so a role changes without
 * reissuing anything. Shared by batond and batonctl; LMDB is multi-process,
 * so batonctl may change it while batond runs. Every call acts in the
 * store's current transaction (the caller begins and commits).
 */
#ifndef BATON_REGISTRY_H
#define BATON_REGISTRY_H

#include <stdint.h>

#include "store.h"
#include "validate.h"

#define REGISTRY_ROLE_MAX	32
#define REGISTRY_ORG_MAX	128

struct registry_node {
	char	 node_id[BATON_NODE_ID_MAX + 1];
	char	 role[REGISTRY_ROLE_MAX + 1];
	char	 organisation[REGISTRY_ORG_MAX + 1];
	int	 enabled;
	int64_t	 created_at_ms;
	int64_t	 updated_at_ms;
};

/* 1 if role is a well-formed role name ([a-z][a-z0-9_-]{0,31}). */
int	registry_valid_role(const char *role);

/*
 * Looks up a node. STORE_OK and *out filled, STORE_NOTFOUND, STORE_CORRUPT
 * or STORE_ERROR.
 */
int	registry_get(struct store *s, const char *node_id, struct registry_node *out);

/*
 * Whether node_id may use the broker now: the one check at Hello, before
 * every request and at each periodic re-check. Returns a baton.v1.Code:
 * CODE_OK with the record in out, or UNKNOWN_NODE, NODE_DISABLED or
 * INTERNAL (record unreadable) with a text for the Error frame.
 */
int	registry_admit(struct store *s, const char *node_id,
	    struct registry_node *out, char *text, size_t textlen);

/*
 * Adds a new node (enabled). STORE_OK, STORE_EXISTS when the id is taken,
 * or a store error. Ids and roles must already be validated.
 */
int	registry_add(struct store *s, const struct registry_node *n, int64_t now_ms);

/* Writes an existing node back with updated_at_ms = now_ms. */
int	registry_update(struct store *s, struct registry_node *n, int64_t now_ms);

/*
 * Removes a node's record: it is unknown from then on (a live session is
 * closed at the broker's next re-check). What it sent or was sent stays
 * in the store, addressed by its id. STORE_OK, STORE_NOTFOUND, or a store
 * error.
 */
int	registry_remove(struct store *s, const char *node_id);

/*
 * Calls fn for each node in id order until fn returns non-zero (which is
 * returned). Returns STORE_OK at the end, or a store error.
 */
int	registry_each(struct store *s,
	    int (*fn)(const struct registry_node *, void *), void *arg);

#endif
