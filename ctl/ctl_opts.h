/*
 * ctl_opts.h - batonctl's one option parser: a command's options are a
 * table of struct ctl_opt, and ctl_opts_parse turns argv into the values
 * the rows point at, prints the command's --help from the same rows, and
 * words every mistake the same way:
 *
 *   batonctl node add: --role is required
 *   batonctl node add: unknown option --x; see batonctl node add --help
 *
 * each followed by the command's usage line. Checks that need more than
 * one option (either --node or --server, ...) stay with the command,
 * after the parse, through ctl_usage_error.
 *
 * Long options only (and -h); GNU getopt_long underneath, so "--opt=v",
 * unambiguous abbreviations, options after operands and "--" work as
 * they always did.
 */
#ifndef BATON_CTL_OPTS_H
#define BATON_CTL_OPTS_H

#include <stddef.h>

#include "ctl.h"

enum ctl_opt_kind {
	CTL_OPT_STRING,		/* const char **: the value (the last wins) */
	CTL_OPT_INT,		/* int *: a whole number from min to max */
	CTL_OPT_U64,		/* uint64_t *: likewise */
	CTL_OPT_FLAG,		/* int *: set to 1; takes no value */
	CTL_OPT_LIST,		/* const char *[max]: repeatable, *n so far */
	CTL_OPT_TEXT,		/* no option: a paragraph of --help only */
};

struct ctl_opt {
	const char		*name;	/* without "--"; NULL: CTL_OPT_TEXT */
	const char		*arg;	/* the value's name in --help ("DIR") */
	enum ctl_opt_kind	 kind;
	void			*dst;	/* where the value goes (by kind) */
	const char		*help;	/* '\n' starts a line under the first */
	int			 required; /* "--NAME is required" if absent
					      or empty (where it applies) */
	unsigned		 only;	/* commands (struct command's id bits)
					   it applies to; 0: every one */
	unsigned long long	 min, max; /* INT, U64: the range;
					      LIST: max is the most values */
	size_t			*n;	/* LIST: values stored so far */
	const char		*wants;	/* INT, U64: "a sequence number (1 or
					   more)"; NULL: "a number from MIN
					   to MAX" */
	int			 seen;	/* set by ctl_opts_parse: times given */
};

/*
 * Parses argv (argv[0] is the command's last word) against opts for
 * command c, storing each value where its row says. Prints c's help for
 * -h/--help. Returns PARSE_RUN (values stored, required ones present, no
 * operands), PARSE_HELP (help printed) or EXIT_USAGE (the mistake
 * printed, as above).
 */
int	ctl_opts_parse(const struct command *c, struct ctl_opt *opts,
	    size_t nopts, int argc, char **argv);

/*
 * node, a --node value (NULL: not given), checked as a node id after the
 * parse: PARSE_RUN, or EXIT_USAGE with the rule printed.
 */
int	ctl_opts_node_id(const struct command *c, const char *node);

/* How many times option name was given in the last parse of opts. */
int	ctl_opts_seen(const struct ctl_opt *opts, size_t nopts,
	    const char *name);

/*
 * A row starts with its name, kind and destination, then designated
 * fields: { CTL_STRING("data", "DIR", &a->data), .help = "...",
 * .required = 1 }.
 */
#define CTL_STRING(nm, ar, d)	.name = (nm), .arg = (ar), \
	.kind = CTL_OPT_STRING, .dst = (d)
#define CTL_INT(nm, ar, d)	.name = (nm), .arg = (ar), \
	.kind = CTL_OPT_INT, .dst = (d)
#define CTL_U64(nm, ar, d)	.name = (nm), .arg = (ar), \
	.kind = CTL_OPT_U64, .dst = (d)
#define CTL_FLAG(nm, d)		.name = (nm), .kind = CTL_OPT_FLAG, .dst = (d)
#define CTL_LIST(nm, ar, d, cnt) .name = (nm), .arg = (ar), \
	.kind = CTL_OPT_LIST, .dst = (d), .n = (cnt)
#define CTL_TEXT		.kind = CTL_OPT_TEXT

#define CTL_NOPTS(a)	(sizeof(a) / sizeof((a)[0]))

#endif
