/*
 * policy.c - the policy.conf parser and the pure checks built on it.
 *
 * Format: one statement per line; '#' starts a comment; words are
 * separated by blanks.
 *
 *   deadline  LEVEL DURATION     acceptance deadline for a risk level
 *   escalate  NODE...            who is told when a deadline passes
 *   retention DURATION           undelivered handovers expire after this
 *   purge     DURATION           bodies removed this long after acknowledgement
 *   role      NAME               starts a role's block
 *     receive SECTION... | all | none
 *     send    ROLE KIND...|any [with agreement] [basis BASIS...|any]
 *
 *   checkin   KIND AFTER [then EVERY xN] [grace DURATION]
 *   review    before KIND FROM..TO [grace DURATION]
 *   missed    grace DURATION | missed escalate NODE... [after N] [risk LEVEL]
 *   agreements required          every route between two organisations is
 *                                gated as if it said "with agreement"
 *
 * checkin and review: the contact pattern after a handover of that kind
 * is accepted (check-ins AFTER acceptance, then every EVERY N more times;
 * a review due TO before the transition's planned date, its window
 * opening FROM before it); missed: when a check-in not recorded counts as
 * missed (default 24h after due) and who is told beyond the lead and the
 * sender (at the Nth miss, or at once from risk LEVEL).
 *
 * "with agreement": those kinds cross from one organisation to another
 * only under a data-sharing agreement in force (agreement.h); "basis":
 * the handover must state one of those lawful bases (consent,
 * direct_care, safeguarding, vital_interests; any: one of them).
 *
 * The parser is bounded: lines over 4 KiB, more than POLICY_MAX_ROLES
 * roles or routes, and unknown words are errors. All errors are reported,
 * each as file:line: reason, and any error refuses the whole file, so a
 * half-understood policy is never applied.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"
#include "policy.h"
#include "readfile.h"
#include "registry.h"

#define LINE_MAX_LEN	4096
#define MAX_WORDS	64

struct parse {
	const char	*name;
	int		 line;
	char		*err;
	size_t		 errlen;
	size_t		 used;
	int		 nerrors;
	int		 missed_escalate_line;	/* of the first, 0: none yet */
};

static void perr(struct parse *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
perr(struct parse *ps, const char *fmt, ...)
{
	va_list ap;
	int n;

	ps->nerrors++;
	if (ps->used + 1 >= ps->errlen)
		return;
	n = snprintf(ps->err + ps->used, ps->errlen - ps->used, "%s%s:%d: ",
	    ps->used ? "\n" : "", ps->name, ps->line);
	if (n < 0 || (size_t)n >= ps->errlen - ps->used) {
		ps->used = ps->errlen - 1;
		return;
	}
	ps->used += (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(ps->err + ps->used, ps->errlen - ps->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= ps->errlen - ps->used)
		ps->used = ps->errlen - 1;
	else
		ps->used += (size_t)n;
}

const char *
policy_kind_name(int kind)
{
	static char names[8][32];

	if (kind < 0 || kind >= 8)
		return "unknown";
	return names_enum_short(&baton__v1__transition_kind__descriptor, kind,
	    "TRANSITION_KIND_", names[kind], sizeof(names[kind]));
}

const char *
policy_risk_name(int level)
{
	static char names[POLICY_RISK_LEVELS][32];

	if (level < 0 || level >= POLICY_RISK_LEVELS)
		return "unknown";
	return names_enum_short(&baton__v1__risk_level__descriptor, level,
	    "RISK_LEVEL_", names[level], sizeof(names[level]));
}

static int
kind_value(const char *name)
{
	return names_enum_value(&baton__v1__transition_kind__descriptor,
	    "TRANSITION_KIND_", name);
}

const char *
policy_basis_name(int basis)
{
	static char names[POLICY_BASES][32];

	if (basis < 0 || basis >= POLICY_BASES)
		return "unknown";
	return names_enum_short(&baton__v1__lawful_basis__descriptor, basis,
	    "LAWFUL_BASIS_", names[basis], sizeof(names[basis]));
}

static int
basis_value(const char *name)
{
	return names_enum_value(&baton__v1__lawful_basis__descriptor,
	    "LAWFUL_BASIS_", name);
}

char *
policy_basis_list(unsigned mask, char *buf, size_t len)
{
	size_t used = 0;
	int b, n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (b = 1; b < POLICY_BASES; b++) {
		if (!(mask & (1u << b)) || used + 1 >= len)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
		    policy_basis_name(b));
		if (n < 0)
			break;
		used += (size_t)n;
		if (used >= len)
			used = len - 1;
	}
	return buf;
}

static int
risk_value(const char *name)
{
	return names_enum_value(&baton__v1__risk_level__descriptor,
	    "RISK_LEVEL_", name);
}

int64_t
policy_parse_duration(const char *s)
{
	char *end;
	unsigned long long v;
	int64_t mult = 1000;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's': mult = 1000; break;
		case 'm': mult = 60 * 1000; break;
		case 'h': mult = 3600 * 1000; break;
		case 'd': mult = 86400 * 1000; break;
		default: return -1;
		}
	}
	if (v > (unsigned long long)(INT64_MAX / mult) / 2)
		return -1;
	return (int64_t)v * mult;
}

