/*
 * ctl_agreement.c - batonctl's data-sharing agreement commands:
 * "agreement add", "agreement list" and "agreement end" (agreement.h).
 *
 * A route of the policy "with agreement" lets a handover cross from one
 * organisation to another only while an agreement between the two is in
 * force; these commands record, show and end those agreements. The
 * records and their states are agreement.c's; this file only checks what
 * a person typed, and talks to them.
 *
 * As the node commands (ctl_node.c): the store is opened directly (the
 * broker may be running and sees a change at its next transaction), in
 * one short transaction per command, and every change commits with its
 * audit record (AUDIT_AGREEMENT_ADDED / _ENDED, actor "batonctl", the
 * operator's uid, detail agreement=ID) or not at all. A list is a
 * read-only transaction, ended before anything is printed; text read
 * back from the store goes through ctl_sanitise before a terminal sees
 * it, and a record that does not decode is named, not passed over.
 *
 * Dates are UTC. "--from 2026-04-01" means from 00:00:00Z that day; and,
 * because an agreement's until_ms is exclusive, "--until 2027-03-31"
 * means to the end of that day: until 2027-04-01T00:00:00Z. A full
 * instant, YYYY-MM-DDTHH:MM:SSZ, means exactly that instant.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "agreement.h"
#include "audit.h"
#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_node.h"
#include "ctl_opts.h"
#include "growarray.h"
#include "registry.h"
#include "sections.h"
#include "store.h"

#define DAY_MS		(86400LL * 1000)
#define DEFAULT_END_REASON	"ended by the administrator"

/* The date rule, for --help and for a refusal. */
#define DATE_RULE	"use YYYY-MM-DD (UTC) or YYYY-MM-DDTHH:MM:SSZ"

/* What a document reference may hold, for --help and a refusal. */
#define REF_RULE	"letters, digits, spaces and . _ : / -"

/* ---- checks shared by the commands ---- */


/* An organisation name as the registry holds it: PARSE_RUN or EXIT_USAGE. */
static int
check_org(const struct command *c, const char *opt, const char *org)
{
	if (org[0] == '\0' || strlen(org) > REGISTRY_ORG_MAX)
		return ctl_usage_error(c, "--%s: an organisation name is 1 to "
		    "%d bytes", opt, REGISTRY_ORG_MAX);
	if (!ctl_printable_utf8(org))
		return ctl_usage_error(c, "--%s: an organisation name must be "
		    "UTF-8 text without control characters", opt);
	return PARSE_RUN;
}

