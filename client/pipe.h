/*
 * pipe.h - libbaton's pipeline bookkeeping: the asynchronous requests
 * (submits, acks) a connection has outstanding, found by kind and id when
 * their answers arrive in any order, and the answered ones waiting to be
 * taken with baton_poll_result(). Also builds a Submit frame around
 * already packed handover bytes. Private to libbaton; no I/O.
 *
 * An op lives from the asynchronous call until its result is taken: first
 * in flight (the send-order list and the hash), then answered (the results
 * FIFO). `n[kind]` counts both stages, which is what the windows bound, so
 * a caller that never takes results cannot make the library grow.
 * Invariant: at most one op in flight per (kind, id).
 */
#ifndef BATON_PIPE_H
#define BATON_PIPE_H

#include <stddef.h>
#include <stdint.h>

#include "baton.h"

#define PIPE_BUCKETS	1024	/* power of two */

struct op {
	struct op	*next;		/* send order; or results FIFO */
	struct op	*prev;		/* send order only */
	struct op	*hnext;		/* hash chain */
	uint64_t	 end_off;	/* output offset just after its frame */
	baton_result	 res;		/* kind, id, user, times; the answer */
};

struct pipe {
	struct op	*fly_head;	/* in flight, in send order */
	struct op	*fly_tail;
	struct op	*unsent;	/* first in flight not wholly written */
	struct op	*res_head;	/* answered, not yet taken */
	struct op	**res_tail;
	unsigned	 n[3];		/* per kind: in flight + not taken */
	struct op	*htab[PIPE_BUCKETS];
};

/* Monotonic microseconds (the clock of baton_result's times). */
int64_t	pipe_now_us(void);

void	pipe_init(struct pipe *p);

/* Frees every op. */
void	pipe_free(struct pipe *p);

/* The id an op is found by: the submit's message id or the ack's id. */
const char	*pipe_op_id(const struct op *op);

/*
 * A new op of kind for id (copied; at most BATON_REFERENCE_LEN - 1
 * bytes), stamped queued now. NULL on out of memory.
 */
struct op	*pipe_op_new(enum baton_result_kind kind, const char *id,
		    void *user);

/* Puts op in flight, its frame ending at output offset end_off. */
void	pipe_add(struct pipe *p, struct op *op, uint64_t end_off);

/* The op of kind in flight for id, or NULL. */
struct op	*pipe_find(const struct pipe *p, enum baton_result_kind kind,
		    const char *id);

/* The oldest op of kind in flight, or NULL. */
struct op	*pipe_oldest(const struct pipe *p, enum baton_result_kind kind);

/* Output up to `written` bytes is on the wire: stamps those ops sent. */
void	pipe_written(struct pipe *p, uint64_t written, int64_t now_us);

/* Moves an op in flight to the results, stamped answered now. */
void	pipe_answered(struct pipe *p, struct op *op, int64_t now_us);

/* 1 when some op is in flight. */
int	pipe_in_flight(const struct pipe *p);

/* Takes the oldest result (the caller frees it), or NULL. */
struct op	*pipe_take(struct pipe *p);

/*
 * Builds the whole Submit frame (header included) for an envelope of id,
 * to, created_ms and the packed handover h (hlen bytes) without unpacking
 * it: byte for byte what frame_encode makes of the same envelope. Returns
 * FRAME_OK with *out (free()), FRAME_TOO_LARGE when the body would exceed
 * max_frame, or FRAME_NOMEM.
 */
int	pipe_submit_frame(const char *id, const char *to, int64_t created_ms,
	    const uint8_t *h, size_t hlen, uint32_t max_frame, uint8_t **out,
	    size_t *outlen);

#endif