static struct policy_role *
find_role(struct policy *p, const char *name)
{
	int i;

	for (i = 0; i < p->nroles; i++)
		if (strcmp(p->roles[i].name, name) == 0)
			return &p->roles[i];
	return NULL;
}

static void
stmt_role(struct parse *ps, struct policy *p, char **w, int n,
    struct policy_role **cur)
{
	*cur = NULL;
	if (n != 2) {
		perr(ps, "'role' takes one name");
		return;
	}
	if (!registry_valid_role(w[1])) {
		perr(ps, "'%.40s' is not a role name (a-z, 0-9, _ and -)", w[1]);
		return;
	}
	if (find_role(p, w[1]) != NULL) {
		perr(ps, "role '%s' is declared twice", w[1]);
		return;
	}
	if (p->nroles == POLICY_MAX_ROLES) {
		perr(ps, "more than %d roles", POLICY_MAX_ROLES);
		return;
	}
	*cur = &p->roles[p->nroles++];
	snprintf((*cur)->name, sizeof((*cur)->name), "%s", w[1]);
}

static void
stmt_receive(struct parse *ps, struct policy_role *r, char **w, int n)
{
	int i;

	if (n < 2) {
		perr(ps, "'receive' needs section names, 'all' or 'none'");
		return;
	}
	for (i = 1; i < n; i++) {
		section_mask bit;

		if (strcmp(w[i], "all") == 0) {
			r->receive |= SECTIONS_ALL;
			continue;
		}
		if (strcmp(w[i], "none") == 0)
			continue;
		if ((bit = sections_bit(w[i])) == 0) {
			perr(ps, "'%.40s' is not a dataset section", w[i]);
			continue;
		}
		r->receive |= bit;
	}
}

/*
 * The words after a send's kinds: "with agreement" and "basis NAME...".
 * Returns 0, or -1 with the error reported.
 */
static int
send_terms(struct parse *ps, char **w, int n, int *agreement,
    unsigned *basis)
{
	int i, b;

	*agreement = 0;
	*basis = 0;
	for (i = 0; i < n; i++) {
		if (strcmp(w[i], "with") == 0) {
			if (i + 1 >= n || strcmp(w[i + 1], "agreement") != 0) {
				perr(ps, "'with' must be followed by 'agreement'");
				return -1;
			}
			*agreement = 1;
			i++;
			continue;
		}
		if (strcmp(w[i], "basis") != 0) {
			perr(ps, "'%.40s' after the kinds: expected 'with "
			    "agreement' or 'basis'", w[i]);
			return -1;
		}
		if (i + 1 >= n || strcmp(w[i + 1], "with") == 0) {
			perr(ps, "'basis' needs lawful bases (consent, direct_care, "
			    "safeguarding, vital_interests, any)");
			return -1;
		}
		for (i++; i < n && strcmp(w[i], "with") != 0; i++) {
			if (strcmp(w[i], "any") == 0) {
				*basis |= POLICY_BASIS_ANY;
				continue;
			}
			if ((b = basis_value(w[i])) <= 0) {
				perr(ps, "'%.40s' is not a lawful basis (consent, "
				    "direct_care, safeguarding, vital_interests, "
				    "any)", w[i]);
				return -1;
			}
			*basis |= 1u << b;
		}
		i--;
	}
	return 0;
}

