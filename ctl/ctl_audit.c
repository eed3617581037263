/*
 * ctl_audit.c - "batonctl audit verify|head|list|export": the IG view of
 * the broker's audit log.
 *
 * A thin layer: the checks, queries and formats are in broker/audit.c and
 * broker/audit_verify.c, where the unit tests reach them. This file parses
 * the command line, opens the data directory and reports.
 *
 * Invariants:
 * - verify and head only read (the store opened read-only), so they work
 *   on a copy made with mdb_copy and never change what they check.
 * - list and export are reads of the log that are themselves audited: an
 *   "audit_read" record with the filter is committed before anything is
 *   shown, and if it cannot be, nothing is shown. The record holds the
 *   subject reference, never the NHS number asked about.
 * - An NHS number given with --subject is used only to compute the
 *   reference; it is wiped from argv at once (ps), is never printed
 *   or logged, and "--subject -" reads it from stdin instead.
 */
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "audit.h"
#include "ctl.h"
#include "ctl_audit.h"
#include "store.h"
#include "validate.h"

#define EXIT_USAGE	2
#define PROG		"batonctl audit"

enum verb { V_VERIFY, V_HEAD, V_LIST, V_EXPORT };

static const struct {
	const char	*name;
	enum verb	 verb;
	const char	*synopsis;
	const char	*summary;
} verbs[] = {
	{ "verify", V_VERIFY,
	  "--data DIR [--pubkey FILE] [--expect-head SEQ:HASH | HASH]",
	  "check the whole log: chain, checkpoint signatures, anchor" },
	{ "head", V_HEAD, "--data DIR",
	  "print the head as SEQ:HASH, to keep elsewhere as an anchor" },
	{ "list", V_LIST, "--data DIR [FILTERS]",
	  "show matching records as a table (the read is audited)" },
	{ "export", V_EXPORT, "--data DIR --format csv|jsonl [FILTERS]",
	  "write matching records as CSV or JSON Lines (the read is "
	  "audited)" },
};

#define NVERBS	(sizeof(verbs) / sizeof(verbs[0]))

#define FILTER_HELP \
	"FILTERS (all given must match):\n" \
	"  --since T         at or after T (UTC): YYYY-MM-DD or\n" \
	"                    YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]\n" \
	"  --until T         at or before T; a date alone means to the end " \
	"of that day\n" \
	"  --node ID         records where ID is the acting or the other node\n" \
	"  --message ID      records about this message id\n" \
	"  --event E         one event name (listed below)\n" \
	"  --subject NHS     records about this person; the NHS number is\n" \
	"                    turned into its reference and never stored or\n" \
	"                    shown; '-' reads it from standard input\n"

struct args {
	enum verb		 verb;
	const char		*data;
	const char		*pubkey;
	const char		*expect;
	const char		*format;
	const char		*since;
	const char		*until;
	const char		*subject;	/* wiped copy, or "-" */
	char			 nhs[64];	/* the number, while needed */
	int			 has_subject;
	struct audit_filter	 f;
	struct audit_anchor	 anchor;
	enum audit_format	 fmt;
};

