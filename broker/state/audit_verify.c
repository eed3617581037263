/*
 * audit_verify.c - reading the audit log: verification of the chain and
 * its checkpoints in the store, and the streaming queries behind batonctl
 * audit list/export, with their time and text formats. Archives (reading
 * them back, planning and writing one) are in audit_archive.c, which walks
 * the chain with the verifier here (audit_verify_int.h).
 *
 * Everything here only reads. Each walk runs in one read transaction of
 * its own, decodes one record at a time and frees it before the next, so
 * memory is constant in the length of the log; the transaction is ended as
 * soon as the walk is. What is read back is treated as untrusted input:
 * every length is checked before use, and text written for a terminal,
 * CSV or JSON is escaped or replaced so a record cannot inject control
 * sequences or break the format.
 */
#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "hex.h"
#include "audit.h"
#include "audit_int.h"
#include "audit_verify_int.h"
#include "utctime.h"
#include "errbuf.h"
#include "store.pb-c.h"
#include "validate.h"

struct audit_pubkey {
	EVP_PKEY	*pk;
	char		 key_id[AUDIT_REF_HEX + 1];
};

/* Times. */

void
audit_time_format(int64_t ms, char out[AUDIT_TIME_LEN + 1])
{
	struct tm	 tm;
	time_t		 t;
	int64_t		 sec = ms / 1000;
	int		 frac = (int)(ms % 1000);
	size_t		 n;

	if (frac < 0) {
		frac += 1000;
		sec--;
	}
	t = (time_t)sec;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year < -1900 ||
	    tm.tm_year > 9999 - 1900 ||
	    (n = strftime(out, AUDIT_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%S",
	    &tm)) != 19) {
		(void)snprintf(out, AUDIT_TIME_LEN + 1, "out-of-range-time");
		return;
	}
	(void)snprintf(out + n, AUDIT_TIME_LEN + 1 - n, ".%03dZ", frac);
}

int
audit_time_parse(const char *s, int end_of, int64_t *out)
{
	return utctime_parse(s, end_of, out);
}

/* Keys and anchors. */