/* Gives kind k of route rt its terms; a kind declared twice must agree. */
static void
route_kind_terms(struct parse *ps, struct policy_route *rt, int k,
    int agreement, unsigned basis)
{
	if ((rt->kinds & (1u << k)) &&
	    (((rt->agreement >> k) & 1u) != (unsigned)agreement ||
	    rt->basis[k] != basis)) {
		perr(ps, "%s handovers to role '%s' are already allowed with "
		    "other terms (agreement, basis)", policy_kind_name(k),
		    rt->to_role);
		return;
	}
	rt->kinds |= 1u << k;
	if (agreement)
		rt->agreement |= 1u << k;
	rt->basis[k] = (uint8_t)basis;
}

static void
stmt_send(struct parse *ps, struct policy *p, struct policy_role *r,
    char **w, int n)
{
	struct policy_route *rt = NULL;
	unsigned basis;
	int i, k, nkinds, agreement;

	if (n < 3) {
		perr(ps, "'send' needs a recipient role and kinds (or 'any')");
		return;
	}
	if (!registry_valid_role(w[1])) {
		perr(ps, "'%.40s' is not a role name", w[1]);
		return;
	}
	for (nkinds = 2; nkinds < n && strcmp(w[nkinds], "with") != 0 &&
	    strcmp(w[nkinds], "basis") != 0; nkinds++)
		;
	if (nkinds == 2) {
		perr(ps, "'send' needs kinds (or 'any') before 'with' or 'basis'");
		return;
	}
	if (send_terms(ps, w + nkinds, n - nkinds, &agreement, &basis) == -1)
		return;
	for (i = 0; i < r->nroutes; i++)
		if (strcmp(r->routes[i].to_role, w[1]) == 0)
			rt = &r->routes[i];
	if (rt == NULL) {
		if (r->nroutes == POLICY_MAX_ROLES) {
			perr(ps, "more than %d routes for role '%s'",
			    POLICY_MAX_ROLES, r->name);
			return;
		}
		rt = &r->routes[r->nroutes++];
		snprintf(rt->to_role, sizeof(rt->to_role), "%s", w[1]);
		rt->line = ps->line;
	}
	if (agreement)
		p->gated = 1;
	for (i = 2; i < nkinds; i++) {
		if (strcmp(w[i], "any") == 0) {
			for (k = 1; k < POLICY_KINDS - 1; k++)
				route_kind_terms(ps, rt, k, agreement, basis);
			continue;
		}
		if ((k = kind_value(w[i])) <= 0) {
			perr(ps, "'%.40s' is not a transition kind (referral, discharge, "
			    "step_down, step_up, crisis_handover, transfer, any)", w[i]);
			continue;
		}
		route_kind_terms(ps, rt, k, agreement, basis);
	}
}

static void	stmt_top_other(struct parse *, struct policy *, char **, int);

int
policy_checkin_count(const struct policy *p, int kind)
{
	int i, n = 0;

	if (p == NULL || kind <= 0 || kind >= POLICY_KINDS)
		return 0;
	for (i = 0; i < p->npatterns[kind]; i++)
		n += p->patterns[kind][i].review ? 1 :
		    1 + p->patterns[kind][i].repeat;
	return n;
}

/* "grace DURATION" at w[0..n): into *ms. 0, or -1 reported. */
static int
grace_words(struct parse *ps, char **w, int n, int64_t *ms)
{
	if (n == 0)
		return 0;
	if (n != 2 || strcmp(w[0], "grace") != 0 ||
	    (*ms = policy_parse_duration(w[1])) <= 0) {
		perr(ps, "expected 'grace DURATION' at the end (e.g. grace 24h)");
		return -1;
	}
	return 0;
}

