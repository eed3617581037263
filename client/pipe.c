/*
 * pipe.c - libbaton's pipeline bookkeeping (see pipe.h): requests in
 * flight by kind and id, answered ones in a FIFO, and the Submit frame
 * spliced around packed handover bytes.
 *
 * Lookup is a chained hash over (kind, id); answers usually come in send
 * order, so the list in send order also gives the oldest op of a kind
 * cheaply. Nothing here allocates but pipe_op_new and pipe_submit_frame.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"
#include "pipe.h"
#include "wire_write.h"

int64_t
pipe_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void
pipe_init(struct pipe *p)
{
	memset(p, 0, sizeof(*p));
	p->res_tail = &p->res_head;
}

void
pipe_free(struct pipe *p)
{
	struct op *op;

	while ((op = p->fly_head) != NULL) {
		p->fly_head = op->next;
		free(op);
	}
	while ((op = p->res_head) != NULL) {
		p->res_head = op->next;
		free(op);
	}
	pipe_init(p);
}

const char *
pipe_op_id(const struct op *op)
{
	return op->res.kind == BATON_RESULT_RECEIPT ?
	    op->res.receipt.message_id : op->res.ack_id;
}

static unsigned
bucket(enum baton_result_kind kind, const char *id)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;	/* FNV-1a */

	for (; *id != '\0'; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h & (PIPE_BUCKETS - 1);
}

struct op *
pipe_op_new(enum baton_result_kind kind, const char *id, void *user)
{
	struct op *op;

	if ((op = calloc(1, sizeof(*op))) == NULL)
		return NULL;
	op->res.kind = kind;
	op->res.user = user;
	op->res.receipt.code_name = "";
	op->res.queued_us = pipe_now_us();
	if (kind == BATON_RESULT_RECEIPT)
		snprintf(op->res.receipt.message_id,
		    sizeof(op->res.receipt.message_id), "%s", id);
	else
		snprintf(op->res.ack_id, sizeof(op->res.ack_id), "%s", id);
	return op;
}

void
pipe_add(struct pipe *p, struct op *op, uint64_t end_off)
{
	unsigned b = bucket(op->res.kind, pipe_op_id(op));

	op->end_off = end_off;
	op->next = NULL;
	op->prev = p->fly_tail;
	if (p->fly_tail != NULL)
		p->fly_tail->next = op;
	else
		p->fly_head = op;
	p->fly_tail = op;
	if (p->unsent == NULL)
		p->unsent = op;
	op->hnext = p->htab[b];
	p->htab[b] = op;
	p->n[op->res.kind]++;
}

struct op *
pipe_find(const struct pipe *p, enum baton_result_kind kind, const char *id)
{
	struct op *op;

	for (op = p->htab[bucket(kind, id)]; op != NULL; op = op->hnext)
		if (op->res.kind == kind && strcmp(pipe_op_id(op), id) == 0)
			return op;
	return NULL;
}

struct op *
pipe_oldest(const struct pipe *p, enum baton_result_kind kind)
{
	struct op *op;

	for (op = p->fly_head; op != NULL; op = op->next)
		if (op->res.kind == kind)
			return op;
	return NULL;
}

void
pipe_written(struct pipe *p, uint64_t written, int64_t now_us)
{
	while (p->unsent != NULL && p->unsent->end_off <= written) {
		p->unsent->res.sent_us = now_us;
		p->unsent = p->unsent->next;
	}
}

void
pipe_answered(struct pipe *p, struct op *op, int64_t now_us)
{
	struct op **pp;

	pp = &p->htab[bucket(op->res.kind, pipe_op_id(op))];
	while (*pp != NULL && *pp != op)
		pp = &(*pp)->hnext;
	if (*pp == op)
		*pp = op->hnext;
	if (p->unsent == op)
		p->unsent = op->next;
	if (op->prev != NULL)
		op->prev->next = op->next;
	else
		p->fly_head = op->next;
	if (op->next != NULL)
		op->next->prev = op->prev;
	else
		p->fly_tail = op->prev;
	op->next = op->prev = op->hnext = NULL;
	op->res.answered_us = now_us;
	*p->res_tail = op;
	p->res_tail = &op->next;
}

int
pipe_in_flight(const struct pipe *p)
{
	return p->fly_head != NULL;
}

struct op *
pipe_take(struct pipe *p)
{
	struct op *op;

	if ((op = p->res_head) == NULL)
		return NULL;
	if ((p->res_head = op->next) == NULL)
		p->res_tail = &p->res_head;
	op->next = NULL;
	p->n[op->res.kind]--;
	return op;
}

/*
 * Fields in field-number order, as protobuf-c packs them, proto3 style
 * (empty and zero fields left out): Frame.submit (3) > Submit.envelope (1)
 * > Envelope { message_id (1), to (3), created_at_ms (4), handover (5) }.
 */
int
pipe_submit_frame(const char *id, const char *to, int64_t created_ms,
    const uint8_t *h, size_t hlen, uint32_t max_frame, uint8_t **out,
    size_t *outlen)
{
	size_t idl = strlen(id), tol = strlen(to), env, sub, body;
	uint8_t *buf, *p;

	env = (idl > 0 ? wire_ld_len(idl) : 0) + (tol > 0 ? wire_ld_len(tol) : 0) +
	    (created_ms != 0 ? 1 + wire_varint_len((uint64_t)created_ms) : 0) +
	    wire_ld_len(hlen);
	sub = wire_ld_len(env);
	body = wire_ld_len(sub);
	if (hlen > max_frame || body > max_frame)
		return FRAME_TOO_LARGE;
	if ((buf = frame_buffer(body)) == NULL)
		return FRAME_NOMEM;
	p = buf + BATON_FRAME_HDR;
	p = wire_put_head(p, WIRE_TAG_LEN(3), sub);	/* Frame.submit */
	p = wire_put_head(p, WIRE_TAG_LEN(1), env);	/* Submit.envelope */
	if (idl > 0)
		p = wire_put_ld(p, WIRE_TAG_LEN(1), id, idl);	/* message_id */
	if (tol > 0)
		p = wire_put_ld(p, WIRE_TAG_LEN(3), to, tol);	/* to */
	if (created_ms != 0) {
		*p++ = WIRE_TAG_VARINT(4);			/* created_at_ms */
		p = wire_put_varint(p, (uint64_t)created_ms);
	}
	p = wire_put_ld(p, WIRE_TAG_LEN(5), h, hlen);	/* handover */
	*out = buf;
	*outlen = (size_t)(p - buf);
	return FRAME_OK;
}
