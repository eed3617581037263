/*
 * worklist.c - a node's outbox and inbox, paged (see worklist.h). Reads
 * only; the one write is the status_read record of the read itself.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "audit.h"
#include "hex.h"
#include "worklist.h"

#define CODE(x)		BATON__V1__CODE__CODE_##x
#define MSTATE(x)	BATON__STORE__V1__MESSAGE_STATE__MESSAGE_STATE_##x

int
lifecycle_worklist_open(const queue_msg *m)
{
	/* held waits for an agreement, still undecided; superseded lives on
	 * as its newer version, which is listed on its own */
	return m->state == MSTATE(QUEUED) || m->state == MSTATE(DELIVERED) ||
	    m->state == MSTATE(ACKNOWLEDGED) || m->state == MSTATE(REDIRECTED) ||
	    m->state == MSTATE(HELD);
}

/* Whether m belongs on node's page of q. */
static int
wanted(const struct worklist_query *q, const char *node, const queue_msg *m)
{
	if (q->since_ms != 0 && m->received_at_ms < q->since_ms)
		return 0;
	if (q->kind == WORKLIST_OUTBOX)
		return strcmp(m->sender, node) == 0 &&
		    (!q->undecided || lifecycle_worklist_open(m));
	/* inbox: handed to node (delivered, perhaps acked) and not decided */
	return strcmp(m->recipient, node) == 0 &&
	    (m->state == MSTATE(DELIVERED) || m->state == MSTATE(ACKNOWLEDGED));
}

#define SEAL_NONCE	12
#define SEAL_TAG	16

/* The key inbox cursors are sealed with: drawn once per process. */
static const unsigned char *
seal_key(void)
{
	static unsigned char key[32];
	static int ready;

	if (!ready && RAND_bytes(key, sizeof(key)) == 1)
		ready = 1;
	return ready ? key : NULL;
}

/*
 * AES-256-GCM over in (inlen bytes) with node as associated data, into
 * out (outlen bytes, inlen of them): encrypt (enc 1) with nonce, or
 * decrypt (enc 0) checking tag. 0, or -1 (no key, or the tag is wrong).
 */
static int
seal_crypt(int enc, const char *node, const unsigned char nonce[SEAL_NONCE],
    const unsigned char *in, int inlen, unsigned char *out,
    unsigned char tag[SEAL_TAG])
{
	const unsigned char *key = seal_key();
	EVP_CIPHER_CTX *cx;
	int n, fin, ok;

	if (key == NULL || (cx = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex(cx, EVP_aes_256_gcm(), NULL, key, nonce,
	    enc) == 1 &&
	    EVP_CipherUpdate(cx, NULL, &n, (const unsigned char *)node,
	    (int)strlen(node)) == 1 &&
	    EVP_CipherUpdate(cx, out, &n, in, inlen) == 1 && n == inlen &&
	    (enc || EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG,
	    tag) == 1) &&
	    EVP_CipherFinal_ex(cx, out + n, &fin) == 1 &&
	    (!enc || EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG,
	    tag) == 1);
	EVP_CIPHER_CTX_free(cx);
	return ok ? 0 : -1;
}

/* Seals ref for node into out (hex, WORKLIST_CURSOR_MAX + 1). 0, or -1. */
static int
cursor_seal(const char *node, const char *ref, char *out)
{
	unsigned char b[SEAL_NONCE + BATON_REFERENCE_MAX + SEAL_TAG];
	size_t len = strlen(ref);

	if (len > BATON_REFERENCE_MAX || RAND_bytes(b, SEAL_NONCE) != 1 ||
	    seal_crypt(1, node, b, (const unsigned char *)ref, (int)len,
	    b + SEAL_NONCE, b + SEAL_NONCE + len) == -1)
		return -1;
	hex_encode(b, SEAL_NONCE + len + SEAL_TAG, out);
	return 0;
}

/* Opens a sealed cursor of node into ref (BATON_REFERENCE_MAX + 1). 0, or -1. */
static int
cursor_open(const char *node, const char *hex, char *ref)
{
	unsigned char b[SEAL_NONCE + BATON_REFERENCE_MAX + SEAL_TAG];
	size_t hl = strlen(hex), n = hl / 2, len;

	if (hl % 2 != 0 || n <= SEAL_NONCE + SEAL_TAG || n > sizeof(b) ||
	    hex_decode(hex, n, b) == -1)
		return -1;
	len = n - SEAL_NONCE - SEAL_TAG;
	if (seal_crypt(0, node, b, b + SEAL_NONCE, (int)len,
	    (unsigned char *)ref, b + SEAL_NONCE + len) == -1)
		return -1;
	ref[len] = '\0';
	return validate_reference(ref) ? 0 : -1;
}

/*
 * Checks q; an outbox cursor must be one of node's own references, an
 * inbox cursor must open for node, into ref (its position).
 */
static int
check_query(const struct worklist_query *q, const char *node,
    char ref[BATON_REFERENCE_MAX + 1], struct lc_result *res)
{
	size_t nl = strlen(node);

	if (q->kind != WORKLIST_OUTBOX && q->kind != WORKLIST_INBOX) {
		snprintf(res->text, sizeof(res->text), "no such work list");
		return -1;
	}
	if (q->limit > WORKLIST_LIMIT_MAX) {
		snprintf(res->text, sizeof(res->text), "a page holds at most "
		    "%d items", WORKLIST_LIMIT_MAX);
		return -1;
	}
	ref[0] = '\0';
	if (q->cursor == NULL || q->cursor[0] == '\0')
		return 0;
	if (q->kind == WORKLIST_INBOX) {
		if (cursor_open(node, q->cursor, ref) == 0)
			return 0;
		snprintf(res->text, sizeof(res->text), "the cursor is not one "
		    "this broker gave this node since it started; ask again "
		    "from the first page");
		return -1;
	}
	if (!validate_reference(q->cursor) ||
	    strncmp(q->cursor, node, nl) != 0 || q->cursor[nl] != '/') {
		snprintf(res->text, sizeof(res->text), "the cursor is not one "
		    "this work list gave");
		return -1;
	}
	snprintf(ref, BATON_REFERENCE_MAX + 1, "%s", q->cursor);
	return 0;
}