/* Adds pattern pt for kind k, within POLICY_MAX_CHECKINS in all. */
static void
add_pattern(struct parse *ps, struct policy *p, int k,
    const struct policy_pattern *pt)
{
	if (p->npatterns[k] == POLICY_MAX_PATTERNS) {
		perr(ps, "more than %d checkin and review lines for %s",
		    POLICY_MAX_PATTERNS, policy_kind_name(k));
		return;
	}
	p->patterns[k][p->npatterns[k]++] = *pt;
	if (policy_checkin_count(p, k) > POLICY_MAX_CHECKINS) {
		p->npatterns[k]--;
		perr(ps, "%s handovers would get more than %d check-ins",
		    policy_kind_name(k), POLICY_MAX_CHECKINS);
	}
}

/* checkin KIND AFTER [then EVERY xN] [grace DURATION] */
static void
stmt_checkin(struct parse *ps, struct policy *p, char **w, int n)
{
	struct policy_pattern pt;
	char *end;
	long rep;
	int k, i = 3;

	memset(&pt, 0, sizeof(pt));
	pt.line = ps->line;
	if (n < 3) {
		perr(ps, "'checkin' needs a kind and a time after acceptance "
		    "(e.g. checkin step_down 48h then 7d x4)");
		return;
	}
	if ((k = kind_value(w[1])) <= 0) {
		perr(ps, "'%.40s' is not a transition kind", w[1]);
		return;
	}
	if ((pt.first_ms = policy_parse_duration(w[2])) <= 0) {
		perr(ps, "'%.40s' is not a duration (e.g. 48h)", w[2]);
		return;
	}
	if (n >= 5 && strcmp(w[3], "then") == 0) {
		if ((pt.every_ms = policy_parse_duration(w[4])) <= 0) {
			perr(ps, "'%.40s' is not a duration (e.g. 7d)", w[4]);
			return;
		}
		if (n < 6 || w[5][0] != 'x' || !isdigit((unsigned char)w[5][1])) {
			perr(ps, "'then EVERY' needs a count, e.g. 'then 7d x4'");
			return;
		}
		errno = 0;
		rep = strtol(w[5] + 1, &end, 10);
		if (errno != 0 || *end != '\0' || rep < 1 ||
		    rep > POLICY_MAX_CHECKINS) {
			perr(ps, "'%.40s' is not a count from x1 to x%d", w[5],
			    POLICY_MAX_CHECKINS);
			return;
		}
		pt.repeat = (int)rep;
		i = 6;
	} else if (n >= 4 && strcmp(w[3], "then") == 0) {
		perr(ps, "'then' needs an interval and a count, e.g. 'then 7d x4'");
		return;
	}
	if (grace_words(ps, w + i, n - i, &pt.grace_ms) == -1)
		return;
	add_pattern(ps, p, k, &pt);
}

/* review before KIND FROM..TO [grace DURATION] */
static void
stmt_review(struct parse *ps, struct policy *p, char **w, int n)
{
	struct policy_pattern pt;
	char from[32], *dots;
	int k;

	memset(&pt, 0, sizeof(pt));
	pt.line = ps->line;
	pt.review = 1;
	if (n < 4 || strcmp(w[1], "before") != 0) {
		perr(ps, "'review' is 'review before KIND FROM..TO' (e.g. review "
		    "before step_down 14d..7d)");
		return;
	}
	if ((k = kind_value(w[2])) <= 0) {
		perr(ps, "'%.40s' is not a transition kind", w[2]);
		return;
	}
	if ((dots = strstr(w[3], "..")) == NULL ||
	    (size_t)(dots - w[3]) >= sizeof(from)) {
		perr(ps, "'%.40s' is not a window FROM..TO before the planned "
		    "date (e.g. 14d..7d)", w[3]);
		return;
	}
	memcpy(from, w[3], (size_t)(dots - w[3]));
	from[dots - w[3]] = '\0';
	pt.open_ms = policy_parse_duration(from);
	pt.first_ms = policy_parse_duration(dots + 2);
	if (pt.open_ms <= 0 || pt.first_ms < 0 || pt.open_ms <= pt.first_ms) {
		perr(ps, "'%.40s': the window FROM..TO needs durations with FROM "
		    "further before the date than TO (e.g. 14d..7d)", w[3]);
		return;
	}
	if (grace_words(ps, w + 4, n - 4, &pt.grace_ms) == -1)
		return;
	add_pattern(ps, p, k, &pt);
}

