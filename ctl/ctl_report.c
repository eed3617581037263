/*
 * ctl_report.c - "batonctl report": the governance report for a period,
 * per route and risk level, as a table, CSV or one HTML page.
 *
 * A thin layer: the figures, their arithmetic and the formats are in
 * broker/state/audit_report.c, where the unit test reaches them. This
 * file parses the command line, loads the policy (for the deadlines),
 * feeds the report the audit log one record at a time and what is
 * undecided now (report_store.h), and writes it out.
 *
 * Invariants:
 * - The report is a read of the audit log and is itself audited: an
 *   "audit_read" record naming the period, the format, who asked and the
 *   policy's SHA-256 is committed before anything is read, and if it
 *   cannot be, nothing is shown.
 * - The log and the store are read in one read transaction, one record
 *   decoded at a time: memory is the report's fixed cells whatever the
 *   length of the log (audit_report.h).
 * - A damaged or undecodable record stops the report, naming its seq; no
 *   figure is ever computed over a gap.
 * - --out is written whole or not at all (atomicfile), mode 0600.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomicfile.h"
#include "audit.h"
#include "audit_report.h"
#include "clock.h"
#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_opts.h"
#include "policy_file.h"
#include "policy_in_force.h"
#include "report_store.h"
#include "store.h"
#include "store.pb-c.h"

#define TIME_WANTS	"YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC)"

struct args {
	const struct command	*c;
	const char		*data;
	const char		*since;
	const char		*until;
	const char		*format;
	const char		*out;
	const char		*policy;
	int64_t			 since_ms;
	int64_t			 until_ms;
	enum report_format	 fmt;
};

/* In enum report_format's order: formats[fmt].name is fmt's name. */
static const struct {
	const char		*name;
	enum report_format	 fmt;
} formats[] = {
	{ "table", REPORT_TABLE },
	{ "csv", REPORT_CSV },
	{ "html", REPORT_HTML },
};

/* What needs a parse of its value. PARSE_RUN, or EXIT_USAGE. */
static int
check_args(struct args *a)
{
	size_t i;

	if (audit_time_parse(a->since, 0, &a->since_ms) == -1)
		return ctl_usage_error(a->c, "--since wants " TIME_WANTS
		    ", not '%s'", a->since);
	if (audit_time_parse(a->until, 1, &a->until_ms) == -1)
		return ctl_usage_error(a->c, "--until wants " TIME_WANTS
		    ", not '%s'", a->until);
	if (a->since_ms > a->until_ms)
		return ctl_usage_error(a->c, "--since is after --until");
	if (a->format == NULL)
		return PARSE_RUN;
	for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(a->format, formats[i].name) == 0) {
			a->fmt = formats[i].fmt;
			return PARSE_RUN;
		}
	return ctl_usage_error(a->c, "--format wants table, csv or html, not "
	    "'%s'", a->format);
}

static int
parse(int argc, char **argv, struct args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory", .required = 1 },
		{ CTL_STRING("since", "T", &a->since),
		  .help = "the period's start (UTC): YYYY-MM-DD or\n"
		  "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]", .required = 1 },
		{ CTL_STRING("until", "T", &a->until),
		  .help = "its end, included; a date alone means to the end\n"
		  "of that day", .required = 1 },
		{ CTL_STRING("policy", "FILE", &a->policy),
		  .help = "the policy whose acceptance deadlines the on-time\n"
		  "shares are measured against (default: the copy of\n"
		  "the policy in force, DIR/" POLICY_IN_FORCE_FILE ")" },
		{ CTL_STRING("format", "F", &a->format),
		  .help = "table (default; 80 columns), csv (one row per\n"
		  "route and risk level) or html (one page, charts\n"
		  "as inline SVG, nothing loaded)" },
		{ CTL_STRING("out", "FILE", &a->out),
		  .help = "write to FILE (replaced whole, mode 0600) instead\n"
		  "of standard output" },
		{ CTL_TEXT,
		  .help = "\n"
		  "Per route (sender's role -> recipient's role) and risk "
		  "level: handovers sent,\n"
		  "median and 90th percentile time to delivery and to "
		  "decision, the share\n"
		  "decided within the policy's deadline, rejections by "
		  "reason, redirects per\n"
		  "handover, escalations and expiries in the period; what is "
		  "undecided now, per\n"
		  "receiving role, from the store. Percentiles are exact "
		  "below 16 ms, otherwise\n"
		  "within " REPORT_RESOLUTION_TEXT " of the true value "
		  "(log-scale histograms). The audit log is\n"
		  "read in one pass in constant memory (at most 256 route and "
		  "risk level pairs,\n"
		  "1.6 MB).\n"
		  "The report's notes say how each figure is computed; it "
		  "names roles, risk\n"
		  "levels and reason codes only. The query is recorded in "
		  "the audit log\n"
		  "(audit_read) before anything is read." },
	};
	int	 r;

	r = ctl_opts_parse(a->c, opts, CTL_NOPTS(opts), argc, argv);
	if (r != PARSE_RUN)
		return r;
	return check_args(a);
}