static int
failx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
failx(const char *fmt, ...)
{
	va_list	 ap;

	fputs("batonctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

static void
usage(FILE *fp)
{
	size_t	 i;

	for (i = 0; i < NVERBS; i++)
		fprintf(fp, "%s %s %s %s\n", i == 0 ? "usage:" : "      ",
		    PROG, verbs[i].name, verbs[i].synopsis);
}

static int
usage_error(const struct args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
usage_error(const struct args *a, const char *fmt, ...)
{
	va_list	 ap;

	fputs("batonctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (a != NULL)
		fprintf(stderr, "usage: %s %s %s\nTry '%s %s --help'.\n",
		    PROG, verbs[a->verb].name, verbs[a->verb].synopsis, PROG,
		    verbs[a->verb].name);
	else
		usage(stderr);
	return EXIT_USAGE;
}

static void
print_events(FILE *fp)
{
	const char	*e;
	size_t		 i, col = 0;

	fprintf(fp, "\nEvents:");
	for (i = 0; (e = audit_event_name(i)) != NULL; i++) {
		if (col == 0 || col + strlen(e) > 72) {
			fprintf(fp, "\n ");
			col = 1;
		}
		fprintf(fp, " %s", e);
		col += strlen(e) + 1;
	}
	fputc('\n', fp);
}

static void
help(enum verb v)
{
	printf("usage: %s %s %s\n\n", PROG, verbs[v].name,
	    verbs[v].synopsis);
	printf("%s.\n\n", verbs[v].summary);
	printf("  --data DIR        the broker's data directory\n");
	switch (v) {
	case V_VERIFY:
		printf("  --pubkey FILE     the audit public key (default "
		    "DIR/audit-signing.pub;\n"
		    "                    keep a copy elsewhere and give that)\n"
		    "  --expect-head A   an anchor from 'audit head': SEQ:HASH "
		    "(the record at SEQ\n"
		    "                    must have HASH) or HASH (some record "
		    "must have it)\n\n"
		    "Exit status 0: intact; 1: damaged, the first bad "
		    "sequence number named.\n");
		break;
	case V_HEAD:
		break;
	case V_EXPORT:
		printf("  --format F        csv or jsonl\n");
		/* FALLTHROUGH */
	case V_LIST:
		printf("\n" FILTER_HELP);
		break;
	}
	printf("  -h, --help        show this help\n");
	if (v == V_LIST || v == V_EXPORT)
		print_events(stdout);
}

/* Reads one line (the NHS number) from stdin into out. */
static int
read_subject_stdin(char *out, size_t outlen)
{
	size_t	 n;

	if (fgets(out, (int)outlen, stdin) == NULL)
		return -1;
	n = strcspn(out, "\r\n");
	if (out[n] == '\0' && n == outlen - 1)
		return -1;	/* longer than any NHS number */
	out[n] = '\0';
	return 0;
}

static int
parse(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		{ "data",		required_argument,	NULL, 'd' },
		{ "pubkey",		required_argument,	NULL, 'p' },
		{ "expect-head",	required_argument,	NULL, 'x' },
		{ "format",		required_argument,	NULL, 'F' },
		{ "since",		required_argument,	NULL, 's' },
		{ "until",		required_argument,	NULL, 'u' },
		{ "node",		required_argument,	NULL, 'n' },
		{ "message",		required_argument,	NULL, 'm' },
		{ "event",		required_argument,	NULL, 'e' },
		{ "subject",		required_argument,	NULL, 'S' },
		{ "help",		no_argument,		NULL, 'h' },
		{ NULL,			0,			NULL, 0 }
	};
	const char	*opt;
	int		 ch, filters, is_query, li;

	is_query = a->verb == V_LIST || a->verb == V_EXPORT;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":h", opts, &li)) != -1) {
		opt = NULL;
		filters = 0;
		switch (ch) {
		case 'd':
			a->data = optarg;
			break;
		case 'p':
			a->pubkey = optarg;
			opt = a->verb == V_VERIFY ? NULL : "pubkey";
			break;
		case 'x':
			a->expect = optarg;
			opt = a->verb == V_VERIFY ? NULL : "expect-head";
			break;
		case 'F':
			a->format = optarg;
			opt = a->verb == V_EXPORT ? NULL : "format";
			break;
		case 's':
			a->since = optarg;
			filters = 1;
			break;
		case 'u':
			a->until = optarg;
			filters = 1;
			break;
		case 'n':
			a->f.node = optarg;
			filters = 1;
			break;
		case 'm':
			a->f.message_id = optarg;
			filters = 1;
			break;
		case 'e':
			a->f.event = optarg;
			filters = 1;
			break;
		case 'S':
			if (strcmp(optarg, "-") != 0) {
				(void)snprintf(a->nhs, sizeof(a->nhs), "%s",
				    optarg);
				/* Out of /proc/PID/cmdline as soon as may be. */
				OPENSSL_cleanse(optarg, strlen(optarg));
				a->subject = "";
			} else
				a->subject = "-";
			a->has_subject = 1;
			filters = 1;
			break;
		case 'h':
			help(a->verb);
			return -1;
		case ':':
			return usage_error(a, "option '%s' needs a value",
			    argv[optind - 1]);
		default:
			return usage_error(a, "unknown option '%s'",
			    argv[optind - 1]);
		}
		if (filters && !is_query)
			opt = opts[li].name;
		if (opt != NULL)
			return usage_error(a, "--%s does not apply to 'audit "
			    "%s'", opt, verbs[a->verb].name);
	}
	if (optind < argc)
		return usage_error(a, "unexpected argument '%s'",
		    argv[optind]);
	if (a->data == NULL || *a->data == '\0')
		return usage_error(a, "--data is required");

	if (a->expect != NULL && audit_anchor_parse(a->expect,
	    &a->anchor) == -1)
		return usage_error(a, "--expect-head wants SEQ:HASH or HASH "
		    "(64 hex digits), as printed by 'batonctl audit head'");
	if (a->verb == V_EXPORT) {
		if (a->format == NULL)
			return usage_error(a, "--format is required");
		if (strcmp(a->format, "csv") == 0)
			a->fmt = AUDIT_FORMAT_CSV;
		else if (strcmp(a->format, "jsonl") == 0)
			a->fmt = AUDIT_FORMAT_JSONL;
		else
			return usage_error(a, "--format wants csv or jsonl, "
			    "not '%s'", a->format);
	} else
		a->fmt = AUDIT_FORMAT_TABLE;
	if (a->since != NULL && audit_time_parse(a->since, 0,
	    &a->f.since_ms) == -1)
		return usage_error(a, "--since wants YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC), not '%s'", a->since);
	if (a->until != NULL && audit_time_parse(a->until, 1,
	    &a->f.until_ms) == -1)
		return usage_error(a, "--until wants YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC), not '%s'", a->until);
	if (a->f.since_ms > a->f.until_ms)
		return usage_error(a, "--since is after --until");
	if (a->f.node != NULL && !validate_node_id(a->f.node))
		return usage_error(a, "--node: '%s' is not a node id",
		    a->f.node);
	if (a->f.message_id != NULL && !validate_message_id(a->f.message_id))
		return usage_error(a, "--message: '%s' is not a message id "
		    "([A-Za-z0-9._:-], at most %d)", a->f.message_id,
		    BATON_MESSAGE_ID_MAX);
	if (a->f.event != NULL && !audit_event_known(a->f.event)) {
		(void)usage_error(a, "--event: unknown event '%s'",
		    a->f.event);
		print_events(stderr);
		return EXIT_USAGE;
	}
	if (a->has_subject && strcmp(a->subject, "-") == 0 &&
	    read_subject_stdin(a->nhs, sizeof(a->nhs)) == -1)
		return usage_error(a, "--subject -: no NHS number on "
		    "standard input");
	if (a->has_subject &&
	    !validate_nhs_number(a->nhs, (char[BATON_NHS_NUMBER_LEN + 1]){0}))
		return usage_error(a, "--subject: not a valid NHS number "
		    "(10 digits with a valid check digit)");
	return 0;
}

