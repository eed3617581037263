/*
 * test_registry.c - node registry over a real LMDB store in a fresh
 * directory: add, duplicate, get, update, list order, reopen, remove;
 * and the registry against the policy in force (policy_in_force.h): the
 * nearest declared role for a typo, the issues the broker warns about,
 * and the copy of the policy kept in the data directory.
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

#include "policy.h"
#include "policy_in_force.h"
#include "registry.h"
#include "store.pb-c.h"

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

/*
 * Records kept for the store's view are never stale: a write of this
 * process replaces them, an aborted operation or transaction undoes what
 * was read in it, and a change made behind its back (another process's)
 * shows at the next transaction.
 */
static void
test_cache_follows_the_store(void **state)
{
	struct fixture *fx = *state;
	struct registry_node n = node("gp", "gp", "Riverside Surgery"), got;
	Baton__Store__V1__Node rec = BATON__STORE__V1__NODE__INIT;
	uint8_t buf[256];
	size_t len;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(registry_add(fx->s, &n, 1000), STORE_OK);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	/* this process's own write */
	strcpy(got.role, "crisis");
	assert_int_equal(registry_update(fx->s, &got, 2000), STORE_OK);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_string_equal(got.role, "crisis");
	/* a change in an operation that is aborted */
	assert_int_equal(store_op_begin(fx->s), STORE_OK);
	strcpy(got.role, "housing");
	assert_int_equal(registry_update(fx->s, &got, 3000), STORE_OK);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_string_equal(got.role, "housing");
	store_op_abort(fx->s);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_string_equal(got.role, "crisis");
	assert_int_equal(store_commit(fx->s), STORE_OK);

	/* another writer (batonctl, between two of the broker's
	 * transactions) changes the record underneath the cache */
	assert_int_equal(store_begin(fx->s, 1), STORE_OK);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_string_equal(got.role, "crisis");
	store_abort(fx->s);
	rec.node_id = "gp";
	rec.role = "cmht";
	rec.organisation = "Riverside Surgery";
	rec.enabled = 1;
	len = baton__store__v1__node__pack(&rec, buf);
	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(store_put(fx->s, STORE_NODES, "gp", 2, buf, len),
	    STORE_OK);
	assert_int_equal(store_commit(fx->s), STORE_OK);
	assert_int_equal(store_begin(fx->s, 1), STORE_OK);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_string_equal(got.role, "cmht");
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

static void
test_remove(void **state)
{
	struct fixture *fx = *state;
	struct registry_node n = node("cmht", "cmht", "Northside"), got;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	assert_int_equal(registry_add(fx->s, &n, 1), STORE_OK);
	n = node("gp", "gp", "");
	assert_int_equal(registry_add(fx->s, &n, 1), STORE_OK);
	assert_int_equal(registry_remove(fx->s, "cmht"), STORE_OK);
	assert_int_equal(registry_get(fx->s, "cmht", &got), STORE_NOTFOUND);
	assert_int_equal(registry_remove(fx->s, "cmht"), STORE_NOTFOUND);
	/* never a pattern, never an invalid id */
	assert_int_equal(registry_remove(fx->s, "g*"), STORE_NOTFOUND);
	assert_int_equal(registry_remove(fx->s, ""), STORE_NOTFOUND);
	assert_int_equal(registry_get(fx->s, "gp", &got), STORE_OK);
	assert_int_equal(store_commit(fx->s), STORE_OK);
}

static const char policy_text[] =
	"escalate crisis duty\n"
	"role provider\n"
	"    receive all\n"
	"    send housing referral\n"
	"role cmht\n"
	"    receive all\n"
	"role gp\n"
	"    receive all\n"
	"role housing\n"
	"    receive subject\n"
	"role crisis\n"
	"    receive all\n"
	"role auditor\n"
	"    receive none\n";

static struct policy *
test_policy(void)
{
	struct policy *p;
	char err[512];

	p = policy_parse("test.conf", policy_text, strlen(policy_text), err,
	    sizeof(err));
	if (p == NULL)
		fail_msg("policy_parse: %s", err);
	return p;
}

static void
test_nearest_role(void **state)
{
	struct policy *p = test_policy();
	char buf[128];

	assert_string_equal(policy_nearest_role(p, "hosuing"), "housing");
	assert_string_equal(policy_nearest_role(p, "housng"), "housing");
	assert_string_equal(policy_nearest_role(p, "housings"), "housing");
	assert_string_equal(policy_nearest_role(p, "gpp"), "gp");
	assert_string_equal(policy_nearest_role(p, "auditors"), "auditor");
	assert_string_equal(policy_nearest_role(p, "cmth"), "cmht");
	/* a declared role needs no hint; a far one gets none */
	assert_null(policy_nearest_role(p, "housing"));
	assert_null(policy_nearest_role(p, "pharmacy"));
	assert_null(policy_nearest_role(p, "x"));
	assert_null(policy_nearest_role(NULL, "gp"));
	/* a third of the length, at least one edit */
	assert_null(policy_nearest_role(p, "hxuxxng"));
	assert_string_equal(policy_nearest_role(p, "hxusxng"), "housing");
	assert_string_equal(policy_nearest_role(p, "hxusing"), "housing");

	assert_string_equal(policy_role_list(p, buf, sizeof(buf)),
	    "provider, cmht, gp, housing, crisis, auditor");
	policy_role_list(p, buf, 12);
	assert_string_equal(buf, "provider, c");
	assert_string_equal(policy_role_list(NULL, buf, sizeof(buf)), "none");
	policy_free(p);
}

static void
collect_issue(const struct policy_issue *is, void *arg)
{
	static const char *kinds[] = { "missing", "disabled", "unreadable",
	    "role" };
	char *buf = arg;
	char one[160];

	snprintf(one, sizeof(one), "%s:%s%s%s%s%s%s ", kinds[is->kind],
	    is->node, is->role != NULL ? "=" : "",
	    is->role != NULL ? is->role : "", is->nearest != NULL ? "~" : "",
	    is->nearest != NULL ? is->nearest : "",
	    is->kind == POLICY_ISSUE_ROLE_UNDECLARED && !is->enabled ?
	    "(off)" : "");
	strcat(buf, one);
}

static void
test_policy_check(void **state)
{
	struct fixture *fx = *state;
	struct policy *p = test_policy();
	const struct { const char *id, *role; int enabled; } nodes[] = {
		{ "crisis", "crisis", 0 },	/* escalation node, disabled */
		{ "cmht", "cmht", 1 },
		{ "house1", "hosuing", 1 },	/* a typo */
		{ "old-ward", "ward", 0 },	/* a role no policy has */
		{ "gp", "gp", 1 },
	};
	struct registry_node n;
	char buf[512] = "";
	size_t i;

	assert_int_equal(store_begin(fx->s, 0), STORE_OK);
	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		n = node(nodes[i].id, nodes[i].role, "");
		assert_int_equal(registry_add(fx->s, &n, 1), STORE_OK);
		if (!nodes[i].enabled) {
			n.enabled = 0;
			assert_int_equal(registry_update(fx->s, &n, 2),
			    STORE_OK);
		}
	}
	assert_int_equal(policy_in_force_check(fx->s, p, collect_issue, buf),
	    STORE_OK);
	/* escalation nodes in policy order, then nodes in id order */
	assert_string_equal(buf, "disabled:crisis missing:duty "
	    "role:house1=hosuing~housing role:old-ward=ward(off) ");

	/* all well: no issue at all */
	n = node("duty", "crisis", "");
	assert_int_equal(registry_add(fx->s, &n, 3), STORE_OK);
	assert_int_equal(registry_get(fx->s, "crisis", &n), STORE_OK);
	n.enabled = 1;
	assert_int_equal(registry_update(fx->s, &n, 3), STORE_OK);
	assert_int_equal(registry_remove(fx->s, "house1"), STORE_OK);
	assert_int_equal(registry_remove(fx->s, "old-ward"), STORE_OK);
	buf[0] = '\0';
	assert_int_equal(policy_in_force_check(fx->s, p, collect_issue, buf),
	    STORE_OK);
	assert_string_equal(buf, "");
	store_abort(fx->s);
	policy_free(p);
}