struct audit_pubkey *
audit_pubkey_load(const char *path, char *err, size_t errlen)
{
	struct audit_pubkey	*k = NULL;
	BIO			*bio = NULL;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		errbuf_set(err, errlen, "%s: cannot open the audit public key",
		    path);
		goto fail;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		errbuf_set(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if ((k->pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		errbuf_set(err, errlen, "%s: not a PEM public key", path);
		goto fail;
	}
	if (EVP_PKEY_get_id(k->pk) != EVP_PKEY_ED25519) {
		errbuf_set(err, errlen, "%s: not an Ed25519 key", path);
		goto fail;
	}
	if (audit_key_id(k->pk, k->key_id) == -1) {
		errbuf_set(err, errlen, "%s: cannot read the key", path);
		goto fail;
	}
	BIO_free(bio);
	return k;
 fail:
	BIO_free(bio);
	audit_pubkey_free(k);
	return NULL;
}

void
audit_pubkey_free(struct audit_pubkey *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pk);
	free(k);
}

int
audit_anchor_parse(const char *s, struct audit_anchor *out)
{
	const char	*colon, *h = s;
	uint64_t	 v = 0;
	const char	*p;

	memset(out, 0, sizeof(*out));
	if (s == NULL)
		return -1;
	if ((colon = strchr(s, ':')) != NULL) {
		if (colon == s || colon - s > 20)
			return -1;
		for (p = s; p < colon; p++) {
			if (!isdigit((unsigned char)*p) ||
			    v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
				return -1;
			v = v * 10 + (uint64_t)(*p - '0');
		}
		if (v == 0)
			return -1;
		h = colon + 1;
	}
	if (strlen(h) != AUDIT_REF_HEX || hex_decode(h, AUDIT_HASH_LEN,
	    out->hash) == -1)
		return -1;
	out->seq = v;
	return 0;
}

/* Verification. */


int
audit_verify_bad(struct audit_verify_report *r, uint64_t seq, const char *fmt,
    ...)
{
	va_list	 ap;

	r->bad_seq = seq;
	va_start(ap, fmt);
	(void)vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	return AUDIT_VERIFY_BAD;
}

int
audit_verify_cannot(struct audit_verify_report *r, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	return -1;
}

static int
check_signature(const struct audit_pubkey *pk,
    const Baton__Store__V1__AuditRecord *rec, struct audit_verify_report *r)
{
	EVP_MD_CTX	*ctx;
	char		 text[AUDIT_SIG_TEXT_MAX];
	int		 tlen, ok;

	if (rec->signature.len == 0)
		return bad(r, rec->seq, "checkpoint has no signature");
	if (strcmp(rec->key_id, pk->key_id) != 0)
		return bad(r, rec->seq, "checkpoint signed by key id %.16s..., "
		    "not by the given public key (%.16s...)", rec->key_id,
		    pk->key_id);
	if (rec->hash.len != AUDIT_HASH_LEN ||
	    (tlen = audit_checkpoint_text(rec->seq, rec->hash.data, text,
	    sizeof(text))) == -1 || (ctx = EVP_MD_CTX_new()) == NULL)
		return cannot(r, "out of memory");
	ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk->pk) == 1 &&
	    EVP_DigestVerify(ctx, rec->signature.data, rec->signature.len,
	    (const unsigned char *)text, (size_t)tlen) == 1;
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return bad(r, rec->seq, "checkpoint signature does not verify "
		    "(the chain up to here was rewritten)");
	return AUDIT_VERIFY_OK;
}

/*
 * Checks a decoded record expected to be seq want, chained onto prev.
 * Returns AUDIT_VERIFY_OK and its hash in out, AUDIT_VERIFY_BAD, or -1.
 */
static int
check_decoded(EVP_MD_CTX *md, const struct audit_pubkey *pk,
    const Baton__Store__V1__AuditRecord *rec, uint64_t want,
    const uint8_t prev[AUDIT_HASH_LEN], uint8_t out[AUDIT_HASH_LEN],
    int *is_checkpoint, struct audit_verify_report *r)
{
	uint8_t		 h[AUDIT_HASH_LEN];
	const char	*why;
	int		 ret;

	*is_checkpoint = 0;
	if (rec->seq != want)
		ret = bad(r, want, "holds seq %" PRIu64 " (moved or "
		    "reordered)", rec->seq);
	else if (rec->prev_hash.len != AUDIT_HASH_LEN ||
	    memcmp(rec->prev_hash.data, prev, AUDIT_HASH_LEN) != 0)
		ret = bad(r, want, "chain broken: prev_hash is not the hash of "
		    "seq %" PRIu64 " (a record before it was altered, removed "
		    "or inserted)", want - 1);
	else if (!audit_record_format_ok(rec, &why))
		ret = bad(r, want, "%s", why);
	else if (audit_record_hash(md, rec, h) == -1)
		ret = cannot(r, "SHA-256 failed");
	else if (rec->hash.len != AUDIT_HASH_LEN ||
	    memcmp(rec->hash.data, h, AUDIT_HASH_LEN) != 0)
		ret = bad(r, want, "hash mismatch: the record was altered");
	else if (strcmp(rec->event, AUDIT_CHECKPOINT) == 0) {
		*is_checkpoint = 1;
		ret = check_signature(pk, rec, r);
	} else if (want % AUDIT_CHECKPOINT_EVERY == 0)
		ret = bad(r, want, "should be a signed checkpoint but is '%s' "
		    "(rewritten)", rec->event);
	else if (rec->signature.len != 0 || rec->key_id[0] != '\0')
		ret = bad(r, want, "a signature on a record that is not a "
		    "checkpoint (altered)");
	else
		ret = AUDIT_VERIFY_OK;
	if (ret == AUDIT_VERIFY_OK)
		memcpy(out, h, AUDIT_HASH_LEN);
	return ret;
}

/*
 * Checks the record under key k (kl bytes) with store result rc: the key
 * first, then the record. As check_decoded.
 */
static int
check_stored(struct audit_verifier *v, int rc, const void *k, size_t kl,
    const void *val, size_t vl, Baton__Store__V1__AuditRecord **out)
{
	uint64_t	 ks;

	*out = NULL;
	if (kl != 8)
		return bad(v->r, v->want, "a record with a %zu-byte key where "
		    "seq %" PRIu64 " should be (inserted)", kl, v->want);
	ks = store_be64(k);
	if (ks < v->want)
		return bad(v->r, v->want, "a record with key %" PRIu64 " where "
		    "seq %" PRIu64 " should be (inserted)", ks, v->want);
	if (ks > v->want)
		return bad(v->r, v->want, "missing: the next record is seq %"
		    PRIu64 " (removed)", ks);
	if (rc == STORE_CORRUPT)
		return bad(v->r, v->want, "fails the store's record check "
		    "(damaged or altered)");
	if ((*out = baton__store__v1__audit_record__unpack(NULL, vl,
	    val)) == NULL)
		return bad(v->r, v->want, "does not decode (torn or altered)");
	return AUDIT_VERIFY_OK;
}

/* Compares the record at want (hash h) with the anchor expect. */
static int
check_expect(struct audit_verifier *v, uint64_t seq,
    const uint8_t h[AUDIT_HASH_LEN])
{
	const struct audit_anchor	*e = v->expect;

	if (e == NULL)
		return AUDIT_VERIFY_OK;
	if (memcmp(h, e->hash, AUDIT_HASH_LEN) == 0 &&
	    (e->seq == 0 || e->seq == seq))
		v->found = 1;
	else if (e->seq == seq)
		return bad(v->r, seq, "differs from the anchor (rewritten "
		    "since the anchor was taken)");
	return AUDIT_VERIFY_OK;
}

/*
 * One record that decoded, at v->want: checks it and moves the walk on.
 * The first record of an archive sets where the walk starts.
 */
int
audit_verifier_step(struct audit_verifier *v,
    const Baton__Store__V1__AuditRecord *rec)
{
	struct audit_verify_report	*r = v->r;
	uint8_t				 h[AUDIT_HASH_LEN];
	int				 ret, cp;

	if (v->want == 0) {
		v->want = rec->seq;
		if (rec->seq > 1 && rec->prev_hash.len == AUDIT_HASH_LEN)
			memcpy(v->prev, rec->prev_hash.data, AUDIT_HASH_LEN);
	}
	ret = check_decoded(v->md, v->pk, rec, v->want, v->prev, h, &cp, r);
	if (ret != AUDIT_VERIFY_OK)
		return ret;
	if ((ret = check_expect(v, v->want, h)) != AUDIT_VERIFY_OK)
		return ret;
	if (v->kept_seq == v->want &&
	    memcmp(h, v->kept_hash, AUDIT_HASH_LEN) != 0)
		return bad(r, v->want, "differs from the copy of checkpoint %"
		    PRIu64 " kept outside the chain (rewritten)", v->want);
	if (cp) {
		r->checkpoints++;
		r->last_checkpoint = v->want;
	}
	if (r->count++ == 0)
		r->first_seq = v->want;
	r->head_seq = v->want;
	hex_encode(h, AUDIT_HASH_LEN, r->head_hash);
	memcpy(v->prev, h, AUDIT_HASH_LEN);
	v->want++;
	if (v->each != NULL && v->each(v->arg, rec, cp) != 0)
		return -1;
	return AUDIT_VERIFY_OK;
}

struct audit_verifier *
audit_verifier_new(const struct audit_pubkey *pk,
    const struct audit_anchor *expect, struct audit_verify_report *r)
{
	struct audit_verifier	*v;

	memset(r, 0, sizeof(*r));
	memset(r->head_hash, '0', AUDIT_REF_HEX);
	if ((v = calloc(1, sizeof(*v))) == NULL ||
	    (v->md = EVP_MD_CTX_new()) == NULL) {
		free(v);
		(void)cannot(r, "out of memory");
		return NULL;
	}
	v->pk = pk;
	v->expect = expect;
	v->r = r;
	return v;
}

void
audit_verifier_free(struct audit_verifier *v)
{
	if (v == NULL)
		return;
	EVP_MD_CTX_free(v->md);
	free(v);
}

int
audit_verifier_end(struct audit_verifier *v)
{
	struct audit_verify_report	*r = v->r;

	if (v->expect == NULL || v->found)
		return AUDIT_VERIFY_OK;
	if (v->expect->seq != 0)
		return bad(r, r->head_seq + 1, "missing: the log ends at seq %"
		    PRIu64 " but the anchor is at seq %" PRIu64 " (truncated)",
		    r->head_seq, v->expect->seq);
	return bad(r, 0, "the anchor's hash is not in the log (truncated or "
	    "rewritten%s)", r->archived_upto != 0 ? ", or in the archived "
	    "part: check it with --archive" : "");
}

/*
 * Checks a checkpoint kept outside the chain (what names it): its own
 * hash and signature, as if it were the record at its seq.
 */
static int
check_kept(struct audit_verifier *v, const Baton__Store__V1__AuditRecord *c,
    const char *what)
{
	uint8_t	 h[AUDIT_HASH_LEN];
	int	 cp, ret;

	if (c->prev_hash.len != AUDIT_HASH_LEN)
		return bad(v->r, 0, "the %s does not decode (damaged)", what);
	ret = check_decoded(v->md, v->pk, c, c->seq, c->prev_hash.data, h,
	    &cp, v->r);
	if (ret == AUDIT_VERIFY_BAD || (ret == AUDIT_VERIFY_OK && !cp)) {
		v->r->bad_seq = 0;
		(void)snprintf(v->r->what, sizeof(v->r->what), "the %s (seq %"
		    PRIu64 ") is not an intact signed checkpoint (forged or "
		    "damaged)", what, c->seq);
		return AUDIT_VERIFY_BAD;
	}
	return ret;
}

/*
 * Sets where the store's log starts: after the archive anchor if there is
 * one (which must be where the archives read so far ended), else at 1.
 */
static int
start_from_anchor(struct audit_verifier *v, struct store *s)
{
	Baton__Store__V1__AuditRecord	*a;
	const struct audit_anchor	*e = v->expect;
	struct audit_verify_report	*r = v->r;
	int				 rc, ret;

	rc = audit_meta_get(s, AUDIT_META_ARCHIVED, &a);
	if (rc == STORE_CORRUPT)
		return bad(r, 0, "the archive anchor (kept outside the chain) "
		    "is damaged");
	if (rc == STORE_NOTFOUND) {
		if (v->want > 1)
			return cannot(r, "the archives end at seq %" PRIu64
			    " but nothing was archived from this store: they "
			    "are not its archives", v->want - 1);
		v->want = 1;
		memset(v->prev, 0, sizeof(v->prev));
		return AUDIT_VERIFY_OK;
	}
	if (rc != STORE_OK)
		return cannot(r, "reading the archive anchor: %s",
		    store_strerror(s));
	r->archived_upto = a->seq;
	if ((ret = check_kept(v, a, "archive anchor")) != AUDIT_VERIFY_OK)
		goto done;
	if (v->want != 0) {
		if (a->seq != v->want - 1 || memcmp(a->hash.data, v->prev,
		    AUDIT_HASH_LEN) != 0)
			ret = cannot(r, "the store's log continues from "
			    "archived seq %" PRIu64 " but the archives end at "
			    "seq %" PRIu64 "%s", a->seq, v->want - 1,
			    a->seq == v->want - 1 ? " with another hash" :
			    ": give every archive since, oldest first");
		goto done;
	}
	if (e != NULL && e->seq != 0 && e->seq < a->seq) {
		ret = cannot(r, "the anchor's seq %" PRIu64 " is archived "
		    "(this store holds seq %" PRIu64 " on): check it against "
		    "the archive with --archive FILE", e->seq, a->seq + 1);
		goto done;
	}
	if ((ret = check_expect(v, a->seq, a->hash.data)) != AUDIT_VERIFY_OK)
		goto done;
	v->want = a->seq + 1;
	memcpy(v->prev, a->hash.data, AUDIT_HASH_LEN);
 done:
	baton__store__v1__audit_record__free_unpacked(a, NULL);
	return ret;
}

/*
 * Reads the last checkpoint kept outside the chain, which the log must
 * reach. One that fails its own check is reported after the walk, so a
 * bad record in the chain is named by its seq first.
 */
static int
load_kept(struct audit_verifier *v, struct store *s)
{
	Baton__Store__V1__AuditRecord	*c;
	struct audit_verify_report	*r = v->r;
	int				 rc, ret;

	rc = audit_meta_get(s, AUDIT_META_LAST_CP, &c);
	if (rc == STORE_NOTFOUND)
		return AUDIT_VERIFY_OK;	/* none written yet */
	if (rc == STORE_CORRUPT)
		return bad(r, 0, "the copy of the last checkpoint kept outside "
		    "the chain is damaged");
	if (rc != STORE_OK)
		return cannot(r, "reading the last checkpoint: %s",
		    store_strerror(s));
	r->kept_checkpoint = c->seq;
	ret = check_kept(v, c, "copy of the last checkpoint kept outside the "
	    "chain");
	if (ret == AUDIT_VERIFY_BAD) {
		v->kept_bad = 1;
		ret = AUDIT_VERIFY_OK;
	}
	if (ret == AUDIT_VERIFY_OK && c->seq >= v->want) {
		v->kept_seq = c->seq;
		memcpy(v->kept_hash, c->hash.data, AUDIT_HASH_LEN);
	} else if (ret == AUDIT_VERIFY_OK && c->seq == v->want - 1 &&
	    memcmp(c->hash.data, v->prev, AUDIT_HASH_LEN) != 0)
		ret = bad(r, c->seq, "the archive anchor differs from the copy "
		    "of checkpoint %" PRIu64 " kept outside the chain", c->seq);
	baton__store__v1__audit_record__free_unpacked(c, NULL);
	return ret;
}

/* How many records table t holds, up to max (0: none). */
static uint64_t
table_count(struct store *s, enum store_table t, uint64_t max)
{
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl;
	uint64_t		 n = 0;
	int			 rc;

	if (store_cursor_open(s, t, &c) != STORE_OK)
		return 0;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    (rc == STORE_OK || rc == STORE_CORRUPT) && n < max;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl))
		n++;
	store_cursor_close(c);
	return n;
}

