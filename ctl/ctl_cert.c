/*
 * ctl_cert.c - batonctl's certificate commands: "ca init" and "cert issue".
 *
 * Arguments only: the CA's work and its files are certs/ca.c's.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ctl.h"
#include "validate.h"

_Static_assert(BATON_NODE_ID_MAX == 64, "CTL_NODE_ID_RULE states the limit");

#define MAX_SANS	32	/* --dns and --ip, each */

struct ca_init_args {
	const char	*dir;
	const char	*name;		/* NULL: host name */
	int		 days;
	int		 force;
};

static int
parse_ca_init(const struct command *c, int argc, char **argv,
    struct ca_init_args *a)
{
	static const struct option opts[] = {
		{ "dir",	required_argument,	NULL, 'd' },
		{ "name",	required_argument,	NULL, 'n' },
		{ "days",	required_argument,	NULL, 'D' },
		{ "force",	no_argument,		NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	int ch, r;

	memset(a, 0, sizeof(*a));
	a->days = CA_DEFAULT_CA_DAYS;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			a->dir = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 'D':
			r = ctl_parse_days(c, optarg, &a->days);
			if (r != PARSE_RUN)
				return r;
			break;
		case 'f':
			a->force = 1;
			break;
		default:
			if ((r = ctl_common_opt(c, ch, argv)) != PARSE_RUN)
				return r;
			return ctl_usage_error(c, "unexpected option");
		}
	}
	if ((r = ctl_no_operands(c, argc, argv)) != PARSE_RUN)
		return r;
	return ctl_need(c, a->dir, "--dir");
}

static int
run_ca_init(const struct ca_init_args *a)
{
	char err[1024];

	if (ca_init(a->dir, a->name, a->days, a->force, err,
	    sizeof(err)) == -1)
		return ctl_failx("%s", err);
	printf("created CA in %s: %s, %s (keep it secret), %s, %s\n", a->dir,
	    CA_CERT_FILE, CA_KEY_FILE, CA_CRL_FILE, CA_INDEX_FILE);
	return EXIT_SUCCESS;
}

int
ctl_ca_init(const struct command *c, int argc, char **argv)
{
	struct ca_init_args a;
	int r;

	if ((r = parse_ca_init(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_ca_init(&a);
}

/* ---- cert issue ---- */

struct cert_issue_args {
	const char	*ca;
	const char	*node;		/* a node certificate, or */
	int		 server;	/* a server certificate for: */
	const char	*dns[MAX_SANS];
	size_t		 n_dns;
	const char	*ip[MAX_SANS];
	size_t		 n_ip;
	const char	*out;
	int		 days;
	int		 force;
};

static int
parse_cert_issue(const struct command *c, int argc, char **argv,
    struct cert_issue_args *a)
{
	static const struct option opts[] = {
		{ "ca",		required_argument,	NULL, 'c' },
		{ "node",	required_argument,	NULL, 'n' },
		{ "server",	no_argument,		NULL, 's' },
		{ "dns",	required_argument,	NULL, 'N' },
		{ "ip",		required_argument,	NULL, 'i' },
		{ "out",	required_argument,	NULL, 'o' },
		{ "days",	required_argument,	NULL, 'D' },
		{ "force",	no_argument,		NULL, 'f' },
		{ "help",	no_argument,		NULL, 'h' },
		{ NULL,		0,			NULL, 0 }
	};
	int ch, r;

	memset(a, 0, sizeof(*a));
	a->days = CA_DEFAULT_LEAF_DAYS;
	while ((ch = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			a->ca = optarg;
			break;
		case 'n':
			a->node = optarg;
			break;
		case 's':
			a->server = 1;
			break;
		case 'N':
			if (a->n_dns == MAX_SANS)
				return ctl_usage_error(c, "at most %d --dns "
				    "names", MAX_SANS);
			a->dns[a->n_dns++] = optarg;
			break;
		case 'i':
			if (a->n_ip == MAX_SANS)
				return ctl_usage_error(c, "at most %d --ip "
				    "addresses", MAX_SANS);
			a->ip[a->n_ip++] = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'D':
			r = ctl_parse_days(c, optarg, &a->days);
			if (r != PARSE_RUN)
				return r;
			break;
		case 'f':
			a->force = 1;
			break;
		default:
			if ((r = ctl_common_opt(c, ch, argv)) != PARSE_RUN)
				return r;
			return ctl_usage_error(c, "unexpected option");
		}
	}
	if ((r = ctl_no_operands(c, argc, argv)) != PARSE_RUN ||
	    (r = ctl_need(c, a->ca, "--ca")) != PARSE_RUN ||
	    (r = ctl_need(c, a->out, "--out")) != PARSE_RUN)
		return r;
	if (a->server && a->node != NULL)
		return ctl_usage_error(c, "give either --node or --server, "
		    "not both");
	if (!a->server && a->node == NULL)
		return ctl_usage_error(c, "--node ID or --server is required");
	if (!a->server && (a->n_dns > 0 || a->n_ip > 0))
		return ctl_usage_error(c, "--dns and --ip go with --server "
		    "only");
	if (a->node != NULL && !validate_node_id(a->node))
		return ctl_usage_error(c, "invalid node id '%s': %s", a->node,
		    CTL_NODE_ID_RULE);
	if (a->server && a->n_dns == 0 && a->n_ip == 0)
		return ctl_usage_error(c, "--server needs at least one --dns "
		    "or --ip");
	return PARSE_RUN;
}

static int
run_cert_issue(const struct cert_issue_args *a)
{
	char err[1024];
	const char *stem;

	if (a->server) {
		if (ca_issue_server(a->ca, a->dns, a->n_dns, a->ip, a->n_ip,
		    a->out, a->days, a->force, err, sizeof(err)) == -1)
			return ctl_failx("%s", err);
		stem = "server";
	} else {
		if (ca_issue_node(a->ca, a->node, a->out, a->days, a->force,
		    err, sizeof(err)) == -1)
			return ctl_failx("%s", err);
		stem = a->node;
	}
	printf("issued %s/%s.crt and %s/%s.key, valid %d days\n", a->out,
	    stem, a->out, stem, a->days);
	return EXIT_SUCCESS;
}

int
ctl_cert_issue(const struct command *c, int argc, char **argv)
{
	struct cert_issue_args a;
	int r;

	if ((r = parse_cert_issue(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_cert_issue(&a);
}