/* 1 when ref is a document reference agreements may carry. */
static int
valid_ref(const char *ref)
{
	const char *p;
	size_t n = strlen(ref);

	if (n == 0 || n > AGREEMENT_REF_MAX || ref[0] == ' ' ||
	    ref[n - 1] == ' ')
		return 0;
	for (p = ref; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._:/- ", *p) != NULL))
			return 0;
	return 1;
}

/* n decimal digits at s into *v: 0, or -1 if any is not a digit. */
static int
digits(const char *s, int n, int *v)
{
	int i;

	for (*v = 0, i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

/*
 * s, "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SSZ" (UTC), into *ms. A date
 * alone is the start of that day, or with end_of_day the start of the
 * next (the end of that day, for an exclusive bound). A date that is not
 * in the calendar (2026-02-30, 25:00) is refused: timegm would carry it
 * into the next month, so the result must read back as typed. 0 or -1.
 */
static int
parse_time(const char *s, int end_of_day, int64_t *ms)
{
	struct tm tm, back;
	size_t n = strlen(s);
	time_t t;
	int y, mo, d, h = 0, mi = 0, sec = 0;

	if ((n != 10 && n != 20) || s[4] != '-' || s[7] != '-' ||
	    digits(s, 4, &y) || digits(s + 5, 2, &mo) ||
	    digits(s + 8, 2, &d))
		return -1;
	if (n == 20 && (s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    s[19] != 'Z' || digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) ||
	    digits(s + 17, 2, &sec)))
		return -1;
	if (y < 1970)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1 || gmtime_r(&t, &back) == NULL ||
	    back.tm_year != y - 1900 || back.tm_mon != mo - 1 ||
	    back.tm_mday != d || back.tm_hour != h || back.tm_min != mi ||
	    back.tm_sec != sec)
		return -1;
	*ms = (int64_t)t * 1000 + (n == 10 && end_of_day ? DAY_MS : 0);
	return 0;
}

/* The section names, joined by sep, into buf (empty for none). */
static void
section_names(section_mask m, const char *sep, char *buf, size_t len)
{
	size_t i, at = 0;
	int w;

	buf[0] = '\0';
	for (i = 0; i < sections_count(); i++) {
		if (!(m & ((section_mask)1u << i)))
			continue;
		w = snprintf(buf + at, len - at, "%s%s", at > 0 ? sep : "",
		    sections_name(i));
		if (w < 0 || (size_t)w >= len - at)
			return;
		at += (size_t)w;
	}
}

/*
 * list, "name[,name...]" (spaces around a name allowed), into *out:
 * PARSE_RUN, or EXIT_USAGE naming the sections there are.
 */
static int
parse_sections(const struct command *c, const char *list, section_mask *out)
{
	char buf[512], all[256], *p, *name, *end;
	section_mask bit;

	section_names(SECTIONS_ALL, ", ", all, sizeof(all));
	if (strlen(list) >= sizeof(buf))
		return ctl_usage_error(c, "--sections is too long; the sections "
		    "are: %s", all);
	snprintf(buf, sizeof(buf), "%s", list);
	*out = 0;
	for (p = buf; p != NULL; p = end) {
		if ((end = strchr(p, ',')) != NULL)
			*end++ = '\0';
		name = p + strspn(p, " ");
		name[strcspn(name, " ")] = '\0';
		if (name[0] == '\0')
			return ctl_usage_error(c, "--sections has an empty name; "
			    "give NAME[,NAME...] from: %s", all);
		if ((bit = sections_bit(name)) == 0)
			return ctl_usage_error(c, "unknown section '%s' in "
			    "--sections; the sections are: %s", name, all);
		*out |= bit;
	}
	return PARSE_RUN;
}

/*
 * Opens the store in dir for a change as the node commands do, but only
 * where a store exists already: ctl_node_open_change would start a new
 * deployment in an empty directory, and an agreement has nothing to
 * apply to there (a wrong --data is the likely cause). EXIT_SUCCESS, or
 * EXIT_FAILURE printed with nothing open.
 */
static int
open_change(const char *dir, struct audit **au, struct store **s)
{
	char err[1024];
	int have;

	if (ctl_data_exists(dir) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if ((have = store_exists(dir, err, sizeof(err))) == -1)
		return ctl_failx("%s", err);
	if (have == 0)
		return ctl_failx("no Baton store in %s: is it the broker's data "
		    "directory? (batonctl node add starts one)", dir);
	return ctl_node_open_change(dir, au, s);
}

/* The audit record of a change to agreement id: event, reason. */
static void
agreement_event(struct audit_event *ev, const char *event,
    const char *reason, char *detail, size_t len, const char *id)
{
	snprintf(detail, len, "agreement=%s", id);
	memset(ev, 0, sizeof(*ev));
	ev->event = event;
	ev->actor = "batonctl";
	ev->other = "";
	ev->outcome = "ok";
	ev->reason = reason;
	ev->detail = detail;
}

/* ---- agreement add ---- */

struct agreement_add_args {
	const char	*data;
	const char	*org_a;
	const char	*org_b;
	const char	*ref;
	const char	*from;
	const char	*until;
	const char	*sections;	/* NULL: not given */
	int64_t		 from_ms, until_ms;
	section_mask	 mask;
};

/* The organisations the registered nodes belong to (each once). */
struct org_name {
	char	 name[REGISTRY_ORG_MAX + 1];
};

struct org_list {
	struct org_name	*v;
	size_t		 n, cap;
};

#define ORGS_NOMEM	100	/* collect_org's stop: no STORE_* code */

static int
parse_agreement_add(const struct command *c, int argc, char **argv,
    struct agreement_add_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_STRING("between", "ORG", &a->org_a),
		  .help = "one organisation, as its nodes were registered\n"
		  "(node add --org)",
		  .required = 1 },
		{ CTL_STRING("and", "ORG", &a->org_b),
		  .help = "the other organisation; the agreement covers\n"
		  "handovers both ways",
		  .required = 1 },
		{ CTL_STRING("ref", "DOCUMENT", &a->ref),
		  .help = "the signed agreement's reference, 1 to 128 of\n"
		  REF_RULE,
		  .required = 1 },
		{ CTL_STRING("from", "DATE", &a->from),
		  .help = "in force from the start of this day (UTC), or\n"
		  "from an instant YYYY-MM-DDTHH:MM:SSZ",
		  .required = 1 },
		{ CTL_STRING("until", "DATE", &a->until),
		  .help = "in force to the END of this day (UTC): it lapses\n"
		  "at 00:00:00Z the day after; or until an instant",
		  .required = 1 },
		{ CTL_STRING("sections", "NAME[,NAME...]", &a->sections),
		  .help = "the dataset sections it lets cross; without it,\n"
		  "all that the recipient's role may receive" },
		{ CTL_TEXT, .help =
		  "\nA route the policy marks \"with agreement\" carries a "
		  "handover from one\norganisation to the other only while an "
		  "agreement between them is in\nforce; out of it, handovers "
		  "are held until one is. An agreement that\nhas already "
		  "lapsed is refused; one that starts later is recorded as\n"
		  "pending. batonctl agreement list shows them, and agreement "
		  "end\nends one early.\n" },
	};
	char all[256];
	int r;

	memset(a, 0, sizeof(*a));
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	if (check_org(c, "between", a->org_a) != PARSE_RUN ||
	    check_org(c, "and", a->org_b) != PARSE_RUN)
		return EXIT_USAGE;
	if (strcmp(a->org_a, a->org_b) == 0)
		return ctl_usage_error(c, "--between and --and name the same "
		    "organisation, '%s'; an agreement is between two", a->org_a);
	if (!valid_ref(a->ref))
		return ctl_usage_error(c, "invalid --ref '%s': use 1 to %d of "
		    "%s, not starting or ending with a space", a->ref,
		    AGREEMENT_REF_MAX, REF_RULE);
	if (parse_time(a->from, 0, &a->from_ms) == -1)
		return ctl_usage_error(c, "invalid --from '%s': %s, a real "
		    "date", a->from, DATE_RULE);
	if (parse_time(a->until, 1, &a->until_ms) == -1)
		return ctl_usage_error(c, "invalid --until '%s': %s, a real "
		    "date", a->until, DATE_RULE);
	if (a->until_ms <= a->from_ms)
		return ctl_usage_error(c, "--until %s is not after --from %s; "
		    "a date as --until means to the end of that day", a->until,
		    a->from);
	if (a->until_ms <= clockms_wall())
		return ctl_usage_error(c, "--until %s has already passed: an "
		    "agreement that has lapsed cannot be added (is the year "
		    "right?)", a->until);
	if (a->sections != NULL && a->sections[0] == '\0') {
		section_names(SECTIONS_ALL, ", ", all, sizeof(all));
		return ctl_usage_error(c, "--sections is empty; leave it out "
		    "for all that the role may receive, or name some of: %s",
		    all);
	}
	if (a->sections != NULL)
		return parse_sections(c, a->sections, &a->mask);
	return PARSE_RUN;
}