/*
 * An empty log is intact only in a new store: no archive, no checkpoint
 * ever written, no node registered and no handover held.
 */
static int
check_empty(struct audit_verifier *v, struct store *s)
{
	struct audit_verify_report	*r = v->r;
	uint64_t			 msgs;

	if (r->archived_upto != 0)
		return bad(r, v->want, "missing: the log is empty after the "
		    "archived part (up to seq %" PRIu64 "): every record since "
		    "was removed (wiped)", r->archived_upto);
	if (r->kept_checkpoint != 0)
		return bad(r, 1, "missing: the log is empty but checkpoint %"
		    PRIu64 " was written (its copy is kept outside the "
		    "chain): every record was removed (wiped)",
		    r->kept_checkpoint);
	r->store_nodes = table_count(s, STORE_NODES, UINT64_MAX);
	msgs = table_count(s, STORE_MESSAGES, 1);
	if (r->store_nodes != 0 || msgs != 0)
		return bad(r, 1, "missing: the log is empty but the store is "
		    "in use (%" PRIu64 " registered node%s%s): every record "
		    "was removed (wiped)", r->store_nodes,
		    r->store_nodes == 1 ? "" : "s",
		    msgs != 0 ? ", handovers held" : "");
	return AUDIT_VERIFY_OK;
}

