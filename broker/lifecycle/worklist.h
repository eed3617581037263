/*
 * worklist.h - a partner's own work, read without changing anything: its
 * outbox (handovers it sent, with their current state) and its inbox
 * (handovers delivered to it and not yet decided). Paged: each call reads
 * a bounded number of state records from a cursor and says where the next
 * page starts, so no request holds the broker for long or takes unbounded
 * memory.
 *
 * How it finds them. A handover's state record is keyed by its reference,
 * "SENDER/ID" (queue.h), so a sender's handovers are one key range: the
 * outbox is a range scan over STORE_MESSAGES from "NODE/", no index
 * needed, and costs what the node sent. Nothing is keyed by recipient once
 * a handover leaves its recipient's queue (an Ack removes the queue
 * entry), so the inbox is a bounded scan of the whole table: at most
 * WORKLIST_SCAN_MAX records per page, resumed from the cursor; a page may
 * come back short, or empty, with a cursor to go on from. That is linear
 * in all handovers the broker holds; a recipient index is the remedy if
 * inbox listing becomes frequent at scale.
 *
 * Cursors. An outbox cursor is the last reference read, always one of the
 * node's own. An inbox page may end on anyone's handover, and its
 * reference ("SENDER/ID") is not the asking node's to see, so an inbox
 * cursor is sealed: AES-256-GCM of the position under a key drawn at the
 * broker's start, with the asking node's id as associated data. It tells
 * the holder nothing, opens only for the node it was given to, and cannot
 * be forged to start a scan elsewhere; after a restart it no longer opens
 * and the client is told to start from the first page.
 */
#ifndef BATON_WORKLIST_H
#define BATON_WORKLIST_H

#include <stdint.h>

#include "lifecycle.h"
#include "queue.h"

#define WORKLIST_LIMIT_MAX	100	/* items per page */
#define WORKLIST_LIMIT_DEFAULT	50
#define WORKLIST_SCAN_MAX	2000	/* state records read per page */
/* hex of a sealed inbox cursor: nonce, the reference, tag */
#define WORKLIST_CURSOR_MAX	(2 * (12 + BATON_REFERENCE_MAX + 16))

enum worklist_kind {
	WORKLIST_OUTBOX = 1,
	WORKLIST_INBOX = 2,
};

struct worklist_query {
	enum worklist_kind	 kind;
	int			 undecided;	/* outbox: only the undecided */
	int64_t			 since_ms;	/* received at or after; 0: any */
	const char		*cursor;	/* "" or NULL: from the start */
	unsigned		 limit;		/* 1..WORKLIST_LIMIT_MAX; 0: default */
};

struct worklist_page {
	queue_msg	*items[WORKLIST_LIMIT_MAX];	/* in reference order */
	unsigned	 n;
	char		 next_cursor[WORKLIST_CURSOR_MAX + 1];	/* "": no more */
	int64_t		 due_now_ms;	/* the due clock's now, for deadlines */
};

/*
 * Reads one page of a->node_id's outbox or inbox in the pass's
 * transaction. Returns CODE_OK with out filled (free with
 * lifecycle_worklist_clear), or CODE_INVALID (a bad kind, limit or
 * cursor) with res->text. A damaged state record is passed over (the
 * delivery path quarantines it). The read is recorded as a status_read,
 * limited per node like every status read (recordlimit.h).
 */
int	lifecycle_worklist(struct state *st, const struct actor *a,
	    const struct worklist_query *q, struct worklist_page *out,
	    struct lc_result *res);

void	lifecycle_worklist_clear(struct worklist_page *p);

/*
 * 1 if m is still open (queued, delivered or acknowledged, perhaps after
 * a redirect): what outbox --undecided keeps, and the only states with a
 * deadline still to meet. 0 once accepted, rejected, expired or
 * quarantined.
 */
int	lifecycle_worklist_open(const queue_msg *m);

#endif
