/*
 * report_store.h - what the governance report (audit_report.h) reads from
 * the store rather than the log: the registry's role of a node, and what
 * is undecided now per receiving role and risk level (queueview.h). One
 * copy for `batonctl report` and for an auditor's report over TLS
 * (frames/audit_query.c), so the two cannot disagree.
 */
#ifndef BATON_REPORT_STORE_H
#define BATON_REPORT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "audit_report.h"
#include "store.h"

/*
 * A report_role_fn over the registry: arg is the struct store, read in
 * its current transaction.
 */
int	report_registry_role(void *arg, const char *node, char *role,
	    size_t len);

/*
 * Hands r what is undecided now, per node's role and risk level, read in
 * the store's current transaction (one must be open); wall_ms and due_ms
 * are "now" on the wall and due clocks. Ends with report_open_done, which
 * marks the figures partial when the walk was cut short. Returns STORE_OK,
 * or STORE_ERROR (nothing more was handed over; store_strerror says why).
 */
int	report_feed_open(struct report *r, struct store *s, int64_t wall_ms,
	    int64_t due_ms);

#endif