/* Walks the audit table from its first key. */
static int
walk_store(struct audit_verifier *v, struct store *s)
{
	Baton__Store__V1__AuditRecord	*rec;
	struct store_cursor		*c = NULL;
	const void			*k, *val;
	size_t				 kl, vl;
	int				 rc, ret;

	if (store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK)
		return cannot(v->r, "%s", store_strerror(s));
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &val, &vl);
	    rc != STORE_NOTFOUND;
	    rc = store_cursor_next(c, &k, &kl, &val, &vl)) {
		if (v->stop_after != 0 && v->want > v->stop_after)
			break;
		if (rc != STORE_OK && rc != STORE_CORRUPT) {
			ret = cannot(v->r, "reading seq %" PRIu64 ": %s",
			    v->want, store_strerror(s));
			goto done;
		}
		ret = check_stored(v, rc, k, kl, val, vl, &rec);
		if (ret == AUDIT_VERIFY_OK)
			ret = audit_verifier_step(v, rec);
		if (rec != NULL)
			baton__store__v1__audit_record__free_unpacked(rec,
			    NULL);
		if (ret != AUDIT_VERIFY_OK)
			goto done;
	}
	ret = AUDIT_VERIFY_OK;
 done:
	store_cursor_close(c);
	return ret;
}

int
audit_verifier_store(struct audit_verifier *v, struct store *s)
{
	struct audit_verify_report	*r = v->r;
	uint64_t			 before = r->count;
	int				 ret;

	if (v->pk == NULL)
		return cannot(r, "no public key");
	if (store_begin(s, 1) != STORE_OK)
		return cannot(r, "%s", store_strerror(s));
	if ((ret = start_from_anchor(v, s)) != AUDIT_VERIFY_OK ||
	    (ret = load_kept(v, s)) != AUDIT_VERIFY_OK ||
	    (ret = walk_store(v, s)) != AUDIT_VERIFY_OK || v->stop_after != 0)
		goto done;
	if (r->count == before)
		ret = check_empty(v, s);
	else if (v->kept_bad)
		ret = bad(r, 0, "the copy of the last checkpoint kept outside "
		    "the chain (seq %" PRIu64 ") is not an intact signed "
		    "checkpoint (forged or damaged)", r->kept_checkpoint);
	else if (v->kept_seq != 0 && r->head_seq < v->kept_seq)
		ret = bad(r, r->head_seq + 1, "missing: the log ends at seq %"
		    PRIu64 " but checkpoint %" PRIu64 " was written (its copy "
		    "is kept outside the chain): records were removed from "
		    "the end (truncated)", r->head_seq, v->kept_seq);
 done:
	if (store_active(s))
		store_abort(s);
	return ret;
}

