/*
 * ctl_audit.c - "batonctl audit verify|head|list|export|trail|archive":
 * the IG view of the broker's audit log, and its retention.
 *
 * A thin layer: the checks, queries and formats are in broker/audit.c and
 * broker/audit_verify.c, where the unit tests reach them. This file parses
 * the command line, opens the data directory and reports.
 *
 * Invariants:
 * - verify and head only read (the store opened read-only), so they work
 *   on a copy made with mdb_copy and never change what they check.
 * - list, export and trail are reads of the log that are themselves
 *   audited: an "audit_read" record with the filter is committed before
 *   anything is shown, and if it cannot be, nothing is shown. The record
 *   holds the subject reference, never the NHS number asked about.
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

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "atomicfile.h"
#include "audit.h"
#include "audit_trail.h"
#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_opts.h"
#include "store.h"
#include "validate.h"

#define MAX_ARCHIVES	64
/*
 * Records younger than this are never archived unless --keep-days says
 * otherwise: a year of the log stays queryable in place.
 */
#define ARCHIVE_KEEP_DAYS	365
#define ARCHIVE_KEEP_MAX	36500
#define DAY_MS			86400000LL
#define STR(x)			STR1(x)
#define STR1(x)			#x

/* The commands (struct command's id) an option applies to. */
#define VERIFY		CTL_AUDIT_VERIFY
#define ARCHIVE		CTL_AUDIT_ARCHIVE
#define QUERY		(CTL_AUDIT_LIST | CTL_AUDIT_EXPORT)
#define TRAIL		CTL_AUDIT_TRAIL

#define TIME_WANTS	"YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC)"

struct args {
	const struct command	*c;		/* the verb, for messages */
	unsigned		 verb;		/* c->id: CTL_AUDIT_* */
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
	const char		*nodes[AUDIT_FILTER_MAX];    /* --node */
	size_t			 nnodes;
	const char		*messages[AUDIT_FILTER_MAX]; /* --message */
	size_t			 nmessages;
	const char		*events[AUDIT_FILTER_MAX];   /* --event */
	size_t			 nevents;
	int			 json;		/* trail --json */
	const char		*subject;	/* "" (wiped), or "-" */
	char			 nhs[64];	/* the number, while needed */
	int			 has_subject;
	struct audit_filter	 f;
	struct audit_anchor	 anchor;
	enum audit_format	 fmt;
};

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

/*
 * Moves the NHS number given with --subject out of argv (and so out of
 * /proc/PID/cmdline) into a->nhs; "-" stays, to be read from stdin.
 */
static void
take_subject(struct args *a)
{
	char	*v = (char *)a->subject;

	if (v == NULL)
		return;
	a->has_subject = 1;
	if (strcmp(v, "-") == 0)
		return;
	(void)snprintf(a->nhs, sizeof(a->nhs), "%s", v);
	OPENSSL_cleanse(v, strlen(v));
	a->subject = "";
}

/* archive's own checks. PARSE_RUN, or EXIT_USAGE (said why). */
static int
check_archive_args(struct args *a)
{
	const struct command	*c = a->c;

	if (a->out == NULL || *a->out == '\0')
		return ctl_usage_error(c, "--out is required");
	if (a->before == NULL && !a->has_upto)
		return ctl_usage_error(c, "say what to archive: --before T or "
		    "--upto SEQ (or both)");
	if (a->before != NULL && audit_time_parse(a->before, 0,
	    &a->before_ms) == -1)
		return ctl_usage_error(c, "--before wants " TIME_WANTS
		    ", not '%s'", a->before);
	return PARSE_RUN;
}

/*
 * The filters of list, export and trail (each --node, --message and
 * --event added to its list: any of them matches). PARSE_RUN, or
 * EXIT_USAGE.
 */