/* missed grace DURATION | missed escalate NODE... [after N] [risk LEVEL] */
static void
stmt_missed(struct parse *ps, struct policy *p, char **w, int n)
{
	char *end;
	long v;
	int i, l;

	if (n == 3 && strcmp(w[1], "grace") == 0) {
		if ((p->missed_grace_ms = policy_parse_duration(w[2])) <= 0)
			perr(ps, "'%.40s' is not a duration (e.g. 24h)", w[2]);
		return;
	}
	if (n < 3 || strcmp(w[1], "escalate") != 0) {
		perr(ps, "'missed' is 'missed grace DURATION' or 'missed escalate "
		    "NODE... [after N] [risk LEVEL]'");
		return;
	}
	if (ps->missed_escalate_line != 0) {
		perr(ps, "'missed escalate' is given twice (first at line %d): "
		    "name every node and the conditions on one line",
		    ps->missed_escalate_line);
		return;
	}
	for (i = 2; i < n; i++) {
		if (strcmp(w[i], "after") == 0 || strcmp(w[i], "risk") == 0)
			break;
		if (!validate_node_id(w[i])) {
			perr(ps, "'%.40s' is not a node id", w[i]);
			return;
		}
		if (p->nmissed_escalate == POLICY_MAX_ESCALATE) {
			perr(ps, "more than %d nodes to escalate missed contacts "
			    "to", POLICY_MAX_ESCALATE);
			return;
		}
		snprintf(p->missed_escalate[p->nmissed_escalate++],
		    BATON_NODE_ID_MAX + 1, "%s", w[i]);
	}
	if (p->nmissed_escalate == 0) {
		perr(ps, "'missed escalate' needs at least one node id");
		return;
	}
	for (; i < n; i += 2) {
		if (i + 1 >= n) {
			perr(ps, "'%s' needs a value", w[i]);
			return;
		}
		if (strcmp(w[i], "after") == 0) {
			errno = 0;
			v = strtol(w[i + 1], &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 ||
			    v > POLICY_MAX_CHECKINS) {
				perr(ps, "'after' takes a number of misses, 1 to %d",
				    POLICY_MAX_CHECKINS);
				return;
			}
			p->missed_after = (int)v;
		} else if (strcmp(w[i], "risk") == 0) {
			if ((l = risk_value(w[i + 1])) <= 0) {
				perr(ps, "'%.40s' is not a risk level (low, medium, "
				    "high, critical)", w[i + 1]);
				return;
			}
			p->missed_risk = l;
		} else {
			perr(ps, "'%.40s': expected 'after N' or 'risk LEVEL'",
			    w[i]);
			return;
		}
	}
	if (p->missed_after == 0 && p->missed_risk == 0)
		p->missed_after = 1;	/* no condition: every miss */
	ps->missed_escalate_line = ps->line;
}

static void
stmt_top(struct parse *ps, struct policy *p, char **w, int n)
{
	if (strcmp(w[0], "checkin") == 0) {
		stmt_checkin(ps, p, w, n);
		return;
	}
	if (strcmp(w[0], "review") == 0) {
		stmt_review(ps, p, w, n);
		return;
	}
	if (strcmp(w[0], "missed") == 0) {
		stmt_missed(ps, p, w, n);
		return;
	}
	stmt_top_other(ps, p, w, n);
}