/*
 * The policy the deadlines come from: --policy FILE, with the SHA-256 of
 * its bytes into sha256 (the hash the broker's policy_loaded records
 * carry), else the broker's copy of the policy in force, sha256 "" (the
 * copy's bytes are not the file the broker hashed). name gets what to
 * call it. NULL, having said why.
 */
static struct policy *
load_policy(const struct args *a, char sha256[POLICY_SHA256_HEX + 1],
    char *name, size_t namelen)
{
	struct policy	*p;
	const char	*why;
	char		 err[8192];
	int		 missing;

	if (a->policy != NULL) {
		(void)snprintf(name, namelen, "%s", a->policy);
		ctl_sanitise(name);	/* it is shown in the report */
		if ((p = policy_file_load(a->policy, sha256, &why, err,
		    sizeof(err))) == NULL)
			(void)ctl_failx("%s", err);
		return p;
	}
	sha256[0] = '\0';
	policy_in_force_path(a->data, name, namelen);
	ctl_sanitise(name);
	if ((p = policy_in_force_load(a->data, &missing, err,
	    sizeof(err))) != NULL)
		return p;
	if (missing)
		(void)ctl_failx("no policy in force is known for %s (batond "
		    "has not loaded one with this data directory): give "
		    "--policy FILE, the policy whose deadlines to measure "
		    "against", a->data);
	else
		(void)ctl_failx("cannot read the copy of the policy in force "
		    "(give --policy FILE instead): %s", err);
	return NULL;
}

/*
 * Records this report query, with who asked, the period and the policy,
 * and commits it before anything is read.
 */
static int
record_query(const struct args *a, struct audit *au, struct store *s,
    const char *sha256)
{
	struct audit_event	 ev;
	char			 reason[AUDIT_FIELD_MAX], who[96];
	char			 detail[sizeof("policy_sha256=") +
				    POLICY_SHA256_HEX];
	char			 since[AUDIT_TIME_LEN + 1];
	char			 until[AUDIT_TIME_LEN + 1];

	ctl_caller(who, sizeof(who));
	audit_time_format(a->since_ms, since);
	audit_time_format(a->until_ms, until);
	(void)snprintf(reason, sizeof(reason), "report %s uid=%s since=%s "
	    "until=%s%s", formats[a->fmt].name, who, since, until,
	    a->policy == NULL ? " policy=in-force" : "");
	(void)snprintf(detail, sizeof(detail), "policy_sha256=%s", sha256);
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_LOG_READ;
	ev.actor = "batonctl";
	ev.outcome = "ok";
	ev.reason = reason;
	ev.detail = sha256[0] != '\0' ? detail : NULL;
	return ctl_data_record(au, s, &ev, "this report query");
}

/* Feeds every audit record to r. 0, or -1 having said why. */
static int
feed_log(struct report *r, struct store *s)
{
	Baton__Store__V1__AuditRecord	*rec;
	struct store_cursor		*c = NULL;
	const void			*k, *v;
	size_t				 kl, vl;
	uint64_t			 ks;
	int				 rc, ret = -1;

	if (store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK) {
		(void)ctl_failx("reading the audit log: %s", store_strerror(s));
		return -1;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND; rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		ks = kl == 8 ? store_be64(k) : 0;
		if (rc == STORE_CORRUPT) {
			ctl_failx("audit record %" PRIu64 " is damaged (run "
			    "batonctl audit verify); no report made", ks);
			goto done;
		}
		if (rc != STORE_OK) {
			ctl_failx("reading the audit log: %s",
			    store_strerror(s));
			goto done;
		}
		if ((rec = baton__store__v1__audit_record__unpack(NULL, vl,
		    v)) == NULL || rec->seq != ks) {
			if (rec != NULL)
				baton__store__v1__audit_record__free_unpacked(
				    rec, NULL);
			ctl_failx("audit record %" PRIu64 " does not decode "
			    "(run batonctl audit verify); no report made", ks);
			goto done;
		}
		rc = report_add(r, rec);
		baton__store__v1__audit_record__free_unpacked(rec, NULL);
		if (rc == -1) {
			ctl_failx("out of memory");
			goto done;
		}
	}
	ret = 0;
 done:
	store_cursor_close(c);
	return ret;
}