int
audit_verify(struct store *s, const struct audit_pubkey *pk,
    const struct audit_anchor *expect, struct audit_verify_report *r)
{
	struct audit_verifier	*v;
	int			 ret;

	if ((v = audit_verifier_new(pk, expect, r)) == NULL)
		return -1;
	ret = audit_verifier_store(v, s);
	if (ret == AUDIT_VERIFY_OK)
		ret = audit_verifier_end(v);
	audit_verifier_free(v);
	return ret;
}

/* Queries. */

void
audit_filter_init(struct audit_filter *f)
{
	memset(f, 0, sizeof(*f));
	f->since_ms = INT64_MIN;
	f->until_ms = INT64_MAX;
}

/* The list of field which in f, its width and count. */
static char *
filter_list(struct audit_filter *f, enum audit_filter_field which,
    size_t *width, size_t **n)
{
	switch (which) {
	case AUDIT_FILTER_NODE:
		*width = sizeof(f->nodes[0]);
		*n = &f->nnodes;
		return f->nodes[0];
	case AUDIT_FILTER_MESSAGE:
		*width = sizeof(f->message_ids[0]);
		*n = &f->nmessage_ids;
		return f->message_ids[0];
	case AUDIT_FILTER_EVENT:
		*width = sizeof(f->events[0]);
		*n = &f->nevents;
		return f->events[0];
	}
	return NULL;
}

static int
filter_value_ok(enum audit_filter_field which, const char *v)
{
	switch (which) {
	case AUDIT_FILTER_NODE:
		return validate_node_id(v);
	case AUDIT_FILTER_MESSAGE:
		return validate_message_id(v);
	case AUDIT_FILTER_EVENT:
		return audit_event_known(v);
	}
	return 0;
}

int
audit_filter_add(struct audit_filter *f, enum audit_filter_field which,
    const char *value)
{
	char	*list;
	size_t	 width, *n, i;

	if (value == NULL || !filter_value_ok(which, value) ||
	    (list = filter_list(f, which, &width, &n)) == NULL ||
	    strlen(value) >= width)
		return -1;
	for (i = 0; i < *n; i++)
		if (strcmp(list + i * width, value) == 0)
			return 0;
	if (*n >= AUDIT_FILTER_MAX)
		return AUDIT_FILTER_ERR_FULL;
	memcpy(list + *n * width, value, strlen(value) + 1);
	(*n)++;
	return 0;
}

/* Appends " key=v1,v2" for n values of width bytes at list, cut to fit. */
static void
describe_list(char *buf, size_t len, const char *key, const char *list,
    size_t width, size_t n)
{
	size_t	 used, i;

	for (i = 0; i < n; i++) {
		if ((used = strlen(buf)) + 1 >= len)
			return;
		if (i == 0)
			(void)snprintf(buf + used, len - used, " %s=%s", key,
			    list);
		else
			(void)snprintf(buf + used, len - used, ",%s",
			    list + i * width);
	}
}

void
audit_filter_describe(const struct audit_filter *f, char *buf, size_t len)
{
	if (len == 0)
		return;
	describe_list(buf, len, "node", f->nodes[0], sizeof(f->nodes[0]),
	    f->nnodes);
	describe_list(buf, len, "message", f->message_ids[0],
	    sizeof(f->message_ids[0]), f->nmessage_ids);
	describe_list(buf, len, "event", f->events[0], sizeof(f->events[0]),
	    f->nevents);
}

/*
 * 1 if have is one of the n values of width bytes at list; with none, 1
 * (the field is not filtered).
 */
static int
any_of(const char *list, size_t width, size_t n, const char *have)
{
	size_t	 i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (strcmp(list + i * width, have) == 0)
			return 1;
	return 0;
}

