/*
 * test_registry.c - node registry over a real LMDB store in a fresh
 * directory: add, duplicate, get, update, list order, reopen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "registry.h"

struct fixture {
	char		 dir[64];
	struct store	*s;
};

static int
open_store(struct fixture *fx)
{
	struct store_opts o = { .dir = fx->dir, .map_size = 8u << 20 };
	char err[256];

	return store_open(&o, &fx->s, err, sizeof(err));
}

static int
setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	strcpy(fx->dir, "/tmp/baton-registry-XXXXXX");
	if (mkdtemp(fx->dir) == NULL || open_store(fx) != STORE_OK)
		return -1;
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];

	store_close(fx->s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	if (system(cmd) != 0)
		return -1;
	free(fx);
	return 0;
}

static struct registry_node
node(const char *id, const char *role, const char *org)
{
	struct registry_node n;

	memset(&n, 0, sizeof(n));
	snprintf(n.node_id, sizeof(n.node_id), "%s", id);
	snprintf(n.role, sizeof(n.role), "%s", role);
	snprintf(n.organisation, sizeof(n.organisation), "%s", org);
	return n;
}

static int
collect(const struct registry_node *n, void *arg)
{
	char *buf = arg;

	strcat(buf, n->node_id);
	strcat(buf, ",");
	return 0;
}

static void
test_add_get_update(void **state)
{
	struct fixture *fx = *state;
	struct registry_node n = node("gp", "gp", "Riverside Surgery"), got;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(registry_add(fx->s, &n, 1000), STORE_OK);
	assert_int_equal(registry_add(fx->s, &n, 2000), STORE_EXISTS);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_string_equal(got.role, "gp");
	assert_string_equal(got.organisation, "Riverside Surgery");
	assert_true(got.enabled);
	assert_int_equal(got.created_at_ms, 1000);
	assert_int_equal(registry_get(fx->s, "nobody", &got), STORE_NOTFOUND);
	/* ids are compared literally, never as patterns */
	assert_int_equal(registry_get(fx->s, "g*", &got), STORE_NOTFOUND);
	assert_int_equal(registry_get(fx->s, "gp ", &got), STORE_NOTFOUND);

	got.enabled = 0;
	strcpy(got.role, "crisis");
	assert_int_equal(registry_update(fx->s, &got, 3000), STORE_OK);
	assert_int_equal(store_commit(fx->s), STORE_OK);

	/* survives a reopen */
	store_close(fx->s);
	assert_int_equal(open_store(fx), STORE_OK);
	assert_int_equal(store_begin(fx->s, 1), STORE_OK);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_false(got.enabled);
	assert_string_equal(got.role, "crisis");
	assert_int_equal(got.updated_at_ms, 3000);
	assert_int_equal(got.created_at_ms, 1000);
	store_abort(fx->s);
}

static void
test_each_in_order(void **state)
{
	struct fixture *fx = *state;
	const char *ids[] = { "provider", "cmht", "gp", "crisis" };
	char buf[256] = "";
	size_t i;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	for (i = 0; i < 4; i++) {
		struct registry_node n = node(ids[i], ids[i], "");

		assert_int_equal(registry_add(fx->s, &n, 1), STORE_OK);
	}
	assert_int_equal(registry_each(fx->s, collect, buf), STORE_OK);
	assert_string_equal(buf, "cmht,crisis,gp,provider,");
	store_abort(fx->s);
}

static void
test_roles(void **state)
{
	assert_true(registry_valid_role("housing"));
	assert_true(registry_valid_role("social_care"));
	assert_false(registry_valid_role(""));
	assert_false(registry_valid_role("Housing"));
	assert_false(registry_valid_role("1gp"));
	assert_false(registry_valid_role("a role"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_get_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_in_order, setup, teardown),
		cmocka_unit_test(test_roles),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
