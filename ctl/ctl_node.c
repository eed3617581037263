/*
 * ctl_node.c - batonctl's registry commands: "node add", "node list",
 * "node set-role", "node disable" and "node enable" ("node remove" is
 * ctl_node_remove.c), and the helpers they share (ctl_node.h).
 *
 * They open the broker's store directly (LMDB is multi-process, so the
 * broker may be running) in one short transaction each: a write for add
 * and the changes (read, check, write back, commit: nothing in between
 * can interleave), a read for list, ended before anything is printed.
 * Records read back are treated as input: control bytes never reach the
 * terminal. A running broker sees a change at its next registry check
 * (every 2 s for live sessions, and at every handshake).
 *
 * Every change is audited (AUDIT_NODE_CHANGED, actor "batonctl", with the
 * operator's uid) in the same write transaction as the change itself: the
 * two commit together or not at all. The audit keys are opened before the
 * transaction begins and created, like the store, if this runs before the
 * broker ever has.
 *
 * A role is checked against the policy in force before the store is
 * opened (ctl_role.c). "node list" adds what is known of each node's
 * certificates: from the CA with --ca, else from the audit log
 * (ctl_certview.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_node.h"
#include "ctl_opts.h"
#include "growarray.h"
#include "policy_in_force.h"
#include "registry.h"
#include "store.h"
#include "validate.h"

struct node_add_args {
	const char	*data;
	const char	*node;
	const char	*role;
	const char	*org;		/* "" when not given */
	const char	*policy;	/* check the role against it, not the
					   policy in force; NULL: not given */
	int		 force;		/* register an unchecked role */
};

/* --policy and --force of add and set-role: the same words for both. */
#define ROLE_POLICY_HELP \
	"check the role against this policy file instead of the one\n" \
	"the broker has in force (DIR/" POLICY_IN_FORCE_FILE "); before\n" \
	"the broker's first start there is none, and the role is only\n" \
	"checked if this is given"
#define ROLE_FORCE_HELP \
	"register a role the policy does not declare (to pre-stage a\n" \
	"node for a coming policy; it can do nothing until then), or\n" \
	"with no policy known at all"



/* The node id and (unless NULL) the role: PARSE_RUN or EXIT_USAGE. */
static int
check_node_role(const struct command *c, const char *node, const char *role)
{
	if (ctl_opts_node_id(c, node) != PARSE_RUN)
		return EXIT_USAGE;
	if (role != NULL && !registry_valid_role(role))
		return ctl_usage_error(c, CTL_ROLE_RULE_FMT, role,
		    REGISTRY_ROLE_MAX);
	return PARSE_RUN;
}

static int
parse_node_add(const struct command *c, int argc, char **argv,
    struct node_add_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help = "node id, as in its certificate",
		  .required = 1 },
		{ CTL_STRING("role", "ROLE", &a->role),
		  .help = "its role, as named in policy.conf",
		  .required = 1 },
		{ CTL_STRING("org", "NAME", &a->org),
		  .help = "the organisation it belongs to" },
		{ CTL_STRING("policy", "FILE", &a->policy),
		  .help = ROLE_POLICY_HELP },
		{ CTL_FLAG("force", &a->force),
		  .help = ROLE_FORCE_HELP },
	};
	int r;

	memset(a, 0, sizeof(*a));
	a->org = "";
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	if ((r = check_node_role(c, a->node, a->role)) != PARSE_RUN)
		return r;
	if (strlen(a->org) > REGISTRY_ORG_MAX)
		return ctl_usage_error(c, "organisation name is longer than %d "
		    "bytes", REGISTRY_ORG_MAX);
	if (!ctl_printable_utf8(a->org))
		return ctl_usage_error(c, "organisation name must be UTF-8 "
		    "text without control characters");
	return PARSE_RUN;
}

