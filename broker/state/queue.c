/*
 * queue.c - handover state, bodies and FIFO queues (see queue.h).
 *
 * Records read back are checked like network input: a state record must
 * name the key it is stored under, and a queue entry must point to a
 * well-formed message id; anything else is STORE_CORRUPT and is
 * quarantined by the caller, never delivered.
 */
#include <stdlib.h>
#include <string.h>

#include "pbarena.h"
#include "queue.h"

#define QKEY_MAX (BATON_NODE_ID_MAX + 1 + 8)

static size_t
queue_key(uint8_t *key, const char *recipient, uint64_t seq)
{
	size_t n = strlen(recipient);

	memcpy(key, recipient, n);
	key[n] = '\0';
	store_u64be(key + n + 1, seq);
	return n + 1 + 8;
}

void
queue_msg_free(queue_msg *m)
{
	if (m != NULL)
		baton__store__v1__message__free_unpacked(m, &pbarena);
}

int
queue_msg_get(struct store *s, const char *message_id, queue_msg **out)
{
	const void *v;
	size_t vl;
	queue_msg *m;
	int rc;

	rc = store_get(s, STORE_MESSAGES, message_id, strlen(message_id), &v, &vl);
	if (rc != STORE_OK)
		return rc;
	if ((m = baton__store__v1__message__unpack(&pbarena, vl, v)) == NULL)
		return STORE_CORRUPT;
	if (strcmp(m->message_id, message_id) != 0 ||
	    !validate_node_id(m->sender) || !validate_node_id(m->recipient) ||
	    m->content_sha256.len != 32) {
		queue_msg_free(m);
		return STORE_CORRUPT;
	}
	*out = m;
	return STORE_OK;
}

int
queue_msg_put(struct store *s, const queue_msg *m)
{
	uint8_t *buf;
	size_t len;
	int rc;

	len = baton__store__v1__message__get_packed_size(m);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return STORE_ERROR;
	baton__store__v1__message__pack(m, buf);
	rc = store_put(s, STORE_MESSAGES, m->message_id, strlen(m->message_id),
	    buf, len);
	free(buf);
	return rc;
}

int
queue_push(struct store *s, const char *recipient, enum queue_kind kind,
    const char *id, uint64_t *seq)
{
	uint8_t key[QKEY_MAX], val[1 + BATON_MESSAGE_ID_MAX];
	size_t kl, il = strlen(id);
	int rc;

	if (il == 0 || il > BATON_MESSAGE_ID_MAX)
		return STORE_ERROR;
	if ((rc = store_next_seq(s, "queue", seq)) != STORE_OK)
		return rc;
	kl = queue_key(key, recipient, *seq);
	val[0] = (uint8_t)kind;
	memcpy(val + 1, id, il);
	return store_put(s, STORE_QUEUE, key, kl, val, il + 1);
}

int
queue_enqueue(struct store *s, queue_msg *m)
{
	uint64_t seq;
	int rc;

	rc = queue_push(s, m->recipient, QUEUE_HANDOVER, m->message_id, &seq);
	if (rc != STORE_OK)
		return rc;
	m->queue_seq = seq;
	return queue_msg_put(s, m);
}

int
queue_insert(struct store *s, queue_msg *m, const uint8_t *body, size_t len)
{
	int rc;

	/* the state record is written first so an existing id is caught */
	rc = store_put_new(s, STORE_MESSAGES, m->message_id,
	    strlen(m->message_id), "", 0);
	if (rc != STORE_OK)
		return rc;
	if ((rc = store_put(s, STORE_BODIES, m->message_id,
	    strlen(m->message_id), body, len)) != STORE_OK)
		return rc;
	m->body_len = (uint32_t)len;
	return queue_enqueue(s, m);
}

int
queue_next(struct store *s, const char *recipient, uint64_t after,
    uint64_t *seq, enum queue_kind *kind, char *id)
{
	struct store_cursor *c;
	uint8_t key[QKEY_MAX];
	const void *k, *v;
	size_t kl, vl, plen = strlen(recipient) + 1;
	int rc;

	if (after == UINT64_MAX)
		return STORE_NOTFOUND;
	kl = queue_key(key, recipient, after + 1);
	if ((rc = store_cursor_open(s, STORE_QUEUE, &c)) != STORE_OK)
		return rc;
	rc = store_cursor_seek(c, key, kl, &k, &kl, &v, &vl);
	for (;;) {
		if (rc != STORE_OK && rc != STORE_CORRUPT)
			break;
		if (kl != plen + 8 || memcmp(k, key, plen) != 0) {
			rc = STORE_NOTFOUND;	/* past this recipient's range */
			break;
		}
		if (rc == STORE_OK && vl >= 2 && vl <= BATON_MESSAGE_ID_MAX + 1 &&
		    (*(const uint8_t *)v == QUEUE_HANDOVER ||
		    *(const uint8_t *)v == QUEUE_NOTICE)) {
			*kind = (enum queue_kind)*(const uint8_t *)v;
			memcpy(id, (const uint8_t *)v + 1, vl - 1);
			id[vl - 1] = '\0';
			if (validate_message_id(id)) {
				*seq = store_be64((const uint8_t *)k + plen);
				break;
			}
		}
		/* a damaged entry: move it aside and look at the next one */
		{
			uint8_t bad[QKEY_MAX];
			size_t bl = kl;

			memcpy(bad, k, kl);
			store_cursor_close(c);
			if ((rc = store_quarantine(s, STORE_QUEUE, bad, bl)) != STORE_OK)
				return rc;
			if ((rc = store_cursor_open(s, STORE_QUEUE, &c)) != STORE_OK)
				return rc;
			rc = store_cursor_seek(c, bad, bl, &k, &kl, &v, &vl);
		}
	}
	store_cursor_close(c);
	return rc;
}

int
queue_remove(struct store *s, const char *recipient, uint64_t seq)
{
	uint8_t key[QKEY_MAX];
	size_t kl = queue_key(key, recipient, seq);

	return store_del(s, STORE_QUEUE, key, kl);
}

int
queue_body_copy(struct store *s, const char *message_id, uint8_t **out,
    size_t *len)
{
	const void *v;
	size_t vl;
	int rc;

	rc = store_get(s, STORE_BODIES, message_id, strlen(message_id), &v, &vl);
	if (rc != STORE_OK)
		return rc;
	if ((*out = malloc(vl > 0 ? vl : 1)) == NULL)
		return STORE_ERROR;
	if (vl > 0)
		memcpy(*out, v, vl);
	*len = vl;
	return STORE_OK;
}

int
queue_depth(struct store *s, const char *recipient, uint64_t *out)
{
	struct store_cursor *c;
	uint8_t key[QKEY_MAX];
	const void *k, *v;
	size_t kl, vl, plen = strlen(recipient) + 1;
	int rc;
	uint64_t n = 0;

	kl = queue_key(key, recipient, 0);
	if ((rc = store_cursor_open(s, STORE_QUEUE, &c)) != STORE_OK)
		return rc;
	for (rc = store_cursor_seek(c, key, kl, &k, &kl, &v, &vl);
	    rc == STORE_OK || rc == STORE_CORRUPT;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (kl != plen + 8 || memcmp(k, key, plen) != 0)
			break;
		n++;
	}
	store_cursor_close(c);
	*out = n;
	return STORE_OK;
}
