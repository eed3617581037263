/*
 * ctl_node.h - what batonctl's node commands share: opening the broker's
 * store for a change and recording it (ctl_node.c), checking a role
 * against the policy in force (ctl_role.c), and what is known of each
 * node's certificates (ctl_certview.c). "node remove" is
 * ctl_node_remove.c.
 */
#ifndef BATON_CTL_NODE_H
#define BATON_CTL_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "ca.h"
#include "validate.h"

struct audit;
struct registry_node;
struct store;

/*
 * Opens the audit keys (created if missing) and the store in dir with a
 * write transaction begun. EXIT_SUCCESS, or EXIT_FAILURE printed with
 * nothing left open.
 */
int	ctl_node_open_change(const char *dir, struct audit **au,
	    struct store **s);

/*
 * Reads node into n in the open transaction of the store in dir.
 * EXIT_SUCCESS, or EXIT_FAILURE printed (no such node, or why it cannot
 * be read) with the transaction ended.
 */
int	ctl_node_get(struct store *s, const char *dir, const char *node,
	    struct registry_node *n);

/*
 * Ends the open write transaction of a change to node. When r, the
 * outcome of the registry write, is STORE_OK, records the change (change:
 * "role cmht -> gp", "removed ...") with the operator's uid and commits
 * both; otherwise, or when the record fails, aborts: a change never
 * commits without its record. Returns STORE_OK or the error, and *why
 * the reason to print for one: "the store is full", the audit log's or
 * the store's.
 */
int	ctl_node_commit(struct audit *au, struct store *s, int r,
	    const char *node, const char *change, const char **why);

/*
 * What ctl_node_commit does with any change's audit record: when r is
 * STORE_OK, appends ev at now and commits both; otherwise, or when the
 * record fails, aborts. Returns STORE_OK or the error, and *why as there.
 */
struct audit_event;
int	ctl_change_commit(struct audit *au, struct store *s, int r,
	    const struct audit_event *ev, int64_t now, const char **why);

/*
 * Whether role may be given to node (ctl_role.c). The policy is
 * policy_file when given, else the copy of the policy in force that the
 * broker keeps in data. An undeclared role is refused, naming the
 * declared roles and the nearest; with force it is accepted with a
 * warning. With no policy known (no --policy, no copy: a new deployment)
 * the role is registered unchecked with a warning. Returns EXIT_SUCCESS,
 * or EXIT_FAILURE printed.
 */
int	ctl_role_check(const char *data, const char *policy_file,
	    const char *node, const char *role, int force);

/* ---- what is known of node certificates (ctl_certview.c) ---- */

enum cert_state {
	CERT_CURRENT,		/* neither revoked nor expired, as far as
				   the source knows */
	CERT_EXPIRED,
	CERT_REVOKED,
};

struct node_cert {
	char		 serial[CA_SERIAL_HEX_MAX + 1];
	enum cert_state	 state;
	char		 not_after[CA_TIME_LEN + 1];	/* "" unknown */
	char		 revoked_at[CA_TIME_LEN + 1];	/* "" unless revoked */
	int		 seen;		/* the broker recorded a connection
					   with it (audit log only) */
	int64_t		 expires_ms;	/* 0 unknown (audit log only) */
};

struct node_certs {
	char		 node[BATON_NODE_ID_MAX + 1];
	struct node_cert *v;
	size_t		 n, cap;
};

struct cert_view {
	struct node_certs *nodes;
	size_t		 n, cap;
	int		 from_ca;	/* 1: the CA's files; 0: the audit log */
};

/*
 * Every node certificate the CA in cadir issued, by node: EXIT_SUCCESS,
 * or EXIT_FAILURE printed (free v either way).
 */
int	ctl_certview_ca(const char *cadir, struct cert_view *v);

/*
 * What the broker's audit log says of node certificates: issued and
 * revoked ones recorded by "cert issue|revoke|renew --data"
 * (certificate_changed) and the ones the broker saw connect
 * (connection_accepted, with the serial). Walks the whole log in a read
 * transaction of its own (none may be open on s). EXIT_SUCCESS, or
 * EXIT_FAILURE printed (free v either way).
 */
int	ctl_certview_audit(struct store *s, struct cert_view *v);

/* node's certificates in v, or NULL when none is known. */
const struct node_certs *ctl_certview_node(const struct cert_view *v,
	    const char *node);

/* n's certificate with serial (upper-case hex), or NULL. */
const struct node_cert *ctl_certview_cert(const struct node_certs *n,
	    const char *serial);

/* "1 current, 1 revoked": the counts by state, or "-" for none. */
void	ctl_certview_summary(const struct node_certs *n, char *buf,
	    size_t len);

/* "current", "expired", "revoked". */
const char *ctl_certview_state_name(enum cert_state st);

void	ctl_certview_free(struct cert_view *v);

#endif
