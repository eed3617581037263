/*
 * batonctl.c - the administration tool's entry point: the table of
 * commands, dispatch on the first two words, and the helpers every
 * command's parser shares (declared in ctl.h).
 *
 * Commands live one area per file: ctl_cert.c (CA, certificates, CRL),
 * ctl_node.c (the node registry), ctl_audit.c (the audit log, which
 * parses its own verbs). A new command is a row in commands[]
 * plus its entry point; nothing else here changes. A row with no verb is
 * a one-word command ("batonctl crl").
 *
 * The work itself is in certs/ca.c and broker/registry.c; these files only
 * talk to the person. Nothing here prints key material or dataset content.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "ca.h"
#include "ctl.h"
#include "ctl_audit.h"

static const char *progname = "batonctl";

/* "batonctl audit VERB ...": ctl_audit.c parses its own verbs and help. */
static int
audit_entry(const struct command *c, int argc, char **argv)
{
	return ctl_audit_main(argc, argv);
}

static const struct command commands[] = {
	{ "ca", "init", "--dir DIR [--name NAME] [--days N] [--force]",
	  "create a certificate authority",
	  "  --dir DIR     directory for ca.crt, ca.key, issued.txt, crl.pem "
	  "(created 0700)\n"
	  "  --name NAME   CA name: CN \"Baton CA NAME\" (default: host name)\n"
	  "  --days N      validity in days (default 3650)\n"
	  "  --force       replace an existing CA (its certificates stop "
	  "verifying)\n",
	  ctl_ca_init },
	{ "cert", "issue",
	  "--ca DIR --node ID --out DIR [--days N] [--force]\n"
	  "       batonctl cert issue --ca DIR --server --dns NAME "
	  "[--dns NAME...]\n"
	  "                           [--ip ADDR...] --out DIR [--days N] "
	  "[--force]",
	  "issue a node (client) or broker (server) certificate",
	  "  --ca DIR      the CA directory (from 'batonctl ca init')\n"
	  "  --node ID     node id; the certificate names urn:baton:node:ID\n"
	  "  --server      a broker certificate instead, for the names below\n"
	  "  --dns NAME    DNS name of the broker (repeatable)\n"
	  "  --ip ADDR     IPv4 or IPv6 address of the broker (repeatable)\n"
	  "  --out DIR     where to write ID.crt and ID.key, or server.crt "
	  "and server.key\n"
	  "  --days N      validity in days (default 365)\n"
	  "  --force       replace existing files\n",
	  ctl_cert_issue },
	{ "cert", "revoke",
	  "--ca DIR (--node ID | --serial S) [--reason REASON] "
	  "[--crl-days N]\n"
	  "                            [--data DIR]",
	  "revoke certificates and rewrite the CRL",
	  "  --ca DIR       the CA directory\n"
	  "  --node ID      revoke every unrevoked certificate issued to this "
	  "node\n"
	  "  --serial S     revoke the one certificate with this serial (hex, "
	  "as\n"
	  "                 'batonctl cert list' shows it)\n"
	  "  --reason R     unspecified (default), keyCompromise, "
	  "affiliationChanged,\n"
	  "                 superseded or cessationOfOperation\n"
	  "  --crl-days N   the new CRL's nextUpdate, in days (default 30)\n"
	  "  --data DIR     the broker's data directory: record the "
	  "revocation in\n"
	  "                 its audit log (opened first; no log, no "
	  "revocation)\n",
	  ctl_cert_revoke },
	{ "cert", "list", "--ca DIR [--json]",
	  "list the certificates the CA issued",
	  "  --ca DIR      the CA directory\n"
	  "  --json        one JSON object per line instead of a table\n",
	  ctl_cert_list },
	{ "crl", NULL, "--ca DIR [--crl-days N]",
	  "re-sign the CRL before it lapses (then no node gets in)",
	  "  --ca DIR       the CA directory\n"
	  "  --crl-days N   the new CRL's nextUpdate, in days (default 30)\n",
	  ctl_crl },
	{ "node", "add", "--data DIR --node ID --role ROLE [--org NAME]",
	  "register a node in the broker's registry",
	  "  --data DIR    the broker's data directory\n"
	  "  --node ID     node id, as in its certificate\n"
	  "  --role ROLE   its role, as named in policy.conf\n"
	  "  --org NAME    the organisation it belongs to\n",
	  ctl_node_add },
	{ "node", "list", "--data DIR [--json]",
	  "list the registered nodes",
	  "  --data DIR    the broker's data directory\n"
	  "  --json        one JSON object per line instead of a table\n",
	  ctl_node_list },
	{ "node", "set-role", "--data DIR --node ID --role ROLE",
	  "change a node's role",
	  "  --data DIR    the broker's data directory\n"
	  "  --node ID     the node\n"
	  "  --role ROLE   its new role, as named in policy.conf\n",
	  ctl_node_set_role },
	{ "node", "disable", "--data DIR --node ID",
	  "stop a node connecting; closes its sessions",
	  "  --data DIR    the broker's data directory\n"
	  "  --node ID     the node\n",
	  ctl_node_disable },
	{ "node", "enable", "--data DIR --node ID",
	  "let a disabled node connect again",
	  "  --data DIR    the broker's data directory\n"
	  "  --node ID     the node\n",
	  ctl_node_enable },
	{ "audit", NULL, "verify|head|list|export|archive --data DIR [OPTIONS]",
	  "verify, query, export and archive the audit log",
	  "  see 'batonctl audit --help'\n",
	  audit_entry },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

int
ctl_failx(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

/* "group verb", or "group" for a one-word command. */
static void
command_name(const struct command *c, char *buf, size_t len)
{
	if (c->verb == NULL)
		snprintf(buf, len, "%s", c->group);
	else
		snprintf(buf, len, "%s %s", c->group, c->verb);
}

static void
usage_lines(FILE *fp, const struct command *c)
{
	char name[32];

	command_name(c, name, sizeof(name));
	fprintf(fp, "usage: %s %s %s\n", progname, name, c->synopsis);
}

int
ctl_usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;
	char name[32];

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_lines(stderr, c);
	command_name(c, name, sizeof(name));
	fprintf(stderr, "Try '%s %s --help'.\n", progname, name);
	return EXIT_USAGE;
}

static void
help(const struct command *c)
{
	usage_lines(stdout, c);
	printf("\n%s.\n\n%s  -h, --help    show this help\n", c->summary,
	    c->options);
}

/* Lists the commands, all of them (group NULL) or one group's. */
static void
command_list(FILE *fp, const char *group)
{
	char name[32];
	size_t i;

	fprintf(fp, "usage: %s COMMAND [OPTIONS]\n\ncommands:\n", progname);
	for (i = 0; i < NCOMMANDS; i++) {
		if (group != NULL && strcmp(commands[i].group, group) != 0)
			continue;
		command_name(&commands[i], name, sizeof(name));
		fprintf(fp, "  %-14s  %s\n", name, commands[i].summary);
	}
	fprintf(fp, "\nRun '%s COMMAND --help' for a command's options.\n",
	    progname);
}

int
ctl_common_opt(const struct command *c, int ch, char **argv)
{
	switch (ch) {
	case 'h':
		help(c);
		return PARSE_HELP;
	case ':':
		return ctl_usage_error(c, "option '%s' needs a value",
		    argv[optind - 1]);
	case '?':
		if (optopt != 0)
			return ctl_usage_error(c, "unknown option '-%c'",
			    optopt);
		return ctl_usage_error(c, "unknown option '%s'",
		    argv[optind - 1]);
	}
	return PARSE_RUN;
}

int
ctl_no_operands(const struct command *c, int argc, char **argv)
{
	if (optind < argc)
		return ctl_usage_error(c, "unexpected argument '%s'",
		    argv[optind]);
	return PARSE_RUN;
}

int
ctl_parse_int(const struct command *c, const char *opt, const char *s,
    int min, int max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < min || v > max)
		return ctl_usage_error(c, "%s wants a number from %d to %d, "
		    "not '%s'", opt, min, max, s);
	*out = (int)v;
	return PARSE_RUN;
}