/* Hands r what is undecided now (report_store.c, as the auditor's report). */
static int
feed_open(struct report *r, struct store *s, int64_t now)
{
	int64_t	 stored;

	if (clock_load(s, &stored) != STORE_OK) {
		(void)ctl_failx("reading the due clock: %s", store_strerror(s));
		return -1;
	}
	/* the due clock as the broker starts it */
	if (report_feed_open(r, s, now, stored > now ? stored : now) !=
	    STORE_OK) {
		(void)ctl_failx("reading the queues: %s", store_strerror(s));
		return -1;
	}
	return 0;
}

/* The whole report from one read transaction. 0, or -1 having said why. */
static int
compute(struct report *r, struct store *s, int64_t now)
{
	int	 ret;

	if (store_begin(s, 1) != STORE_OK) {
		(void)ctl_failx("%s", store_strerror(s));
		return -1;
	}
	ret = feed_log(r, s);
	if (ret == 0)
		ret = feed_open(r, s, now);
	store_abort(s);
	return ret;
}

struct write_job {
	struct report		*r;
	enum report_format	 fmt;
};

/* An atomicfile_writer: 1 when all of it was written. */
static int
write_report(FILE *f, void *arg)
{
	const struct write_job	*j = arg;

	return report_write(j->r, f, j->fmt) == 0;
}

static int
output(const struct args *a, struct report *r)
{
	struct write_job	 j = { r, a->fmt };
	char			 err[1024];

	if (a->out == NULL) {
		if (report_write(r, stdout, a->fmt) == -1)
			return ctl_failx("writing the report: %s",
			    strerror(errno));
		return 0;
	}
	switch (atomicfile_write(a->out, 0600, ATOMICFILE_REPLACE,
	    write_report, &j, err, sizeof(err))) {
	case ATOMICFILE_OK:
		return 0;
	case ATOMICFILE_WRITER:
		return ctl_failx("%s: %s", err, strerror(errno));
	default:
		return ctl_failx("%s", err);
	}
}

/* The report's options: the period, the policy and the registry. */
static void
report_opts_init(const struct args *a, const struct policy *p,
    const char *name, const char *sha256, struct store *s, int64_t now,
    struct report_opts *o)
{
	int	 i;

	memset(o, 0, sizeof(*o));
	o->since_ms = a->since_ms;
	o->until_ms = a->until_ms;
	o->now_ms = now;
	for (i = 0; i < REPORT_RISKS && i < POLICY_RISK_LEVELS; i++)
		o->deadline_ms[i] = p->deadline_ms[i];
	o->policy_name = name;
	o->policy_sha256 = sha256;
	o->role_of = report_registry_role;
	o->role_arg = s;
}

static int
run(const struct args *a)
{
	struct report_opts	 o;
	struct policy		*p;
	struct report		*r = NULL;
	struct audit		*au = NULL;
	struct store		*s = NULL;
	char			 sha[POLICY_SHA256_HEX + 1], err[1024];
	char			 name[PATH_MAX];
	int64_t			 now = clockms_wall();
	int			 ret = EXIT_FAILURE;

	if ((p = load_policy(a, sha, name, sizeof(name))) == NULL)
		return EXIT_FAILURE;
	if ((au = audit_open(a->data, 0, err, sizeof(err))) == NULL) {
		ctl_failx("%s", err);
		goto done;
	}
	if (ctl_data_store(a->data, 0, &s) != EXIT_SUCCESS ||
	    record_query(a, au, s, sha) != 0)
		goto done;
	report_opts_init(a, p, name, sha, s, now, &o);
	if ((r = report_new(&o)) == NULL) {
		ctl_failx("out of memory");
		goto done;
	}
	if (compute(r, s, now) == 0 && output(a, r) == 0)
		ret = EXIT_SUCCESS;
 done:
	report_free(r);
	store_close(s);
	audit_close(au);
	policy_free(p);
	return ret;
}

int
ctl_report(const struct command *c, int argc, char **argv)
{
	struct args	 a;
	int		 r;

	memset(&a, 0, sizeof(a));
	a.c = c;
	a.fmt = REPORT_TABLE;
	if ((r = parse(argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run(&a);
}
