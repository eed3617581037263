/*
 * policy.h - policy.conf: roles, who may send which kinds of handover to
 * whom, which sections each role may receive, acceptance deadlines per
 * risk level, escalation nodes and retention.
 *
 * Pure functions over a parsed, immutable struct policy; the broker swaps
 * in a whole new one on reload. Everything not granted is denied: an
 * unknown role receives nothing and may send nothing.
 */
#ifndef BATON_POLICY_H
#define BATON_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "sections.h"
#include "validate.h"

#define POLICY_MAX_ROLES	32
#define POLICY_MAX_ESCALATE	8
#define POLICY_ROLE_MAX		32
#define POLICY_RISK_LEVELS	5	/* index = baton.v1.RiskLevel value */
/* A policy file's bytes, at most: a larger one is refused unparsed. */
#define POLICY_FILE_MAX		(1024 * 1024)

#define POLICY_KINDS		8	/* index = baton.v1.TransitionKind value */
#define POLICY_BASES		5	/* index = baton.v1.LawfulBasis value */
#define POLICY_BASIS_ANY	0x1eu	/* every defined basis, never 0 */

struct policy_route {
	char		 to_role[POLICY_ROLE_MAX + 1];
	uint32_t	 kinds;		/* bit n = TransitionKind value n */
	uint32_t	 agreement;	/* bit n: kind n needs an agreement in
					   force between the organisations */
	uint8_t		 basis[POLICY_KINDS];	/* per kind, bit b: LawfulBasis
					   b is accepted; 0: none is needed */
	int		 line;		/* of its first 'send', for errors */
};

/* What a route asks of a handover beyond being allowed. */
struct policy_terms {
	int		 agreement;	/* an agreement between the two
					   organisations must be in force */
	unsigned	 basis;		/* bit b: LawfulBasis b will do;
					   0: no basis is needed */
};

struct policy_role {
	char			 name[POLICY_ROLE_MAX + 1];
	section_mask		 receive;
	struct policy_route	 routes[POLICY_MAX_ROLES];
	int			 nroutes;
};

#define POLICY_MAX_CHECKINS	16	/* check-ins one accepted handover gets */
#define POLICY_MAX_PATTERNS	8	/* checkin and review lines per kind */

/*
 * One contact pattern of a transition kind: "checkin KIND AFTER [then
 * EVERY xN]" (after acceptance) or "review before KIND FROM..TO" (a window
 * before the transition's planned date).
 */
struct policy_pattern {
	int		 review;
	int64_t		 first_ms;	/* checkin: after acceptance; review:
					   the window closes this long before
					   the planned date */
	int64_t		 open_ms;	/* review: the window opens this long
					   before it */
	int64_t		 every_ms;	/* checkin: then every ... */
	int		 repeat;	/* ... this many more times */
	int64_t		 grace_ms;	/* 0: the policy's missed grace */
	int		 line;
};

struct policy {
	struct policy_role	 roles[POLICY_MAX_ROLES];
	int			 nroles;
	int			 gated;		/* some route needs an agreement */
	int			 agreements_required; /* every route between
						   organisations needs one */
	int64_t			 deadline_ms[POLICY_RISK_LEVELS];	/* 0 = none */
	char			 escalate[POLICY_MAX_ESCALATE][BATON_NODE_ID_MAX + 1];
	int			 nescalate;
	int64_t			 retention_ms;	/* undelivered handovers expire */
	struct policy_pattern	 patterns[POLICY_KINDS][POLICY_MAX_PATTERNS];
	int			 npatterns[POLICY_KINDS];
	int64_t			 missed_grace_ms; /* a check-in not recorded this
						    long after due is missed */
	char			 missed_escalate[POLICY_MAX_ESCALATE]
				     [BATON_NODE_ID_MAX + 1];
	int			 nmissed_escalate;
	int			 missed_after;	/* escalate at this many misses
						   (0: not by count) */
	int			 missed_risk;	/* or at this risk level or
						   above (0: not by risk) */
	int64_t			 purge_after_ms; /* bodies kept after acknowledgement */
	char			*text;		/* the bytes it was parsed from
						   (NUL-terminated), for the copy
						   in force (policy_in_force.h) */
	size_t			 text_len;
	char			 sha256[65];	/* hex SHA-256 of the file's bytes
						   (policy_file_load); "" when
						   parsed from memory */
};

/*
 * Parses a policy file (at most POLICY_FILE_MAX bytes). Returns a new
 * policy, or NULL with err holding every problem found, one
 * "file:line: reason" per line.
 */
struct policy	*policy_load(const char *path, char *err, size_t errlen);

/* Same, from text in memory (name is used in error messages). */
struct policy	*policy_parse(const char *name, const char *text, size_t len,
		    char *err, size_t errlen);

void		 policy_free(struct policy *p);

/* The role's entry, or NULL when the policy does not declare it. */
const struct policy_role *policy_role(const struct policy *p, const char *role);

/* 1 when from_role may send a handover of transition kind to to_role. */
int		 policy_route_allowed(const struct policy *p, const char *from_role,
		    const char *to_role, int kind);

/*
 * The terms of the route from_role -> to_role for kind into *t: none
 * when the route is not allowed (policy_route_allowed says whether).
 */
void		 policy_route_terms(const struct policy *p, const char *from_role,
		    const char *to_role, int kind, struct policy_terms *t);

/* Short lowercase name of a lawful basis ("direct_care"), or "unknown". */
const char	*policy_basis_name(int basis);

/* Names of the bases in mask, ", " between them, into buf. Returns buf. */
char		*policy_basis_list(unsigned mask, char *buf, size_t len);

/*
 * The check-ins count of kind's patterns expand to (at most
 * POLICY_MAX_CHECKINS): after-acceptance ones in *offsets (ms after
 * acceptance) and reviews as (close, open) pairs before the planned date;
 * see checkin.c, which lays them out.
 */
int		 policy_checkin_count(const struct policy *p, int kind);

/* Sections role may receive; 0 for an unknown role or a NULL policy. */
section_mask	 policy_sections(const struct policy *p, const char *role);

/* Short lowercase name of a transition kind ("step_down"), or "unknown". */
const char	*policy_kind_name(int kind);

/* Short lowercase name of a risk level ("high"), or "unknown". */
const char	*policy_risk_name(int level);

/*
 * Parses a duration: a whole number with an optional unit s, m, h or d
 * (no unit: seconds). Returns milliseconds, or -1.
 */
int64_t		 policy_parse_duration(const char *s);

/*
 * The declared role nearest to role, for "did you mean" hints: the one
 * fewest edits away (insert, delete, replace, or swap two neighbours),
 * if that is at most a third of role's length (at least 1); the first
 * declared wins a tie. NULL when none is that near, or role is declared.
 */
const char	*policy_nearest_role(const struct policy *p, const char *role);

/*
 * The declared roles in declaration order, ", " between them, into buf
 * ("none" when there are none; cut at len). Returns buf.
 */
char		*policy_role_list(const struct policy *p, char *buf, size_t len);

#endif