static int
matches(const struct audit_filter *f, const Baton__Store__V1__AuditRecord *r)
{
	if (r->time_ms < f->since_ms || r->time_ms > f->until_ms)
		return 0;
	if (!any_of(f->nodes[0], sizeof(f->nodes[0]), f->nnodes, r->actor) &&
	    !any_of(f->nodes[0], sizeof(f->nodes[0]), f->nnodes, r->other))
		return 0;
	return any_of(f->message_ids[0], sizeof(f->message_ids[0]),
	    f->nmessage_ids, r->message_id) &&
	    any_of(f->events[0], sizeof(f->events[0]), f->nevents, r->event) &&
	    (f->subject_ref == NULL ||
	    strcmp(f->subject_ref, r->subject_ref) == 0);
}

/*
 * Length of the valid UTF-8 sequence at p and its code point in *cp, or
 * 0 when p does not start one (overlong forms, surrogates and values past
 * U+10FFFF included). Never reads past a NUL.
 */
static int
utf8_seq(const unsigned char *p, uint32_t *cp)
{
	uint32_t	 c = p[0];
	int		 n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		n = 2;
		c &= 0x1f;
	} else if (c < 0xf0) {
		n = 3;
		c &= 0x0f;
	} else if (c < 0xf5) {
		n = 4;
		c &= 0x07;
	} else
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

int
audit_utf8_seq(const unsigned char *p, uint32_t *cp)
{
	return utf8_seq(p, cp);
}

enum text_mode { TEXT_TERM, TEXT_CSV, TEXT_JSON };

/*
 * Writes s for a terminal (controls, C1 and broken UTF-8 as '?'), inside
 * a CSV quoted field (quotes doubled, controls as '?', broken UTF-8 as
 * U+FFFD) or inside a JSON string (escaped). Returns the bytes written.
 */
static size_t
put_text(FILE *out, const char *s, enum text_mode mode)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 cp;
	size_t			 w = 0;
	int			 n;

	while (*p != '\0') {
		n = utf8_seq(p, &cp);
		if (n == 0) {
			if (mode == TEXT_TERM)
				w += fputc('?', out) != EOF;
			else if (mode == TEXT_CSV)
				w += fwrite("\xef\xbf\xbd", 1, 3, out);
			else
				w += fwrite("\\ufffd", 1, 6, out);
			p++;
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			if (mode == TEXT_JSON) {
				if (cp == '\n')
					w += fwrite("\\n", 1, 2, out);
				else if (cp == '\t')
					w += fwrite("\\t", 1, 2, out);
				else if (fprintf(out, "\\u%04x", cp) > 0)
					w += 6;
			} else
				w += fputc('?', out) != EOF;
		} else if (mode == TEXT_JSON && (cp == '"' || cp == '\\')) {
			(void)fputc('\\', out);
			w += 1 + (fputc((int)cp, out) != EOF);
		} else if (mode == TEXT_CSV && cp == '"')
			w += fwrite("\"\"", 1, 2, out);
		else
			w += fwrite(p, 1, (size_t)n, out);
		p += n;
	}
	return w;
}

static void
pad(FILE *out, size_t have, size_t width)
{
	for (; have < width; have++)
		(void)fputc(' ', out);
	(void)fputc(' ', out);
}

/* The format a record was written in: 0 (absent) is format 1. */
static unsigned
record_format(const Baton__Store__V1__AuditRecord *r)
{
	return r->format < AUDIT_FORMAT_1 ? AUDIT_FORMAT_1 : r->format;
}

static void
hex_field(FILE *out, const ProtobufCBinaryData *b)
{
	size_t	 i;

	for (i = 0; i < b->len; i++)
		(void)fprintf(out, "%02x", b->data[i]);
}

/* Column widths of the table; a longer value pushes its row, never cut. */
#define W_EVENT		21
#define W_NODE		21
#define W_MESSAGE	24
#define W_OUTCOME	16

static void
write_table_header(FILE *out)
{
	(void)fprintf(out, "%-8s %-24s %-*s %-*s %-*s %-*s %-*s %s\n", "SEQ",
	    "TIME (UTC)", W_EVENT, "EVENT", W_NODE, "ACTOR(ROLE)", W_NODE,
	    "OTHER", W_MESSAGE, "MESSAGE", W_OUTCOME, "OUTCOME", "DETAILS");
}

static void
detail(FILE *out, int *first, const char *name, const char *v)
{
	if (v == NULL || *v == '\0')
		return;
	(void)fprintf(out, "%s%s=", *first ? "" : " ", name);
	(void)put_text(out, v, TEXT_TERM);
	*first = 0;
}

/* A time in seconds with milliseconds, "since_submit=12.345s"; -1: none. */
static void
duration(FILE *out, int *first, const char *name, int64_t ms)
{
	if (ms < 0)
		return;
	(void)fprintf(out, "%s%s=%" PRId64 ".%03ds", *first ? "" : " ", name,
	    ms / 1000, (int)(ms % 1000));
	*first = 0;
}