static void
stmt_top_other(struct parse *ps, struct policy *p, char **w, int n)
{
	int64_t ms;
	int i, l;

	if (strcmp(w[0], "deadline") == 0) {
		if (n != 3) {
			perr(ps, "'deadline' takes a risk level and a duration");
			return;
		}
		if ((l = risk_value(w[1])) < 0) {
			perr(ps, "'%.40s' is not a risk level (low, medium, high, critical)",
			    w[1]);
			return;
		}
		if ((ms = policy_parse_duration(w[2])) <= 0) {
			perr(ps, "'%.40s' is not a duration (e.g. 90s, 15m, 4h, 3d)", w[2]);
			return;
		}
		p->deadline_ms[l] = ms;
	} else if (strcmp(w[0], "escalate") == 0) {
		if (n < 2) {
			perr(ps, "'escalate' needs at least one node id");
			return;
		}
		for (i = 1; i < n; i++) {
			if (!validate_node_id(w[i])) {
				perr(ps, "'%.40s' is not a node id", w[i]);
				continue;
			}
			if (p->nescalate == POLICY_MAX_ESCALATE) {
				perr(ps, "more than %d escalation nodes", POLICY_MAX_ESCALATE);
				return;
			}
			snprintf(p->escalate[p->nescalate++], BATON_NODE_ID_MAX + 1,
			    "%s", w[i]);
		}
	} else if (strcmp(w[0], "agreements") == 0) {
		if (n != 2 || strcmp(w[1], "required") != 0) {
			perr(ps, "'agreements' takes one word: 'agreements "
			    "required'");
			return;
		}
		p->agreements_required = 1;
		p->gated = 1;
	} else if (strcmp(w[0], "retention") == 0 || strcmp(w[0], "purge") == 0) {
		if (n != 2 || (ms = policy_parse_duration(w[1])) <= 0) {
			perr(ps, "'%s' takes one duration (e.g. 5d)", w[0]);
			return;
		}
		if (w[0][0] == 'r')
			p->retention_ms = ms;
		else
			p->purge_after_ms = ms;
	} else
		perr(ps, "unknown statement '%.40s'", w[0]);
}

