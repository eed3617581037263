/*
 * lc_fixture.h - what the lifecycle unit tests share: a fresh directory
 * with a real LMDB store, audit keys, a policy given as text and the
 * nodes of the test registered, wrapped in the struct state the
 * lifecycle functions take; and actors for those nodes.
 */
#ifndef BATON_LC_FIXTURE_H
#define BATON_LC_FIXTURE_H

#include <stddef.h>

#include "config.h"
#include "lifecycle.h"
#include "state.h"

struct lc_node {
	const char	*id;
	const char	*role;
};

struct lc_fixture {
	char			 dir[256];
	struct broker_config	 cfg;
	struct state		 st;
};

/*
 * Opens a fixture in $TMPDIR (or /tmp): the store, the audit keys, the
 * policy from policy_text (also written as DIR/policy.conf, and loaded from
 * there, as the broker loads it) and the nodes registered, all committed.
 * Fails the test on any error; returns NULL only when out of memory.
 */
struct lc_fixture *lc_fixture_open(const char *policy_text,
		    const struct lc_node *nodes, size_t nnodes);

/* Aborts what is open, closes everything and removes the directory. */
int		 lc_fixture_close(struct lc_fixture *fx);

/* Commits the store operation the last call left open, if any. */
void		 lc_commit(struct lc_fixture *fx);

/* Registers node id with role (organisation "Test Trust"). */
void		 lc_add_node(struct lc_fixture *fx, const char *id,
		    const char *role);

/* The actor for node id, with its role from the table nodes. */
struct actor	 lc_actor(const struct lc_node *nodes, size_t nnodes,
		    const char *id);

#endif