static int
collect_org(const struct registry_node *n, void *arg)
{
	struct org_list *l = arg;
	struct org_name *o;
	size_t i;

	if (n->organisation[0] == '\0')
		return 0;
	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, n->organisation) == 0)
			return 0;
	if ((o = growarray_push(&l->v, &l->n, &l->cap, sizeof(*o))) == NULL)
		return ORGS_NOMEM;
	snprintf(o->name, sizeof(o->name), "%s", n->organisation);
	return 0;
}

/* 1 when some registered node belongs to org. */
static int
org_known(const struct org_list *l, const char *org)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, org) == 0)
			return 1;
	return 0;
}

/*
 * Warns that no registered node belongs to org, naming the organisations
 * that have nodes: the usual cause is a typo, and the agreement would
 * then never apply.
 */
static void
warn_unknown_org(const struct org_list *l, const char *org)
{
	char known[2048], name[REGISTRY_ORG_MAX + 1];
	size_t i, at = 0;
	int w;

	known[0] = '\0';
	for (i = 0; i < l->n; i++) {
		snprintf(name, sizeof(name), "%s", l->v[i].name);
		ctl_sanitise(name);
		w = snprintf(known + at, sizeof(known) - at, "%s'%s'",
		    i > 0 ? ", " : "", name);
		if (w < 0 || (size_t)w >= sizeof(known) - at) {
			snprintf(known + at, sizeof(known) - at, ", ...");
			break;
		}
		at += (size_t)w;
	}
	if (l->n == 0)
		fprintf(stderr, "batonctl: warning: no registered node belongs "
		    "to organisation '%s' (no node has an organisation yet: "
		    "node add --org NAME); the agreement applies only to nodes "
		    "registered with exactly this name\n", org);
	else
		fprintf(stderr, "batonctl: warning: no registered node belongs "
		    "to organisation '%s'; the organisations with nodes are: "
		    "%s. The agreement applies only to nodes registered with "
		    "exactly this name: a typo?\n", org, known);
}