int
ctl_node_open_change(const char *dir, struct audit **au, struct store **s)
{
	if (ctl_data_audit_open(dir, 1, au) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (ctl_data_begin(dir, 0, s) != EXIT_SUCCESS) {
		audit_close(*au);
		*au = NULL;
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

/* The audit record of a change to node, with the operator's uid. */
static void
node_event(struct audit_event *ev, const char *node, const char *change,
    char *reason, size_t len)
{
	char who[96];

	ctl_caller(who, sizeof(who));
	snprintf(reason, len, "%s uid=%s", change, who);
	memset(ev, 0, sizeof(*ev));
	ev->event = AUDIT_NODE_CHANGED;
	ev->actor = "batonctl";
	ev->other = node;
	ev->outcome = "ok";
	ev->reason = reason;
}

int
ctl_change_commit(struct audit *au, struct store *s, int r,
    const struct audit_event *ev, int64_t now, const char **why)
{
	const char *what = "";

	if (r == STORE_OK && (r = audit_append(au, s, ev, now)) != STORE_OK)
		what = audit_strerror(au);
	if (r == STORE_OK)
		r = store_commit(s);
	else
		store_abort(s);
	if (r == STORE_OK)
		*why = "";
	else
		*why = r == STORE_FULL ? "the store is full" : what != NULL &&
		    what[0] != '\0' ? what : store_strerror(s);
	return r;
}

int
ctl_node_commit(struct audit *au, struct store *s, int r, const char *node,
    const char *change, const char **why)
{
	struct audit_event ev;
	char reason[256];

	node_event(&ev, node, change, reason, sizeof(reason));
	return ctl_change_commit(au, s, r, &ev, clockms_wall(), why);
}

int
ctl_node_get(struct store *s, const char *dir, const char *node,
    struct registry_node *n)
{
	int r;

	if ((r = registry_get(s, node, n)) == STORE_OK)
		return EXIT_SUCCESS;
	store_abort(s);
	if (r == STORE_NOTFOUND)
		return ctl_failx("no node '%s' in the registry in %s", node,
		    dir);
	return ctl_failx("cannot read node '%s' from %s: %s", node, dir,
	    r == STORE_CORRUPT ? "its record is corrupt" : store_strerror(s));
}

static int
run_node_add(const struct node_add_args *a)
{
	struct registry_node n;
	struct audit *au;
	struct store *s;
	char change[REGISTRY_ROLE_MAX + 16];
	const char *why;
	int r;

	memset(&n, 0, sizeof(n));
	snprintf(n.node_id, sizeof(n.node_id), "%s", a->node);
	snprintf(n.role, sizeof(n.role), "%s", a->role);
	snprintf(n.organisation, sizeof(n.organisation), "%s", a->org);
	n.enabled = 1;
	snprintf(change, sizeof(change), "added role=%s", a->role);
	if (ctl_role_check(a->data, a->policy, a->node, a->role, a->force) !=
	    EXIT_SUCCESS ||
	    ctl_node_open_change(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	/* The node and its audit record commit together or not at all. */
	r = ctl_node_commit(au, s, registry_add(s, &n, clockms_wall()),
	    a->node, change, &why);
	switch (r) {
	case STORE_OK:
		break;
	case STORE_EXISTS:
		r = ctl_failx("node '%s' already exists", a->node);
		goto done;
	case STORE_FULL:
		r = ctl_failx("cannot add node '%s': the store in %s is full",
		    a->node, a->data);
		goto done;
	default:
		r = ctl_failx("cannot add node '%s' to %s: %s", a->node,
		    a->data, why);
		goto done;
	}
	printf("added node '%s' with role '%s'\n", a->node, a->role);
	r = EXIT_SUCCESS;
done:
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_node_add(const struct command *c, int argc, char **argv)
{
	struct node_add_args a;
	int r;

	if ((r = parse_node_add(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_node_add(&a);
}

/* ---- node list ---- */

struct node_list_args {
	const char	*data;
	const char	*ca;		/* the CA's view of certificates, or
					   NULL: the audit log's */
	int		 json;
};

#define COLLECT_NOMEM	100	/* collect_node's stop: no STORE_* code */

struct node_array {
	struct registry_node	*v;
	size_t			 n, cap;
};

static int
parse_node_list(const struct command *c, int argc, char **argv,
    struct node_list_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_STRING("ca", "DIR", &a->ca),
		  .help = "the CA directory: each node's certificates as the "
		  "CA\nknows them (current, expired or revoked)" },
		{ CTL_FLAG("json", &a->json),
		  .help = "one JSON object per line instead of a table" },
		{ CTL_TEXT, .help =
		  "\nCERTIFICATES counts each node's certificates by state. With "
		  "--ca they\nare the CA's own records. Without it they are what "
		  "the broker's audit\nlog holds: certificates issued, renewed or "
		  "revoked with --data DIR,\nand those the broker accepted a "
		  "connection with; a revocation made\nwithout --data is not "
		  "known there, and \"current\" means only that none\nwas "
		  "recorded (expiry is known for those issued with --data).\n" },
	};

	memset(a, 0, sizeof(*a));
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

static int
collect_node(const struct registry_node *n, void *arg)
{
	struct node_array *a = arg;
	struct registry_node *v;

	if ((v = growarray_push(&a->v, &a->n, &a->cap, sizeof(*v))) == NULL)
		return COLLECT_NOMEM;
	*v = *n;
	return 0;
}

/* A node's certificates as a JSON array; NULL when out of memory. */
static json_t *
certs_json(const struct node_certs *nc, int from_ca)
{
	const struct node_cert *c;
	json_t *a, *o;
	size_t i;

	if ((a = json_array()) == NULL)
		return NULL;
	for (i = 0; nc != NULL && i < nc->n; i++) {
		c = &nc->v[i];
		o = json_pack("{s:s, s:s, s:s?, s:s?}", "serial", c->serial,
		    "state", ctl_certview_state_name(c->state),
		    "not_after", c->not_after[0] != '\0' ? c->not_after : NULL,
		    "revoked_at", c->revoked_at[0] != '\0' ? c->revoked_at :
		    NULL);
		if (o != NULL && !from_ca &&
		    json_object_set_new(o, "seen", json_boolean(c->seen)) != 0) {
			json_decref(o);
			o = NULL;
		}
		if (o == NULL || json_array_append_new(a, o) != 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static int
print_json(const struct registry_node *n, const struct cert_view *cv)
{
	char created[32];
	json_t *o, *certs;

	ctl_iso_time(n->created_at_ms, created, sizeof(created));
	if ((certs = certs_json(ctl_certview_node(cv, n->node_id),
	    cv->from_ca)) == NULL)
		return ctl_failx("out of memory");
	o = json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:I, s:o, s:s}",
	    "node", n->node_id, "role", n->role,
	    "organisation", n->organisation, "enabled", n->enabled,
	    "created", created, "created_at_ms", (json_int_t)n->created_at_ms,
	    "updated_at_ms", (json_int_t)n->updated_at_ms,
	    "certificates", certs,
	    "certificates_from", cv->from_ca ? "ca" : "audit log");
	if (o == NULL)
		return ctl_failx("node '%s': a field is not valid UTF-8",
		    n->node_id);
	return ctl_json_put(o, JSON_COMPACT);
}

static void
print_table(struct node_array *a, const struct cert_view *cv)
{
	int wn = 4, wr = 4, wo = 12, wc = 12;	/* the headers' widths */
	char created[32], certs[64];
	struct registry_node *n;
	size_t i;

	for (i = 0; i < a->n; i++) {
		n = &a->v[i];
		ctl_sanitise(n->node_id);
		ctl_sanitise(n->role);
		ctl_sanitise(n->organisation);
		if (n->organisation[0] == '\0')
			snprintf(n->organisation, sizeof(n->organisation), "-");
		if ((int)strlen(n->node_id) > wn)
			wn = (int)strlen(n->node_id);
		if ((int)strlen(n->role) > wr)
			wr = (int)strlen(n->role);
		if ((int)strlen(n->organisation) > wo)
			wo = (int)strlen(n->organisation);
		ctl_certview_summary(ctl_certview_node(cv, n->node_id), certs,
		    sizeof(certs));
		if ((int)strlen(certs) > wc)
			wc = (int)strlen(certs);
	}
	printf("%-*s  %-*s  %-*s  %-7s  %-*s  %s\n", wn, "NODE", wr, "ROLE",
	    wo, "ORGANISATION", "ENABLED", wc, "CERTIFICATES", "CREATED");
	for (i = 0; i < a->n; i++) {
		n = &a->v[i];
		ctl_iso_time(n->created_at_ms, created, sizeof(created));
		ctl_certview_summary(ctl_certview_node(cv, n->node_id), certs,
		    sizeof(certs));
		printf("%-*s  %-*s  %-*s  %-7s  %-*s  %s\n", wn, n->node_id, wr,
		    n->role, wo, n->organisation, n->enabled ? "yes" : "no", wc,
		    certs, created);
	}
	printf("(certificates: %s)\n", cv->from_ca ? "as the CA records them" :
	    "as the audit log records them; --ca DIR for the CA's view");
}

/* The registry's nodes into *nodes; the transaction is ended. */
static int
read_nodes(const char *data, struct store *s, struct node_array *nodes)
{
	int r;

	r = registry_each(s, collect_node, nodes);
	/* Copy out, then end the read transaction before anything else. */
	store_abort(s);
	if (r == COLLECT_NOMEM)
		return ctl_failx("out of memory");
	if (r != STORE_OK)
		return ctl_failx("cannot list the nodes in %s: %s", data,
		    r == STORE_CORRUPT ? "a node record is corrupt" :
		    store_strerror(s));
	return EXIT_SUCCESS;
}

static int
run_node_list(const struct node_list_args *a)
{
	struct node_array nodes = { NULL, 0, 0 };
	struct cert_view cv;
	struct store *s;
	size_t i;
	int r;

	memset(&cv, 0, sizeof(cv));
	if (ctl_data_begin(a->data, 1, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if ((r = read_nodes(a->data, s, &nodes)) != EXIT_SUCCESS)
		goto done;
	r = a->ca != NULL ? ctl_certview_ca(a->ca, &cv) :
	    ctl_certview_audit(s, &cv);
	if (r != EXIT_SUCCESS)
		goto done;
	if (a->json) {
		for (i = 0; i < nodes.n; i++)
			if ((r = print_json(&nodes.v[i], &cv)) != EXIT_SUCCESS)
				goto done;
	} else
		print_table(&nodes, &cv);
	r = fflush(stdout) == EOF ? ctl_failx("cannot write the list: %s",
	    strerror(errno)) : EXIT_SUCCESS;
done:
	ctl_certview_free(&cv);
	free(nodes.v);
	store_close(s);
	return r;
}

int
ctl_node_list(const struct command *c, int argc, char **argv)
{
	struct node_list_args a;
	int r;

	if ((r = parse_node_list(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_node_list(&a);
}

/* ---- node set-role, disable, enable ---- */

enum node_change {
	CHANGE_ROLE,
	CHANGE_DISABLE,
	CHANGE_ENABLE,
};

struct node_change_args {
	enum node_change	 what;
	const char		*data;
	const char		*node;
	const char		*role;		/* CHANGE_ROLE only, */
	const char		*policy;	/* as in node add */
	int			 force;
};

static int
parse_node_change(const struct command *c, int argc, char **argv,
    struct node_change_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help = "the node",
		  .required = 1 },
		{ CTL_STRING("role", "ROLE", &a->role),
		  .help = "its new role, as named in policy.conf",
		  .required = 1, .only = CTL_NODE_SET_ROLE },
		{ CTL_STRING("policy", "FILE", &a->policy),
		  .help = ROLE_POLICY_HELP, .only = CTL_NODE_SET_ROLE },
		{ CTL_FLAG("force", &a->force),
		  .help = ROLE_FORCE_HELP, .only = CTL_NODE_SET_ROLE },
	};
	int r;

	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	return check_node_role(c, a->node, a->role);
}

/*
 * Applies a's change to n. Returns 1 if n changed, 0 if it already was
 * so; reason gets the audit reason ("role cmht -> gp", "disabled").
 */
static int
apply_change(const struct node_change_args *a, struct registry_node *n,
    char *reason, size_t len)
{
	switch (a->what) {
	case CHANGE_ROLE:
		if (strcmp(n->role, a->role) == 0)
			return 0;
		snprintf(reason, len, "role %s -> %s", n->role, a->role);
		snprintf(n->role, sizeof(n->role), "%s", a->role);
		return 1;
	case CHANGE_DISABLE:
		if (!n->enabled)
			return 0;
		n->enabled = 0;
		snprintf(reason, len, "disabled");
		return 1;
	case CHANGE_ENABLE:
		if (n->enabled)
			return 0;
		n->enabled = 1;
		snprintf(reason, len, "enabled");
		return 1;
	}
	return 0;
}

static int
run_node_change(const struct node_change_args *a)
{
	struct registry_node n;
	struct audit *au;
	struct store *s;
	char reason[REGISTRY_ROLE_MAX * 2 + 16];
	const char *why;
	int r;

	if (ctl_data_exists(a->data) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (a->what == CHANGE_ROLE && ctl_role_check(a->data, a->policy,
	    a->node, a->role, a->force) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (ctl_node_open_change(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if ((r = ctl_node_get(s, a->data, a->node, &n)) != EXIT_SUCCESS)
		goto done;
	if (apply_change(a, &n, reason, sizeof(reason)) == 0) {
		store_abort(s);
		if (a->what == CHANGE_ROLE)
			printf("node '%s' already has role '%s'\n", a->node,
			    a->role);
		else
			printf("node '%s' is already %s\n", a->node,
			    a->what == CHANGE_DISABLE ? "disabled" : "enabled");
		r = EXIT_SUCCESS;
		goto done;
	}
	if (ctl_node_commit(au, s, registry_update(s, &n, clockms_wall()),
	    a->node, reason, &why) != STORE_OK) {
		r = ctl_failx("cannot change node '%s' in %s: %s", a->node,
		    a->data, why);
		goto done;
	}
	printf("node '%s': %s\n", a->node, reason);
	r = EXIT_SUCCESS;
done:
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_node_change(const struct command *c, int argc, char **argv)
{
	struct node_change_args a;
	int r;

	memset(&a, 0, sizeof(a));
	a.what = c->id == CTL_NODE_SET_ROLE ? CHANGE_ROLE :
	    c->id == CTL_NODE_DISABLE ? CHANGE_DISABLE : CHANGE_ENABLE;
	if ((r = parse_node_change(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_node_change(&a);
}