static int
check_filters(struct args *a)
{
	const struct command	*c = a->c;
	size_t			 i;

	if (a->since != NULL && audit_time_parse(a->since, 0,
	    &a->f.since_ms) == -1)
		return ctl_usage_error(c, "--since wants " TIME_WANTS
		    ", not '%s'", a->since);
	if (a->until != NULL && audit_time_parse(a->until, 1,
	    &a->f.until_ms) == -1)
		return ctl_usage_error(c, "--until wants " TIME_WANTS
		    ", not '%s'", a->until);
	if (a->f.since_ms > a->f.until_ms)
		return ctl_usage_error(c, "--since is after --until");
	for (i = 0; i < a->nnodes; i++)
		if (audit_filter_add(&a->f, AUDIT_FILTER_NODE,
		    a->nodes[i]) != 0)
			return ctl_usage_error(c, "--node: '%s' is not a node "
			    "id", a->nodes[i]);
	for (i = 0; i < a->nmessages; i++)
		if (audit_filter_add(&a->f, AUDIT_FILTER_MESSAGE,
		    a->messages[i]) != 0)
			return ctl_usage_error(c, "--message: '%s' is not a "
			    "message id ([A-Za-z0-9._:-], at most %d, or "
			    "SENDER/ID)", a->messages[i], BATON_MESSAGE_ID_MAX);
	for (i = 0; i < a->nevents; i++)
		if (audit_filter_add(&a->f, AUDIT_FILTER_EVENT,
		    a->events[i]) != 0) {
			(void)ctl_usage_error(c, "--event: unknown event '%s'",
			    a->events[i]);
			print_events(stderr);
			return EXIT_USAGE;
		}
	if (a->has_subject && strcmp(a->subject, "-") == 0 &&
	    read_subject_stdin(a->nhs, sizeof(a->nhs)) == -1)
		return ctl_usage_error(c, "--subject -: no NHS number on "
		    "standard input");
	if (a->has_subject &&
	    !validate_nhs_number(a->nhs, (char[BATON_NHS_NUMBER_LEN + 1]){0}))
		return ctl_usage_error(c, "--subject: not a valid NHS number "
		    "(10 digits with a valid check digit)");
	return PARSE_RUN;
}

/* What needs more than one option, or a parse of its value. */
static int
check_args(struct args *a)
{
	const struct command	*c = a->c;

	if ((a->data == NULL || *a->data == '\0') &&
	    (a->verb != VERIFY || a->narchives == 0))
		return ctl_usage_error(c, "--data is required");
	if (a->data == NULL && a->pubkey == NULL)
		return ctl_usage_error(c, "--pubkey is required to verify "
		    "archives without --data");
	if (a->verb == ARCHIVE && check_archive_args(a) != PARSE_RUN)
		return EXIT_USAGE;
	if (a->expect != NULL && audit_anchor_parse(a->expect,
	    &a->anchor) == -1)
		return ctl_usage_error(c, "--expect-head wants SEQ:HASH "
		    "or HASH (64 hex digits), as printed by 'batonctl audit "
		    "head'");
	if (a->verb == TRAIL && a->has_subject == (a->nmessages > 0))
		return ctl_usage_error(c, a->has_subject ? "give --subject "
		    "or --message, not both" : "give --subject or --message: "
		    "a trail is of a person or of handovers");
	a->fmt = AUDIT_FORMAT_TABLE;
	if (a->verb == CTL_AUDIT_EXPORT) {
		if (a->format == NULL)
			return ctl_usage_error(c, "--format is required");
		if (strcmp(a->format, "csv") == 0)
			a->fmt = AUDIT_FORMAT_CSV;
		else if (strcmp(a->format, "jsonl") == 0)
			a->fmt = AUDIT_FORMAT_JSONL;
		else
			return ctl_usage_error(c, "--format wants csv or "
			    "jsonl, not '%s'", a->format);
	}
	return check_filters(a);
}

/*
 * One table for the five verbs: a row names the verbs it applies to
 * (pubkey twice, with the help of each). PARSE_RUN, PARSE_HELP or
 * EXIT_USAGE.
 */
