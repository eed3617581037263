/*
 * policy_in_force.c - the copy of the policy in force in the data
 * directory, and the registry checked against that policy (see
 * policy_in_force.h).
 *
 * Owns DATA/policy.in-force: only the broker writes it, batonctl only
 * reads it. It does not decide anything: a role the policy lacks, or an
 * escalation node nobody registered, is a warning here and a refusal only
 * in batonctl (which an admin can override with --force). Log lines carry
 * node ids and role names, nothing else.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "log.h"
#include "policy.h"
#include "policy_in_force.h"
#include "registry.h"
#include "state.h"

void
policy_in_force_path(const char *data_dir, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", data_dir, POLICY_IN_FORCE_FILE);
}

/* The comment that heads the copy, naming source with control bytes as '?'. */
static int
copy_header(const char *source, char *buf, size_t len)
{
	char name[PATH_MAX];
	size_t i;
	int n;

	snprintf(name, sizeof(name), "%s", source);
	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			name[i] = '?';
	n = snprintf(buf, len, "# The policy batond has in force, loaded from "
	    "%s.\n# batond rewrites this copy at every start and reload, for "
	    "batonctl\n# to check roles against: edit the file above, not this "
	    "one.\n", name);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int
policy_in_force_save(const char *data_dir, const char *source,
    const struct policy *p, char *err, size_t errlen)
{
	char path[PATH_MAX], head[PATH_MAX + 256], *buf = NULL;
	size_t len, off;
	int n, rc = -1;

	policy_in_force_path(data_dir, path, sizeof(path));
	if (p == NULL || p->text == NULL) {
		snprintf(err, errlen, "cannot write %s: no policy text", path);
		goto fail;
	}
	if ((n = copy_header(source, head, sizeof(head))) < 0) {
		snprintf(err, errlen, "cannot write %s: the policy's path is "
		    "too long", path);
		goto fail;
	}
	len = (size_t)n + p->text_len;
	if ((buf = malloc(len)) == NULL) {
		snprintf(err, errlen, "cannot write %s: out of memory", path);
		goto fail;
	}
	memcpy(buf, head, (size_t)n);
	memcpy(buf + n, p->text, p->text_len);
	if (atomicfile_write_buf(path, 0600, ATOMICFILE_REPLACE, buf, len, err,
	    errlen) != ATOMICFILE_OK)
		goto fail;
	rc = 0;
fail:
	free(buf);
	/* an older copy would check roles against a policy not in force */
	if (rc == -1 && unlink(path) == -1 && errno != ENOENT) {
		off = strlen(err);
		if (off < errlen)
			snprintf(err + off, errlen - off, "; the older copy "
			    "cannot be removed either: %s", strerror(errno));
	}
	return rc;
}

struct policy *
policy_in_force_load(const char *data_dir, int *missing, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;

	*missing = 0;
	policy_in_force_path(data_dir, path, sizeof(path));
	if (stat(path, &st) == -1) {
		*missing = errno == ENOENT || errno == ENOTDIR;
		snprintf(err, errlen, "%s: %s", path, *missing ? "no copy of "
		    "the policy in force (batond has not loaded a policy with "
		    "this data directory)" : strerror(errno));
		return NULL;
	}
	return policy_load(path, err, errlen);
}

struct check {
	const struct policy	*p;
	policy_issue_fn		 fn;
	void			*arg;
};

static int
check_node(const struct registry_node *n, void *arg)
{
	struct check *c = arg;
	struct policy_issue is;

	if (policy_role(c->p, n->role) != NULL)
		return 0;
	memset(&is, 0, sizeof(is));
	is.kind = POLICY_ISSUE_ROLE_UNDECLARED;
	is.node = n->node_id;
	is.role = n->role;
	is.nearest = policy_nearest_role(c->p, n->role);
	is.enabled = n->enabled;
	c->fn(&is, c->arg);
	return 0;
}

int
policy_in_force_check(struct store *s, const struct policy *p,
    policy_issue_fn fn, void *arg)
{
	struct check c = { p, fn, arg };
	struct registry_node n;
	struct policy_issue is;
	int i, rc;

	for (i = 0; i < p->nescalate; i++) {
		memset(&is, 0, sizeof(is));
		is.node = p->escalate[i];
		rc = registry_get(s, p->escalate[i], &n);
		if (rc == STORE_OK && n.enabled)
			continue;
		if (rc == STORE_OK)
			is.kind = POLICY_ISSUE_ESCALATE_DISABLED;
		else if (rc == STORE_NOTFOUND)
			is.kind = POLICY_ISSUE_ESCALATE_MISSING;
		else if (rc == STORE_CORRUPT)
			is.kind = POLICY_ISSUE_ESCALATE_UNREADABLE;
		else
			return rc;
		fn(&is, arg);
	}
	return registry_each(s, check_node, &c);
}

/* What the broker's warnings have said so far, to keep them bounded. */
struct warned {
	unsigned	 roles;		/* nodes with an undeclared role */
};

static void
warn_issue(const struct policy_issue *is, void *arg)
{
	struct warned *w = arg;

	switch (is->kind) {
	case POLICY_ISSUE_ESCALATE_MISSING:
		log_warnx("policy: escalation node=%s is not registered: "
		    "escalations reach only their sender until it is "
		    "(batonctl node add)", is->node);
		break;
	case POLICY_ISSUE_ESCALATE_DISABLED:
		log_warnx("policy: escalation node=%s is disabled: escalations "
		    "reach only their sender until it is enabled (batonctl "
		    "node enable)", is->node);
		break;
	case POLICY_ISSUE_ESCALATE_UNREADABLE:
		log_warnx("policy: escalation node=%s has a registry record "
		    "that fails its check: escalations skip it (batonctl audit "
		    "verify)", is->node);
		break;
	case POLICY_ISSUE_ROLE_UNDECLARED:
		if (++w->roles > POLICY_IN_FORCE_WARN_MAX)
			break;
		log_warnx("policy: node=%s%s has role=%s, which the policy does "
		    "not declare: it can send and receive nothing (%s%s%s"
		    "batonctl node set-role, or declare the role)", is->node,
		    is->enabled ? "" : " (disabled)", is->role,
		    is->nearest != NULL ? "did you mean '" : "",
		    is->nearest != NULL ? is->nearest : "",
		    is->nearest != NULL ? "'? " : "");
		break;
	}
}

void
policy_in_force_apply(struct state *st, const char *data_dir,
    const char *source)
{
	struct warned w = { 0 };
	char err[1024];
	int rc;

	if (st->policy == NULL)
		return;
	if (policy_in_force_save(data_dir, source, st->policy, err,
	    sizeof(err)) == -1)
		log_warnx("policy: %s; until the next load, batonctl node add "
		    "and set-role need --policy FILE or --force", err);
	state_touch(st);
	rc = policy_in_force_check(st->store, st->policy, warn_issue, &w);
	if (rc != STORE_OK)
		log_warnx("policy: the registry cannot be read to check it "
		    "against the policy: %s", store_strerror(st->store));
	if (w.roles > POLICY_IN_FORCE_WARN_MAX)
		log_warnx("policy: %u more nodes have a role the policy does "
		    "not declare (batonctl node list)",
		    w.roles - POLICY_IN_FORCE_WARN_MAX);
}
