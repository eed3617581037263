/*
 * queue.h - handovers at rest: state records, bodies and per-recipient FIFO
 * queues, on top of the store.
 *
 * A handover's envelope bytes are stored once (STORE_BODIES); its small
 * state record (STORE_MESSAGES, baton.store.v1.Message) and its queue
 * entry (STORE_QUEUE, key recipient NUL seq) point to it by message id, so
 * state changes never rewrite the large body. A handover's message id here
 * is always its reference, "<sender>/<sender's own id>" (validate.h): ids
 * belong to their sender, so two senders' equal ids are two handovers.
 * Queue order is the order of
 * the global "queue" sequence, i.e. commit order. Every call acts in the
 * store's current transaction.
 */
#ifndef BATON_QUEUE_H
#define BATON_QUEUE_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "store.h"
#include "store.pb-c.h"
#include "validate.h"

typedef Baton__Store__V1__Message queue_msg;

/* What a queue entry points to; stored as the entry value's first byte. */
enum queue_kind {
	QUEUE_HANDOVER = 'H',	/* id is a message id (STORE_MESSAGES) */
	QUEUE_NOTICE = 'N',	/* id is a notice id (STORE_NOTICES) */
};

/*
 * Reads a message's state record. STORE_OK with *out (free with
 * queue_msg_free), STORE_NOTFOUND, STORE_CORRUPT (record or its contents
 * fail their checks) or STORE_ERROR. *out is unpacked with pbarena: its
 * strings change with pbstr_set and its arrays grow with
 * pbarena_array_grow, never by free or realloc.
 */
int	queue_msg_get(struct store *s, const char *message_id, queue_msg **out);
/* Writes a message's state record back. */
int	queue_msg_put(struct store *s, const queue_msg *m);
void	queue_msg_free(queue_msg *m);

/*
 * Stores a new handover: state record m (its queue_seq is assigned here),
 * body bytes and queue entry for m->recipient. STORE_OK, STORE_EXISTS when
 * the message id is taken, STORE_FULL or STORE_ERROR.
 */
int	queue_insert(struct store *s, queue_msg *m, const uint8_t *body,
	    size_t len);

/* Adds a queue entry for m->recipient with a new sequence number. */
int	queue_enqueue(struct store *s, queue_msg *m);

/*
 * Adds a queue entry of any kind for recipient; *seq gets its sequence.
 */
int	queue_push(struct store *s, const char *recipient, enum queue_kind kind,
	    const char *id, uint64_t *seq);

/*
 * Finds the first queue entry of recipient with sequence > after.
 * STORE_OK with *seq, *kind and id (BATON_MESSAGE_ID_MAX + 1 bytes), or
 * STORE_NOTFOUND. A corrupt entry is quarantined and skipped.
 */
int	queue_next(struct store *s, const char *recipient, uint64_t after,
	    uint64_t *seq, enum queue_kind *kind, char *id);

/* Removes recipient's queue entry seq. */
int	queue_remove(struct store *s, const char *recipient, uint64_t seq);

/*
 * Reads a stored envelope's packed bytes into a new buffer (*out, *len;
 * free()): they outlive the next write in the transaction, as the
 * store's own pointer would not. STORE_OK, STORE_NOTFOUND, STORE_CORRUPT
 * (the record fails its checksum) or STORE_ERROR.
 */
int	queue_body_copy(struct store *s, const char *message_id, uint8_t **out,
	    size_t *len);

/* Number of queue entries for recipient (for stats and tests). */
int	queue_depth(struct store *s, const char *recipient, uint64_t *out);

#endif