static int
open_store(const char *dir, int readonly, struct store **s)
{
	struct store_opts	 so;
	char			 err[1024];

	memset(&so, 0, sizeof(so));
	so.dir = dir;
	so.readonly = readonly;
	if (store_open(&so, s, err, sizeof(err)) != STORE_OK)
		return failx("%s", err);
	return 0;
}

static int
run_verify(struct args *a)
{
	struct audit_verify_report	 r;
	struct audit_pubkey		*pk = NULL;
	struct store			*s = NULL;
	char				 path[PATH_MAX], err[1024];
	int				 rc, ret = EXIT_FAILURE;

	if (a->pubkey == NULL) {
		if (snprintf(path, sizeof(path), "%s/audit-signing.pub",
		    a->data) >= (int)sizeof(path))
			return failx("%s: path too long", a->data);
		a->pubkey = path;
	}
	if ((pk = audit_pubkey_load(a->pubkey, err, sizeof(err))) == NULL)
		return failx("%s", err);
	if (open_store(a->data, 1, &s) != 0)
		goto done;
	rc = audit_verify(s, pk, a->expect != NULL ? &a->anchor : NULL, &r);
	if (rc == -1) {
		failx("cannot verify the audit log in %s: %s", a->data,
		    r.what);
		goto done;
	}
	if (rc == AUDIT_VERIFY_BAD) {
		if (r.bad_seq != 0)
			failx("audit log damaged at seq %" PRIu64 ": %s",
			    r.bad_seq, r.what);
		else
			failx("audit log damaged: %s", r.what);
		fprintf(stderr, "batonctl: records 1 to %" PRIu64 " verified "
		    "before it (%" PRIu64 " checkpoints)\n", r.count,
		    r.checkpoints);
		goto done;
	}
	printf("audit log intact: %" PRIu64 " records\n", r.count);
	printf("head: %" PRIu64 ":%s\n", r.head_seq, r.head_hash);
	if (r.checkpoints > 0)
		printf("checkpoints: %" PRIu64 " signatures verified with %s, "
		    "the last at seq %" PRIu64 "\n", r.checkpoints, a->pubkey,
		    r.last_checkpoint);
	else
		printf("checkpoints: none yet\n");
	if (a->expect != NULL)
		printf("anchor: %s matches\n", a->expect);
	if (r.head_seq > r.last_checkpoint && a->expect == NULL)
		printf("note: the %" PRIu64 " records after the last "
		    "checkpoint are protected by the chain only; compare with "
		    "an anchor kept elsewhere (--expect-head)\n",
		    r.head_seq - r.last_checkpoint);
	ret = EXIT_SUCCESS;
 done:
	store_close(s);
	audit_pubkey_free(pk);
	return ret;
}

