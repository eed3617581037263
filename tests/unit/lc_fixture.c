/*
 * lc_fixture.c - the lifecycle unit tests' store, policy and nodes
 * (lc_fixture.h).
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
#include "policy.h"
#include "registry.h"
#include "store.h"

void
lc_commit(struct lc_fixture *fx)
{
	if (store_active(fx->st.store))
		assert_int_equal(store_commit(fx->st.store), STORE_OK);
}

void
lc_add_node(struct lc_fixture *fx, const char *id, const char *role)
{
	struct registry_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.node_id, sizeof(n.node_id), "%s", id);
	snprintf(n.role, sizeof(n.role), "%s", role);
	snprintf(n.organisation, sizeof(n.organisation), "Test Trust");
	assert_int_equal(registry_add(fx->st.store, &n, state_now_ms()),
	    STORE_OK);
}

struct actor
lc_actor(const struct lc_node *nodes, size_t nnodes, const char *id)
{
	struct actor a = { 0 };
	size_t i;

	for (i = 0; i < nnodes; i++)
		if (strcmp(nodes[i].id, id) == 0)
			a.role = nodes[i].role;
	a.node_id = id;
	a.org = "Test Trust";
	a.cert_serial = "01";
	a.cert_sha256 = "ab";
	a.peer = "127.0.0.1:1";
	return a;
}

static void
write_policy(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL ||
	    fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0)
		fail_msg("cannot write %s", path);
}

struct lc_fixture *
lc_fixture_open(const char *policy_text, const struct lc_node *nodes,
    size_t nnodes)
{
	struct lc_fixture *fx = calloc(1, sizeof(*fx));
	struct store_opts o = { 0 };
	const char *tmp = getenv("TMPDIR");
	char err[1024], path[320];
	size_t i;

	if (fx == NULL)
		return NULL;
	snprintf(fx->dir, sizeof(fx->dir), "%s/baton-lifecycle-XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(fx->dir) == NULL)
		fail_msg("mkdtemp %s failed", fx->dir);
	o.dir = fx->dir;
	o.map_size = 32u << 20;
	if (store_open(&o, &fx->st.store, err, sizeof(err)) != STORE_OK)
		fail_msg("store_open: %s", err);
	if ((fx->st.audit = audit_open(fx->dir, 1, err, sizeof(err))) == NULL)
		fail_msg("audit_open: %s", err);
	snprintf(path, sizeof(path), "%s/policy.conf", fx->dir);
	write_policy(path, policy_text);
	if ((fx->st.policy = policy_load(path, err, sizeof(err))) == NULL)
		fail_msg("policy_load: %s", err);
	broker_config_defaults(&fx->cfg);
	fx->st.cfg = &fx->cfg;
	state_measure_space(&fx->st);
	state_touch(&fx->st);
	for (i = 0; i < nnodes; i++)
		lc_add_node(fx, nodes[i].id, nodes[i].role);
	lc_commit(fx);
	return fx;
}

int
lc_fixture_close(struct lc_fixture *fx)
{
	char cmd[320];

	if (store_active(fx->st.store))
		store_abort(fx->st.store);
	policy_free(fx->st.policy);
	audit_close(fx->st.audit);
	store_close(fx->st.store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	free(fx);
	return system(cmd) == 0 ? 0 : -1;
}