/* Where the scan starts: past the cursor, else the node's range or the top. */
static int
seek_start(struct store_cursor *c, const struct worklist_query *q,
    const char *pos, const char *prefix, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	const char *from = pos[0] != '\0' ? pos :
	    q->kind == WORKLIST_OUTBOX ? prefix : "";
	int rc;

	rc = store_cursor_seek(c, from, strlen(from), k, kl, v, vl);
	if (rc != STORE_NOTFOUND && from == pos && *kl == strlen(from) &&
	    memcmp(*k, from, *kl) == 0)
		rc = store_cursor_next(c, k, kl, v, vl);
	return rc;
}

/* Reads the state record under key k into the page if it is wanted. */
static void
take(struct state *st, const struct worklist_query *q, const char *node,
    const void *k, size_t kl, struct worklist_page *out)
{
	char id[BATON_MESSAGE_ID_MAX + 1];
	queue_msg *m;
	int rc;

	if (kl == 0 || kl > BATON_MESSAGE_ID_MAX)
		return;
	memcpy(id, k, kl);
	id[kl] = '\0';
	rc = queue_msg_get(st->store, id, &m);
	if (rc == STORE_ERROR)
		state_read_failed(st, "reading a work list");
	if (rc != STORE_OK)
		return;
	if (wanted(q, node, m))
		out->items[out->n++] = m;
	else
		queue_msg_free(m);
}

/* Fills out from the store; the cursor is left where the page ended. */
static void
scan(struct state *st, const struct worklist_query *q, const char *node,
    const char *pos, unsigned limit, struct worklist_page *out)
{
	struct store_cursor *c;
	char prefix[BATON_NODE_ID_MAX + 2];
	const void *k, *v;
	size_t kl, vl, pl;
	unsigned scanned = 0;
	int rc;

	pl = (size_t)snprintf(prefix, sizeof(prefix), "%s/", node);
	if (store_cursor_open(st->store, STORE_MESSAGES, &c) != STORE_OK)
		state_read_failed(st, "opening the message table");
	for (rc = seek_start(c, q, pos, prefix, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND; rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (rc == STORE_ERROR)
			state_read_failed(st, "reading a work list");
		if (q->kind == WORKLIST_OUTBOX &&
		    (kl < pl || memcmp(k, prefix, pl) != 0))
			break;		/* past the node's range */
		if (out->n == limit || scanned == WORKLIST_SCAN_MAX) {
			/* more to read: the next page starts after the last */
			break;
		}
		scanned++;
		if (kl <= BATON_MESSAGE_ID_MAX) {
			memcpy(out->next_cursor, k, kl);
			out->next_cursor[kl] = '\0';
		}
		if (rc == STORE_OK)
			take(st, q, node, k, kl, out);
	}
	if (rc == STORE_NOTFOUND || (q->kind == WORKLIST_OUTBOX &&
	    (kl < pl || memcmp(k, prefix, pl) != 0)))
		out->next_cursor[0] = '\0';	/* the end: no next page */
	store_cursor_close(c);
}

/* The read as a status_read record, limited per node like the others. */
static void
record_read(struct state *st, const struct actor *a,
    const struct worklist_query *q, const struct worklist_page *out)
{
	struct audit_event ev = { 0 };
	char reason[96];

	snprintf(reason, sizeof(reason), "%s%s items=%u%s",
	    q->kind == WORKLIST_OUTBOX ? "outbox" : "inbox",
	    q->undecided ? " undecided" : "", out->n,
	    out->next_cursor[0] != '\0' ? " more" : "");
	lifecycle_audit_actor(a, &ev);
	ev.event = AUDIT_STATUS_READ;
	ev.outcome = "ok";
	ev.reason = reason;
	(void)state_audit(st, &ev);
}

int
lifecycle_worklist(struct state *st, const struct actor *a,
    const struct worklist_query *q, struct worklist_page *out,
    struct lc_result *res)
{
	char pos[BATON_REFERENCE_MAX + 1], last[BATON_REFERENCE_MAX + 1];

	memset(out, 0, sizeof(*out));
	res->text[0] = '\0';
	if (check_query(q, a->node_id, pos, res) == -1)
		return res->code = CODE(INVALID);
	state_touch(st);
	scan(st, q, a->node_id, pos, q->limit == 0 ? WORKLIST_LIMIT_DEFAULT :
	    q->limit, out);
	if (q->kind == WORKLIST_INBOX && out->next_cursor[0] != '\0') {
		/* the position may be anyone's handover: sealed (worklist.h) */
		/* scan() leaves a reference there, which fits last */
		memcpy(last, out->next_cursor, strlen(out->next_cursor) + 1);
		if (cursor_seal(a->node_id, last, out->next_cursor) == -1) {
			lifecycle_worklist_clear(out);
			snprintf(res->text, sizeof(res->text), "the next page "
			    "could not be marked (no random bytes)");
			return res->code = CODE(INTERNAL);
		}
	}
	out->due_now_ms = state_due_ms(st);
	record_read(st, a, q, out);
	return res->code = CODE(OK);
}

void
lifecycle_worklist_clear(struct worklist_page *p)
{
	unsigned i;

	for (i = 0; i < p->n; i++)
		queue_msg_free(p->items[i]);
	p->n = 0;
}
