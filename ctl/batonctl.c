/*
 * batonctl.c - the administration tool's entry point: the table of
 * commands, dispatch on the first two words, and the helpers every
 * command shares (declared in ctl.h).
 *
 * Commands live one area per file: ctl_cert.c (CA, certificates, CRL),
 * ctl_renew.c (certificate renewal), ctl_node.c and ctl_node_remove.c
 * (the node registry), ctl_agreement.c (data-sharing agreements
 * between organisations), ctl_audit.c (the audit log),
 * ctl_reload.c (reloading the running broker), ctl_queue.c and
 * ctl_sessions.c (what the broker holds and who is connected). Each
 * reads its options through one table for ctl_opts.c, which also prints
 * its --help. A new command is a row in commands[] plus its entry point;
 * nothing else here changes. A row with no verb is a one-word command
 * ("batonctl crl").
 *
 * The work itself is in certs/ca.c and broker/state/ (registry, audit);
 * these files only talk to the person. Nothing here prints key material
 * or dataset content.
 */
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "ctl.h"
#include "validate.h"
#include "version.h"

static const char *progname = "batonctl";

/* Each command's options and their help are its file's option table. */
static const struct command commands[] = {
	{ "ca", "init", "--dir DIR [--name NAME] [--days N] [--force]",
	  "create a certificate authority", ctl_ca_init, 0 },
	{ "cert", "issue",
	  "--ca DIR --node ID --out DIR [--days N] [--force]\n"
	  "       batonctl cert issue --ca DIR --server --dns NAME "
	  "[--dns NAME...]\n"
	  "                           [--ip ADDR...] --out DIR [--days N] "
	  "[--force]",
	  "issue a node (client) or broker (server) certificate",
	  ctl_cert_issue, 0 },
	{ "cert", "revoke",
	  "--ca DIR (--node ID | --serial S) [--reason REASON] "
	  "[--crl-days N]\n"
	  "                            [--data DIR]",
	  "revoke certificates and rewrite the CRL", ctl_cert_revoke, 0 },
	{ "cert", "list", "--ca DIR [--json]",
	  "list the certificates the CA issued", ctl_cert_list, 0 },
	{ "cert", "renew",
	  "--ca DIR --node ID --out DIR [--days N] [--force] "
	  "[--data DIR]\n"
	  "       batonctl cert renew --ca DIR --finish --data DIR [--node ID]",
	  "replace a node's certificate; the old one is revoked once the "
	  "new one connected", ctl_cert_renew, 0 },
	{ "crl", NULL,
	  "--ca DIR [--crl-days N] [--data DIR] [--copy-to FILE]",
	  "re-sign the CRL before it lapses (then no node gets in)", ctl_crl,
	  0 },
	{ "node", "add",
	  "--data DIR --node ID --role ROLE [--org NAME] [--policy FILE]\n"
	  "                     [--force]",
	  "register a node in the broker's registry", ctl_node_add, 0 },
	{ "node", "list", "--data DIR [--ca DIR] [--json]",
	  "list the registered nodes and their certificates", ctl_node_list,
	  0 },
	{ "node", "set-role",
	  "--data DIR --node ID --role ROLE [--policy FILE] [--force]",
	  "change a node's role", ctl_node_change, CTL_NODE_SET_ROLE },
	{ "node", "disable", "--data DIR --node ID",
	  "stop a node connecting; closes its sessions", ctl_node_change,
	  CTL_NODE_DISABLE },
	{ "node", "enable", "--data DIR --node ID",
	  "let a disabled node connect again", ctl_node_change,
	  CTL_NODE_ENABLE },
	{ "node", "remove", "--data DIR --node ID [--force]",
	  "take a node out of the registry; its history stays",
	  ctl_node_remove, 0 },
	{ "agreement", "add",
	  "--data DIR --between ORG --and ORG --ref DOCUMENT\n"
	  "                          --from DATE --until DATE "
	  "[--sections NAME[,NAME...]]",
	  "record a data-sharing agreement between two organisations",
	  ctl_agreement_add, 0 },
	{ "agreement", "list", "--data DIR [--json] [--all]",
	  "show the agreements: pending, in force (ended, lapsed: --all)",
	  ctl_agreement_list, 0 },
	{ "agreement", "end", "--data DIR --id ag-N [--reason TEXT]",
	  "end an agreement early; its routes' handovers are held",
	  ctl_agreement_end, 0 },
	{ "audit", "verify",
	  "[--data DIR] [--archive FILE...] [--pubkey FILE]\n"
	  "                      [--expect-head SEQ:HASH | HASH]",
	  "check the whole log (and archives): chain, checkpoint signatures, "
	  "anchor", ctl_audit, CTL_AUDIT_VERIFY },
	{ "audit", "head", "--data DIR",
	  "print the head as SEQ:HASH, to keep elsewhere as an anchor",
	  ctl_audit, CTL_AUDIT_HEAD },
	{ "audit", "list", "--data DIR [FILTERS]",
	  "show matching records as a table (the read is audited)", ctl_audit,
	  CTL_AUDIT_LIST },
	{ "audit", "export", "--data DIR --format csv|jsonl [FILTERS]",
	  "write matching records as CSV or JSON Lines (the read is "
	  "audited)", ctl_audit, CTL_AUDIT_EXPORT },
	{ "audit", "trail",
	  "--data DIR (--subject NHS|- | --message ID...)\n"
	  "                      [--since T] [--until T] [--json]",
	  "a person's handovers as a readable timeline (the read is "
	  "audited)", ctl_audit, CTL_AUDIT_TRAIL },
	{ "audit", "archive",
	  "--data DIR --out FILE (--before T | --upto SEQ)\n"
	  "                      [--keep-days N] [--pubkey FILE] [--dry-run]",
	  "move the oldest records to a verifiable file (audited)", ctl_audit,
	  CTL_AUDIT_ARCHIVE },
	{ "reload", NULL, "--data DIR [--timeout SECONDS]",
	  "reload the running broker; exit 1 if it refused", ctl_reload, 0 },
	{ "report", NULL,
	  "--data DIR --since T --until T [--policy FILE]\n"
	  "                       [--format table|csv|html] [--out FILE]",
	  "governance report: times, on time, bouncing (audited)",
	  ctl_report, 0 },
	{ "queue", NULL, "--data DIR [--node ID] [--json]",
	  "show what waits for each node: depth, age, undecided, overdue",
	  ctl_queue, 0 },
	{ "sessions", NULL, "--data DIR [--json]",
	  "show the running broker's sessions; exit 3 if none runs",
	  ctl_sessions, 0 },
};

