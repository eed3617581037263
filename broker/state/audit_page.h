/*
 * audit_page.h - the audit log read in pages that resume where the last
 * one ended, for answers streamed over the network (frames/audit_query.c).
 *
 * batonctl's audit_export walks the whole log in one read transaction of
 * its own; the broker cannot do that: its pass holds the one write
 * transaction, and a long read transaction would pin the pages every
 * commit frees (DESIGN.md: no long-lived read transactions). So a page is
 * read inside whatever transaction the pass has open, from a position (a
 * sequence number) kept by the caller, and stops after a byte or record
 * budget: memory is one page whatever the length of the log, and a huge
 * export is many short reads spread over passes, resumed as the client
 * drains its output. Records are keyed by sequence and never rewritten, so
 * resuming by seq neither skips nor repeats one (archiving only removes
 * from the oldest end; a page that finds its next seq archived says so).
 */
#ifndef BATON_AUDIT_PAGE_H
#define BATON_AUDIT_PAGE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "audit.h"
#include "store.h"

/* Where a paged read stands. Zero it, then set upto. */
struct audit_page {
	uint64_t	 after;		/* the last seq read: the next page starts past it */
	uint64_t	 upto;		/* the last seq to read (the head when the
					   query began, so the stream ends) */
	uint64_t	 matched;	/* records written, all pages */
	int		 done;		/* upto (or the end of the log) was reached */
};

/*
 * Reads records with seq in (p->after, p->upto] in the store's current
 * transaction (one must be open), writing each that matches f to out as a
 * row of fmt, until at least max_bytes were written to out, max_scan
 * records were read, or upto was reached (p->done). Moves p on. Returns
 * 0, or -1 with err set when a record is damaged or does not decode (it
 * names the seq and stops there: a gap is never skipped silently), when
 * records past p->after were archived meanwhile, or on a store error.
 */
int	audit_page_read(struct store *s, const struct audit_filter *f,
	    enum audit_format fmt, struct audit_page *p, size_t max_bytes,
	    unsigned max_scan, FILE *out, char *err, size_t errlen);

/*
 * Takes one decoded record (valid only during the call); 0 to go on, -1
 * to stop the page with an error (out of memory).
 */
typedef int (*audit_page_fn)(void *arg,
    const struct Baton__Store__V1__AuditRecord *r);

/*
 * As audit_page_read, but each record that matches f (NULL: every
 * record) is handed to each instead of written, and only max_scan bounds
 * a page: for readers that build something from the records (a trail, a
 * report) rather than print them.
 */
int	audit_page_feed(struct store *s, const struct audit_filter *f,
	    struct audit_page *p, unsigned max_scan, audit_page_fn each,
	    void *arg, char *err, size_t errlen);

/* The header line of fmt (table, CSV; none for JSON Lines), written first. */
void	audit_page_header(FILE *out, enum audit_format fmt);

#endif
