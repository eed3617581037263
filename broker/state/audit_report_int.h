/*
 * audit_report_int.h - what the governance report's files share. Not for
 * other modules. In layers, each using only those above it:
 *
 *   audit_report.c       the cells, and how they add up into rows
 *   audit_report_text.c  durations and HTML text for people
 *   audit_report_svg.c   the page's two charts
 *   audit_report_out.c   the table, CSV and the page (report_write)
 *
 * The writers only read rows, so every format shows the same figures from
 * the same arithmetic.
 */
#ifndef BATON_AUDIT_REPORT_INT_H
#define BATON_AUDIT_REPORT_INT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit_report.h"

#define REPORT_REASON_MAX	40	/* a reason code's name, as stored */
#define REPORT_OTHER_REASON	REPORT_REASONS_MAX /* index of "other" */
#define REPORT_ANY		(-1)	/* risk: every level */
#define REPORT_NAME_MAX		256	/* the policy's name, as shown */

/* One distribution of times (ms), see audit_report.h for the buckets. */
struct report_hist {
	uint64_t	 n;
	uint32_t	 b[REPORT_HIST_BUCKETS];	/* saturate at UINT32_MAX */
};

/* The figures of one route and risk level (or of a sum of them). */
struct report_cell {
	char		 sender[REPORT_ROLE_MAX + 1];
	char		 recipient[REPORT_ROLE_MAX + 1];
	int		 risk;		/* 0..4, or REPORT_ANY in a sum */
	uint64_t	 sent;		/* submitted */
	uint64_t	 delivered;	/* first deliveries to a recipient */
	uint64_t	 accepted;
	uint64_t	 rejected;
	uint64_t	 judged;	/* decisions timed, with a deadline */
	uint64_t	 on_time;	/* of those, within it */
	uint64_t	 redirected;
	uint64_t	 escalated;
	uint64_t	 expired;
	uint64_t	 reasons[REPORT_REASONS_MAX + 1]; /* rejections, by the
					   report's reason index */
	struct report_hist deliver;	/* receipt -> first delivery */
	struct report_hist decide;	/* receipt -> accept or reject */
	struct report_hist after;	/* delivery -> accept or reject */
};

/* What is undecided now at nodes of one role, at one risk level. */
struct report_open {
	char		 role[REPORT_ROLE_MAX + 1];
	int		 risk;
	uint64_t	 undecided;
	uint64_t	 overdue;
	int64_t		 oldest_ms;	/* received; 0: not known */
};

struct report {
	struct report_opts	 o;
	char			 policy_name[REPORT_NAME_MAX + 1];
	char			 policy_sha256[65];
	char			 loaded_sha256[65]; /* the last policy_loaded
					   up to the end ("": none) */
	struct report_cell	*cells[REPORT_CELLS_MAX];
	unsigned		 ncells;
	uint16_t		 slots[2 * REPORT_CELLS_MAX]; /* hash: index + 1 */
	struct report_open	 open[REPORT_OPEN_MAX];
	unsigned		 nopen;
	int			 open_read;	/* report_open_done was called */
	int			 open_partial;	/* lower bounds only */
	char			 reasons[REPORT_REASONS_MAX]
				    [REPORT_REASON_MAX + 1];
	unsigned		 nreasons;
	uint64_t		 counted;	/* records that went into cells */
	uint64_t		 format1;	/* handover records without risk */
	uint64_t		 left_out;	/* records of routes past the cells */
	uint64_t		 open_left_out;	/* open pairs past REPORT_OPEN_MAX */
	/* Set by report_write (report_sort): */
	const char		*roles[REPORT_CELLS_MAX + REPORT_OPEN_MAX];
	unsigned		 nroles;	/* receiving roles, sorted, unique */
	unsigned		 reason_order[REPORT_REASONS_MAX];
};

/*
 * A row of output: a cell or a sum of cells, with what is open now when
 * the row is for all senders (has_open). sender/recipient "*": all.
 */
struct report_row {
	const char		*sender;
	const char		*recipient;
	int			 risk;		/* or REPORT_ANY */
	const struct report_cell *c;
	int			 has_open;
	uint64_t		 undecided;
	uint64_t		 overdue;
	int64_t			 most_overdue_ms; /* -1: none or not known */
	int64_t			 deadline_ms;	/* 0: none, or REPORT_ANY */
};

/* Levels in the order shown: critical first. */
extern const int report_risk_order[REPORT_RISKS];

/*
 * The value at percentile pct (1..100, nearest rank) of h, as the middle
 * of its bucket, into *out. Returns 0, or -1 when h is empty.
 */
int	report_hist_quantile(const struct report_hist *h, unsigned pct,
	    int64_t *out);

/*
 * Sorts the cells (sender, recipient, risk in the order shown), the
 * receiving roles and the reasons, for the writers.
 */
void	report_sort(struct report *r);

/*
 * The sum of the cells matching sender and recipient (NULL: any) at risk
 * (REPORT_ANY: every level) into w, using tmp for the figures; with
 * sender NULL, what is open now is added (has_open when it was read).
 * Returns 1 when the row holds anything, else 0.
 */
int	report_sum(const struct report *r, const char *sender,
	    const char *recipient, int risk, struct report_cell *tmp,
	    struct report_row *w);

/* A cell as its own row. */
void	report_cell_row(const struct report *r, const struct report_cell *c,
	    struct report_row *w);

/* Text for people (audit_report_text.c). */

/* A duration for people: 850ms, 4.2s, 35s, 4m05s, 3h10m, 2d04h. */
void	report_human_ms(char *buf, size_t len, int64_t ms);
/* A duration as a policy file writes it: 1h, 24h, 90s. */
void	report_policy_ms(char *buf, size_t len, int64_t ms);
/* s with &, <, > and " escaped. */
void	report_html_text(FILE *out, const char *s);

/*
 * The page's two charts (audit_report_svg.c), as inline SVG: median and
 * 90th percentile time to decision per risk level; decisions on time and
 * late, and what is undecided now, per receiving role and route.
 * 0, or -1 (memory, or ferror).
 */
int	report_svg_decision_times(struct report *r, FILE *out);
int	report_svg_on_time(struct report *r, FILE *out);

#endif