static int
run_head(const struct args *a)
{
	struct store	*s = NULL;
	char		 hex[AUDIT_REF_HEX + 1];
	uint64_t	 seq;
	int		 rc;

	if (open_store(a->data, 1, &s) != 0)
		return EXIT_FAILURE;
	if (store_begin(s, 1) != STORE_OK) {
		rc = failx("%s: %s", a->data, store_strerror(s));
		goto done;
	}
	rc = audit_head(s, &seq, hex);
	store_abort(s);
	if (rc == STORE_CORRUPT) {
		rc = failx("the last audit record in %s is damaged; run "
		    "'batonctl audit verify'", a->data);
		goto done;
	}
	if (rc != STORE_OK) {
		rc = failx("%s: %s", a->data, store_strerror(s));
		goto done;
	}
	printf("%" PRIu64 ":%s\n", seq, hex);
	rc = EXIT_SUCCESS;
 done:
	store_close(s);
	return rc;
}

/* Appends to buf " key=value" for a filter that was given. */
static void
summary_add(char *buf, size_t len, const char *key, const char *value)
{
	size_t	 n = strlen(buf);

	if (value != NULL && n < len)
		(void)snprintf(buf + n, len - n, " %s=%s", key, value);
}

/*
 * Records this read of the log, with who asked and what for, and commits
 * it before anything is shown.
 */
