/*
 * audit_trail.h - a person's (or a handover's) trail through the audit
 * log, for people: per handover, who sent it to whom, when it was
 * delivered and with which sections disclosed and withheld, and what
 * happened next (acknowledged, accepted, rejected, redirected, escalated,
 * expired, quarantined, purged), with status reads, notices and refused
 * requests about it summarised as counts. `batonctl audit trail` prints
 * it; the broker can build the same for an auditor over TLS.
 *
 * Fed one decoded record at a time (audit_trail_add), in sequence order,
 * from wherever the records come from (audit_trail_read walks the store;
 * a paged reader may feed page after page), so it never needs the log in
 * memory. What it keeps is bounded: at most AUDIT_TRAIL_MAX_HANDOVERS
 * handovers and AUDIT_TRAIL_MAX_EVENTS timeline entries in all, each
 * string cut to a fixed size; past either bound it counts what it left
 * out and says so in its output, never silently.
 *
 * Which records belong: those within the filter's times whose message id
 * names a handover of the trail. A handover joins the trail with its
 * first record that carries the subject reference asked for (or, with no
 * subject, whose message id is one of the filter's), so the records about
 * it that carry no subject (a notice delivered, a decision refused) are
 * found by its message id. Nodes and events of the filter are not used.
 * Reads of the audit log about the same subject or messages (audit_read)
 * are counted.
 *
 * Output is for a terminal 80 columns wide (text from the log is shown
 * with control characters and broken UTF-8 replaced), or one JSON
 * document for scripts.
 */
#ifndef BATON_AUDIT_TRAIL_H
#define BATON_AUDIT_TRAIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "store.h"

#define AUDIT_TRAIL_MAX_HANDOVERS	256
#define AUDIT_TRAIL_MAX_EVENTS		2048	/* timeline entries, in all */
#define AUDIT_TRAIL_WIDTH		80	/* columns of the text output */

struct audit_trail;

/*
 * A new, empty trail for the subject and messages of f (copied; f's
 * subject_ref too). NULL when out of memory.
 */
struct audit_trail *audit_trail_new(const struct audit_filter *f);
void		 audit_trail_free(struct audit_trail *t);

/*
 * Takes one record into t, if it belongs (see above); records must come
 * in sequence order. Returns 0, or -1 when out of memory.
 */
int		 audit_trail_add(struct audit_trail *t,
		    const struct Baton__Store__V1__AuditRecord *r);

/*
 * Feeds t every record of the store's log (audit_walk: one read
 * transaction of its own, none may be open on s). Returns 0, or -1 with
 * err set.
 */
int		 audit_trail_read(struct store *s, struct audit_trail *t,
		    char *err, size_t errlen);

/*
 * Writes t as text for a terminal (json 0) or as one JSON document (json
 * 1). Returns 0, or -1 on a write error.
 */
int		 audit_trail_write(const struct audit_trail *t, FILE *out,
		    int json);

#endif
