/*
 * ctl_opts.c - batonctl's option parser and per-command help, from one
 * table of struct ctl_opt per command (ctl_opts.h).
 *
 * Owns how a command line is read and how its mistakes are worded; it
 * does not know any command's options (those are the tables in
 * ctl_cert.c, ctl_node.c and ctl_audit.c) nor check one option against
 * another. Nothing here prints a value given for an option except to
 * name a mistake in it.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "ctl_opts.h"
#include "validate.h"

#define OPTS_MAX	32	/* rows in one table */
#define OPT_VAL		256	/* getopt_long's val for row i: OPT_VAL + i */
#define HELP_COLUMN	16	/* where help text starts, at the least */

static void
usage_line(FILE *fp, const struct command *c)
{
	char name[32];

	ctl_command_name(c, name, sizeof(name));
	fprintf(fp, "usage: batonctl %s %s\n", name, c->synopsis);
}

int
ctl_usage_error(const struct command *c, const char *fmt, ...)
{
	va_list ap;
	char name[32];

	ctl_command_name(c, name, sizeof(name));
	fprintf(stderr, "batonctl %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	usage_line(stderr, c);
	return EXIT_USAGE;
}

int
ctl_opts_node_id(const struct command *c, const char *node)
{
	if (node != NULL && !validate_node_id(node))
		return ctl_usage_error(c, "invalid node id '%s': %s", node,
		    CTL_NODE_ID_RULE);
	return PARSE_RUN;
}

static int
applies(const struct ctl_opt *o, const struct command *c)
{
	return o->only == 0 || (o->only & c->id) != 0;
}

/* "--name ARG", the left column of a row's help. */
static int
left_text(const struct ctl_opt *o, char *buf, size_t len)
{
	return snprintf(buf, len, "--%s%s%s", o->name, o->arg != NULL ?
	    " " : "", o->arg != NULL ? o->arg : "");
}

/* Prints text, each line after the first indented to column col. */
static void
print_wrapped(const char *text, int col)
{
	const char *nl;

	while ((nl = strchr(text, '\n')) != NULL) {
		printf("%.*s\n%*s", (int)(nl - text), text, col, "");
		text = nl + 1;
	}
	printf("%s\n", text);
}

/*
 * Help: the usage line, the summary, then a row per option that applies
 * to c, its text from one column for the whole table (so that commands
 * sharing a table line up alike), and -h last.
 */
static void
help(const struct command *c, const struct ctl_opt *opts, size_t nopts)
{
	char left[64];
	size_t i;
	int col = HELP_COLUMN, w;

	for (i = 0; i < nopts; i++)
		if (opts[i].kind != CTL_OPT_TEXT &&
		    (w = 2 + left_text(&opts[i], left, sizeof(left)) + 3) > col)
			col = w;
	usage_line(stdout, c);
	printf("\n%s.\n\n", c->summary);
	for (i = 0; i < nopts; i++) {
		if (!applies(&opts[i], c))
			continue;
		if (opts[i].kind == CTL_OPT_TEXT) {
			printf("%s\n", opts[i].help);
			continue;
		}
		left_text(&opts[i], left, sizeof(left));
		printf("  %-*s", col - 2, left);
		print_wrapped(opts[i].help, col);
	}
	printf("  %-*sshow this help\n", col - 2, "-h, --help");
}

/* A whole number in digits only, from min to max, into *out. */
static int
parse_number(const struct command *c, const struct ctl_opt *o,
    const char *s, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)s[0]) || *end != '\0' || errno != 0 ||
	    v < o->min || v > o->max) {
		if (o->wants != NULL)
			return ctl_usage_error(c, "--%s wants %s, not '%s'",
			    o->name, o->wants, s);
		return ctl_usage_error(c, "--%s wants a number from %llu to "
		    "%llu, not '%s'", o->name, o->min, o->max, s);
	}
	*out = v;
	return PARSE_RUN;
}

/* Stores value (NULL for a flag) where row o says. */
static int
store(const struct command *c, struct ctl_opt *o, const char *value)
{
	unsigned long long v = 0;
	char name[32];
	int r;

	if (!applies(o, c)) {
		ctl_command_name(c, name, sizeof(name));
		return ctl_usage_error(c, "--%s does not apply here; see "
		    "batonctl %s --help", o->name, name);
	}
	o->seen++;
	switch (o->kind) {
	case CTL_OPT_STRING:
		*(const char **)o->dst = value;
		break;
	case CTL_OPT_FLAG:
		*(int *)o->dst = 1;
		break;
	case CTL_OPT_INT:
	case CTL_OPT_U64:
		if ((r = parse_number(c, o, value, &v)) != PARSE_RUN)
			return r;
		if (o->kind == CTL_OPT_INT)
			*(int *)o->dst = (int)v;
		else
			*(uint64_t *)o->dst = v;
		break;
	case CTL_OPT_LIST:
		if (*o->n >= o->max)
			return ctl_usage_error(c, "--%s may be given at most "
			    "%llu times", o->name, o->max);
		((const char **)o->dst)[(*o->n)++] = value;
		break;
	case CTL_OPT_TEXT:
		break;
	}
	return PARSE_RUN;
}