static int
record_read(const struct args *a, struct audit *au, struct store *s,
    const char *ref)
{
	struct audit_event	 ev;
	struct passwd		*pw;
	char			 reason[AUDIT_FIELD_MAX], who[96];
	char			 since[AUDIT_TIME_LEN + 1];
	char			 until[AUDIT_TIME_LEN + 1];
	const char		*name = NULL;
	int			 rc;

	if ((pw = getpwuid(getuid())) != NULL &&
	    validate_node_id(pw->pw_name))
		name = pw->pw_name;	/* a plain login name, safe to keep */
	(void)snprintf(who, sizeof(who), "%ld%s%s%s", (long)getuid(),
	    name != NULL ? "(" : "", name != NULL ? name : "",
	    name != NULL ? ")" : "");
	(void)snprintf(reason, sizeof(reason), "%s uid=%s",
	    a->verb == V_LIST ? "list" : a->fmt == AUDIT_FORMAT_CSV ?
	    "export csv" : "export jsonl", who);
	if (a->since != NULL) {
		audit_time_format(a->f.since_ms, since);
		summary_add(reason, sizeof(reason), "since", since);
	}
	if (a->until != NULL) {
		audit_time_format(a->f.until_ms, until);
		summary_add(reason, sizeof(reason), "until", until);
	}
	summary_add(reason, sizeof(reason), "node", a->f.node);
	summary_add(reason, sizeof(reason), "message", a->f.message_id);
	summary_add(reason, sizeof(reason), "event", a->f.event);
	/* A subject filter shows as this record's own subject_ref. */

	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_LOG_READ;
	ev.actor = "batonctl";
	ev.message_id = a->f.message_id;
	ev.subject_ref = ref;
	ev.outcome = "ok";
	ev.reason = reason;
	if (store_begin(s, 0) != STORE_OK)
		return failx("cannot record this read of the audit log: %s",
		    store_strerror(s));
	if ((rc = audit_append(au, s, &ev, ctl_now_ms())) != STORE_OK) {
		store_abort(s);
		return failx("cannot record this read of the audit log: %s",
		    audit_strerror(au));
	}
	if (store_commit(s) != STORE_OK)
		return failx("cannot record this read of the audit log: %s",
		    store_strerror(s));
	return 0;
}

static int
run_query(struct args *a)
{
	struct audit	*au = NULL;
	struct store	*s = NULL;
	char		 ref[AUDIT_REF_HEX + 1], err[1024];
	uint64_t	 n;
	int		 ret = EXIT_FAILURE;

	if ((au = audit_open(a->data, 0, err, sizeof(err))) == NULL) {
		failx("%s", err);
		goto done;
	}
	if (a->has_subject) {
		if (audit_subject_ref(au, a->nhs, ref) == -1) {
			failx("--subject: not a valid NHS number");
			goto done;
		}
		OPENSSL_cleanse(a->nhs, sizeof(a->nhs));
		a->f.subject_ref = ref;
	}
	if (open_store(a->data, 0, &s) != 0 ||
	    record_read(a, au, s, a->has_subject ? ref : NULL) != 0)
		goto done;
	if (audit_export(s, &a->f, a->fmt, stdout, &n, err,
	    sizeof(err)) == -1) {
		failx("%s", err);
		goto done;
	}
	if (a->fmt == AUDIT_FORMAT_TABLE)
		printf("(%" PRIu64 " record%s)\n", n, n == 1 ? "" : "s");
	if (fflush(stdout) == EOF || ferror(stdout)) {
		failx("writing the output: %s", strerror(errno));
		goto done;
	}
	ret = EXIT_SUCCESS;
 done:
	OPENSSL_cleanse(a->nhs, sizeof(a->nhs));
	store_close(s);
	audit_close(au);
	return ret;
}

int
ctl_audit_main(int argc, char **argv)
{
	struct args	 a;
	size_t		 i;
	int		 r;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		printf("\n");
		for (i = 0; i < NVERBS; i++)
			printf("  %-8s %s\n", verbs[i].name, verbs[i].summary);
		return EXIT_SUCCESS;
	}
	memset(&a, 0, sizeof(a));
	audit_filter_init(&a.f);
	for (i = 0; i < NVERBS; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			break;
	if (i == NVERBS)
		return usage_error(NULL, "unknown command 'audit %s'",
		    argv[1]);
	a.verb = verbs[i].verb;
	if ((r = parse(argc - 1, argv + 1, &a)) != 0) {
		OPENSSL_cleanse(a.nhs, sizeof(a.nhs));
		return r == -1 ? EXIT_SUCCESS : r;
	}
	switch (a.verb) {
	case V_VERIFY:
		return run_verify(&a);
	case V_HEAD:
		return run_head(&a);
	case V_LIST:
	case V_EXPORT:
		return run_query(&a);
	}
	return EXIT_FAILURE;
}