static void
write_table_row(FILE *out, const Baton__Store__V1__AuditRecord *r)
{
	char	 t[AUDIT_TIME_LEN + 1];
	size_t	 w;
	int	 first = 1;

	audit_time_format(r->time_ms, t);
	(void)fprintf(out, "%-8" PRIu64 " %-24s ", r->seq, t);
	pad(out, put_text(out, r->event, TEXT_TERM), W_EVENT);
	w = put_text(out, r->actor, TEXT_TERM);
	if (r->actor_role[0] != '\0') {
		w += (size_t)fprintf(out, "(");
		w += put_text(out, r->actor_role, TEXT_TERM);
		w += (size_t)fprintf(out, ")");
	}
	pad(out, w, W_NODE);
	pad(out, put_text(out, r->other, TEXT_TERM), W_NODE);
	pad(out, put_text(out, r->message_id, TEXT_TERM), W_MESSAGE);
	pad(out, put_text(out, r->outcome, TEXT_TERM), W_OUTCOME);
	detail(out, &first, "org", r->actor_org);
	detail(out, &first, "risk", r->risk);
	detail(out, &first, "kind", r->kind);
	detail(out, &first, "disclosed", r->disclosed);
	detail(out, &first, "withheld", r->withheld);
	detail(out, &first, "reason", r->reason);
	duration(out, &first, "since_submit", audit_record_since_submit(r));
	duration(out, &first, "since_delivery",
	    audit_record_since_delivery(r));
	if (r->detail[0] != '\0') {
		/* already key=value: one key, not detail=key=value */
		(void)fputs(first ? "" : " ", out);
		(void)put_text(out, r->detail, TEXT_TERM);
		first = 0;
	}
	detail(out, &first, "subject", r->subject_ref);
	detail(out, &first, "cert_serial", r->cert_serial);
	detail(out, &first, "cert_sha256", r->cert_sha256);
	detail(out, &first, "peer", r->peer);
	detail(out, &first, "key_id", r->key_id);
	(void)fputc('\n', out);
}

#define CSV_HEADER \
	"seq,time,event,actor,actor_role,actor_org,other,message_id," \
	"subject_ref,disclosed,withheld,outcome,reason,cert_serial," \
	"cert_sha256,peer,key_id,prev_hash,hash,signature,format,risk,kind," \
	"since_submit_ms,since_delivery_ms,detail\r\n"

/*
 * One CSV text field, always quoted. A leading = + - @ tab or CR gets a
 * "'" first so a spreadsheet shows it as text, never runs it as a formula
 * (OWASP's CSV injection advice).
 */
static void
csv_text(FILE *out, const char *v)
{
	(void)fputc('"', out);
	if (strchr("=+-@\t\r", v[0]) != NULL && v[0] != '\0')
		(void)fputc('\'', out);
	(void)put_text(out, v, TEXT_CSV);
	(void)fputc('"', out);
}

/* csv_text and the comma after it. */
static void
csv_field(FILE *out, const char *v)
{
	csv_text(out, v);
	(void)fputc(',', out);
}

/* A time in ms; empty when the record has none. */
static void
csv_ms(FILE *out, int64_t ms)
{
	if (ms >= 0)
		(void)fprintf(out, "%" PRId64, ms);
}

static void
write_csv_row(FILE *out, const Baton__Store__V1__AuditRecord *r)
{
	char	 t[AUDIT_TIME_LEN + 1];

	audit_time_format(r->time_ms, t);
	(void)fprintf(out, "%" PRIu64 ",%s,", r->seq, t);
	csv_field(out, r->event);
	csv_field(out, r->actor);
	csv_field(out, r->actor_role);
	csv_field(out, r->actor_org);
	csv_field(out, r->other);
	csv_field(out, r->message_id);
	csv_field(out, r->subject_ref);
	csv_field(out, r->disclosed);
	csv_field(out, r->withheld);
	csv_field(out, r->outcome);
	csv_field(out, r->reason);
	csv_field(out, r->cert_serial);
	csv_field(out, r->cert_sha256);
	csv_field(out, r->peer);
	csv_field(out, r->key_id);
	hex_field(out, &r->prev_hash);
	(void)fputc(',', out);
	hex_field(out, &r->hash);
	(void)fputc(',', out);
	hex_field(out, &r->signature);
	(void)fprintf(out, ",%u,", record_format(r));
	csv_field(out, r->risk);
	csv_field(out, r->kind);
	csv_ms(out, audit_record_since_submit(r));
	(void)fputc(',', out);
	csv_ms(out, audit_record_since_delivery(r));
	(void)fputc(',', out);
	csv_text(out, r->detail);
	(void)fputs("\r\n", out);
}

static void
json_str(FILE *out, const char *name, const char *v)
{
	(void)fprintf(out, ",\"%s\":\"", name);
	(void)put_text(out, v, TEXT_JSON);
	(void)fputc('"', out);
}

static void
json_hex(FILE *out, const char *name, const ProtobufCBinaryData *b)
{
	(void)fprintf(out, ",\"%s\":\"", name);
	hex_field(out, b);
	(void)fputc('"', out);
}

/* A time in ms, or null when the record has none. */
static void
json_ms(FILE *out, const char *name, int64_t ms)
{
	if (ms >= 0)
		(void)fprintf(out, ",\"%s\":%" PRId64, name, ms);
	else
		(void)fprintf(out, ",\"%s\":null", name);
}

