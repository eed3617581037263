/*
 * ctl.h - what batonctl's command files share: the command table's row,
 * the exit statuses, and the helpers every parser uses (batonctl.c).
 *
 * A command is one row of commands[] in batonctl.c and one entry point
 * here; inside its file it is parse_<cmd> (argv into a struct, checks that
 * need no files) and run_<cmd> (the action).
 *
 * Exit status: 0 done, 1 the action failed ("batonctl: <message>" on
 * stderr), 2 the command line was wrong (message and usage on stderr).
 */
#ifndef BATON_CTL_H
#define BATON_CTL_H

#define EXIT_USAGE	2
#define PARSE_RUN	0	/* arguments fine: run the command */
#define PARSE_HELP	(-1)	/* --help was printed: exit 0 */

/* What a node id may be (validate_node_id), for messages. */
#define CTL_NODE_ID_RULE	"use 1 to 64 characters: lower-case letters, " \
	"digits, '.', '_' or '-', starting with a letter or digit"

struct command {
	const char	*group;		/* first word: "ca", "cert", "node" */
	const char	*verb;		/* second word: "init", "issue", ...;
					   NULL: a one-word command ("crl") */
	const char	*synopsis;	/* arguments, for usage lines */
	const char	*summary;	/* one line for the command list */
	const char	*options;	/* option descriptions for --help */
	int		(*main)(const struct command *, int, char **);
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
int	ctl_node_add(const struct command *, int, char **);	/* ctl_node.c */
int	ctl_node_list(const struct command *, int, char **);
int	ctl_node_set_role(const struct command *, int, char **);
int	ctl_node_disable(const struct command *, int, char **);
int	ctl_node_enable(const struct command *, int, char **);

/* Prints "batonctl: message" to stderr; returns EXIT_FAILURE. */
int	ctl_failx(const char *, ...) __attribute__((format(printf, 1, 2)));

/* Prints the message, c's usage and a hint; returns EXIT_USAGE. */
int	ctl_usage_error(const struct command *c, const char *, ...)
	    __attribute__((format(printf, 2, 3)));

/*
 * Handles what getopt_long returned that every parser handles alike
 * (optstring ":h" with "help" mapped to 'h'): --help, an unknown option,
 * a missing value. Returns PARSE_HELP or EXIT_USAGE; PARSE_RUN when ch is
 * none of those, which the caller then treats as its own mistake.
 */
int	ctl_common_opt(const struct command *c, int ch, char **argv);

/* EXIT_USAGE if operands are left after the options, else PARSE_RUN. */
int	ctl_no_operands(const struct command *c, int argc, char **argv);

/* Parses --days (1 to CA_MAX_DAYS) into *out; PARSE_RUN or EXIT_USAGE. */
int	ctl_parse_days(const struct command *c, const char *s, int *out);

/*
 * Parses option opt's value s, a whole number from min to max, into *out;
 * PARSE_RUN, or EXIT_USAGE with a message naming opt and the range.
 */
int	ctl_parse_int(const struct command *c, const char *opt, const char *s,
	    int min, int max, int *out);

/* EXIT_USAGE ("OPT is required") if value is NULL or empty, else PARSE_RUN. */
int	ctl_need(const struct command *c, const char *value, const char *opt);

/* A parser's result as the command's exit status (PARSE_HELP is success). */
int	ctl_parse_exit(int r);

/* Wall-clock time in Unix milliseconds, for records. */
int64_t	ctl_now_ms(void);

#endif