static int
parse(int argc, char **argv, struct args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory" },
		{ CTL_LIST("archive", "FILE", a->archives, &a->narchives),
		  .help =
		  "an archive from 'audit archive' (repeatable, oldest\n"
		  "first); with --data, the store's log must continue\n"
		  "from the last of them",
		  .only = VERIFY, .max = MAX_ARCHIVES },
		{ CTL_STRING("pubkey", "FILE", &a->pubkey),
		  .help =
		  "the audit public key (default DIR/audit-signing.pub;\n"
		  "keep a copy elsewhere and give that)",
		  .only = VERIFY },
		{ CTL_STRING("expect-head", "A", &a->expect),
		  .help =
		  "an anchor from 'audit head': SEQ:HASH (the record at SEQ\n"
		  "must have HASH) or HASH (some record must have it)",
		  .only = VERIFY },
		{ CTL_TEXT,
		  .help = "\n"
		  "An empty log passes only in a new data directory; a log "
		  "that does not reach\n"
		  "the last checkpoint written fails.\n"
		  "Exit status 0: intact; 1: damaged, the first bad sequence "
		  "number named.",
		  .only = VERIFY },
		{ CTL_STRING("out", "FILE", &a->out),
		  .help =
		  "the archive to write (JSON Lines, as 'export'); must not\n"
		  "exist yet",
		  .only = ARCHIVE },
		{ CTL_STRING("before", "T", &a->before),
		  .help =
		  "archive only records older than T (UTC, as for --since)",
		  .only = ARCHIVE },
		{ CTL_U64("upto", "SEQ", &a->upto),
		  .help = "archive only records up to seq SEQ",
		  .only = ARCHIVE, .min = 1, .max = UINT64_MAX,
		  .wants = "a sequence number (1 or more)" },
		{ CTL_INT("keep-days", "N", &a->keep_days),
		  .help = "never archive records younger than N days (default "
		  STR(ARCHIVE_KEEP_DAYS) ";\n0 allows any age)",
		  .only = ARCHIVE, .min = 0, .max = ARCHIVE_KEEP_MAX,
		  .wants = "a number of days from 0 to "
		  STR(ARCHIVE_KEEP_MAX) },
		{ CTL_STRING("pubkey", "FILE", &a->pubkey),
		  .help = "the audit public key to verify with (default\n"
		  "DIR/audit-signing.pub)",
		  .only = ARCHIVE },
		{ CTL_FLAG("dry-run", &a->dry_run),
		  .help =
		  "verify and show what would be archived; change nothing",
		  .only = ARCHIVE },
		{ CTL_TEXT,
		  .help = "\n"
		  "The whole log is verified first. The archive ends at the "
		  "last signed\n"
		  "checkpoint that fits the bounds, so it verifies on its "
		  "own: 'batonctl audit\n"
		  "verify --archive FILE --pubkey KEY'. Then the records are "
		  "removed in one\n"
		  "transaction that keeps that checkpoint as the anchor the "
		  "rest of the log\n"
		  "chains onto, and records the archive (audit_archived, with "
		  "the file's\n"
		  "SHA-256). Works while batond runs. Exit 0 also when "
		  "nothing fits the bounds.",
		  .only = ARCHIVE },
		{ CTL_STRING("format", "F", &a->format),
		  .help = "csv or jsonl",
		  .only = CTL_AUDIT_EXPORT },
		{ CTL_TEXT,
		  .help = "\n"
		  "FILTERS (all given must match; a filter given more than "
		  "once matches any\nof its values):",
		  .only = QUERY },
		{ CTL_TEXT,
		  .help = "\n"
		  "Whose trail: one person (--subject) or handovers "
		  "(--message, repeatable).",
		  .only = TRAIL },
		{ CTL_STRING("since", "T", &a->since),
		  .help = "at or after T (UTC): YYYY-MM-DD or\n"
		  "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]",
		  .only = QUERY | TRAIL },
		{ CTL_STRING("until", "T", &a->until),
		  .help =
		  "at or before T; a date alone means to the end of that day",
		  .only = QUERY | TRAIL },
		{ CTL_LIST("node", "ID", a->nodes, &a->nnodes),
		  .help = "records where ID is the acting or the other node",
		  .only = QUERY, .max = AUDIT_FILTER_MAX },
		{ CTL_LIST("message", "ID", a->messages, &a->nmessages),
		  .help = "records about this message id (SENDER/ID)",
		  .only = QUERY | TRAIL, .max = AUDIT_FILTER_MAX },
		{ CTL_LIST("event", "E", a->events, &a->nevents),
		  .help = "records of this event (listed below)",
		  .only = QUERY, .max = AUDIT_FILTER_MAX },
		{ CTL_STRING("subject", "NHS", &a->subject),
		  .help = "records about this person; the NHS number is\n"
		  "turned into its reference and never stored or\n"
		  "shown; '-' reads it from standard input",
		  .only = QUERY | TRAIL },
		{ CTL_FLAG("json", &a->json),
		  .help = "one JSON document, for scripts",
		  .only = TRAIL },
		{ CTL_TEXT,
		  .help = "\n"
		  "Per handover: who sent it to whom (role, organisation), "
		  "when it was\n"
		  "delivered with which sections disclosed and withheld, "
		  "and what happened\n"
		  "next (acknowledged, accepted, rejected with its reason, "
		  "redirected,\n"
		  "escalated, expired, quarantined, purged); status reads, "
		  "notices and refused\n"
		  "requests as counts. Times UTC. The query is recorded "
		  "(audit_read) first.",
		  .only = TRAIL },
	};
	int	 r;

	r = ctl_opts_parse(a->c, opts, CTL_NOPTS(opts), argc, argv);
	take_subject(a);	/* at once, whatever else is wrong */
	if (r == PARSE_HELP && (a->verb & QUERY) != 0)
		print_events(stdout);
	if (r != PARSE_RUN)
		return r;
	a->has_upto = ctl_opts_seen(opts, CTL_NOPTS(opts), "upto") > 0;
	return check_args(a);
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
		ctl_failx("audit log damaged at seq %" PRIu64 ": %s",
		    r->bad_seq, r->what);
	else
		ctl_failx("audit log damaged: %s", r->what);
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
			ctl_failx("%s: path too long", a->data);
			return NULL;
		}
		a->pubkey = path;
	}
	if ((pk = audit_pubkey_load(a->pubkey, err, sizeof(err))) == NULL)
		ctl_failx("%s", err);
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
		ctl_failx("%s", r.what);
		goto done;
	}
	rc = verify_archives(a, v, &r);
	if (rc == AUDIT_VERIFY_OK && a->data != NULL) {
		if (ctl_data_store(a->data, 1, &s) != EXIT_SUCCESS)
			goto done;
		rc = audit_verifier_store(v, s);
	}
	if (rc == AUDIT_VERIFY_OK)
		rc = audit_verifier_end(v);
	if (rc == -1) {
		ctl_failx("cannot verify the audit log%s%s: %s",
		    a->data != NULL ? " in " : "",
		    a->data != NULL ? a->data : "", r.what);
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

	if (ctl_data_store(a->data, 1, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (store_begin(s, 1) != STORE_OK) {
		rc = ctl_failx("%s: %s", a->data, store_strerror(s));
		goto done;
	}
	rc = audit_head(s, &seq, hex);
	store_abort(s);
	if (rc == STORE_CORRUPT) {
		rc = ctl_failx("the last audit record in %s is damaged; run "
		    "'batonctl audit verify'", a->data);
		goto done;
	}
	if (rc != STORE_OK) {
		rc = ctl_failx("%s: %s", a->data, store_strerror(s));
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
	char			 reason[AUDIT_FIELD_MAX], who[96];
	char			 since[AUDIT_TIME_LEN + 1];
	char			 until[AUDIT_TIME_LEN + 1];

	ctl_caller(who, sizeof(who));
	(void)snprintf(reason, sizeof(reason), "%s uid=%s",
	    a->verb == CTL_AUDIT_LIST ? "list" : a->verb == TRAIL ? "trail" :
	    a->fmt == AUDIT_FORMAT_CSV ? "export csv" : "export jsonl", who);
	if (a->since != NULL) {
		audit_time_format(a->f.since_ms, since);
		summary_add(reason, sizeof(reason), "since", since);
	}
	if (a->until != NULL) {
		audit_time_format(a->f.until_ms, until);
		summary_add(reason, sizeof(reason), "until", until);
	}
	audit_filter_describe(&a->f, reason, sizeof(reason));
	/* A subject filter shows as this record's own subject_ref. */

	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_LOG_READ;
	ev.actor = "batonctl";
	ev.message_id = a->f.nmessage_ids == 1 ? a->f.message_ids[0] : NULL;
	ev.subject_ref = ref;
	ev.outcome = "ok";
	ev.reason = reason;
	return ctl_data_record(au, s, &ev, "this read of the audit log");
}

/* The trail of a->f from the store, to stdout. 0, or EXIT_FAILURE. */
static int
write_trail(const struct args *a, struct store *s)
{
	struct audit_trail	*t;
	char			 err[1024];
	int			 rc = EXIT_FAILURE;

	if ((t = audit_trail_new(&a->f)) == NULL)
		return ctl_failx("out of memory");
	if (audit_trail_read(s, t, err, sizeof(err)) == -1)
		ctl_failx("%s", err);
	else if (audit_trail_write(t, stdout, a->json) == -1)
		ctl_failx("writing the output: %s", strerror(errno));
	else
		rc = 0;
	audit_trail_free(t);
	return rc;
}

/*
 * list, export and trail: the read recorded first (nothing is shown if it
 * cannot be), then the answer.
 */
static int
run_query(struct args *a)
{
	struct audit	*au = NULL;
	struct store	*s = NULL;
	char		 ref[AUDIT_REF_HEX + 1], err[1024];
	uint64_t	 n;
	int		 ret = EXIT_FAILURE;

	if ((au = audit_open(a->data, 0, err, sizeof(err))) == NULL) {
		ctl_failx("%s", err);
		goto done;
	}
	if (a->has_subject) {
		if (audit_subject_ref(au, a->nhs, ref) == -1) {
			ctl_failx("--subject: not a valid NHS number");
			goto done;
		}
		OPENSSL_cleanse(a->nhs, sizeof(a->nhs));
		a->f.subject_ref = ref;
	}
	if (ctl_data_store(a->data, 0, &s) != EXIT_SUCCESS ||
	    record_read(a, au, s, a->has_subject ? ref : NULL) != 0)
		goto done;
	if (a->verb == TRAIL) {
		if (write_trail(a, s) != 0)
			goto done;
	} else if (audit_export(s, &a->f, a->fmt, stdout, &n, err,
	    sizeof(err)) == -1) {
		ctl_failx("%s", err);
		goto done;
	} else if (a->fmt == AUDIT_FORMAT_TABLE)
		printf("(%" PRIu64 " record%s)\n", n, n == 1 ? "" : "s");
	if (fflush(stdout) == EOF || ferror(stdout)) {
		ctl_failx("writing the output: %s", strerror(errno));
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
		return ctl_failx("%s", r.what);
	rc = audit_verifier_archive(v, fp, a->out);
	audit_verifier_free(v);
	if (rc != AUDIT_VERIFY_OK)
		return ctl_failx("the archive written does not verify: %s",
		    r.what);
	if (r.archive_first != p->first || r.archive_last != p->last)
		return ctl_failx("the archive written holds seq %" PRIu64
		    " to %" PRIu64 ", not %" PRIu64 " to %" PRIu64,
		    r.archive_first, r.archive_last, p->first, p->last);
	memcpy(sha, r.archive_sha256, AUDIT_REF_HEX + 1);
	return 0;
}

/* What write_archive needs, for atomicfile_write. */
struct archive_job {
	const struct args		*a;
	struct store			*s;
	const struct audit_pubkey	*pk;
	const struct audit_archive_plan	*p;
	char				*sha;	/* gets the file's SHA-256 */
};

/*
 * Writes the archive to f, then reads it back and verifies it. 1, or 0
 * with the reason printed (an atomicfile_writer).
 */
static int
write_archive(FILE *f, void *arg)
{
	const struct archive_job	*j = arg;
	struct audit_verify_report	 r;

	if (audit_archive_write(j->s, j->pk, j->p, f, &r) != AUDIT_VERIFY_OK) {
		ctl_failx("writing %s: %s", j->a->out, r.what);
		return 0;
	}
	if (fflush(f) == EOF) {
		ctl_failx("writing %s: %s", j->a->out, strerror(errno));
		return 0;
	}
	return reread_archive(j->a, j->pk, j->p, f, j->sha) == 0;
}

/*
 * Writes the archive beside --out, reads it back and verifies it, then
 * links it in as --out (refused if that exists), all through
 * atomicfile_write. sha gets the file's SHA-256. 0, or EXIT_FAILURE.
 */
static int
write_archive_file(const struct args *a, struct store *s,
    const struct audit_pubkey *pk, const struct audit_archive_plan *p,
    char *sha)
{
	struct archive_job	 j = { a, s, pk, p, sha };
	char			 err[1024];

	switch (atomicfile_write(a->out, 0600, 0, write_archive, &j, err,
	    sizeof(err))) {
	case ATOMICFILE_OK:
		return 0;
	case ATOMICFILE_WRITER:
		return EXIT_FAILURE;	/* write_archive said why */
	case ATOMICFILE_EXISTS:
		return ctl_failx("%s: %s (an archive is never overwritten: "
		    "choose another name)", a->out, strerror(EEXIST));
	}
	return ctl_failx("%s", err);
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
	ctl_caller(who, sizeof(who));
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
		return ctl_failx("%s", store_strerror(s));
	if ((rc = audit_archive_remove(au, s, p, &ev, clockms_wall())) !=
	    STORE_OK) {
		store_abort(s);
		return ctl_failx("%s", audit_strerror(au));
	}
	if (store_commit(s) != STORE_OK)
		return ctl_failx("committing the removal: %s",
		    store_strerror(s));
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
		ctl_failx("%s", err);
		goto done;
	}
	if ((pk = load_pubkey(a, path, sizeof(path))) == NULL ||
	    ctl_data_store(a->data, 0, &s) != EXIT_SUCCESS)
		goto done;
	cutoff = clockms_wall() - (int64_t)a->keep_days * DAY_MS;
	if (a->before_ms < cutoff)
		cutoff = a->before_ms;
	rc = audit_archive_plan(s, pk, a->upto, cutoff, &p, &r);
	if (rc == -1) {
		ctl_failx("cannot verify the audit log in %s: %s", a->data,
		    r.what);
		goto done;
	}
	if (rc == AUDIT_VERIFY_BAD) {
		report_bad(&r);
		ctl_failx("nothing archived: the log must verify first");
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
		ctl_failx("nothing was removed from the store; %s deleted "
		    "again", a->out);
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
ctl_audit(const struct command *c, int argc, char **argv)
{
	struct args	 a;
	int		 r;

	memset(&a, 0, sizeof(a));
	a.c = c;
	a.verb = c->id;
	audit_filter_init(&a.f);
	a.before_ms = INT64_MAX;
	a.upto = UINT64_MAX;
	a.keep_days = ARCHIVE_KEEP_DAYS;
	if ((r = parse(argc, argv, &a)) != PARSE_RUN) {
		OPENSSL_cleanse(a.nhs, sizeof(a.nhs));
		return ctl_parse_exit(r);
	}
	switch (a.verb) {
	case CTL_AUDIT_VERIFY:
		return run_verify(&a);
	case CTL_AUDIT_HEAD:
		return run_head(&a);
	case CTL_AUDIT_LIST:
	case CTL_AUDIT_EXPORT:
	case CTL_AUDIT_TRAIL:
		return run_query(&a);
	case CTL_AUDIT_ARCHIVE:
		return run_archive(&a);
	}
	return EXIT_FAILURE;
}
