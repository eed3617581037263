/*
 * ctl.h - what batonctl's command files share: the command table's row,
 * the exit statuses, and the helpers every command uses (batonctl.c;
 * the option parser is ctl_opts.h).
 *
 * A command is one row of commands[] in batonctl.c and one entry point
 * here; inside its file it is parse_<cmd> (an option table for
 * ctl_opts_parse, then the checks that need no files) and run_<cmd> (the
 * action).
 *
 * Exit status: 0 done, 1 the action failed ("batonctl: <message>" on
 * stderr), 2 the command line was wrong ("batonctl <command>: <message>"
 * and the usage line on stderr), 3 a command that reads the running
 * broker found none running (sessions).
 */
#ifndef BATON_CTL_H
#define BATON_CTL_H

#include <stddef.h>
#include <stdint.h>

struct json_t;		/* jansson's json_t */

#define EXIT_USAGE	2
#define EXIT_NO_BROKER	3	/* no broker runs on the data directory */
#define PARSE_RUN	0	/* arguments fine: run the command */
#define PARSE_HELP	(-1)	/* --help was printed: exit 0 */

/* What a node id may be (validate_node_id), for messages. */
#define CTL_NODE_ID_RULE	"use 1 to 64 characters: lower-case letters, " \
	"digits, '.', '_' or '-', starting with a letter or digit"

/* What a role may be (registry_valid_role), for messages. */
#define CTL_ROLE_RULE_FMT	"invalid role '%s': use 1 to %d characters, " \
	"lower-case letters, digits, '_' or '-', starting with a letter"

/*
 * A command's id: which of its file's commands a row is, when one entry
 * point and one option table serve several (ctl_opt.only names them).
 */
enum {
	CTL_NODE_SET_ROLE	= 1 << 0,
	CTL_NODE_DISABLE	= 1 << 1,
	CTL_NODE_ENABLE		= 1 << 2,
};
enum {
	CTL_AUDIT_VERIFY	= 1 << 0,
	CTL_AUDIT_HEAD		= 1 << 1,
	CTL_AUDIT_LIST		= 1 << 2,
	CTL_AUDIT_EXPORT	= 1 << 3,
	CTL_AUDIT_ARCHIVE	= 1 << 4,
	CTL_AUDIT_TRAIL		= 1 << 5,
};

struct command {
	const char	*group;		/* first word: "ca", "cert", "node" */
	const char	*verb;		/* second word: "init", "issue", ...;
					   NULL: a one-word command ("crl") */
	const char	*synopsis;	/* arguments, for usage lines */
	const char	*summary;	/* one line for the command list */
	int		(*main)(const struct command *, int, char **);
	unsigned	 id;		/* CTL_NODE_*, CTL_AUDIT_*; else 0 */
};

/*
 * Entry points: argv[0] is the verb (the group for a one-word command);
 * each returns the exit status.
 */
int	ctl_ca_init(const struct command *, int, char **);	/* ctl_cert.c */
int	ctl_cert_issue(const struct command *, int, char **);
int	ctl_cert_revoke(const struct command *, int, char **);
int	ctl_cert_list(const struct command *, int, char **);
int	ctl_crl(const struct command *, int, char **);
int	ctl_cert_renew(const struct command *, int, char **);	/* ctl_renew.c */
int	ctl_node_add(const struct command *, int, char **);	/* ctl_node.c */
int	ctl_node_list(const struct command *, int, char **);
int	ctl_node_change(const struct command *, int, char **);	/* by id */
int	ctl_node_remove(const struct command *, int, char **);
					/* ctl_node_remove.c */
int	ctl_audit(const struct command *, int, char **); /* ctl_audit.c */
int	ctl_reload(const struct command *, int, char **); /* ctl_reload.c */
int	ctl_report(const struct command *, int, char **); /* ctl_report.c */
int	ctl_queue(const struct command *, int, char **); /* ctl_queue.c */
int	ctl_sessions(const struct command *, int, char **); /* ctl_sessions.c */
int	ctl_agreement_add(const struct command *, int, char **);
					/* ctl_agreement.c */
int	ctl_agreement_list(const struct command *, int, char **);
int	ctl_agreement_end(const struct command *, int, char **);

/* Prints "batonctl: message" to stderr; returns EXIT_FAILURE. */
int	ctl_failx(const char *, ...) __attribute__((format(printf, 1, 2)));

/*
 * Prints "batonctl <command>: message" and c's usage line to stderr;
 * returns EXIT_USAGE.
 */
int	ctl_usage_error(const struct command *c, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/* c's name: "group verb", or "group" for a one-word command. */
void	ctl_command_name(const struct command *c, char *buf, size_t len);

/* A parser's result as the command's exit status (PARSE_HELP is success). */
int	ctl_parse_exit(int r);

/* 1 when s is valid UTF-8 with no control characters (names, reasons). */
int	ctl_printable_utf8(const char *s);

/*
 * Text read back from a file or the store reaches a terminal: replaces
 * control bytes in s with '?'.
 */
void	ctl_sanitise(char *s);

/*
 * A duration for a table: "45s", "12m05s", "3h02m", "2d04h"; "-" when ms
 * is negative (nothing to measure). At most 8 characters below 10000
 * days.
 */
void	ctl_duration(int64_t ms, char *buf, size_t len);

/*
 * A time for a table or a JSON field: "2026-03-01T09:30:00Z" (UTC, to
 * the second), or "-" when ms is not after 1970.
 */
void	ctl_iso_time(int64_t ms, char *buf, size_t len);

/*
 * Prints doc, whose reference this takes, to stdout in its own key order
 * with a newline: a document with JSON_INDENT(2), a line with
 * JSON_COMPACT (flags). EXIT_SUCCESS, or EXIT_FAILURE printed when out
 * of memory.
 */
int	ctl_json_put(struct json_t *doc, size_t flags);

/*
 * Who runs batonctl, for the audit record of an administrative act:
 * "UID(NAME)", or "UID" when the login name is not a plain one.
 */
void	ctl_caller(char *buf, size_t len);

#endif