static int
split_words(char *line, char **w)
{
	int n = 0;
	char *save = NULL, *tok;

	for (tok = strtok_r(line, " \t\r", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t\r", &save)) {
		if (n == MAX_WORDS)
			return -1;
		w[n++] = tok;
	}
	return n;
}

struct policy *
policy_parse(const char *name, const char *text, size_t len, char *err,
    size_t errlen)
{
	struct parse ps = { name, 0, err, errlen, 0, 0, 0 };
	struct policy *p;
	struct policy_role *cur = NULL;
	size_t pos = 0;
	int i, j;

	if (errlen > 0)
		err[0] = '\0';
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	p->retention_ms = 5LL * 86400 * 1000;
	p->purge_after_ms = 30LL * 86400 * 1000;
	p->missed_grace_ms = 24LL * 3600 * 1000;
	while (pos < len) {
		char line[LINE_MAX_LEN + 1], *w[MAX_WORDS], *hash;
		size_t end = pos, ll;
		int n;

		while (end < len && text[end] != '\n')
			end++;
		ll = end - pos;
		ps.line++;
		if (ll > LINE_MAX_LEN) {
			perr(&ps, "line longer than %d bytes", LINE_MAX_LEN);
			pos = end + 1;
			continue;
		}
		memcpy(line, text + pos, ll);
		line[ll] = '\0';
		pos = end + 1;
		if (memchr(line, '\0', ll) != NULL) {
			perr(&ps, "NUL byte in line");
			continue;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if ((n = split_words(line, w)) < 0) {
			perr(&ps, "more than %d words", MAX_WORDS);
			continue;
		}
		if (n == 0)
			continue;
		if (strcmp(w[0], "role") == 0)
			stmt_role(&ps, p, w, n, &cur);
		else if (strcmp(w[0], "receive") == 0 || strcmp(w[0], "send") == 0) {
			if (cur == NULL) {
				perr(&ps, "'%s' outside a role block", w[0]);
				continue;
			}
			if (w[0][0] == 'r')
				stmt_receive(&ps, cur, w, n);
			else
				stmt_send(&ps, p, cur, w, n);
		} else {
			cur = NULL;	/* top-level statements end a role block */
			stmt_top(&ps, p, w, n);
		}
	}
	/* every route must name a declared role (known only at the end) */
	for (i = 0; i < p->nroles; i++)
		for (j = 0; j < p->roles[i].nroutes; j++)
			if (find_role(p, p->roles[i].routes[j].to_role) == NULL) {
				ps.line = p->roles[i].routes[j].line;
				perr(&ps, "role '%s' sends to undeclared role '%s'",
				    p->roles[i].name, p->roles[i].routes[j].to_role);
			}
	if (ps.nerrors > 0) {
		free(p);
		return NULL;
	}
	/* kept whole, so the copy in force is exactly what was parsed */
	if ((p->text = malloc(len + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		free(p);
		return NULL;
	}
	memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->text_len = len;
	return p;
}

struct policy *
policy_load(const char *path, char *err, size_t errlen)
{
	struct policy *p;
	char *buf;
	size_t n;

	if ((buf = readfile_all(path, POLICY_FILE_MAX, &n, err,
	    errlen)) == NULL)
		return NULL;
	p = policy_parse(path, buf, n, err, errlen);
	free(buf);
	return p;
}

void
policy_free(struct policy *p)
{
	if (p != NULL)
		free(p->text);
	free(p);
}

const struct policy_role *
policy_role(const struct policy *p, const char *role)
{
	int i;

	if (p == NULL || role == NULL)
		return NULL;
	for (i = 0; i < p->nroles; i++)
		if (strcmp(p->roles[i].name, role) == 0)
			return &p->roles[i];
	return NULL;
}

int
policy_route_allowed(const struct policy *p, const char *from_role,
    const char *to_role, int kind)
{
	const struct policy_role *r = policy_role(p, from_role);
	int i;

	if (r == NULL || policy_role(p, to_role) == NULL || kind <= 0 || kind >= 8)
		return 0;
	for (i = 0; i < r->nroutes; i++)
		if (strcmp(r->routes[i].to_role, to_role) == 0)
			return (r->routes[i].kinds & (1u << kind)) != 0;
	return 0;
}

void
policy_route_terms(const struct policy *p, const char *from_role,
    const char *to_role, int kind, struct policy_terms *t)
{
	const struct policy_role *r = policy_role(p, from_role);
	int i;

	memset(t, 0, sizeof(*t));
	if (r == NULL || !policy_route_allowed(p, from_role, to_role, kind))
		return;
	for (i = 0; i < r->nroutes; i++)
		if (strcmp(r->routes[i].to_role, to_role) == 0) {
			t->agreement = p->agreements_required ||
			    ((r->routes[i].agreement >> kind) & 1u);
			t->basis = r->routes[i].basis[kind];
		}
}

section_mask
policy_sections(const struct policy *p, const char *role)
{
	const struct policy_role *r = policy_role(p, role);

	return r != NULL ? r->receive : 0;
}

/*
 * Edits from a to b: insert, delete, replace, or swap two neighbours
 * (optimal string alignment). Both are role names, at most
 * POLICY_ROLE_MAX bytes; a longer one is "far" (INT_MAX).
 */
static int
edit_distance(const char *a, const char *b)
{
	int d[POLICY_ROLE_MAX + 1][POLICY_ROLE_MAX + 1];
	size_t la = strlen(a), lb = strlen(b), i, j;
	int cost, v;

	if (la > POLICY_ROLE_MAX || lb > POLICY_ROLE_MAX)
		return INT_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++) {
			cost = a[i - 1] != b[j - 1];
			v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	return d[la][lb];
}

const char *
policy_nearest_role(const struct policy *p, const char *role)
{
	const char *best = NULL;
	int i, dist, best_dist, limit;

	if (p == NULL || role == NULL || policy_role(p, role) != NULL)
		return NULL;
	limit = (int)(strlen(role) / 3);
	if (limit < 1)
		limit = 1;
	best_dist = limit + 1;
	for (i = 0; i < p->nroles; i++) {
		dist = edit_distance(role, p->roles[i].name);
		if (dist < best_dist) {
			best_dist = dist;
			best = p->roles[i].name;
		}
	}
	return best;
}

char *
policy_role_list(const struct policy *p, char *buf, size_t len)
{
	size_t used = 0;
	int i, n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; p != NULL && i < p->nroles && used + 1 < len; i++) {
		n = snprintf(buf + used, len - used, "%s%s", i > 0 ? ", " : "",
		    p->roles[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	if (p == NULL || p->nroles == 0)
		snprintf(buf, len, "none");
	return buf;
}