void
audit_write_json_row(FILE *out, const Baton__Store__V1__AuditRecord *r)
{
	char	 t[AUDIT_TIME_LEN + 1];

	audit_time_format(r->time_ms, t);
	(void)fprintf(out, "{\"seq\":%" PRIu64 ",\"time\":\"%s\","
	    "\"time_ms\":%" PRId64, r->seq, t, r->time_ms);
	json_str(out, "event", r->event);
	json_str(out, "actor", r->actor);
	json_str(out, "actor_role", r->actor_role);
	json_str(out, "actor_org", r->actor_org);
	json_str(out, "other", r->other);
	json_str(out, "message_id", r->message_id);
	json_str(out, "subject_ref", r->subject_ref);
	json_str(out, "disclosed", r->disclosed);
	json_str(out, "withheld", r->withheld);
	json_str(out, "outcome", r->outcome);
	json_str(out, "reason", r->reason);
	json_str(out, "cert_serial", r->cert_serial);
	json_str(out, "cert_sha256", r->cert_sha256);
	json_str(out, "peer", r->peer);
	json_str(out, "key_id", r->key_id);
	json_hex(out, "prev_hash", &r->prev_hash);
	json_hex(out, "hash", &r->hash);
	json_hex(out, "signature", &r->signature);
	(void)fprintf(out, ",\"format\":%u", record_format(r));
	json_str(out, "risk", r->risk);
	json_str(out, "kind", r->kind);
	json_ms(out, "since_submit_ms", audit_record_since_submit(r));
	json_ms(out, "since_delivery_ms", audit_record_since_delivery(r));
	json_str(out, "detail", r->detail);
	(void)fputs("}\n", out);
}

int
audit_walk(struct store *s, int (*each)(void *,
    const Baton__Store__V1__AuditRecord *), void *arg, char *err,
    size_t errlen)
{
	Baton__Store__V1__AuditRecord	*r;
	struct store_cursor		*c = NULL;
	const void			*k, *v;
	size_t				 kl, vl;
	uint64_t			 ks;
	int				 rc, ret = -1;

	if (store_begin(s, 1) != STORE_OK ||
	    store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK) {
		errbuf_set(err, errlen, "%s", store_strerror(s));
		goto fail;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		ks = kl == 8 ? store_be64(k) : 0;
		if (rc == STORE_CORRUPT) {
			errbuf_set(err, errlen, "audit record %" PRIu64 " is "
			    "damaged (run batonctl audit verify)", ks);
			goto fail;
		}
		if (rc != STORE_OK) {
			errbuf_set(err, errlen, "reading the audit log: %s",
			    store_strerror(s));
			goto fail;
		}
		if ((r = baton__store__v1__audit_record__unpack(NULL, vl,
		    v)) == NULL) {
			errbuf_set(err, errlen, "audit record %" PRIu64 " does "
			    "not decode (run batonctl audit verify)", ks);
			goto fail;
		}
		rc = each(arg, r);
		baton__store__v1__audit_record__free_unpacked(r, NULL);
		if (rc != 0) {
			ret = rc;
			goto fail;
		}
	}
	ret = 0;
 fail:
	store_cursor_close(c);
	if (store_active(s))
		store_abort(s);
	return ret;
}

/* What audit_export's walk carries from record to record. */
struct export_walk {
	const struct audit_filter	*f;
	enum audit_format		 fmt;
	FILE				*out;
	uint64_t			 n;
	char				*err;
	size_t				 errlen;
};

static int
export_each(void *arg, const Baton__Store__V1__AuditRecord *r)
{
	struct export_walk	*w = arg;

	if (matches(w->f, r)) {
		audit_write_row(w->out, w->fmt, r);
		w->n++;
	}
	if (ferror(w->out)) {
		errbuf_set(w->err, w->errlen, "write error");
		return -1;
	}
	return 0;
}

int
audit_export(struct store *s, const struct audit_filter *f,
    enum audit_format fmt, FILE *out, uint64_t *matched, char *err,
    size_t errlen)
{
	struct export_walk	 w = { f, fmt, out, 0, err, errlen };
	int			 ret;

	audit_write_header(out, fmt);
	ret = audit_walk(s, export_each, &w, err, errlen) == 0 ? 0 : -1;
	if (ret == 0 && (fflush(out) == EOF || ferror(out))) {
		errbuf_set(err, errlen, "write error");
		ret = -1;
	}
	if (matched != NULL)
		*matched = w.n;
	return ret;
}
/*
 * For paged readers in the state library (audit_page.c): the filter and
 * the row writers of audit_export, one record at a time.
 */
int
audit_filter_match(const struct audit_filter *f,
    const Baton__Store__V1__AuditRecord *r)
{
	return matches(f, r);
}

void
audit_write_header(FILE *out, enum audit_format fmt)
{
	if (fmt == AUDIT_FORMAT_TABLE)
		write_table_header(out);
	else if (fmt == AUDIT_FORMAT_CSV)
		(void)fputs(CSV_HEADER, out);
}

void
audit_write_row(FILE *out, enum audit_format fmt,
    const Baton__Store__V1__AuditRecord *r)
{
	if (fmt == AUDIT_FORMAT_TABLE)
		write_table_row(out, r);
	else if (fmt == AUDIT_FORMAT_CSV)
		write_csv_row(out, r);
	else
		audit_write_json_row(out, r);
}
