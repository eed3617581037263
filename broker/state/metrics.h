/*
 * metrics.h - the broker's counters and histograms, and their Prometheus
 * text exposition (format 0.0.4; docs/metrics.md lists every metric). No
 * libevent: the state layer counts, the event-loop layer (metrics_http.c)
 * serves.
 *
 * Counters are fed from one place every transition already passes: the
 * audited append (state_audit), by event name and outcome code, so no
 * transition can be forgotten and the lifecycle code carries no metrics
 * calls. They count what was decided, including refusals whose audit
 * record was rate-limited (counted, not written one by one). One
 * imprecision, stated: an operation undone after its record was appended
 * (the store filled between two writes of one operation) stays counted;
 * that happens only with the store full, which /healthz reports.
 *
 * Nothing here holds handover content or a patient identifier: the
 * counters see event names and code names only, the queue gauges node
 * ids and risk levels.
 *
 * Bounds, so no client can grow the exposition: at most METRICS_CODES_MAX
 * distinct codes per counter (any others, and anything that is not a code
 * name, are summed under "other"); per-node gauges for at most
 * METRICS_NODES_MAX nodes (those with undecided handovers first; the rest
 * are counted in baton_queue_nodes_omitted); the text itself is capped at
 * METRICS_TEXT_MAX bytes.
 */
#ifndef BATON_METRICS_H
#define BATON_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct audit_event;
struct queue_view;

#define METRICS_CODES_MAX	24
#define METRICS_CODE_LEN	40
#define METRICS_BUCKETS		12
#define METRICS_NODES_MAX	1000

/* A counter with a code label. */
struct metrics_by_code {
	struct {
		char	 code[METRICS_CODE_LEN];
		uint64_t n;
	}		 c[METRICS_CODES_MAX];	/* in order of first sight */
	unsigned	 n;
	uint64_t	 other;		/* past METRICS_CODES_MAX, or not a code */
};

/* A histogram over fixed upper bounds (the +Inf bucket is count). */
struct metrics_hist {
	const double	*bounds;	/* METRICS_BUCKETS, ascending */
	uint64_t	 bucket[METRICS_BUCKETS]; /* not cumulative */
	uint64_t	 count;
	double		 sum;
};

struct metrics {
	uint64_t		 conn_accepted;	/* past TLS and Hello */
	struct metrics_by_code	 conn_refused;	/* by reason code */
	uint64_t		 submitted;	/* new handovers receipted */
	uint64_t		 resubmitted;	/* resends given the original receipt */
	struct metrics_by_code	 submit_refused; /* by code */
	uint64_t		 delivered;	/* redeliveries included */
	uint64_t		 acked;
	uint64_t		 accepted, rejected, redirected;
	uint64_t		 escalated, expired, quarantined;
	struct metrics_by_code	 request_refused; /* acks, decisions, reads, pulls */
	uint64_t		 pass_handovers; /* submitted since the last commit */
	struct metrics_hist	 commit_seconds;
	struct metrics_hist	 commit_handovers;
};

/* What only the serving layer knows, read at scrape time. */
struct metrics_gauges {
	unsigned	 connections_open;
	int		 have_cert;	/* the broker's own certificate's end is known */
	double		 cert_seconds_left;
	int		 have_crl;	/* a CRL is loaded with a next update */
	double		 crl_seconds_left;
	int		 healthy;	/* 1: /healthz answers 200 */
	double		 start_time_s;	/* Unix seconds */
};

/* Zeroes m and sets the histogram bounds. */
void	metrics_init(struct metrics *m);

/* Counts one audited event (state_audit calls it for every append). */
void	metrics_count_audit(struct metrics *m, const struct audit_event *ev);

/*
 * Records one commit of the pass's transaction that took seconds, with the
 * handovers submitted since the last one.
 */
void	metrics_commit(struct metrics *m, double seconds);

/* A growing text buffer with a hard cap: the exposition never exceeds it. */
#define METRICS_TEXT_MAX	(8u << 20)
struct metrics_text {
	char	*buf;
	size_t	 len, cap;	/* len < cap <= METRICS_TEXT_MAX once used */
	int	 failed;	/* out of memory or past METRICS_TEXT_MAX */
};

/* Appends to t; once t has failed, nothing more is added. */
void	metrics_text_printf(struct metrics_text *t, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	metrics_text_add(struct metrics_text *t, const char *s, size_t n);

/* Empties t, keeping its buffer, and clears failed. */
void	metrics_text_reset(struct metrics_text *t);
void	metrics_text_free(struct metrics_text *t);

/*
 * Appends s to t as a label value: backslash, double quote and newline
 * escaped as the text format requires.
 */
void	metrics_text_label(struct metrics_text *t, const char *s);

/*
 * Writes the whole exposition: gauges g, counters and histograms of m, and
 * the queue view v (NULL: no queue gauges). Returns 0, or -1 when t
 * failed (out of memory or the cap): the text is then not to be served.
 */
int	metrics_format(struct metrics_text *t, const struct metrics *m,
	    const struct metrics_gauges *g, const struct queue_view *v);

#endif
