/*
 * policy_in_force.h - the policy the broker has in force, seen from
 * outside it: a copy in the data directory, and the registry checked
 * against it.
 *
 * The broker loads its policy at start and at every reload (policy.h);
 * then, in that order, it writes the exact text it parsed to
 * DATA/policy.in-force and warns about registry entries the policy cannot
 * serve (policy_in_force_apply). batonctl, which may run while the broker
 * does, or after it stopped, parses that copy to check a role before it
 * registers it: the copy says what the broker would apply, where the
 * policy file may have been edited since. No copy means the broker has
 * never loaded a policy with this data directory (a new deployment).
 *
 * The copy is written whole (atomicfile.h) or not at all; if it cannot be
 * written, the older copy is removed, so batonctl never checks against a
 * policy that is no longer in force.
 */
#ifndef BATON_POLICY_IN_FORCE_H
#define BATON_POLICY_IN_FORCE_H

#include <stddef.h>

#include "store.h"

struct policy;
struct state;

#define POLICY_IN_FORCE_FILE	"policy.in-force"

/*
 * Writes p's text (p->text) to data_dir/POLICY_IN_FORCE_FILE, mode 0600,
 * after three comment lines naming source (control bytes shown as '?').
 * Returns 0, or -1 with err set (and the older copy removed, or err
 * saying it could not be).
 */
int	policy_in_force_save(const char *data_dir, const char *source,
	    const struct policy *p, char *err, size_t errlen);

/*
 * Parses data_dir/POLICY_IN_FORCE_FILE. Returns the policy, or NULL with
 * err set: *missing is 1 when there is no copy (or no data directory),
 * 0 when there is one that cannot be read or parsed.
 */
struct policy	*policy_in_force_load(const char *data_dir, int *missing,
		    char *err, size_t errlen);

/* data_dir/POLICY_IN_FORCE_FILE into buf (cut at len), for messages. */
void	policy_in_force_path(const char *data_dir, char *buf, size_t len);

/* What policy_in_force_check finds; an admin can act on each. */
enum policy_issue_kind {
	POLICY_ISSUE_ESCALATE_MISSING,	/* an escalation node not registered */
	POLICY_ISSUE_ESCALATE_DISABLED,	/* one registered but disabled */
	POLICY_ISSUE_ESCALATE_UNREADABLE, /* one whose record fails its check */
	POLICY_ISSUE_ROLE_UNDECLARED,	/* a registered node's role is not
					   declared by the policy */
};

struct policy_issue {
	enum policy_issue_kind	 kind;
	const char		*node;
	const char		*role;		/* ROLE_UNDECLARED: its role */
	const char		*nearest;	/* ROLE_UNDECLARED: the declared
						   role nearest to it, or NULL */
	int			 enabled;	/* ROLE_UNDECLARED: the node's */
};

typedef void (*policy_issue_fn)(const struct policy_issue *, void *);

/*
 * Checks the registry against p in s's current transaction (read-only is
 * enough): each escalation node, in policy order, then each node in id
 * order; fn is called once per issue. Returns STORE_OK, or a store error
 * (the issues found before it were reported).
 */
int	policy_in_force_check(struct store *s, const struct policy *p,
	    policy_issue_fn fn, void *arg);

/*
 * The broker, once st->policy was loaded from source (at start, after
 * the event loop exists, and at each reload): saves the copy and logs one
 * warning per issue (at most POLICY_IN_FORCE_WARN_MAX nodes with an
 * undeclared role, then their count). Reads the registry in the pass's
 * transaction (state_touch). Never refuses anything.
 */
#define POLICY_IN_FORCE_WARN_MAX	16
void	policy_in_force_apply(struct state *st, const char *data_dir,
	    const char *source);

#endif