/* The whole of path, NUL-terminated, into buf. */
static size_t
read_all(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	return n;
}

static void
test_in_force_copy(void **state)
{
	struct fixture *fx = *state;
	struct policy *p = test_policy(), *q, broken;
	char path[256], text[4096], err[512], *body;
	int missing;

	/* none yet: a new deployment */
	assert_null(policy_in_force_load(fx->dir, &missing, err, sizeof(err)));
	assert_int_equal(missing, 1);
	assert_non_null(strstr(err, "no copy of the policy in force"));
	assert_null(policy_in_force_load("/nonexistent/baton", &missing, err,
	    sizeof(err)));
	assert_int_equal(missing, 1);

	/* the exact text parsed, under a header naming its source */
	assert_int_equal(policy_in_force_save(fx->dir, "/etc/baton/po\nlicy",
	    p, err, sizeof(err)), 0);
	policy_in_force_path(fx->dir, path, sizeof(path));
	read_all(path, text, sizeof(text));
	assert_true(strncmp(text, "# The policy batond has in force, loaded "
	    "from /etc/baton/po?licy.\n#", 53) == 0);
	body = strstr(text, "one.\n");
	assert_non_null(body);
	assert_string_equal(body + 5, policy_text);
	q = policy_in_force_load(fx->dir, &missing, err, sizeof(err));
	assert_non_null(q);
	assert_int_equal(q->nroles, p->nroles);
	assert_int_equal(q->nescalate, 2);
	assert_string_equal(q->roles[3].name, "housing");
	policy_free(q);

	/* a copy that cannot be written takes the stale one with it */
	broken = *p;
	broken.text = NULL;
	assert_int_equal(policy_in_force_save(fx->dir, "x", &broken, err,
	    sizeof(err)), -1);
	assert_null(policy_in_force_load(fx->dir, &missing, err, sizeof(err)));
	assert_int_equal(missing, 1);

	/* a damaged copy is an error, not "none" */
	assert_int_equal(policy_in_force_save(fx->dir, "x", p, err,
	    sizeof(err)), 0);
	{
		FILE *f = fopen(path, "a");

		assert_non_null(f);
		fputs("role\n", f);
		fclose(f);
	}
	assert_null(policy_in_force_load(fx->dir, &missing, err, sizeof(err)));
	assert_int_equal(missing, 0);
	assert_non_null(strstr(err, "policy.in-force:"));
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_get_update, setup, teardown),
		cmocka_unit_test_setup_teardown(test_each_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_follows_the_store, setup,
		    teardown),
		cmocka_unit_test(test_roles),
		cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
		cmocka_unit_test(test_nearest_role),
		cmocka_unit_test_setup_teardown(test_policy_check, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_in_force_copy, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
