/*
 * ctl_audit.c - "batonctl audit verify|head|list|export|archive": the IG
 * view of the broker's audit log, and its retention.
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
 * - archive removes nothing until the archive file is written, fsynced,
 *   read back and verified, and in place under its final name (link(2),
 *   so an existing file is never replaced); the removal, the archive
 *   anchor and the audit_archived record are one transaction, and if it
 *   fails the file is deleted again. Records younger than --keep-days
 *   (default ARCHIVE_KEEP_DAYS) are never archived.
 * - An NHS number given with --subject is used only to compute the
 *   reference; it is wiped from argv at once (ps), is never printed
 *   or logged, and "--subject -" reads it from stdin instead.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
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

#define PROG		"batonctl audit"
#define MAX_ARCHIVES	64
/*
 * Records younger than this are never archived unless --keep-days says
 * otherwise: a year of the log stays queryable in place.
 */
#define ARCHIVE_KEEP_DAYS	365
#define ARCHIVE_KEEP_MAX	36500
#define DAY_MS			86400000LL

enum verb { V_VERIFY, V_HEAD, V_LIST, V_EXPORT, V_ARCHIVE };

static const struct {
	const char	*name;
	enum verb	 verb;
	const char	*synopsis;
	const char	*summary;
} verbs[] = {
	{ "verify", V_VERIFY,
	  "[--data DIR] [--archive FILE...] [--pubkey FILE]\n"
	  "                      [--expect-head SEQ:HASH | HASH]",
	  "check the whole log (and archives): chain, checkpoint signatures, "
	  "anchor" },
	{ "head", V_HEAD, "--data DIR",
	  "print the head as SEQ:HASH, to keep elsewhere as an anchor" },
	{ "list", V_LIST, "--data DIR [FILTERS]",
	  "show matching records as a table (the read is audited)" },
	{ "export", V_EXPORT, "--data DIR --format csv|jsonl [FILTERS]",
	  "write matching records as CSV or JSON Lines (the read is "
	  "audited)" },
	{ "archive", V_ARCHIVE,
	  "--data DIR --out FILE (--before T | --upto SEQ)\n"
	  "                      [--keep-days N] [--pubkey FILE] [--dry-run]",
	  "move the oldest records to a verifiable file (audited)" },
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
	const char		*archives[MAX_ARCHIVES]; /* verify --archive */
	size_t			 narchives;
	const char		*out;		/* archive --out */
	const char		*before;	/* archive --before */
	int64_t			 before_ms;	/* INT64_MAX: not given */
	uint64_t		 upto;		/* UINT64_MAX: not given */
	int			 has_upto;
	int			 keep_days;
	int			 dry_run;
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
		printf("  --archive FILE    an archive from 'audit archive' "
		    "(repeatable, oldest\n"
		    "                    first); with --data, the store's log "
		    "must continue\n"
		    "                    from the last of them\n"
		    "  --pubkey FILE     the audit public key (default "
		    "DIR/audit-signing.pub;\n"
		    "                    keep a copy elsewhere and give that)\n"
		    "  --expect-head A   an anchor from 'audit head': SEQ:HASH "
		    "(the record at SEQ\n"
		    "                    must have HASH) or HASH (some record "
		    "must have it)\n\n"
		    "An empty log passes only in a new data directory; a log "
		    "that does not reach\n"
		    "the last checkpoint written fails.\n"
		    "Exit status 0: intact; 1: damaged, the first bad "
		    "sequence number named.\n");
		break;
	case V_ARCHIVE:
		printf("  --out FILE        the archive to write (JSON Lines, "
		    "as 'export'); must not\n"
		    "                    exist yet\n"
		    "  --before T        archive only records older than T "
		    "(UTC, as for --since)\n"
		    "  --upto SEQ        archive only records up to seq SEQ\n"
		    "  --keep-days N     never archive records younger than N "
		    "days (default %d;\n"
		    "                    0 allows any age)\n"
		    "  --pubkey FILE     the audit public key to verify with "
		    "(default\n"
		    "                    DIR/audit-signing.pub)\n"
		    "  --dry-run         verify and show what would be "
		    "archived; change nothing\n\n"
		    "The whole log is verified first. The archive ends at the "
		    "last signed\n"
		    "checkpoint that fits the bounds, so it verifies on its "
		    "own: 'batonctl audit\n"
		    "verify --archive FILE --pubkey KEY'. Then the records are "
		    "removed in one\n"
		    "transaction that keeps that checkpoint as the anchor the "
		    "rest of the log\n"
		    "chains onto, and records the archive (audit_archived, "
		    "with the file's\n"
		    "SHA-256). Works while batond runs. Exit 0 also when "
		    "nothing fits the bounds.\n", ARCHIVE_KEEP_DAYS);
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

/* One of archive's own options. 0, or EXIT_USAGE (said why). */
static int
archive_opt(struct args *a, int ch, const char *v)
{
	char		*end;
	long		 days;
	unsigned long long seq;

	switch (ch) {
	case 'o':
		a->out = v;
		break;
	case 'b':
		a->before = v;
		if (audit_time_parse(v, 0, &a->before_ms) == -1)
			return usage_error(a, "--before wants YYYY-MM-DD or "
			    "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC), not '%s'", v);
		break;
	case 'U':
		errno = 0;
		seq = strtoull(v, &end, 10);
		if (!isdigit((unsigned char)v[0]) || *end != '\0' ||
		    errno != 0 || seq == 0)
			return usage_error(a, "--upto wants a sequence number "
			    "(1 or more), not '%s'", v);
		a->upto = seq;
		a->has_upto = 1;
		break;
	case 'k':
		errno = 0;
		days = strtol(v, &end, 10);
		if (!isdigit((unsigned char)v[0]) || *end != '\0' ||
		    errno != 0 || days > ARCHIVE_KEEP_MAX)
			return usage_error(a, "--keep-days wants a number of "
			    "days from 0 to %d, not '%s'", ARCHIVE_KEEP_MAX, v);
		a->keep_days = (int)days;
		break;
	case 'N':
		a->dry_run = 1;
		break;
	}
	return 0;
}

static int
check_archive_args(struct args *a)
{
	if (a->out == NULL || *a->out == '\0')
		return usage_error(a, "--out is required");
	if (a->before == NULL && !a->has_upto)
		return usage_error(a, "say what to archive: --before T or "
		    "--upto SEQ (or both)");
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
		{ "archive",		required_argument,	NULL, 'a' },
		{ "out",		required_argument,	NULL, 'o' },
		{ "before",		required_argument,	NULL, 'b' },
		{ "upto",		required_argument,	NULL, 'U' },
		{ "keep-days",		required_argument,	NULL, 'k' },
		{ "dry-run",		no_argument,		NULL, 'N' },
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
			opt = a->verb == V_VERIFY || a->verb == V_ARCHIVE ?
			    NULL : "pubkey";
			break;
		case 'a':
			opt = a->verb == V_VERIFY ? NULL : "archive";
			if (opt == NULL && a->narchives == MAX_ARCHIVES)
				return usage_error(a, "at most %d --archive "
				    "files", MAX_ARCHIVES);
			if (opt == NULL)
				a->archives[a->narchives++] = optarg;
			break;
		case 'o':
		case 'b':
		case 'U':
		case 'k':
		case 'N':
			if (a->verb != V_ARCHIVE)
				opt = opts[li].name;
			else if (archive_opt(a, ch, optarg) != 0)
				return EXIT_USAGE;
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
	if ((a->data == NULL || *a->data == '\0') &&
	    (a->verb != V_VERIFY || a->narchives == 0))
		return usage_error(a, "--data is required");
	if (a->data == NULL && a->pubkey == NULL)
		return usage_error(a, "--pubkey is required to verify "
		    "archives without --data");
	if (a->verb == V_ARCHIVE && check_archive_args(a) != 0)
		return EXIT_USAGE;

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

/* What to do about a damaged log, after the first bad seq was named. */
#define DAMAGED_ADVICE \
	"batonctl: do not archive or repair anything: keep the data directory " \
	"and the\n" \
	"batonctl: archives as they are, compare them with a backup (mdb_copy) " \
	"and\n" \
	"batonctl: with the anchors kept elsewhere (--expect-head), and report " \
	"it to\n" \
	"batonctl: your IG lead\n"

static void
report_bad(const struct audit_verify_report *r)
{
	if (r->bad_seq != 0)
		failx("audit log damaged at seq %" PRIu64 ": %s", r->bad_seq,
		    r->what);
	else
		failx("audit log damaged: %s", r->what);
	if (r->count > 0)
		fprintf(stderr, "batonctl: records %" PRIu64 " to %" PRIu64
		    " verified before it (%" PRIu64 " checkpoint%s)\n",
		    r->first_seq, r->head_seq, r->checkpoints,
		    r->checkpoints == 1 ? "" : "s");
	else
		fprintf(stderr, "batonctl: no record verified before it\n");
	fputs(DAMAGED_ADVICE, stderr);
}

/* Verifies each --archive in turn, printing a line for each. */
static int
verify_archives(const struct args *a, struct audit_verifier *v,
    struct audit_verify_report *r)
{
	FILE	*fp;
	size_t	 i;
	int	 rc;

	for (i = 0; i < a->narchives; i++) {
		if ((fp = fopen(a->archives[i], "r")) == NULL) {
			(void)snprintf(r->what, sizeof(r->what), "%s: %s",
			    a->archives[i], strerror(errno));
			return -1;
		}
		rc = audit_verifier_archive(v, fp, a->archives[i]);
		fclose(fp);
		if (rc != AUDIT_VERIFY_OK)
			return rc;
		printf("archive %s: seq %" PRIu64 " to %" PRIu64 " intact "
		    "(%" PRIu64 " records), sha256 %s\n", a->archives[i],
		    r->archive_first, r->archive_last, r->archive_records,
		    r->archive_sha256);
		if (i == 0 && r->archive_first > 1)
			printf("note: it continues from seq %" PRIu64 ", which "
			    "is in the archive before it: give that one "
			    "first to check the link\n", r->archive_first - 1);
	}
	return AUDIT_VERIFY_OK;
}

static void
report_intact(const struct args *a, const struct audit_verify_report *r)
{
	printf("%s intact: %" PRIu64 " records", a->data != NULL ?
	    "audit log" : "archives", r->count);
	if (r->count > 0)
		printf(" (seq %" PRIu64 " to %" PRIu64 ")", r->first_seq,
		    r->head_seq);
	printf("\nhead: %" PRIu64 ":%s\n", r->head_seq, r->head_hash);
	if (r->checkpoints > 0)
		printf("checkpoints: %" PRIu64 " signatures verified with %s, "
		    "the last at seq %" PRIu64 "\n", r->checkpoints, a->pubkey,
		    r->last_checkpoint);
	else
		printf("checkpoints: none yet\n");
	if (a->data != NULL && r->archived_upto != 0 && a->narchives == 0)
		printf("archived: seq 1 to %" PRIu64 " (the log chains onto "
		    "the signed checkpoint at seq %" PRIu64 "; verify the "
		    "archives with --archive)\n", r->archived_upto,
		    r->archived_upto);
	if (a->data != NULL && r->kept_checkpoint != 0)
		printf("last checkpoint written: seq %" PRIu64 ", present\n",
		    r->kept_checkpoint);
	if (a->expect != NULL)
		printf("anchor: %s matches\n", a->expect);
	if (r->head_seq > r->last_checkpoint && a->expect == NULL)
		printf("note: the %" PRIu64 " records after the last "
		    "checkpoint are protected by the chain only; compare with "
		    "an anchor kept elsewhere (--expect-head)\n",
		    r->head_seq - r->last_checkpoint);
}

/* The audit public key: --pubkey, else the one in the data directory. */
static struct audit_pubkey *
load_pubkey(struct args *a, char *path, size_t pathlen)
{
	struct audit_pubkey	*pk;
	char			 err[1024];

	if (a->pubkey == NULL) {
		if (snprintf(path, pathlen, "%s/audit-signing.pub",
		    a->data) >= (int)pathlen) {
			failx("%s: path too long", a->data);
			return NULL;
		}
		a->pubkey = path;
	}
	if ((pk = audit_pubkey_load(a->pubkey, err, sizeof(err))) == NULL)
		failx("%s", err);
	return pk;
}

static int
run_verify(struct args *a)
{
	struct audit_verify_report	 r;
	struct audit_verifier		*v = NULL;
	struct audit_pubkey		*pk;
	struct store			*s = NULL;
	char				 path[PATH_MAX];
	int				 rc, ret = EXIT_FAILURE;

	if ((pk = load_pubkey(a, path, sizeof(path))) == NULL)
		return EXIT_FAILURE;
	if ((v = audit_verifier_new(pk, a->expect != NULL ? &a->anchor : NULL,
	    &r)) == NULL) {
		failx("%s", r.what);
		goto done;
	}
	rc = verify_archives(a, v, &r);
	if (rc == AUDIT_VERIFY_OK && a->data != NULL) {
		if (open_store(a->data, 1, &s) != 0)
			goto done;
		rc = audit_verifier_store(v, s);
	}
	if (rc == AUDIT_VERIFY_OK)
		rc = audit_verifier_end(v);
	if (rc == -1) {
		failx("cannot verify the audit log%s%s: %s", a->data != NULL ?
		    " in " : "", a->data != NULL ? a->data : "", r.what);
		goto done;
	}
	if (rc == AUDIT_VERIFY_BAD) {
		report_bad(&r);
		goto done;
	}
	report_intact(a, &r);
	ret = EXIT_SUCCESS;
 done:
	audit_verifier_free(v);
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

/* "uid(name)" of the caller, for the record of an administrative act. */
static void
caller_text(char *who, size_t len)
{
	struct passwd	*pw;
	const char	*name = NULL;

	if ((pw = getpwuid(getuid())) != NULL &&
	    validate_node_id(pw->pw_name))
		name = pw->pw_name;	/* a plain login name, safe to keep */
	(void)snprintf(who, len, "%ld%s%s%s", (long)getuid(),
	    name != NULL ? "(" : "", name != NULL ? name : "",
	    name != NULL ? ")" : "");
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
	char			 reason[AUDIT_FIELD_MAX], who[96];
	char			 since[AUDIT_TIME_LEN + 1];
	char			 until[AUDIT_TIME_LEN + 1];
	int			 rc;

	caller_text(who, sizeof(who));
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

/* Archiving. */

/* Prints what the plan takes, or why it takes nothing. */
static void
print_plan(const struct args *a, const struct audit_archive_plan *p,
    int64_t cutoff_ms)
{
	char	 t0[AUDIT_TIME_LEN + 1], t1[AUDIT_TIME_LEN + 1];

	if (p->last == 0) {
		audit_time_format(cutoff_ms, t1);
		if (p->skipped_seq == 0)
			printf("nothing archived: the log holds no signed "
			    "checkpoint yet (batond writes one at every start "
			    "and stop, and every %d records)\n",
			    AUDIT_CHECKPOINT_EVERY);
		else if (strcmp(p->skipped_why, "seq") == 0)
			printf("nothing archived: the first checkpoint, seq %"
			    PRIu64 ", is past --upto %" PRIu64 " (an archive "
			    "ends at a checkpoint)\n", p->skipped_seq, a->upto);
		else
			printf("nothing archived: the first checkpoint, seq %"
			    PRIu64 ", or a record before it is not older than "
			    "%s (--before, --keep-days %d)\n", p->skipped_seq,
			    t1, a->keep_days);
		return;
	}
	audit_time_format(p->first_ms, t0);
	audit_time_format(p->newest_ms, t1);
	printf("%s seq %" PRIu64 " to %" PRIu64 " (%" PRIu64 " records, %s to "
	    "%s), ending at the signed checkpoint %" PRIu64 "\n",
	    a->dry_run ? "would archive" : "archiving", p->first, p->last,
	    p->last - p->first + 1, t0, t1, p->last);
}

/* The directory part of path into dir, for fsync after a rename. */
static void
dir_of(const char *path, char *dir, size_t len)
{
	const char	*slash = strrchr(path, '/');

	if (slash == NULL)
		(void)snprintf(dir, len, ".");
	else if (slash == path)
		(void)snprintf(dir, len, "/");
	else
		(void)snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

/*
 * Reads the archive back from fp (rewound) and checks it is exactly the
 * plan: seq first to last, ending at its checkpoint. sha gets its SHA-256.
 */
static int
reread_archive(const struct args *a, const struct audit_pubkey *pk,
    const struct audit_archive_plan *p, FILE *fp, char *sha)
{
	struct audit_verify_report	 r;
	struct audit_verifier		*v;
	int				 rc;

	rewind(fp);
	if ((v = audit_verifier_new(pk, NULL, &r)) == NULL)
		return failx("%s", r.what);
	rc = audit_verifier_archive(v, fp, a->out);
	audit_verifier_free(v);
	if (rc != AUDIT_VERIFY_OK)
		return failx("the archive written does not verify: %s", r.what);
	if (r.archive_first != p->first || r.archive_last != p->last)
		return failx("the archive written holds seq %" PRIu64 " to %"
		    PRIu64 ", not %" PRIu64 " to %" PRIu64, r.archive_first,
		    r.archive_last, p->first, p->last);
	memcpy(sha, r.archive_sha256, AUDIT_REF_HEX + 1);
	return 0;
}

/*
 * Writes the archive to a temporary file beside --out, fsyncs it, reads
 * it back and verifies it, then links it in as --out (refused if that
 * exists). sha gets the file's SHA-256. Returns 0, or EXIT_FAILURE.
 */
static int
write_archive_file(const struct args *a, struct store *s,
    const struct audit_pubkey *pk, const struct audit_archive_plan *p,
    char *sha)
{
	struct audit_verify_report	 r;
	char				 tmp[PATH_MAX], dir[PATH_MAX];
	FILE				*fp;
	int				 fd, dfd, ret = EXIT_FAILURE;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", a->out,
	    (long)getpid()) >= (int)sizeof(tmp))
		return failx("%s: path too long", a->out);
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return failx("%s: %s", tmp, strerror(errno));
	if ((fp = fdopen(fd, "w+")) == NULL) {
		close(fd);
		failx("%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (audit_archive_write(s, pk, p, fp, &r) != AUDIT_VERIFY_OK) {
		failx("writing %s: %s", tmp, r.what);
		goto done;
	}
	if (fflush(fp) == EOF || fsync(fileno(fp)) == -1) {
		failx("%s: %s", tmp, strerror(errno));
		goto done;
	}
	if (reread_archive(a, pk, p, fp, sha) != 0)
		goto done;
	if (link(tmp, a->out) == -1) {
		failx("%s: %s%s", a->out, strerror(errno), errno == EEXIST ?
		    " (an archive is never overwritten: choose another name)" :
		    "");
		goto done;
	}
	dir_of(a->out, dir, sizeof(dir));
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);	/* the name must survive a crash too */
		close(dfd);
	}
	ret = 0;
 done:
	if (fp != NULL)
		fclose(fp);
	(void)unlink(tmp);
	return ret;
}

/*
 * Removes the archived records in one transaction, with the audit_archived
 * record naming the range, the file and its SHA-256, and who did it.
 */
static int
remove_archived(const struct args *a, struct audit *au, struct store *s,
    const struct audit_archive_plan *p, const char *sha)
{
	struct audit_event	 ev;
	char			 reason[AUDIT_FIELD_MAX], who[96];
	char			 hex[AUDIT_REF_HEX + 1];
	const char		*base = strrchr(a->out, '/');
	size_t			 i;
	int			 rc;

	base = base != NULL ? base + 1 : a->out;
	caller_text(who, sizeof(who));
	for (i = 0; i < sizeof(p->last_hash); i++)
		(void)snprintf(hex + 2 * i, 3, "%02x", p->last_hash[i]);
	(void)snprintf(reason, sizeof(reason), "seq %" PRIu64 "-%" PRIu64
	    " anchor=%" PRIu64 ":%s file_sha256=%s%s%s keep_days=%d uid=%s",
	    p->first, p->last, p->last, hex, sha,
	    validate_node_id(base) ? " file=" : "",
	    validate_node_id(base) ? base : "", a->keep_days, who);
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_ARCHIVED;
	ev.actor = "batonctl";
	ev.outcome = "ok";
	ev.reason = reason;
	if (store_begin(s, 0) != STORE_OK)
		return failx("%s", store_strerror(s));
	if ((rc = audit_archive_remove(au, s, p, &ev, ctl_now_ms())) !=
	    STORE_OK) {
		store_abort(s);
		return failx("%s", audit_strerror(au));
	}
	if (store_commit(s) != STORE_OK)
		return failx("committing the removal: %s", store_strerror(s));
	return 0;
}

static int
run_archive(struct args *a)
{
	struct audit_archive_plan	 p;
	struct audit_verify_report	 r;
	struct audit_pubkey		*pk = NULL;
	struct audit			*au = NULL;
	struct store			*s = NULL;
	char				 path[PATH_MAX], err[1024];
	char				 sha[AUDIT_REF_HEX + 1];
	int64_t				 cutoff;
	int				 rc, ret = EXIT_FAILURE;

	/* Signing is needed for the record and checkpoint that follow. */
	if ((au = audit_open(a->data, 0, err, sizeof(err))) == NULL) {
		failx("%s", err);
		goto done;
	}
	if ((pk = load_pubkey(a, path, sizeof(path))) == NULL ||
	    open_store(a->data, 0, &s) != 0)
		goto done;
	cutoff = ctl_now_ms() - (int64_t)a->keep_days * DAY_MS;
	if (a->before_ms < cutoff)
		cutoff = a->before_ms;
	rc = audit_archive_plan(s, pk, a->upto, cutoff, &p, &r);
	if (rc == -1) {
		failx("cannot verify the audit log in %s: %s", a->data, r.what);
		goto done;
	}
	if (rc == AUDIT_VERIFY_BAD) {
		report_bad(&r);
		failx("nothing archived: the log must verify first");
		goto done;
	}
	print_plan(a, &p, cutoff);
	if (p.last == 0 || a->dry_run) {
		ret = EXIT_SUCCESS;
		goto done;
	}
	if (write_archive_file(a, s, pk, &p, sha) != 0)
		goto done;
	if (remove_archived(a, au, s, &p, sha) != 0) {
		(void)unlink(a->out);
		failx("nothing was removed from the store; %s deleted again",
		    a->out);
		goto done;
	}
	printf("archive: %s, sha256 %s\n", a->out, sha);
	printf("the log now starts at seq %" PRIu64 ", chained onto the "
	    "archive's last checkpoint %" PRIu64 "; the archive is recorded "
	    "as audit_archived\n", p.last + 1, p.last);
	printf("keep the file and its sha256 with your anchors; check it with "
	    "'batonctl audit verify --archive %s --pubkey KEY'\n", a->out);
	ret = EXIT_SUCCESS;
 done:
	store_close(s);
	audit_pubkey_free(pk);
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
	a.before_ms = INT64_MAX;
	a.upto = UINT64_MAX;
	a.keep_days = ARCHIVE_KEEP_DAYS;
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
	case V_ARCHIVE:
		return run_archive(&a);
	}
	return EXIT_FAILURE;
}