/*
 * The row for getopt's index i: a table may hold one name twice, for
 * different commands (each with its own help); take the one for c.
 */
static struct ctl_opt *
row_for(const struct command *c, struct ctl_opt *opts, size_t nopts,
    size_t i)
{
	size_t j;

	if (applies(&opts[i], c))
		return &opts[i];
	for (j = i + 1; j < nopts; j++)
		if (opts[j].name != NULL &&
		    strcmp(opts[j].name, opts[i].name) == 0 &&
		    applies(&opts[j], c))
			return &opts[j];
	return &opts[i];
}

/* What getopt_long said was wrong: ':' a missing value, '?' the rest. */
static int
bad_option(const struct command *c, const struct ctl_opt *opts, int ch,
    char **argv)
{
	char name[32];
	const char *arg = argv[optind - 1];

	if (optopt >= OPT_VAL && ch == ':')
		return ctl_usage_error(c, "--%s needs a value",
		    opts[optopt - OPT_VAL].name);
	if (optopt >= OPT_VAL)
		return ctl_usage_error(c, "--%s takes no value",
		    opts[optopt - OPT_VAL].name);
	ctl_command_name(c, name, sizeof(name));
	if (optopt != 0)
		return ctl_usage_error(c, "unknown option -%c; see batonctl "
		    "%s --help", optopt, name);
	return ctl_usage_error(c, "unknown option %s; see batonctl %s --help",
	    arg, name);
}

/* The getopt_long table for opts, "help" last. */
static void
long_options(const struct ctl_opt *opts, size_t nopts, struct option *lo)
{
	size_t i, k = 0;

	for (i = 0; i < nopts; i++) {
		if (opts[i].kind == CTL_OPT_TEXT)
			continue;
		lo[k].name = opts[i].name;
		lo[k].has_arg = opts[i].kind == CTL_OPT_FLAG ? no_argument :
		    required_argument;
		lo[k].flag = NULL;
		lo[k].val = OPT_VAL + (int)i;
		k++;
	}
	lo[k] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[k + 1] = (struct option){ NULL, 0, NULL, 0 };
}

/* After the options: no operands, and every required one present. */
static int
check_rest(const struct command *c, const struct ctl_opt *opts,
    size_t nopts, int argc, char **argv)
{
	size_t i;
	const char *v;

	if (optind < argc)
		return ctl_usage_error(c, "unexpected argument '%s'",
		    argv[optind]);
	for (i = 0; i < nopts; i++) {
		if (!opts[i].required || !applies(&opts[i], c))
			continue;
		/* An empty value is as good as none ("--data ''"). */
		v = opts[i].kind == CTL_OPT_STRING ?
		    *(const char **)opts[i].dst : "";
		if (opts[i].seen == 0 || v == NULL || v[0] == '\0')
			return ctl_usage_error(c, "--%s is required",
			    opts[i].name);
	}
	return PARSE_RUN;
}

int
ctl_opts_parse(const struct command *c, struct ctl_opt *opts,
    size_t nopts, int argc, char **argv)
{
	struct option lo[OPTS_MAX + 2];
	size_t i;
	int ch, r;

	if (nopts > OPTS_MAX)
		abort();	/* a table too big is batonctl's own bug */
	for (i = 0; i < nopts; i++)
		opts[i].seen = 0;
	long_options(opts, nopts, lo);
	/* argv[0] is the command's word; GNU getopt restarts at 0. */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		if (ch == 'h') {
			help(c, opts, nopts);
			return PARSE_HELP;
		}
		if (ch == '?' || ch == ':')
			return bad_option(c, opts, ch, argv);
		r = store(c, row_for(c, opts, nopts, (size_t)(ch - OPT_VAL)),
		    optarg);
		if (r != PARSE_RUN)
			return r;
	}
	return check_rest(c, opts, nopts, argc, argv);
}

int
ctl_opts_seen(const struct ctl_opt *opts, size_t nopts, const char *name)
{
	size_t i;
	int n = 0;

	for (i = 0; i < nopts; i++)
		if (opts[i].name != NULL && strcmp(opts[i].name, name) == 0)
			n += opts[i].seen;
	return n;
}