/* "between A and B ref DOC from ISO until ISO [sections a,b] uid=WHO". */
static void
add_reason(const struct agreement *ag, char *buf, size_t len)
{
	char from[32], until[32], secs[256];

	ctl_iso_time(ag->from_ms, from, sizeof(from));
	ctl_iso_time(ag->until_ms, until, sizeof(until));
	section_names(ag->sections, ",", secs, sizeof(secs));
	snprintf(buf, len, "between %s and %s ref %s from %s until %s%s%s "
	    "uid=%s", ag->org_a, ag->org_b, ag->reference, from, until,
	    ag->sections != 0 ? " sections " : "", secs, ag->created_by);
}

/*
 * Adds ag with its audit record in the open write transaction, and
 * commits. Reads the registry's organisations into orgs first (for the
 * warning). Returns as agreement_commit; *why set.
 */
static int
add_commit(struct audit *au, struct store *s, struct agreement *ag,
    struct org_list *orgs, const char **why)
{
	struct audit_event ev;
	char reason[AUDIT_FIELD_MAX], detail[64];
	int r;

	if ((r = registry_each(s, collect_org, orgs)) == ORGS_NOMEM) {
		store_abort(s);
		*why = "out of memory";
		return STORE_ERROR;
	}
	if (r == STORE_OK)
		r = agreement_add(s, ag);
	add_reason(ag, reason, sizeof(reason));
	agreement_event(&ev, AUDIT_AGREEMENT_ADDED, reason, detail,
	    sizeof(detail), ag->id);
	return ctl_change_commit(au, s, r, &ev, ag->created_at_ms, why);
}