#define NCOMMANDS	(sizeof(commands) / sizeof(commands[0]))

int
ctl_printable_utf8(const char *s)
{
	const unsigned char *p;
	json_t *j;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return 0;
	/* jansson refuses a string that is not UTF-8: let it check. */
	if ((j = json_string(s)) == NULL)
		return 0;
	json_decref(j);
	return 1;
}

void
ctl_sanitise(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

void
ctl_duration(int64_t ms, char *buf, size_t len)
{
	long long s = ms / 1000;

	if (ms < 0)
		snprintf(buf, len, "-");
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lldh%02lldm", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
}

void
ctl_iso_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (ms <= 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "-");
}

int
ctl_json_put(json_t *doc, size_t flags)
{
	char *text;

	text = json_dumps(doc, flags | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (text == NULL)
		return ctl_failx("out of memory");
	puts(text);
	free(text);
	return EXIT_SUCCESS;
}

void
ctl_caller(char *buf, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	const char *name = NULL;

	if (pw != NULL && validate_node_id(pw->pw_name))
		name = pw->pw_name;	/* a plain login name, safe to keep */
	snprintf(buf, len, "%ld%s%s%s", (long)getuid(), name != NULL ?
	    "(" : "", name != NULL ? name : "", name != NULL ? ")" : "");
}

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
		ctl_command_name(&commands[i], name, sizeof(name));
		fprintf(fp, "  %-14s  %s\n", name, commands[i].summary);
	}
	fprintf(fp, "\nRun '%s COMMAND --help' for a command's options.\n",
	    progname);
}

void
ctl_command_name(const struct command *c, char *buf, size_t len)
{
	if (c->verb == NULL)
		snprintf(buf, len, "%s", c->group);
	else
		snprintf(buf, len, "%s %s", c->group, c->verb);
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
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s %s\n", progname, BATON_VERSION);
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
		/* The verb stands in for argv[0] (ctl_opts_parse). */
		return c->main(c, argc - 2, argv + 2);
	}
	ctl_failx("unknown command '%s %s'", argv[1], argv[2]);
	command_list(stderr, argv[1]);
	return EXIT_USAGE;
}