int
ctl_parse_days(const struct command *c, const char *s, int *out)
{
	return ctl_parse_int(c, "--days", s, 1, CA_MAX_DAYS, out);
}

int
ctl_need(const struct command *c, const char *value, const char *opt)
{
	if (value == NULL || value[0] == '\0')
		return ctl_usage_error(c, "%s is required", opt);
	return PARSE_RUN;
}

int
ctl_parse_exit(int r)
{
	return r == PARSE_HELP ? EXIT_SUCCESS : r;
}

static int
is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
	    strcmp(arg, "help") == 0;
}

int
main(int argc, char *argv[])
{
	const struct command *c;
	size_t i;
	int group_known = 0;

	if (argc < 2) {
		command_list(stderr, NULL);
		return EXIT_USAGE;
	}
	if (is_help(argv[1])) {
		command_list(stdout, NULL);
		return EXIT_SUCCESS;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].group, argv[1]) == 0)
			group_known = 1;
	if (!group_known) {
		ctl_failx("unknown command '%s'", argv[1]);
		command_list(stderr, NULL);
		return EXIT_USAGE;
	}
	/* A one-word command takes everything after it as its options. */
	for (i = 0; i < NCOMMANDS; i++) {
		c = &commands[i];
		if (c->verb != NULL || strcmp(c->group, argv[1]) != 0)
			continue;
		optind = 0;
		opterr = 0;
		return c->main(c, argc - 1, argv + 1);
	}
	if (argc < 3 || is_help(argv[2])) {
		command_list(argc < 3 ? stderr : stdout, argv[1]);
		return argc < 3 ? EXIT_USAGE : EXIT_SUCCESS;
	}
	for (i = 0; i < NCOMMANDS; i++) {
		c = &commands[i];
		if (c->verb == NULL || strcmp(c->group, argv[1]) != 0 ||
		    strcmp(c->verb, argv[2]) != 0)
			continue;
		/* The verb stands in for argv[0]; GNU getopt restarts at 0. */
		optind = 0;
		opterr = 0;
		return c->main(c, argc - 2, argv + 2);
	}
	ctl_failx("unknown command '%s %s'", argv[1], argv[2]);
	command_list(stderr, argv[1]);
	return EXIT_USAGE;
}

int64_t
ctl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