static int
run_agreement_add(const struct agreement_add_args *a)
{
	struct org_list orgs = { NULL, 0, 0 };
	struct agreement ag;
	struct audit *au;
	struct store *s;
	char from[32], until[32], secs[256];
	const char *why;
	int r;

	memset(&ag, 0, sizeof(ag));
	snprintf(ag.org_a, sizeof(ag.org_a), "%s", a->org_a);
	snprintf(ag.org_b, sizeof(ag.org_b), "%s", a->org_b);
	snprintf(ag.reference, sizeof(ag.reference), "%s", a->ref);
	ag.from_ms = a->from_ms;
	ag.until_ms = a->until_ms;
	ag.sections = a->mask;
	ag.created_at_ms = clockms_wall();
	ctl_caller(ag.created_by, sizeof(ag.created_by));
	if (open_change(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	/* The agreement and its audit record commit together or not at all. */
	r = add_commit(au, s, &ag, &orgs, &why);
	if (r == STORE_FULL)
		r = ctl_failx("cannot add the agreement: the store in %s is "
		    "full, or already keeps the most agreements it may (%d, "
		    "ended and lapsed ones included)", a->data, AGREEMENT_MAX);
	else if (r != STORE_OK)
		r = ctl_failx("cannot add the agreement to %s: %s", a->data,
		    why);
	else {
		if (!org_known(&orgs, a->org_a))
			warn_unknown_org(&orgs, a->org_a);
		if (!org_known(&orgs, a->org_b))
			warn_unknown_org(&orgs, a->org_b);
		ctl_iso_time(ag.from_ms, from, sizeof(from));
		ctl_iso_time(ag.until_ms, until, sizeof(until));
		printf("added agreement %s between '%s' and '%s' (ref %s): in "
		    "force from %s until %s\n", ag.id, ag.org_a, ag.org_b,
		    ag.reference, from, until);
		if (ag.sections != 0) {
			section_names(ag.sections, ", ", secs, sizeof(secs));
			printf("sections shared: %s\n", secs);
		}
		r = EXIT_SUCCESS;
	}
	free(orgs.v);
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_agreement_add(const struct command *c, int argc, char **argv)
{
	struct agreement_add_args a;
	int r;

	if ((r = parse_agreement_add(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_agreement_add(&a);
}

/* ---- agreement list ---- */

struct agreement_list_args {
	const char	*data;
	int		 json;
	int		 all;		/* ended and lapsed ones too */
};

struct agreement_array {
	struct agreement	*v;
	size_t			 n, cap;
};

/* Keys of records that do not read as agreements, for the warning. */
#define BAD_SHOWN	8
struct bad_keys {
	char		 key[BAD_SHOWN][AGREEMENT_ID_MAX + 1];
	size_t		 n;		/* all of them, shown or not */
};

static int
parse_agreement_list(const struct command *c, int argc, char **argv,
    struct agreement_list_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_FLAG("json", &a->json),
		  .help = "one JSON object per line instead of a table" },
		{ CTL_FLAG("all", &a->all),
		  .help = "ended and lapsed agreements too" },
		{ CTL_TEXT, .help =
		  "\nSTATE is pending (not yet in force), in force (with the "
		  "days left once\nfewer than 30), lapsed (its UNTIL has "
		  "passed) or ended (by agreement end).\nUNTIL is exclusive: "
		  "the agreement is in force up to that instant.\n" },
	};

	memset(a, 0, sizeof(*a));
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

/* The key of a record that is not a readable agreement, into b. */
static void
bad_key(struct bad_keys *b, const void *k, size_t kl)
{
	char *dst;
	size_t n = kl < AGREEMENT_ID_MAX ? kl : AGREEMENT_ID_MAX;

	if (b->n < BAD_SHOWN) {
		dst = b->key[b->n];
		memcpy(dst, k, n);
		dst[n] = '\0';		/* a NUL inside ends it early */
		ctl_sanitise(dst);
	}
	b->n++;
}

#define COLLECT_NOMEM	100	/* collect_one's stop: no STORE_* code */

/*
 * One record of the walk: read through agreement_get, so a record that
 * fails its check is named rather than passed over as agreement_each
 * does. STORE_OK, or a store error or COLLECT_NOMEM that ends the walk.
 */
static int
collect_one(struct store *s, const void *k, size_t kl,
    struct agreement_array *out, struct bad_keys *bad)
{
	struct agreement ag, *v;
	char id[AGREEMENT_ID_MAX + 1];
	int r;

	if (kl > AGREEMENT_ID_MAX || memchr(k, '\0', kl) != NULL) {
		bad_key(bad, k, kl);
		return STORE_OK;
	}
	memcpy(id, k, kl);
	id[kl] = '\0';
	if ((r = agreement_get(s, id, &ag)) == STORE_ERROR)
		return r;
	if (r != STORE_OK) {
		bad_key(bad, k, kl);
		return STORE_OK;
	}
	if ((v = growarray_push(&out->v, &out->n, &out->cap,
	    sizeof(*v))) == NULL)
		return COLLECT_NOMEM;
	*v = ag;
	return STORE_OK;
}

/* Every agreement record into out (unreadable ones into bad). */
static int
collect_all(struct store *s, struct agreement_array *out,
    struct bad_keys *bad)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	int r, rc = STORE_OK;

	if ((r = store_cursor_open(s, STORE_AGREEMENTS, &c)) != STORE_OK)
		return r == STORE_NOTFOUND ? STORE_OK : r;	/* no table yet */
	for (r = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    r == STORE_OK || r == STORE_CORRUPT;
	    r = store_cursor_next(c, &k, &kl, &v, &vl))
		if ((rc = collect_one(s, k, kl, out, bad)) != STORE_OK)
			break;
	store_cursor_close(c);
	if (rc != STORE_OK)
		return rc;
	return r == STORE_NOTFOUND ? STORE_OK : r;
}

/* The agreements of data into *out; the transaction is ended. */
static int
read_agreements(const char *data, struct store *s,
    struct agreement_array *out, struct bad_keys *bad)
{
	size_t i;
	int r;

	r = collect_all(s, out, bad);
	/* Copy out, then end the read transaction before anything else. */
	store_abort(s);
	if (r == COLLECT_NOMEM)
		return ctl_failx("out of memory");
	if (r != STORE_OK)
		return ctl_failx("cannot list the agreements in %s: %s", data,
		    store_strerror(s));
	for (i = 0; i < bad->n && i < BAD_SHOWN; i++)
		fprintf(stderr, "batonctl: warning: the agreement record under "
		    "'%s' in %s is damaged and not shown; the broker treats it "
		    "as absent (re-add the agreement it held)\n", bad->key[i],
		    data);
	if (bad->n > BAD_SHOWN)
		fprintf(stderr, "batonctl: warning: and %zu more damaged "
		    "agreement records\n", bad->n - BAD_SHOWN);
	return EXIT_SUCCESS;
}

/* Whole days until ag lapses, at now. */
static long long
days_left(const struct agreement *ag, int64_t now)
{
	return (long long)((ag->until_ms - now) / DAY_MS);
}

/* "in force (lapses in 12d)", "pending", ...: the STATE column. */
static void
state_text(const struct agreement *ag, int64_t now, char *buf, size_t len)
{
	enum agreement_state st = agreement_state(ag, now);
	char left[16];

	if (st == AGREEMENT_IN_FORCE && ag->until_ms - now <
	    AGREEMENT_WARN_MS) {
		if (ag->until_ms - now >= DAY_MS)
			snprintf(left, sizeof(left), "%lldd",
			    days_left(ag, now));
		else
			ctl_duration(ag->until_ms - now, left, sizeof(left));
		snprintf(buf, len, "%s (lapses in %s)",
		    agreement_state_name(st), left);
	} else
		snprintf(buf, len, "%s", agreement_state_name(st));
}

/* Shown without --all: pending and in force. */
static int
shown(const struct agreement *ag, int64_t now, int all)
{
	enum agreement_state st = agreement_state(ag, now);

	return all || st == AGREEMENT_PENDING || st == AGREEMENT_IN_FORCE;
}

static int
print_json(const struct agreement *ag, int64_t now)
{
	enum agreement_state st = agreement_state(ag, now);
	char from[32], until[32], created[32], ended[32];
	json_t *o, *secs;
	size_t i;

	ctl_iso_time(ag->from_ms, from, sizeof(from));
	ctl_iso_time(ag->until_ms, until, sizeof(until));
	ctl_iso_time(ag->created_at_ms, created, sizeof(created));
	ctl_iso_time(ag->ended_at_ms, ended, sizeof(ended));
	if ((secs = json_array()) == NULL)
		return ctl_failx("out of memory");
	for (i = 0; i < sections_count(); i++)
		if ((ag->sections & ((section_mask)1u << i)) &&
		    json_array_append_new(secs,
		    json_string(sections_name(i))) != 0) {
			json_decref(secs);
			return ctl_failx("out of memory");
		}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:o, "
	    "s:s, s:s, s:s?, s:s?, s:s?}", "id", ag->id,
	    "state", agreement_state_name(st), "org_a", ag->org_a,
	    "org_b", ag->org_b, "reference", ag->reference,
	    "from", from, "until", until,
	    "from_ms", (json_int_t)ag->from_ms,
	    "until_ms", (json_int_t)ag->until_ms, "sections", secs,
	    "created_at", created, "created_by", ag->created_by,
	    "ended_at", ag->ended_at_ms != 0 ? ended : NULL,
	    "ended_by", ag->ended_at_ms != 0 ? ag->ended_by : NULL,
	    "end_reason", ag->ended_at_ms != 0 ? ag->end_reason : NULL);
	if (o == NULL)
		return ctl_failx("agreement %s: a field is not valid UTF-8",
		    ag->id);
	if (st == AGREEMENT_IN_FORCE && json_object_set_new(o,
	    "lapses_in_days", json_integer(days_left(ag, now))) != 0) {
		json_decref(o);
		return ctl_failx("out of memory");
	}
	return ctl_json_put(o, JSON_COMPACT);
}

/* The widths of a table's columns: the headers' at the least. */
struct widths {
	int	 id, state, between, ref;
};

/* ag's text made fit for a terminal; BETWEEN and SECTIONS into bufs. */
static void
table_row(struct agreement *ag, char *between, size_t blen, char *secs,
    size_t slen)
{
	ctl_sanitise(ag->id);
	ctl_sanitise(ag->org_a);
	ctl_sanitise(ag->org_b);
	ctl_sanitise(ag->reference);
	snprintf(between, blen, "%s <-> %s", ag->org_a, ag->org_b);
	if (ag->sections == 0)
		snprintf(secs, slen, "all the role may receive");
	else
		section_names(ag->sections, ", ", secs, slen);
}

static void
print_table(struct agreement_array *a, int64_t now, int all)
{
	struct widths w = { 2, 5, 7, 3 };
	char state[64], between[2 * REGISTRY_ORG_MAX + 8], secs[256];
	char from[32], until[32];
	struct agreement *ag;
	size_t i;

	for (i = 0; i < a->n; i++) {
		ag = &a->v[i];
		if (!shown(ag, now, all))
			continue;
		table_row(ag, between, sizeof(between), secs, sizeof(secs));
		state_text(ag, now, state, sizeof(state));
		if ((int)strlen(ag->id) > w.id)
			w.id = (int)strlen(ag->id);
		if ((int)strlen(state) > w.state)
			w.state = (int)strlen(state);
		if ((int)strlen(between) > w.between)
			w.between = (int)strlen(between);
		if ((int)strlen(ag->reference) > w.ref)
			w.ref = (int)strlen(ag->reference);
	}
	printf("%-*s  %-*s  %-*s  %-*s  %-20s  %-20s  %s\n", w.id, "ID",
	    w.state, "STATE", w.between, "BETWEEN", w.ref, "REF", "FROM",
	    "UNTIL", "SECTIONS");
	for (i = 0; i < a->n; i++) {
		ag = &a->v[i];
		if (!shown(ag, now, all))
			continue;
		table_row(ag, between, sizeof(between), secs, sizeof(secs));
		state_text(ag, now, state, sizeof(state));
		ctl_iso_time(ag->from_ms, from, sizeof(from));
		ctl_iso_time(ag->until_ms, until, sizeof(until));
		printf("%-*s  %-*s  %-*s  %-*s  %-20s  %-20s  %s\n", w.id,
		    ag->id, w.state, state, w.between, between, w.ref,
		    ag->reference, from, until, secs);
	}
}

static int
run_agreement_list(const struct agreement_list_args *a)
{
	struct agreement_array ags = { NULL, 0, 0 };
	struct bad_keys bad;
	struct store *s;
	int64_t now;
	size_t i, nshown = 0;
	int r;

	memset(&bad, 0, sizeof(bad));
	if (ctl_data_exists(a->data) != EXIT_SUCCESS ||
	    ctl_data_begin(a->data, 1, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	now = clockms_wall();
	if ((r = read_agreements(a->data, s, &ags, &bad)) != EXIT_SUCCESS)
		goto done;
	for (i = 0; i < ags.n; i++)
		nshown += shown(&ags.v[i], now, a->all);
	if (a->json) {
		for (i = 0; i < ags.n; i++)
			if (shown(&ags.v[i], now, a->all) &&
			    (r = print_json(&ags.v[i], now)) != EXIT_SUCCESS)
				goto done;
	} else if (nshown == 0 && ags.n > nshown)
		printf("no agreements in force or pending (%zu ended or "
		    "lapsed: --all shows them)\n", ags.n);
	else if (nshown == 0)
		printf("no agreements\n");
	else {
		print_table(&ags, now, a->all);
		if (ags.n > nshown)
			printf("(%zu ended or lapsed not shown: --all shows "
			    "them)\n", ags.n - nshown);
	}
	r = fflush(stdout) == EOF ? ctl_failx("cannot write the list: %s",
	    strerror(errno)) : EXIT_SUCCESS;
done:
	free(ags.v);
	store_close(s);
	return r;
}

int
ctl_agreement_list(const struct command *c, int argc, char **argv)
{
	struct agreement_list_args a;
	int r;

	if ((r = parse_agreement_list(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_agreement_list(&a);
}

/* ---- agreement end ---- */

struct agreement_end_args {
	const char	*data;
	const char	*id;
	const char	*reason;
};

static int
parse_agreement_end(const struct command *c, int argc, char **argv,
    struct agreement_end_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the broker's data directory",
		  .required = 1 },
		{ CTL_STRING("id", "ag-N", &a->id),
		  .help = "the agreement, as agreement list shows it",
		  .required = 1 },
		{ CTL_STRING("reason", "TEXT", &a->reason),
		  .help = "why, for the audit log: no names or clinical\n"
		  "details (default \"" DEFAULT_END_REASON "\")" },
		{ CTL_TEXT, .help =
		  "\nFrom now on, handovers on routes that need an agreement "
		  "between the two\norganisations are held until another "
		  "agreement between them is in force.\n" },
	};
	int r;

	memset(a, 0, sizeof(*a));
	a->reason = DEFAULT_END_REASON;
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	if (!agreement_valid_id(a->id))
		return ctl_usage_error(c, "invalid agreement id '%s': ids are "
		    "ag-1, ag-2, ... (batonctl agreement list --all shows "
		    "them)", a->id);
	if (a->reason[0] == '\0' || strlen(a->reason) > AGREEMENT_REASON_MAX)
		return ctl_usage_error(c, "--reason is 1 to %d bytes",
		    AGREEMENT_REASON_MAX);
	if (!ctl_printable_utf8(a->reason))
		return ctl_usage_error(c, "--reason must be UTF-8 text without "
		    "control characters");
	return PARSE_RUN;
}

/*
 * Reads the agreement to end into ag, in the open write transaction, and
 * checks it may be ended now. EXIT_SUCCESS, or EXIT_FAILURE printed with
 * the transaction ended.
 */
static int
end_get(struct store *s, const struct agreement_end_args *a,
    struct agreement *ag, int64_t now)
{
	char when[32];
	int r;

	if ((r = agreement_get(s, a->id, ag)) != STORE_OK) {
		store_abort(s);
		if (r == STORE_NOTFOUND)
			return ctl_failx("no agreement '%s' in %s; batonctl "
			    "agreement list --data %s --all shows the ids",
			    a->id, a->data, a->data);
		return ctl_failx("cannot read agreement '%s' from %s: %s",
		    a->id, a->data, r == STORE_CORRUPT ?
		    "its record is damaged" : store_strerror(s));
	}
	switch (agreement_state(ag, now)) {
	case AGREEMENT_ENDED:
		store_abort(s);
		ctl_sanitise(ag->ended_by);
		ctl_iso_time(ag->ended_at_ms, when, sizeof(when));
		return ctl_failx("agreement %s was already ended at %s by %s",
		    a->id, when, ag->ended_by);
	case AGREEMENT_LAPSED:
		store_abort(s);
		ctl_iso_time(ag->until_ms, when, sizeof(when));
		return ctl_failx("agreement %s already lapsed at %s; there is "
		    "nothing to end", a->id, when);
	default:
		return EXIT_SUCCESS;
	}
}

/*
 * Ends ag at now with its audit record, and commits; *other gets the
 * agreement still in force between the two organisations, if any
 * (other->id "" if none). Returns as agreement_commit.
 */
static int
end_commit(struct audit *au, struct store *s, struct agreement *ag,
    const struct agreement_end_args *a, int64_t now,
    struct agreement *other, const char **why)
{
	struct audit_event ev;
	char reason[AUDIT_FIELD_MAX], detail[64];
	int r;

	ag->ended_at_ms = now;
	ctl_caller(ag->ended_by, sizeof(ag->ended_by));
	snprintf(ag->end_reason, sizeof(ag->end_reason), "%s", a->reason);
	other->id[0] = '\0';
	if ((r = agreement_put(s, ag)) == STORE_OK &&
	    (r = agreement_find(s, ag->org_a, ag->org_b, now, other)) ==
	    STORE_NOTFOUND) {
		other->id[0] = '\0';
		r = STORE_OK;
	}
	snprintf(reason, sizeof(reason), "between %s and %s ref %s: %s uid=%s",
	    ag->org_a, ag->org_b, ag->reference, ag->end_reason, ag->ended_by);
	agreement_event(&ev, AUDIT_AGREEMENT_ENDED, reason, detail,
	    sizeof(detail), ag->id);
	return ctl_change_commit(au, s, r, &ev, now, why);
}

static int
run_agreement_end(const struct agreement_end_args *a)
{
	struct agreement ag, other;
	struct audit *au;
	struct store *s;
	char until[32];
	const char *why;
	int64_t now;
	int r, pending;

	if (open_change(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	now = clockms_wall();
	if ((r = end_get(s, a, &ag, now)) != EXIT_SUCCESS)
		goto done;
	pending = agreement_state(&ag, now) == AGREEMENT_PENDING;
	if (end_commit(au, s, &ag, a, now, &other, &why) != STORE_OK) {
		r = ctl_failx("cannot end agreement %s in %s: %s", a->id,
		    a->data, why);
		goto done;
	}
	ctl_sanitise(ag.org_a);
	ctl_sanitise(ag.org_b);
	if (other.id[0] != '\0') {
		ctl_sanitise(other.id);
		ctl_iso_time(other.until_ms, until, sizeof(until));
		printf("ended agreement %s between '%s' and '%s'; agreement %s "
		    "between them stays in force until %s, and handovers "
		    "continue under it\n", ag.id, ag.org_a, ag.org_b, other.id,
		    until);
	} else if (pending)
		printf("ended agreement %s between '%s' and '%s' before it came "
		    "into force\n", ag.id, ag.org_a, ag.org_b);
	else
		printf("ended agreement %s between '%s' and '%s'; handovers on "
		    "routes that need it are held from now until another "
		    "agreement between them is in force\n", ag.id, ag.org_a,
		    ag.org_b);
	r = EXIT_SUCCESS;
done:
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_agreement_end(const struct command *c, int argc, char **argv)
{
	struct agreement_end_args a;
	int r;

	if ((r = parse_agreement_end(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_agreement_end(&a);
}
