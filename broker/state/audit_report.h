/*
 * audit_report.h - the governance report (batonctl report): per route
 * (sender's role -> recipient's role) and risk level, how many handovers
 * were sent, how fast they were delivered and decided, the share decided
 * within the policy's acceptance deadline, rejections by reason, redirects
 * per handover, escalations, expiries, and what is undecided now.
 *
 * Fed one decoded audit record at a time (report_add), in any number of
 * sittings, so batonctl can stream the whole log from one read transaction
 * and the broker can feed it page by page; nothing is kept per handover.
 * Every figure comes from the record it counts: record format 2 carries
 * the risk level and the time since the broker received the handover
 * (since_submit_ms) on each delivered, decision, escalated and expired
 * record, so a time to delivery or decision needs no memory of the submit.
 *
 * Memory is constant in the length of the log: at most REPORT_CELLS_MAX
 * cells (one per route and risk level seen), each with three fixed
 * histograms of REPORT_HIST_BUCKETS counters, allocated as routes appear
 * (about 6.3 KB a cell, 1.6 MB at most). Records of further routes are
 * counted as left out, and the report says so.
 *
 * Quantiles come from log-scale histograms: values below 16 ms are exact;
 * above, each power of two is cut into 16 equal buckets and a quantile is
 * reported as the middle of its bucket, so it is within
 * REPORT_RESOLUTION_TEXT of the true value (nearest-rank definition).
 *
 * Route. No record names both roles, so each end is taken where it is
 * known: the role the record itself states for its actor (the sender on
 * "submitted", the recipient on "delivered" and the decision records),
 * otherwise the node's role in the registry now, asked through the
 * role_of callback. The sender is the node before the '/' of the message
 * id (store keys are references, validate.h). A record's route is the
 * sender's role -> the role of the node the handover was with when it
 * happened: after a redirect, later events count on the new route, and
 * the redirect itself on the route it left.
 *
 * What is undecided now is not in the log: the caller reads it from the
 * store (queueview.h) and hands it in per receiving role and risk level
 * (report_add_open); it is shown on the rows for all senders.
 *
 * Output carries roles, risk levels, reason codes and counts: never a
 * node id, a message id or anything about a person.
 */
#ifndef BATON_AUDIT_REPORT_H
#define BATON_AUDIT_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.pb-c.h"

#define REPORT_RISKS		5	/* baton.v1.RiskLevel values 0..4 */
#define REPORT_CELLS_MAX	256	/* route x risk level cells kept */
#define REPORT_OPEN_MAX		256	/* receiving role x risk level, open now */
#define REPORT_REASONS_MAX	16	/* distinct rejection reasons named */
#define REPORT_ROLE_MAX		32	/* as REGISTRY_ROLE_MAX */
#define REPORT_HIST_BUCKETS	512	/* 0..15 ms exact, then 16 per octave
					   up to 2^35 ms (about 397 days) */
#define REPORT_RESOLUTION_TEXT	"3.2%"	/* half a bucket: 1/32 */

enum report_format {
	REPORT_TABLE = 0,	/* for an 80-column terminal */
	REPORT_CSV,		/* RFC 4180, a header row, stable column names */
	REPORT_HTML		/* one self-contained page, charts as inline SVG */
};

/*
 * The role of node in the registry now, into role (len bytes). Returns 0,
 * or -1 when it has none (shown as "?").
 */
typedef int (*report_role_fn)(void *arg, const char *node, char *role,
    size_t len);

struct report_opts {
	int64_t		 since_ms;	/* records at or after this time */
	int64_t		 until_ms;	/* and at or before this one */
	int64_t		 now_ms;	/* when the report is made (wall clock):
					   shown, and the age of what is open */
	int64_t		 deadline_ms[REPORT_RISKS]; /* policy; 0: none */
	const char	*policy_name;	/* shown in the notes; may be NULL */
	const char	*policy_sha256;	/* hex, shown; may be NULL */
	report_role_fn	 role_of;	/* may be NULL: every lookup fails */
	void		*role_arg;
};

struct report;

/* A new, empty report; NULL when out of memory. */
struct report	*report_new(const struct report_opts *o);
void		 report_free(struct report *r);

/*
 * Counts one record: ignored unless it is about a handover (submitted,
 * delivered, accepted, rejected, redirected, escalated, expired) and
 * timed within the period. Format-1 records (no risk level) are counted
 * apart and named in the notes. Returns 0, or -1 when out of memory.
 */
int		 report_add(struct report *r,
		    const Baton__Store__V1__AuditRecord *rec);

/*
 * Adds what is undecided now at nodes of role (NULL or invalid: "?") and
 * risk level risk (0..4; else unspecified): undecided handovers, those of
 * them overdue, and when the oldest of them was received (wall ms; 0: not
 * known). Calls add up. Returns 0, or -1 when REPORT_OPEN_MAX pairs are
 * held already (the report then says the open figures are incomplete).
 */
int		 report_add_open(struct report *r, const char *role, int risk,
		    uint64_t undecided, uint64_t overdue, int64_t oldest_ms);

/*
 * Says the open figures are all in (without this the report says they
 * were not read); partial: they are lower bounds (the store walk was cut
 * short).
 */
void		 report_open_done(struct report *r, int partial);

/*
 * Writes the report in fmt. Returns 0, or -1 when out of memory or out
 * reports an error (ferror).
 */
int		 report_write(struct report *r, FILE *out,
		    enum report_format fmt);

/* Index (0..4) of a risk level's name; 0 ("unspecified") if unknown. */
int		 report_risk_index(const char *name);
/* "unspecified", "low", "medium", "high", "critical"; "?" past 4. */
const char	*report_risk_name(int risk);

#endif
