/*
 * ctl_role.c - "node add" and "node set-role" check the role against the
 * policy in force before they register it (ctl_node.h).
 *
 * A role the policy does not declare can send and receive nothing, and
 * its node later meets a misleading ROUTE_NOT_ALLOWED; a typo is the
 * usual cause, so the refusal names the declared roles and the nearest
 * one. Which policy: the file given with --policy, else the copy the
 * broker keeps of the policy it loaded last (policy_in_force.h), so the
 * check follows what the broker applies, not a file edited since. With
 * neither (the broker has never run on this data directory: a new
 * deployment registering its first nodes) no policy is in force, so there
 * is nothing a role could contradict: the node is registered with a
 * warning that says how to have it checked (--policy), and batond warns
 * at its first start about any role its policy lacks. --force registers
 * an undeclared role, to pre-stage a node before the policy that declares
 * its role is loaded.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "ctl.h"
#include "ctl_node.h"
#include "policy.h"
#include "policy_in_force.h"

/*
 * The policy to check against, into *p (NULL when none is known),
 * and what it is, into from: "the policy FILE" or "the policy in force
 * (DATA/policy.in-force)". EXIT_SUCCESS, or EXIT_FAILURE printed.
 */
static int
role_policy(const char *data, const char *policy_file, struct policy **p,
    char *from, size_t fromlen)
{
	char err[8192], path[PATH_MAX];
	int missing;

	if (policy_file != NULL) {
		snprintf(from, fromlen, "the policy %s", policy_file);
		if ((*p = policy_load(policy_file, err, sizeof(err))) == NULL)
			return ctl_failx("the policy given has errors, so no "
			    "role can be checked against it:\n%s", err);
		return EXIT_SUCCESS;
	}
	policy_in_force_path(data, path, sizeof(path));
	snprintf(from, fromlen, "the policy in force (%s)", path);
	if ((*p = policy_in_force_load(data, &missing, err,
	    sizeof(err))) != NULL)
		return EXIT_SUCCESS;
	if (!missing)
		return ctl_failx("cannot read the copy of the policy in force "
		    "(give --policy FILE instead): %s", err);
	return EXIT_SUCCESS;
}

int
ctl_role_check(const char *data, const char *policy_file, const char *node,
    const char *role, int force)
{
	struct policy *p = NULL;
	const char *near;
	char from[PATH_MAX + 32], roles[POLICY_MAX_ROLES * (POLICY_ROLE_MAX + 2)];
	int r;

	if ((r = role_policy(data, policy_file, &p, from,
	    sizeof(from))) != EXIT_SUCCESS)
		return r;
	if (p == NULL) {
		fprintf(stderr, "batonctl: warning: no policy in force is known "
		    "for %s (batond has not loaded one with this data directory "
		    "yet), so role '%s' of node '%s' is not checked; give "
		    "--policy FILE, the policy batond will run with, to check "
		    "it\n", data, role, node);
		return EXIT_SUCCESS;
	}
	if (policy_role(p, role) != NULL) {
		policy_free(p);
		return EXIT_SUCCESS;
	}
	near = policy_nearest_role(p, role);
	policy_role_list(p, roles, sizeof(roles));
	if (force) {
		fprintf(stderr, "batonctl: warning: role '%s' is not declared by "
		    "%s; node '%s' can send and receive nothing until a policy "
		    "that declares it is loaded\n", role, from, node);
		r = EXIT_SUCCESS;
	} else
		r = ctl_failx("role '%s' is not declared by %s%s%s%s (declared "
		    "roles: %s; --force registers it anyway, to pre-stage a "
		    "role a coming policy declares)", role, from,
		    near != NULL ? ": did you mean '" : "",
		    near != NULL ? near : "", near != NULL ? "'?" : "", roles);
	policy_free(p);
	return r;
}
