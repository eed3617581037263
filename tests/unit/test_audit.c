/*
 * test_audit.c - the audit log over a real LMDB store in a fresh temp
 * directory: appending, verification against every kind of tampering,
 * anchors and checkpoints, wiped and cut-back logs, archives, subject
 * references, key files, times, and streaming export of 100,000 records
 * in constant memory.
 *
 * Tampering goes through LMDB directly, as an attacker with the data
 * directory would: either raw (the store's own record hash catches it) or
 * re-wrapped with a correct store hash (the test repeats the store's
 * documented record format), so that only the audit chain can catch it.
 * Re-chaining uses the documented canonical encoding (audit_int.h), as an
 * attacker who read the source would; only the private key is out of its
 * reach.
 */
#include <sys/resource.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <inttypes.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "audit.h"
#include "audit_int.h"
#include "audit_trail.h"
#include "crc32c.h"
#include "store.h"
#include "store.pb-c.h"

/* store.c's record header: format byte and CRC-32C */
#define RAW_HDR	5

#define MAP_SIZE	((size_t)512 << 20)
#define T0		1795488035123LL	/* 2026-11-24T02:40:35.123Z */
#define NHS		"9434765919"

struct fixture {
	char		 dir[64];
	struct store	*s;
	struct audit	*a;
	char		 pub[128];	/* dir/audit-signing.pub */
};

static void
rm_rf(const char *dir)
{
	char	 cmd[256];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void
open_store(struct fixture *f)
{
	struct store_opts	 so;
	char			 err[512];

	memset(&so, 0, sizeof(so));
	so.dir = f->dir;
	so.map_size = MAP_SIZE;
	if (store_open(&so, &f->s, err, sizeof(err)) != STORE_OK)
		fail_msg("store_open: %s", err);
}

static int
setup(void **state)
{
	struct fixture	*f;
	char		 err[512];

	f = calloc(1, sizeof(*f));
	assert_non_null(f);
	(void)snprintf(f->dir, sizeof(f->dir), "/tmp/test_audit.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	open_store(f);
	f->a = audit_open(f->dir, 1, err, sizeof(err));
	if (f->a == NULL)
		fail_msg("audit_open: %s", err);
	(void)snprintf(f->pub, sizeof(f->pub), "%s/audit-signing.pub", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	audit_close(f->a);
	store_close(f->s);
	rm_rf(f->dir);
	free(f);
	return 0;
}

/* The i-th test event; variant changes its content, for forged histories. */
static void
make_event(struct audit_event *ev, uint64_t i, int variant, char *msg,
    size_t msglen, const char *ref)
{
	static const char *const events[] = { AUDIT_SUBMIT_ACCEPTED,
	    AUDIT_QUEUED, AUDIT_DELIVERED, AUDIT_ACKNOWLEDGED };

	memset(ev, 0, sizeof(*ev));
	(void)snprintf(msg, msglen, "msg-%" PRIu64, i / 4);
	ev->event = events[i % 4];
	ev->actor = variant ? "node-z" : "node-a";
	ev->actor_role = "provider";
	ev->actor_org = "Riverside Community Services";
	ev->other = "node-b";
	ev->message_id = msg;
	ev->subject_ref = ref;
	if (i % 4 == 2) {
		ev->disclosed = "transition,risk_summary,crisis_plan";
		ev->withheld = "medication_and_physical_health";
	}
	ev->outcome = "ok";
	ev->cert_serial = "1a2b3c";
	ev->cert_sha256 = "ab12";
	ev->peer = "127.0.0.1:40000";
	ev->risk = "high";
	ev->kind = "referral";
	if (i % 4 == 2) {
		ev->since_submit_ms = 1000 + (int64_t)i;
		ev->has_since_submit = 1;
	}
}

/*
 * Appends events first..last (1-based event numbers, not seqs), each in a
 * nested operation as the broker does (unless batch is over BULK: LMDB
 * allocates megabytes per nested transaction, which costs minutes under
 * ASan for 100k), committing every batch events.
 */
#define BULK	10000
static void
fill(struct store *s, struct audit *a, uint64_t first, uint64_t last,
    int variant, uint64_t batch)
{
	struct audit_event	 ev;
	char			 msg[64], ref[AUDIT_REF_HEX + 1];
	uint64_t		 i;

	assert_int_equal(audit_subject_ref(a, NHS, ref), 0);
	for (i = first; i <= last; i++) {
		if (!store_active(s))
			assert_int_equal(store_begin(s, 0), STORE_OK);
		make_event(&ev, i, variant, msg, sizeof(msg), ref);
		if (batch <= BULK)
			assert_int_equal(store_op_begin(s), STORE_OK);
		assert_int_equal(audit_append(a, s, &ev, T0 + (int64_t)i),
		    STORE_OK);
		if (batch <= BULK)
			assert_int_equal(store_op_commit(s), STORE_OK);
		if (i % batch == 0 || i == last)
			assert_int_equal(store_commit(s), STORE_OK);
	}
}

static void
head(struct store *s, uint64_t *seq, char hex[AUDIT_REF_HEX + 1])
{
	assert_int_equal(store_begin(s, 1), STORE_OK);
	assert_int_equal(audit_head(s, seq, hex), STORE_OK);
	store_abort(s);
}

static int
verify(struct fixture *f, const struct audit_anchor *anchor,
    struct audit_verify_report *r)
{
	struct audit_pubkey	*pk;
	char			 err[512];
	int			 rc;

	if ((pk = audit_pubkey_load(f->pub, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	rc = audit_verify(f->s, pk, anchor, r);
	audit_pubkey_free(pk);
	return rc;
}

static void
expect_bad(struct fixture *f, const struct audit_anchor *anchor,
    uint64_t seq, const char *what)
{
	struct audit_verify_report r;

	assert_int_equal(verify(f, anchor, &r), AUDIT_VERIFY_BAD);
	if (r.bad_seq != seq || strstr(r.what, what) == NULL)
		fail_msg("want bad seq %" PRIu64 " '%s', got seq %" PRIu64
		    " '%s'", seq, what, r.bad_seq, r.what);
}

/* Raw LMDB access to the "audit" table, the store closed meanwhile. */

struct raw {
	MDB_env	*env;
	MDB_txn	*txn;
	MDB_dbi	 dbi;
};

static void
raw_open(struct fixture *f, struct raw *r)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(mdb_env_create(&r->env), 0);
	assert_int_equal(mdb_env_set_maxdbs(r->env, 16), 0);
	assert_int_equal(mdb_env_set_mapsize(r->env, MAP_SIZE), 0);
	assert_int_equal(mdb_env_open(r->env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(r->env, NULL, 0, &r->txn), 0);
	assert_int_equal(mdb_dbi_open(r->txn, "audit", 0, &r->dbi), 0);
}

static void
raw_close(struct fixture *f, struct raw *r)
{
	assert_int_equal(mdb_txn_commit(r->txn), 0);
	mdb_env_close(r->env);
	open_store(f);
}

/* A copy of the raw value under seq; *len its length. */
static uint8_t *
raw_get(struct raw *r, uint64_t seq, size_t *len)
{
	MDB_val		 k, v;
	uint8_t		 key[8], *p;

	store_u64be(key, seq);
	k.mv_data = key;
	k.mv_size = 8;
	assert_int_equal(mdb_get(r->txn, r->dbi, &k, &v), 0);
	p = malloc(v.mv_size);
	assert_non_null(p);
	memcpy(p, v.mv_data, v.mv_size);
	*len = v.mv_size;
	return p;
}

static void
raw_put(struct raw *r, uint64_t seq, const void *val, size_t len)
{
	MDB_val		 k, v;
	uint8_t		 key[8];

	store_u64be(key, seq);
	k.mv_data = key;
	k.mv_size = 8;
	v.mv_data = (void *)(uintptr_t)val;
	v.mv_size = len;
	assert_int_equal(mdb_put(r->txn, r->dbi, &k, &v, 0), 0);
}

static void
raw_del(struct raw *r, uint64_t seq)
{
	MDB_val		 k;
	uint8_t		 key[8];

	store_u64be(key, seq);
	k.mv_data = key;
	k.mv_size = 8;
	assert_int_equal(mdb_del(r->txn, r->dbi, &k, NULL), 0);
}

/*
 * Stores payload under seq wrapped as store.c documents it:
 * [u8 2][u32be CRC-32C("audit" NUL u32be(8) key payload)][payload].
 */
static void
raw_put_wrapped(struct raw *r, uint64_t seq, const void *payload,
    size_t plen)
{
	static const uint8_t	 kl[4] = { 0, 0, 0, 8 };
	uint8_t			 key[8], *rec;
	uint32_t		 c;

	store_u64be(key, seq);
	rec = malloc(RAW_HDR + plen);
	assert_non_null(rec);
	rec[0] = 2;
	memcpy(rec + RAW_HDR, payload, plen);
	c = crc32c(0, "audit", 6);
	c = crc32c(c, kl, 4);
	c = crc32c(c, key, 8);
	c = crc32c(c, payload, plen);
	rec[1] = (uint8_t)(c >> 24);
	rec[2] = (uint8_t)(c >> 16);
	rec[3] = (uint8_t)(c >> 8);
	rec[4] = (uint8_t)c;
	raw_put(r, seq, rec, RAW_HDR + plen);
	free(rec);
}

static Baton__Store__V1__AuditRecord *
raw_record(struct raw *r, uint64_t seq)
{
	Baton__Store__V1__AuditRecord	*rec;
	uint8_t				*v;
	size_t				 len;

	v = raw_get(r, seq, &len);
	rec = baton__store__v1__audit_record__unpack(NULL, len - RAW_HDR, v + RAW_HDR);
	assert_non_null(rec);
	free(v);
	return rec;
}

/* Re-packs rec under seq, re-wrapped: only the chain can object. */
static void
raw_put_record(struct raw *r, uint64_t seq,
    const Baton__Store__V1__AuditRecord *rec)
{
	uint8_t	*buf;
	size_t	 len;

	len = baton__store__v1__audit_record__get_packed_size(rec);
	buf = malloc(len);
	assert_non_null(buf);
	(void)baton__store__v1__audit_record__pack(rec, buf);
	raw_put_wrapped(r, seq, buf, len);
	free(buf);
}

/*
 * The forger's tool: from seq first to last, sets each prev_hash to the
 * (possibly new) hash before it and recomputes each hash. Signatures stay
 * as they were: the forger has no private key.
 */
static void
rechain(struct raw *r, uint64_t first, uint64_t last)
{
	Baton__Store__V1__AuditRecord	*rec, *prev;
	EVP_MD_CTX			*md;
	uint8_t				 ph[32], h[32];
	uint64_t			 seq;

	md = EVP_MD_CTX_new();
	assert_non_null(md);
	prev = raw_record(r, first - 1);
	memcpy(ph, prev->hash.data, 32);
	baton__store__v1__audit_record__free_unpacked(prev, NULL);
	for (seq = first; seq <= last; seq++) {
		rec = raw_record(r, seq);
		memcpy(rec->prev_hash.data, ph, 32);
		assert_int_equal(audit_record_hash(md, rec, h), 0);
		memcpy(rec->hash.data, h, 32);
		raw_put_record(r, seq, rec);
		memcpy(ph, h, 32);
		baton__store__v1__audit_record__free_unpacked(rec, NULL);
	}
	EVP_MD_CTX_free(md);
}

/* Replaces the first occurrence of from with to (same length) in seq. */
static void
raw_edit(struct raw *r, uint64_t seq, const char *from, const char *to,
    int rewrap)
{
	uint8_t	*v, *p;
	size_t	 len, n = strlen(from);

	assert_int_equal(n, strlen(to));
	v = raw_get(r, seq, &len);
	p = memmem(v + RAW_HDR, len - RAW_HDR, from, n);
	assert_non_null(p);
	memcpy(p, to, n);
	if (rewrap)
		raw_put_wrapped(r, seq, v + RAW_HDR, len - RAW_HDR);
	else
		raw_put(r, seq, v, len);
	free(v);
}

/* Tests. */

static void
test_intact(void **state)
{
	struct fixture		*f = *state;
	struct audit_verify_report r;
	struct audit_anchor	 anchor;
	struct audit_event	 ev;
	char			 hex[AUDIT_REF_HEX + 1], spec[96];
	uint64_t		 seq;

	/* Empty: seq 0 and an all-zero hash. */
	head(f->s, &seq, hex);
	assert_int_equal(seq, 0);
	assert_string_equal(hex, "0000000000000000000000000000000000000000"
	    "000000000000000000000000");
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.count, 0);

	/* 600 events and the checkpoints at 256 and 512 between them. */
	fill(f->s, f->a, 1, 600, 0, 128);
	head(f->s, &seq, hex);
	assert_int_equal(seq, 602);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.count, 602);
	assert_int_equal(r.head_seq, 602);
	assert_string_equal(r.head_hash, hex);
	assert_int_equal(r.checkpoints, 2);
	assert_int_equal(r.last_checkpoint, 512);

	/* An explicit checkpoint, as at broker stop. */
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_checkpoint(f->a, f->s, T0 + 1000), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.checkpoints, 3);
	assert_int_equal(r.last_checkpoint, 603);

	/*
	 * An explicit checkpoint just before a multiple of the period: the
	 * multiple is still a checkpoint (two in a row).
	 */
	fill(f->s, f->a, 1, 766 - 603, 0, 1000);
	head(f->s, &seq, hex);
	assert_int_equal(seq, 766);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_checkpoint(f->a, f->s, T0 + 1001), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	fill(f->s, f->a, 1, 3, 0, 1000);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.count, 771);
	assert_int_equal(r.checkpoints, 5);
	assert_int_equal(r.last_checkpoint, 768);

	/* Its own head as anchor, both forms. */
	head(f->s, &seq, hex);
	(void)snprintf(spec, sizeof(spec), "%" PRIu64 ":%s", seq, hex);
	assert_int_equal(audit_anchor_parse(spec, &anchor), 0);
	assert_int_equal(verify(f, &anchor, &r), AUDIT_VERIFY_OK);
	assert_int_equal(audit_anchor_parse(hex, &anchor), 0);
	assert_int_equal(verify(f, &anchor, &r), AUDIT_VERIFY_OK);

	/*
	 * A refused request's operation is aborted with its record; the
	 * next one in the same transaction takes the same seq, no gap.
	 */
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_SUBMIT_REFUSED;
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(store_op_begin(f->s), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 2000), STORE_OK);
	store_op_abort(f->s);
	assert_int_equal(store_op_begin(f->s), STORE_OK);
	ev.event = AUDIT_SUBMIT_ACCEPTED;
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 2001), STORE_OK);
	assert_int_equal(store_op_commit(f->s), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.count, 772);

	/* Unknown events are refused. */
	ev.event = "made_up";
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0), STORE_ERROR);
	store_abort(f->s);
}

static void
test_altered_rewrapped(void **state)
{
	struct fixture	*f = *state;
	struct raw	 r;

	fill(f->s, f->a, 1, 50, 0, 100);
	raw_open(f, &r);
	raw_edit(&r, 10, "node-a", "node-x", 1);
	raw_close(f, &r);
	expect_bad(f, NULL, 10, "hash mismatch");
}

static void
test_altered_raw(void **state)
{
	struct fixture	*f = *state;
	struct raw	 r;

	fill(f->s, f->a, 1, 50, 0, 100);
	raw_open(f, &r);
	raw_edit(&r, 20, "node-b", "node-c", 0);
	raw_close(f, &r);
	expect_bad(f, NULL, 20, "store's record check");
}

static void
test_altered_and_rehashed(void **state)
{
	struct fixture			*f = *state;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	EVP_MD_CTX			*md;
	char				*saved;

	/* The record's own hash fixed up too: the next link breaks. */
	fill(f->s, f->a, 1, 50, 0, 100);
	raw_open(f, &r);
	rec = raw_record(&r, 12);
	saved = rec->outcome;
	rec->outcome = (char *)"ROUTE_NOT_ALLOWED";
	md = EVP_MD_CTX_new();
	assert_int_equal(audit_record_hash(md, rec, rec->hash.data), 0);
	EVP_MD_CTX_free(md);
	raw_put_record(&r, 12, rec);
	rec->outcome = saved;	/* the unpacked string is freed with it */
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	raw_close(f, &r);
	expect_bad(f, NULL, 13, "chain broken");
}

static void
test_removed(void **state)
{
	struct fixture	*f = *state;
	struct raw	 r;

	fill(f->s, f->a, 1, 50, 0, 100);
	raw_open(f, &r);
	raw_del(&r, 30);
	raw_close(f, &r);
	expect_bad(f, NULL, 30, "missing");

	/* The first record removed. */
	raw_open(f, &r);
	raw_del(&r, 1);
	raw_close(f, &r);
	expect_bad(f, NULL, 1, "missing");
}

static void
test_swapped(void **state)
{
	struct fixture	*f = *state;
	struct raw	 r;
	uint8_t		*a, *b;
	size_t		 al, bl;

	fill(f->s, f->a, 1, 50, 0, 100);
	raw_open(f, &r);
	a = raw_get(&r, 40, &al);
	b = raw_get(&r, 41, &bl);
	raw_put_wrapped(&r, 40, b + RAW_HDR, bl - RAW_HDR);
	raw_put_wrapped(&r, 41, a + RAW_HDR, al - RAW_HDR);
	raw_close(f, &r);
	expect_bad(f, NULL, 40, "holds seq 41");

	/* Swapped raw: the store's hash covers the key. */
	raw_open(f, &r);
	raw_put(&r, 40, a, al);
	raw_put(&r, 41, b, bl);
	raw_put(&r, 44, b, bl);
	raw_close(f, &r);
	expect_bad(f, NULL, 44, "store's record check");
	free(a);
	free(b);
}

static void
test_inserted(void **state)
{
	struct fixture			*f = *state;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	uint8_t				*v;
	size_t				 len;

	/* A copy of record 5 appended as 51. */
	fill(f->s, f->a, 1, 50, 0, 100);
	raw_open(f, &r);
	v = raw_get(&r, 5, &len);
	raw_put_wrapped(&r, 51, v + RAW_HDR, len - RAW_HDR);
	free(v);
	raw_close(f, &r);
	expect_bad(f, NULL, 51, "holds seq 5");

	/* Renumbered as 51 too, but not chained onto 50. */
	raw_open(f, &r);
	rec = raw_record(&r, 5);
	rec->seq = 51;
	raw_put_record(&r, 51, rec);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	raw_close(f, &r);
	expect_bad(f, NULL, 51, "chain broken");

	/* A key that is not a sequence number. */
	raw_open(f, &r);
	raw_del(&r, 51);
	{
		MDB_val k, val;

		k.mv_data = "zz";
		k.mv_size = 2;
		val.mv_data = "x";
		val.mv_size = 1;
		assert_int_equal(mdb_put(r.txn, r.dbi, &k, &val, 0), 0);
	}
	raw_close(f, &r);
	expect_bad(f, NULL, 51, "inserted");
}

static void
test_torn_tail(void **state)
{
	struct fixture	*f = *state;
	struct raw	 r;
	uint8_t		*v;
	size_t		 len;
	struct audit_event ev;

	fill(f->s, f->a, 1, 20, 0, 100);
	raw_open(f, &r);
	v = raw_get(&r, 20, &len);
	/* Half of a record, correctly wrapped: decodes to nothing sane. */
	raw_put_wrapped(&r, 21, v + RAW_HDR, (len - RAW_HDR) / 2);
	free(v);
	raw_close(f, &r);
	expect_bad(f, NULL, 21, "does not decode");

	/* The writer refuses to chain onto a damaged head. */
	raw_open(f, &r);
	raw_put(&r, 21, "\x01garbage", 8);
	raw_close(f, &r);
	expect_bad(f, NULL, 21, "store's record check");
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_QUEUED;
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0), STORE_ERROR);
	assert_non_null(strstr(audit_strerror(f->a), "damaged"));
	store_abort(f->s);
}

static void
test_rechained_tail(void **state)
{
	struct fixture			*f = *state;
	struct raw			 r;
	struct audit_verify_report	 rep;
	struct audit_anchor		 anchor;
	char				 hex[AUDIT_REF_HEX + 1], spec[96];
	uint64_t			 seq;

	fill(f->s, f->a, 1, 600, 0, 200);
	head(f->s, &seq, hex);
	assert_int_equal(seq, 602);
	(void)snprintf(spec, sizeof(spec), "%" PRIu64 ":%s", seq, hex);
	assert_int_equal(audit_anchor_parse(spec, &anchor), 0);

	/*
	 * After the last checkpoint (512) a re-chained tail cannot be told
	 * from the truth by the log alone - only the anchor catches it.
	 */
	raw_open(f, &r);
	raw_edit(&r, 550, "node-a", "node-q", 1);
	rechain(&r, 550, 602);
	raw_close(f, &r);
	assert_int_equal(verify(f, NULL, &rep), AUDIT_VERIFY_OK);
	assert_int_equal(rep.count, 602);
	expect_bad(f, &anchor, 602, "differs from the anchor");

	/* Before it: the checkpoint's signature no longer fits. */
	raw_open(f, &r);
	raw_edit(&r, 300, "node-a", "node-q", 1);
	rechain(&r, 300, 602);
	raw_close(f, &r);
	expect_bad(f, NULL, 512, "signature does not verify");
}

static void
test_checkpoint_removed(void **state)
{
	struct fixture			*f = *state;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	ProtobufCBinaryData		 sig;
	char				*event, *kid;

	fill(f->s, f->a, 1, 300, 0, 1000);
	raw_open(f, &r);
	rec = raw_record(&r, 256);
	assert_string_equal(rec->event, AUDIT_CHECKPOINT);
	/* Turned into an ordinary record, signature dropped, re-chained. */
	sig = rec->signature;
	event = rec->event;
	kid = rec->key_id;
	rec->event = (char *)AUDIT_QUEUED;
	rec->key_id = (char *)"";
	rec->signature.data = NULL;
	rec->signature.len = 0;
	raw_put_record(&r, 256, rec);
	rec->signature = sig;
	rec->event = event;
	rec->key_id = kid;
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	rechain(&r, 256, 301);
	raw_close(f, &r);
	expect_bad(f, NULL, 256, "should be a signed checkpoint");
}

static void
test_forged_key(void **state)
{
	struct fixture			*f = *state;
	struct audit			*forger;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	char				 dir[64], err[512], *kid;

	/* A history written with another key from seq 200 on. */
	(void)snprintf(dir, sizeof(dir), "/tmp/test_audit_forger.XXXXXX");
	assert_non_null(mkdtemp(dir));
	forger = audit_open(dir, 1, err, sizeof(err));
	assert_non_null(forger);
	fill(f->s, f->a, 1, 199, 0, 1000);
	fill(f->s, forger, 200, 400, 1, 1000);
	audit_close(forger);
	rm_rf(dir);
	expect_bad(f, NULL, 256, "signed by key id");

	/* The same, claiming the real key's id: the signature fails. */
	raw_open(f, &r);
	rec = raw_record(&r, 256);
	kid = rec->key_id;
	{
		EVP_PKEY		*p;
		char			 real[AUDIT_REF_HEX + 1];
		BIO			*bio;

		bio = BIO_new_file(f->pub, "r");
		p = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		assert_non_null(p);
		BIO_free(bio);
		assert_int_equal(audit_key_id(p, real), 0);
		EVP_PKEY_free(p);
		rec->key_id = real;
		raw_put_record(&r, 256, rec);
		rec->key_id = kid;
	}
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	rechain(&r, 256, 401);
	raw_close(f, &r);
	expect_bad(f, NULL, 256, "signature does not verify");
}

static void
test_truncated_with_anchor(void **state)
{
	struct fixture			*f = *state;
	struct raw			 r;
	struct audit_verify_report	 rep;
	struct audit_anchor		 anchor;
	char				 hex[AUDIT_REF_HEX + 1], spec[96];
	uint64_t			 seq, i;

	fill(f->s, f->a, 1, 100, 0, 1000);
	head(f->s, &seq, hex);
	assert_int_equal(seq, 100);
	(void)snprintf(spec, sizeof(spec), "%" PRIu64 ":%s", seq, hex);

	raw_open(f, &r);
	for (i = 91; i <= 100; i++)
		raw_del(&r, i);
	raw_close(f, &r);

	/* Without an anchor a shorter log is a valid log... */
	assert_int_equal(verify(f, NULL, &rep), AUDIT_VERIFY_OK);
	assert_int_equal(rep.count, 90);
	/* ...with one it is not. */
	assert_int_equal(audit_anchor_parse(spec, &anchor), 0);
	expect_bad(f, &anchor, 91, "truncated");
	assert_int_equal(audit_anchor_parse(hex, &anchor), 0);
	expect_bad(f, &anchor, 0, "not in the log");

	/* Appending again past the anchor's seq does not fool it. */
	fill(f->s, f->a, 1, 20, 0, 1000);
	assert_int_equal(audit_anchor_parse(spec, &anchor), 0);
	expect_bad(f, &anchor, 100, "differs from the anchor");
}

static void
test_anchor_parse(void **state)
{
	struct audit_anchor	 a;
	const char		*h = "00112233445566778899aabbccddeeff"
	    "00112233445566778899AABBCCDDEEFF";
	char			 s[128];

	(void)state;
	assert_int_equal(audit_anchor_parse(h, &a), 0);
	assert_int_equal(a.seq, 0);
	assert_int_equal(a.hash[0], 0x00);
	assert_int_equal(a.hash[31], 0xff);
	(void)snprintf(s, sizeof(s), "18446744073709551615:%s", h);
	assert_int_equal(audit_anchor_parse(s, &a), 0);
	assert_true(a.seq == UINT64_MAX);
	(void)snprintf(s, sizeof(s), "18446744073709551616:%s", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	(void)snprintf(s, sizeof(s), "0:%s", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	(void)snprintf(s, sizeof(s), ":%s", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	(void)snprintf(s, sizeof(s), "1x:%s", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	(void)snprintf(s, sizeof(s), "12:%.63s", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	(void)snprintf(s, sizeof(s), "12:%sa", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	(void)snprintf(s, sizeof(s), "12:%.63sg", h);
	assert_int_equal(audit_anchor_parse(s, &a), -1);
	assert_int_equal(audit_anchor_parse("", &a), -1);
}

static void
test_subject_ref(void **state)
{
	struct fixture	*f = *state;
	struct audit	*other;
	char		 a[AUDIT_REF_HEX + 1], b[AUDIT_REF_HEX + 1];
	char		 dir[64], err[512];

	assert_int_equal(audit_subject_ref(f->a, "9434765919", a), 0);
	assert_int_equal(strlen(a), AUDIT_REF_HEX);
	assert_int_equal(strspn(a, "0123456789abcdef"), AUDIT_REF_HEX);
	assert_null(strstr(a, NHS));
	assert_int_equal(audit_subject_ref(f->a, "943 476 5919", b), 0);
	assert_string_equal(a, b);
	assert_int_equal(audit_subject_ref(f->a, "943-476-5919", b), 0);
	assert_string_equal(a, b);
	assert_int_equal(audit_subject_ref(f->a, " 943 476-5919 ", b), 0);
	assert_string_equal(a, b);

	/* HMAC-SHA256 of the ten digits under subject.key, as every earlier
	 * record holds it, computed here on its own */
	{
		uint8_t	 key[64], mac[32];
		unsigned n = 0;
		char	 path[128], hex[AUDIT_REF_HEX + 1];
		ssize_t	 kl;
		int	 fd;
		size_t	 i;

		(void)snprintf(path, sizeof(path), "%s/subject.key", f->dir);
		assert_true((fd = open(path, O_RDONLY)) >= 0);
		kl = read(fd, key, sizeof(key));
		close(fd);
		assert_int_equal(kl, 32);
		assert_non_null(HMAC(EVP_sha256(), key, (int)kl,
		    (const unsigned char *)"9434765919", 10, mac, &n));
		assert_int_equal(n, 32);
		for (i = 0; i < 32; i++)
			(void)snprintf(hex + 2 * i, 3, "%02x", mac[i]);
		assert_string_equal(a, hex);
		/* and again: the keyed context restarts cleanly */
		assert_int_equal(audit_subject_ref(f->a, "9434765919", b), 0);
		assert_string_equal(hex, b);
	}

	/* Invalid numbers: wrong check digit, length, letters. */
	assert_int_equal(audit_subject_ref(f->a, "9434765918", b), -1);
	assert_int_equal(audit_subject_ref(f->a, "943476591", b), -1);
	assert_int_equal(audit_subject_ref(f->a, "94347659190", b), -1);
	assert_int_equal(audit_subject_ref(f->a, "94347659a9", b), -1);
	assert_int_equal(audit_subject_ref(f->a, "", b), -1);
	assert_int_equal(audit_subject_ref(f->a, NULL, b), -1);

	/* Another deployment's key: another reference. */
	(void)snprintf(dir, sizeof(dir), "/tmp/test_audit_other.XXXXXX");
	assert_non_null(mkdtemp(dir));
	other = audit_open(dir, 1, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(audit_subject_ref(other, NHS, b), 0);
	assert_string_not_equal(a, b);
	audit_close(other);

	/* The same key reopened: the same reference. */
	other = audit_open(f->dir, 0, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(audit_subject_ref(other, NHS, b), 0);
	assert_string_equal(a, b);
	audit_close(other);
	rm_rf(dir);
}

static void
test_key_files(void **state)
{
	struct fixture	*f = *state;
	struct audit	*a;
	struct stat	 st;
	char		 path[256], dir[64], dir2[64], err[512], cmd[512];
	const char	*names[] = { "subject.key", "audit-signing.key",
			    "audit-signing.pub" };
	size_t		 i;

	for (i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
	}
	(void)snprintf(path, sizeof(path), "%s/subject.key", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 32);

	/* Group-readable secret keys are refused. */
	assert_int_equal(chmod(path, 0640), 0);
	assert_null(audit_open(f->dir, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "chmod 600"));
	assert_int_equal(chmod(path, 0600), 0);
	(void)snprintf(path, sizeof(path), "%s/audit-signing.key", f->dir);
	assert_int_equal(chmod(path, 0604), 0);
	assert_null(audit_open(f->dir, 1, err, sizeof(err)));
	assert_int_equal(chmod(path, 0600), 0);

	/* Nothing there and no create: refused, nothing made. */
	(void)snprintf(dir, sizeof(dir), "/tmp/test_audit_empty.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_null(audit_open(dir, 0, err, sizeof(err)));
	(void)snprintf(path, sizeof(path), "%s/subject.key", dir);
	assert_int_equal(stat(path, &st), -1);

	/* A public key that is not the signing key's: refused. */
	(void)snprintf(dir2, sizeof(dir2), "/tmp/test_audit_two.XXXXXX");
	assert_non_null(mkdtemp(dir2));
	a = audit_open(dir2, 1, err, sizeof(err));
	assert_non_null(a);
	audit_close(a);
	(void)snprintf(cmd, sizeof(cmd), "cp '%s/audit-signing.pub' "
	    "'%s/audit-signing.pub'", dir2, f->dir);
	assert_int_equal(system(cmd), 0);
	assert_null(audit_open(f->dir, 0, err, sizeof(err)));
	assert_non_null(strstr(err, "does not match"));

	/* A wrong-sized subject key: refused. */
	(void)snprintf(path, sizeof(path), "%s/subject.key", dir2);
	assert_int_equal(truncate(path, 31), 0);
	assert_null(audit_open(dir2, 1, err, sizeof(err)));
	rm_rf(dir);
	rm_rf(dir2);
}

static void
test_times(void **state)
{
	char	 t[AUDIT_TIME_LEN + 1];
	int64_t	 v;

	(void)state;
	audit_time_format(T0, t);
	assert_string_equal(t, "2026-11-24T02:40:35.123Z");
	audit_time_format(0, t);
	assert_string_equal(t, "1970-01-01T00:00:00.000Z");
	audit_time_format(-1, t);
	assert_string_equal(t, "1969-12-31T23:59:59.999Z");

	assert_int_equal(audit_time_parse("2026-11-24T02:40:35.123Z", 0, &v),
	    0);
	assert_true(v == T0);
	assert_int_equal(audit_time_parse("2026-11-24T02:40:35.123", 1, &v),
	    0);
	assert_true(v == T0);
	assert_int_equal(audit_time_parse("2026-11-24 02:40:35.1Z", 0, &v), 0);
	assert_true(v == T0 - 23);
	assert_int_equal(audit_time_parse("2026-11-24T02:40:35Z", 0, &v), 0);
	assert_true(v == T0 - 123);
	assert_int_equal(audit_time_parse("2026-11-24T02:40", 0, &v), 0);
	assert_true(v == T0 - 35123);
	assert_int_equal(audit_time_parse("2026-11-24", 0, &v), 0);
	assert_true(v == T0 - (2 * 3600 + 40 * 60 + 35) * 1000LL - 123);
	assert_int_equal(audit_time_parse("2026-11-24", 1, &v), 0);
	assert_true(v == T0 - (2 * 3600 + 40 * 60 + 35) * 1000LL - 123 +
	    86400000 - 1);

	assert_int_equal(audit_time_parse("2026-02-30", 0, &v), -1);
	assert_int_equal(audit_time_parse("2026-11-24T24:00", 0, &v), -1);
	assert_int_equal(audit_time_parse("2026-11-24T02:60", 0, &v), -1);
	assert_int_equal(audit_time_parse("2026-11-24T02:40:35.1234Z", 0, &v),
	    -1);
	assert_int_equal(audit_time_parse("2026-11-24T02:40:35.", 0, &v), -1);
	assert_int_equal(audit_time_parse("2026-11-24T02:40+01:00", 0, &v),
	    -1);
	assert_int_equal(audit_time_parse("2026-11-24Z", 0, &v), -1);
	assert_int_equal(audit_time_parse("24/11/2026", 0, &v), -1);
	assert_int_equal(audit_time_parse("", 0, &v), -1);
}

/* Reads a whole temp file into a NUL-terminated buffer. */
static char *
slurp(FILE *fp)
{
	long	 n;
	char	*buf;

	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	return buf;
}

static size_t
count_lines(const char *s)
{
	size_t	 n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

static char *
export(struct fixture *f, const struct audit_filter *flt,
    enum audit_format fmt, uint64_t *matched)
{
	FILE	*fp;
	char	 err[256], *out;

	fp = tmpfile();
	assert_non_null(fp);
	if (audit_export(f->s, flt, fmt, fp, matched, err, sizeof(err)) != 0)
		fail_msg("audit_export: %s", err);
	out = slurp(fp);
	fclose(fp);
	return out;
}

static void
test_export_formats(void **state)
{
	struct fixture		*f = *state;
	struct audit_filter	 flt;
	struct audit_event	 ev;
	char			 ref[AUDIT_REF_HEX + 1], *out;
	uint64_t		 n;

	fill(f->s, f->a, 1, 40, 0, 1000);
	/* Hostile text in a record: escapes, quotes, broken UTF-8, C1. */
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_SUBMIT_REFUSED;
	ev.actor = "node-b";
	ev.actor_org = "Caf\xc3\xa9 \"Team\", \xff";
	ev.reason = "=cmd|\x1b[31m\xc2\x9b\n";
	ev.message_id = "evil";
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 100000), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);

	audit_filter_init(&flt);
	out = export(f, &flt, AUDIT_FORMAT_JSONL, &n);
	assert_int_equal(n, 41);
	assert_int_equal(count_lines(out), 41);
	assert_non_null(strstr(out, "{\"seq\":1,\"time\":"
	    "\"2026-11-24T02:40:35.124Z\",\"time_ms\":1795488035124,"
	    "\"event\":\"queued\",\"actor\":\"node-a\""));
	assert_non_null(strstr(out, "\"actor_org\":\"Caf\xc3\xa9 \\\"Team\\\""
	    ", \\ufffd\""));
	assert_non_null(strstr(out, "\"reason\":\"=cmd|\\u001b[31m\\u009b\\n\""));
	assert_null(strchr(out, '\x1b'));
	free(out);

	out = export(f, &flt, AUDIT_FORMAT_CSV, &n);
	assert_int_equal(count_lines(out), 42);
	assert_true(strncmp(out, "seq,time,event,", 15) == 0);
	assert_non_null(strstr(out, "\"Caf\xc3\xa9 \"\"Team\"\", "
	    "\xef\xbf\xbd\""));
	assert_non_null(strstr(out, "\"'=cmd|?[31m??\""));
	free(out);

	out = export(f, &flt, AUDIT_FORMAT_TABLE, &n);
	assert_int_equal(count_lines(out), 42);
	assert_null(strchr(out, '\x1b'));
	assert_null(strstr(out, "\xc2\x9b"));
	assert_non_null(strstr(out, "reason==cmd|?[31m??"));
	free(out);

	/* Record format 2's fields, at the end of each format's row. */
	out = export(f, &flt, AUDIT_FORMAT_JSONL, &n);
	assert_non_null(strstr(out, "\"format\":2,\"risk\":\"high\","
	    "\"kind\":\"referral\",\"since_submit_ms\":1002,"
	    "\"since_delivery_ms\":null,\"detail\":\"\"}\n"));
	free(out);
	out = export(f, &flt, AUDIT_FORMAT_CSV, &n);
	assert_non_null(strstr(out, ",signature,format,risk,kind,"
	    "since_submit_ms,since_delivery_ms,detail\r\n"));
	assert_non_null(strstr(out, ",2,\"high\",\"referral\",1002,,\"\"\r\n"));
	free(out);
	out = export(f, &flt, AUDIT_FORMAT_TABLE, &n);
	assert_non_null(strstr(out, " risk=high kind=referral "));
	assert_non_null(strstr(out, " since_submit=1.002s "));
	free(out);

	/* Filters. */
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_MESSAGE,
	    "msg-3"), 0);
	out = export(f, &flt, AUDIT_FORMAT_JSONL, &n);
	assert_int_equal(n, 4);
	assert_non_null(strstr(out, "\"event\":\"delivered\""));
	assert_non_null(strstr(out, "\"withheld\":"
	    "\"medication_and_physical_health\""));
	free(out);

	audit_filter_init(&flt);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_EVENT,
	    AUDIT_DELIVERED), 0);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE, "node-b"),
	    0);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 10);
	flt.nevents = 0;
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 41);	/* as other on 40, as actor on 1 */
	audit_filter_init(&flt);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE, "node"),
	    0);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 0);		/* literal, not a prefix */

	audit_filter_init(&flt);
	assert_int_equal(audit_subject_ref(f->a, "943 476 5919", ref), 0);
	flt.subject_ref = ref;
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 40);

	audit_filter_init(&flt);
	flt.since_ms = T0 + 10;
	flt.until_ms = T0 + 19;
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 10);
	assert_int_equal(audit_time_parse("2026-11-25", 0, &flt.since_ms), 0);
	flt.until_ms = INT64_MAX;
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 0);

	/* A damaged record stops the export, named. */
	{
		struct raw	 r;
		char		 err[256];
		FILE		*fp;

		raw_open(f, &r);
		raw_edit(&r, 7, "node-a", "node-x", 0);
		raw_close(f, &r);
		audit_filter_init(&flt);
		fp = tmpfile();
		assert_int_equal(audit_export(f->s, &flt, AUDIT_FORMAT_CSV, fp,
		    &n, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "record 7 is damaged"));
		assert_int_equal(n, 6);
		fclose(fp);
	}
}

/*
 * Wipes, cuts and archives: the log checked against the store around it
 * (the last checkpoint kept outside the chain, the archive anchor, the
 * registry), and archives checked on their own.
 */

/* Removes records first..last (inclusive) from the audit table. */
static void
raw_cut(struct fixture *f, uint64_t first, uint64_t last)
{
	struct raw	 r;
	uint64_t	 seq;

	raw_open(f, &r);
	for (seq = first; seq <= last; seq++)
		raw_del(&r, seq);
	raw_close(f, &r);
}

/* Registers n placeholder nodes (the empty-log check only counts them). */
static void
add_nodes(struct fixture *f, int n)
{
	char	 id[16];
	int	 i;

	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	for (i = 0; i < n; i++) {
		(void)snprintf(id, sizeof(id), "node-%d", i);
		assert_int_equal(store_put(f->s, STORE_NODES, id, strlen(id),
		    "x", 1), STORE_OK);
	}
	assert_int_equal(store_commit(f->s), STORE_OK);
}

static void
checkpoint_now(struct fixture *f, int64_t t)
{
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_checkpoint(f->a, f->s, t), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
}

static void
test_new_store_empty(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 r;

	/* Nothing in it at all: a new data directory verifies. */
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.kept_checkpoint, 0);
	assert_int_equal(r.archived_upto, 0);
}

static void
test_wiped_log(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 r;

	/* Seven nodes registered, then every record removed. */
	add_nodes(f, 7);
	fill(f->s, f->a, 1, 20, 0, 100);
	raw_cut(f, 1, 20);
	expect_bad(f, NULL, 1, "7 registered nodes");
	expect_bad(f, NULL, 1, "wiped");

	/* With a checkpoint written, its copy outside the chain says so. */
	fill(f->s, f->a, 1, 600, 0, 200);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.kept_checkpoint, 512);
	raw_cut(f, 1, 602);
	expect_bad(f, NULL, 1, "checkpoint 512 was written");

	/*
	 * A broker restarted on the wiped log starts a new chain at seq 1;
	 * its checkpoints must not overwrite the evidence.
	 */
	fill(f->s, f->a, 1, 5, 0, 100);
	checkpoint_now(f, T0 + 10);
	expect_bad(f, NULL, 7, "truncated");
	fill(f->s, f->a, 6, 600, 0, 200);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_BAD);
	assert_int_equal(r.bad_seq, 512);
	assert_non_null(strstr(r.what, "kept outside the chain"));
}

static void
test_truncated_before_checkpoint(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 r;

	/* 100 events, the stop checkpoint (101), 5 more after a restart. */
	fill(f->s, f->a, 1, 100, 0, 1000);
	checkpoint_now(f, T0 + 200);
	fill(f->s, f->a, 1, 5, 0, 1000);

	/* Cut after the checkpoint: the documented gap, an anchor's job. */
	raw_cut(f, 106, 106);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.head_seq, 105);
	assert_int_equal(r.kept_checkpoint, 101);

	/* Cut just before it: fails without an anchor. */
	raw_cut(f, 101, 105);
	expect_bad(f, NULL, 101, "truncated");
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_BAD);
	assert_non_null(strstr(r.what, "ends at seq 100"));
	assert_non_null(strstr(r.what, "checkpoint 101"));
}

/* Loads the fixture's public key. */
static struct audit_pubkey *
pubkey(struct fixture *f)
{
	struct audit_pubkey	*pk;
	char			 err[512];

	if ((pk = audit_pubkey_load(f->pub, err, sizeof(err))) == NULL)
		fail_msg("%s", err);
	return pk;
}

/*
 * Archives what the plan for (upto, before_ms) takes into a new temporary
 * file (returned, rewound) and removes it from the store; *p the plan.
 */
static FILE *
archive(struct fixture *f, uint64_t upto, int64_t before_ms,
    struct audit_archive_plan *p)
{
	struct audit_verify_report	 r;
	struct audit_pubkey		*pk = pubkey(f);
	struct audit_event		 ev;
	FILE				*fp;

	assert_int_equal(audit_archive_plan(f->s, pk, upto, before_ms, p,
	    &r), AUDIT_VERIFY_OK);
	assert_int_not_equal(p->last, 0);
	fp = tmpfile();
	assert_non_null(fp);
	if (audit_archive_write(f->s, pk, p, fp, &r) != AUDIT_VERIFY_OK)
		fail_msg("archive_write: %s", r.what);
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_ARCHIVED;
	ev.actor = "batonctl";
	ev.outcome = "ok";
	ev.reason = "test";
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	if (audit_archive_remove(f->a, f->s, p, &ev, T0 + 5000) != STORE_OK)
		fail_msg("archive_remove: %s", audit_strerror(f->a));
	assert_int_equal(store_commit(f->s), STORE_OK);
	audit_pubkey_free(pk);
	rewind(fp);
	return fp;
}

/*
 * Verifies archives (in order) and then the store if store is set, with
 * the anchor expect (may be NULL).
 */
static int
verify_with_anchor(struct fixture *f, FILE **arch, size_t n, int store,
    const struct audit_anchor *expect, struct audit_verify_report *r)
{
	struct audit_pubkey	*pk = pubkey(f);
	struct audit_verifier	*v;
	size_t			 i;
	int			 rc = AUDIT_VERIFY_OK;

	v = audit_verifier_new(pk, expect, r);
	assert_non_null(v);
	for (i = 0; i < n && rc == AUDIT_VERIFY_OK; i++) {
		rewind(arch[i]);
		rc = audit_verifier_archive(v, arch[i], "test-archive");
	}
	if (rc == AUDIT_VERIFY_OK && store)
		rc = audit_verifier_store(v, f->s);
	if (rc == AUDIT_VERIFY_OK)
		rc = audit_verifier_end(v);
	audit_verifier_free(v);
	audit_pubkey_free(pk);
	return rc;
}

static int
verify_with(struct fixture *f, FILE **arch, size_t n, int store,
    struct audit_verify_report *r)
{
	return verify_with_anchor(f, arch, n, store, NULL, r);
}

static void
test_archive_plan(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p;
	struct audit_verify_report	 r;
	struct audit_pubkey		*pk;

	/* Events i at T0 + i; checkpoints at 256 and 512. */
	fill(f->s, f->a, 1, 600, 0, 200);
	pk = pubkey(f);
	assert_int_equal(audit_archive_plan(f->s, pk, UINT64_MAX, INT64_MAX,
	    &p, &r), AUDIT_VERIFY_OK);
	assert_int_equal(p.first, 1);
	assert_int_equal(p.last, 512);
	assert_int_equal(p.head_seq, 602);
	/* Up to a seq: the checkpoint at or before it. */
	assert_int_equal(audit_archive_plan(f->s, pk, 511, INT64_MAX, &p, &r),
	    AUDIT_VERIFY_OK);
	assert_int_equal(p.last, 256);
	assert_int_equal(p.skipped_seq, 512);
	assert_string_equal(p.skipped_why, "seq");
	/* Before a time: every record up to the checkpoint must be older. */
	assert_int_equal(audit_archive_plan(f->s, pk, UINT64_MAX, T0 + 300,
	    &p, &r), AUDIT_VERIFY_OK);
	assert_int_equal(p.last, 256);
	assert_true(p.newest_ms < T0 + 300);
	assert_int_equal(audit_archive_plan(f->s, pk, UINT64_MAX, T0 + 100,
	    &p, &r), AUDIT_VERIFY_OK);
	assert_int_equal(p.last, 0);
	assert_string_equal(p.skipped_why, "time");
	/* A damaged log is never archived. */
	raw_cut(f, 30, 30);
	assert_int_equal(audit_archive_plan(f->s, pk, UINT64_MAX, INT64_MAX,
	    &p, &r), AUDIT_VERIFY_BAD);
	assert_int_equal(p.last, 0);
	audit_pubkey_free(pk);
}

static void
test_archive_then_verify(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p, p2;
	struct audit_verify_report	 r;
	struct audit_anchor		 anchor;
	struct audit_event		 ev;
	char				 hex[AUDIT_REF_HEX + 1], spec[96];
	uint64_t			 seq;
	FILE				*a1, *a2, *both[2];

	/* An anchor taken at seq 100, before it is archived. */
	fill(f->s, f->a, 1, 100, 0, 200);
	head(f->s, &seq, hex);
	(void)snprintf(spec, sizeof(spec), "%" PRIu64 ":%s", seq, hex);
	assert_int_equal(audit_anchor_parse(spec, &anchor), 0);
	fill(f->s, f->a, 101, 600, 0, 200);
	a1 = archive(f, UINT64_MAX, INT64_MAX, &p);
	assert_int_equal(p.last, 512);

	/* Now archived: the store alone cannot check it, the archive can. */
	assert_int_equal(verify(f, &anchor, &r), -1);
	assert_non_null(strstr(r.what, "is archived"));
	assert_int_equal(verify_with_anchor(f, &a1, 1, 1, &anchor, &r),
	    AUDIT_VERIFY_OK);
	anchor.hash[0] ^= 1;
	assert_int_equal(verify_with_anchor(f, &a1, 1, 1, &anchor, &r),
	    AUDIT_VERIFY_BAD);
	assert_int_equal(r.bad_seq, 100);

	/* The rest chains onto the anchor; the archive and its record stay. */
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.archived_upto, 512);
	assert_int_equal(r.first_seq, 513);
	head(f->s, &seq, hex);
	assert_int_equal(seq, 604);	/* + audit_archived + checkpoint */
	assert_int_equal(r.head_seq, 604);
	assert_int_equal(r.count, 604 - 512);
	assert_int_equal(r.kept_checkpoint, 604);

	/* Archive and store together: the whole chain from seq 1. */
	assert_int_equal(verify_with(f, &a1, 1, 1, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.first_seq, 1);
	assert_int_equal(r.count, 604);

	/* A stale plan is refused: the log changed. */
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_ARCHIVED;
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_archive_remove(f->a, f->s, &p, &ev, T0),
	    STORE_ERROR);
	assert_non_null(strstr(audit_strerror(f->a), "changed"));
	store_abort(f->s);

	/* A second archive starts where the first ended. */
	fill(f->s, f->a, 605, 800, 0, 200);
	a2 = archive(f, UINT64_MAX, INT64_MAX, &p2);
	assert_int_equal(p2.first, 513);
	assert_int_equal(p2.last, 768);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.first_seq, 769);
	both[0] = a1;
	both[1] = a2;
	assert_int_equal(verify_with(f, both, 2, 1, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.first_seq, 1);
	/* The later one alone, with the store: its start taken on trust. */
	assert_int_equal(verify_with(f, &a2, 1, 1, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.first_seq, 513);
	/* The earlier one alone does not reach the store's anchor. */
	assert_int_equal(verify_with(f, &a1, 1, 1, &r), -1);
	assert_non_null(strstr(r.what, "give every archive since"));
	/* Out of order. */
	both[0] = a2;
	both[1] = a1;
	assert_int_equal(verify_with(f, both, 2, 0, &r), AUDIT_VERIFY_BAD);
	fclose(a1);
	fclose(a2);
}

static void
test_archive_to_head(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p;
	struct audit_verify_report	 r;
	char				 hex[AUDIT_REF_HEX + 1];
	uint64_t			 seq;
	FILE				*a1;

	/* The head itself is the checkpoint: everything is archived. */
	fill(f->s, f->a, 1, 255, 0, 100);
	head(f->s, &seq, hex);
	assert_int_equal(seq, 256);
	a1 = archive(f, UINT64_MAX, INT64_MAX, &p);
	assert_int_equal(p.last, 256);
	fclose(a1);
	/* The chain goes on from the anchor, not from seq 1 again. */
	head(f->s, &seq, hex);
	assert_int_equal(seq, 258);
	fill(f->s, f->a, 1, 3, 0, 100);
	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.first_seq, 257);
	assert_int_equal(r.head_seq, 261);
}

/* Raw access to the meta table's record under key. */
static void
raw_meta_del(struct fixture *f, const char *key)
{
	struct raw	 r;
	MDB_dbi		 meta;
	MDB_val		 k;

	raw_open(f, &r);
	assert_int_equal(mdb_dbi_open(r.txn, "meta", 0, &meta), 0);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = strlen(key);
	assert_int_equal(mdb_del(r.txn, meta, &k, NULL), 0);
	raw_close(f, &r);
}

static void
test_archive_then_tamper(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	EVP_MD_CTX			*md;
	uint8_t				 h[32];
	FILE				*a1;

	fill(f->s, f->a, 1, 600, 0, 200);
	a1 = archive(f, UINT64_MAX, INT64_MAX, &p);
	fclose(a1);

	/*
	 * The first record left, re-chained onto something else (its hash
	 * recomputed, the rest re-chained after it): its prev_hash no
	 * longer matches the anchor.
	 */
	raw_open(f, &r);
	rec = raw_record(&r, 513);
	rec->prev_hash.data[0] ^= 1;
	md = EVP_MD_CTX_new();
	assert_int_equal(audit_record_hash(md, rec, h), 0);
	EVP_MD_CTX_free(md);
	memcpy(rec->hash.data, h, 32);
	raw_put_record(&r, 513, rec);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	rechain(&r, 514, 604);
	raw_close(f, &r);
	expect_bad(f, NULL, 513, "chain broken");
}

static void
test_archive_then_cut(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p;
	FILE				*a1;

	fill(f->s, f->a, 1, 600, 0, 200);
	a1 = archive(f, UINT64_MAX, INT64_MAX, &p);
	fclose(a1);
	/* The first record left removed. */
	raw_cut(f, 513, 513);
	expect_bad(f, NULL, 513, "missing");
	/* Everything left removed. */
	raw_cut(f, 514, 604);
	expect_bad(f, NULL, 513, "wiped");
}

static void
test_archive_anchor_removed(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p;
	FILE				*a1;

	fill(f->s, f->a, 1, 600, 0, 200);
	a1 = archive(f, UINT64_MAX, INT64_MAX, &p);
	fclose(a1);
	/* Without its anchor the log no longer starts where it should. */
	raw_meta_del(f, AUDIT_META_ARCHIVED);
	expect_bad(f, NULL, 1, "the next record is seq 513");
}

/* The archive's text, with edit applied to a copy, as a stream. */
static FILE *
edited(FILE *src, char **buf, void (*edit)(char *, size_t *))
{
	size_t	 n;
	long	 len;
	FILE	*fp;

	assert_int_equal(fseek(src, 0, SEEK_END), 0);
	len = ftell(src);
	rewind(src);
	*buf = malloc((size_t)len + 1);
	assert_non_null(*buf);
	n = fread(*buf, 1, (size_t)len, src);
	assert_int_equal(n, (size_t)len);
	(*buf)[n] = '\0';
	edit(*buf, &n);
	fp = fmemopen(*buf, n, "r");
	assert_non_null(fp);
	return fp;
}

static void
edit_none(char *b, size_t *n)
{
}

static void
edit_actor(char *b, size_t *n)
{
	char	*p = strstr(b, "\"actor\":\"node-a\"");

	assert_non_null(p);
	memcpy(p + 9, "node-q", 6);
}

static void
edit_time(char *b, size_t *n)
{
	char	*p = strstr(strstr(b, "\"seq\":7,") , "\"time\":\"2026");

	assert_non_null(p);
	p[9] = '7';	/* 2026 -> 2027 */
}

/* Drops the last line. */
static void
edit_last(char *b, size_t *n)
{
	b[*n - 1] = '\0';
	*n = (size_t)(strrchr(b, '\n') - b) + 1;
}

/* Drops the line of seq 100. */
static void
edit_drop(char *b, size_t *n)
{
	char	*p = strstr(b, "{\"seq\":100,"), *e = strchr(p, '\n') + 1;

	memmove(p, e, *n - (size_t)(e - b));
	*n -= (size_t)(e - p);
}

static void
test_archive_file(void **state)
{
	struct fixture			*f = *state;
	struct audit_archive_plan	 p;
	struct audit_verify_report	 r;
	static const struct {
		void		(*edit)(char *, size_t *);
		int		 want;
		uint64_t	 seq;
		const char	*what;
	} cases[] = {
		{ edit_none, AUDIT_VERIFY_OK, 0, NULL },
		{ edit_actor, AUDIT_VERIFY_BAD, 0, "hash mismatch" },
		{ edit_time, AUDIT_VERIFY_BAD, 7, "time_ms" },
		{ edit_last, AUDIT_VERIFY_BAD, 0, "does not end with a signed" },
		{ edit_drop, AUDIT_VERIFY_BAD, 100, "missing" },
	};
	FILE				*a1, *fp;
	char				*buf;
	size_t				 i;

	fill(f->s, f->a, 1, 300, 0, 200);
	a1 = archive(f, UINT64_MAX, INT64_MAX, &p);
	assert_int_equal(p.last, 256);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		fp = edited(a1, &buf, cases[i].edit);
		assert_int_equal(verify_with(f, &fp, 1, 0, &r), cases[i].want);
		if (cases[i].want == AUDIT_VERIFY_OK) {
			assert_int_equal(r.archive_first, 1);
			assert_int_equal(r.archive_last, 256);
			assert_int_equal(r.archive_records, 256);
			assert_int_equal(strlen(r.archive_sha256), 64);
		} else if (strstr(r.what, cases[i].what) == NULL ||
		    (cases[i].seq != 0 && r.bad_seq != cases[i].seq))
			fail_msg("case %zu: got seq %" PRIu64 " '%s'", i,
			    r.bad_seq, r.what);
		fclose(fp);
		free(buf);
	}
	fclose(a1);
}

/*
 * Export sink for the 100k test: counts lines and samples the heap in use
 * at every write, so the peak during the export is seen, not just after.
 */
struct sink {
	uint64_t	 lines;
	size_t		 heap_max;
};

static ssize_t
sink_write(void *cookie, const char *buf, size_t len)
{
	struct sink	*k = cookie;
	struct mallinfo2 mi = mallinfo2();
	size_t		 i;

	for (i = 0; i < len; i++)
		k->lines += buf[i] == '\n';
	if (mi.uordblks > k->heap_max)
		k->heap_max = mi.uordblks;
	return (ssize_t)len;
}

static void
test_export_100k(void **state)
{
	struct fixture			*f = *state;
	struct audit_filter		 flt;
	struct audit_verify_report	 rep;
	cookie_io_functions_t		 io = { NULL, sink_write, NULL, NULL };
	struct sink			 k;
	struct timespec			 t0, t1;
	FILE				*fp;
	char				 err[256];
	uint64_t			 n, total;
	size_t				 heap0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fill(f->s, f->a, 1, 100000, 0, 25000);
	total = 100000 + 100000 / (AUDIT_CHECKPOINT_EVERY - 1);
	assert_int_equal(verify(f, NULL, &rep), AUDIT_VERIFY_OK);
	assert_int_equal(rep.count, total);

	audit_filter_init(&flt);
	memset(&k, 0, sizeof(k));
	fp = fopencookie(&k, "w", io);
	assert_non_null(fp);
	heap0 = mallinfo2().uordblks;
	assert_int_equal(audit_export(f->s, &flt, AUDIT_FORMAT_CSV, fp, &n,
	    err, sizeof(err)), 0);
	fclose(fp);
	assert_int_equal(n, total);
	assert_int_equal(k.lines, total + 1);
	/* Constant memory: far less than one byte per record exported. */
	if (k.heap_max > heap0 && k.heap_max - heap0 > 64 * 1024)
		fail_msg("heap grew by %zu bytes during the export",
		    k.heap_max - heap0);

	memset(&k, 0, sizeof(k));
	fp = fopencookie(&k, "w", io);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_EVENT,
	    AUDIT_DELIVERED), 0);
	assert_int_equal(audit_export(f->s, &flt, AUDIT_FORMAT_JSONL, fp, &n,
	    err, sizeof(err)), 0);
	fclose(fp);
	assert_int_equal(n, 25000);
	assert_int_equal(k.lines, 25000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	print_message("100k append+verify+2 exports: %.1f s\n",
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}


/*
 * Record format 2. The canonical encoding as audit_int.h documents it,
 * computed here on its own: a format-1 record (format 0 or 1) hashes as
 * it always did, a format-2 record with its new fields after the old.
 */
static void
doc_u32(EVP_MD_CTX *md, uint32_t v)
{
	uint8_t	 b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	assert_int_equal(EVP_DigestUpdate(md, b, 4), 1);
}

static void
doc_u64(EVP_MD_CTX *md, uint64_t v)
{
	uint8_t	 b[8];

	store_u64be(b, v);
	assert_int_equal(EVP_DigestUpdate(md, b, 8), 1);
}

static void
doc_str(EVP_MD_CTX *md, const char *s)
{
	doc_u32(md, (uint32_t)strlen(s));
	assert_int_equal(EVP_DigestUpdate(md, s, strlen(s)), 1);
}

static void
doc_hash(const Baton__Store__V1__AuditRecord *r, uint8_t out[32])
{
	const char	*v1[] = { r->event, r->actor, r->actor_role,
	    r->actor_org, r->other, r->message_id, r->subject_ref,
	    r->disclosed, r->withheld, r->outcome, r->reason, r->cert_serial,
	    r->cert_sha256, r->peer, r->key_id };
	EVP_MD_CTX	*md = EVP_MD_CTX_new();
	unsigned int	 n;
	size_t		 i;

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, "baton-audit-record-v1\n", 22),
	    1);
	doc_u64(md, r->seq);
	doc_u64(md, (uint64_t)r->time_ms);
	assert_int_equal(EVP_DigestUpdate(md, r->prev_hash.data, 32), 1);
	for (i = 0; i < 15; i++)
		doc_str(md, v1[i]);
	if (r->format >= 2) {
		doc_u32(md, r->format);
		doc_str(md, r->risk);
		doc_str(md, r->kind);
		doc_u64(md, (uint64_t)r->since_submit_ms);
		doc_u64(md, (uint64_t)r->since_delivery_ms);
		doc_str(md, r->detail);
	}
	assert_int_equal(EVP_DigestFinal_ex(md, out, &n), 1);
	EVP_MD_CTX_free(md);
}

/* Makes seq a format-1 record, as written before format 2 (unhashed). */
static void
raw_to_format1(struct raw *r, uint64_t seq)
{
	Baton__Store__V1__AuditRecord	*rec;
	char				*risk, *kind, *detail;

	rec = raw_record(r, seq);
	risk = rec->risk;
	kind = rec->kind;
	detail = rec->detail;
	rec->format = 0;
	rec->risk = rec->kind = rec->detail = (char *)"";
	rec->since_submit_ms = rec->since_delivery_ms = 0;
	raw_put_record(r, seq, rec);
	rec->risk = risk;
	rec->kind = kind;
	rec->detail = detail;
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
}

/* rechain, from seq 1 (chained onto 32 zero bytes). */
static void
rechain_from_1(struct raw *r, uint64_t last)
{
	Baton__Store__V1__AuditRecord	*rec;
	EVP_MD_CTX			*md = EVP_MD_CTX_new();
	uint8_t				 h[32];

	assert_non_null(md);
	rec = raw_record(r, 1);
	memset(rec->prev_hash.data, 0, 32);
	assert_int_equal(audit_record_hash(md, rec, h), 0);
	memcpy(rec->hash.data, h, 32);
	raw_put_record(r, 1, rec);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	EVP_MD_CTX_free(md);
	rechain(r, 2, last);
}

static void
test_record_format(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 rep;
	struct audit_event		 ev;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	uint8_t				 h[32];

	/* What audit_append writes: format 2, the times as given. */
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_ACCEPTED;
	ev.actor = "node-b";
	ev.message_id = "node-a/h1";
	ev.risk = "critical";
	ev.kind = "step_up";
	ev.since_submit_ms = 5000;
	ev.has_since_submit = 1;
	ev.since_delivery_ms = -20;	/* the wall clock stepped back */
	ev.has_since_delivery = 1;
	ev.detail = "policy_sha256=00ff";
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0), STORE_OK);
	ev.has_since_submit = ev.has_since_delivery = 0;	/* n/a */
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 1), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	raw_open(f, &r);
	rec = raw_record(&r, 1);
	assert_int_equal(rec->format, 2);
	assert_string_equal(rec->risk, "critical");
	assert_string_equal(rec->kind, "step_up");
	assert_int_equal(rec->since_submit_ms, 5000);
	assert_int_equal(rec->since_delivery_ms, 0);
	assert_string_equal(rec->detail, "policy_sha256=00ff");
	assert_int_equal(audit_record_since_submit(rec), 5000);
	doc_hash(rec, h);
	assert_memory_equal(h, rec->hash.data, 32);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	rec = raw_record(&r, 2);
	assert_int_equal(rec->since_submit_ms, -1);
	assert_int_equal(rec->since_delivery_ms, -1);
	assert_int_equal(audit_record_since_delivery(rec), -1);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	raw_close(f, &r);
	assert_int_equal(verify(f, NULL, &rep), AUDIT_VERIFY_OK);
}

static void
test_format_mixed(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 rep;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;
	uint8_t				 h[32];
	uint64_t			 seq;
	char				*saved;

	/*
	 * Records 1-10 as an older batond wrote them (format 1), 11-30 as
	 * this one does, in one chain: it verifies, each record by its own
	 * format, and a format-1 record's times read as none.
	 */
	fill(f->s, f->a, 1, 30, 0, 100);
	raw_open(f, &r);
	for (seq = 1; seq <= 10; seq++)
		raw_to_format1(&r, seq);
	rechain_from_1(&r, 30);
	rec = raw_record(&r, 6);	/* delivered, but format 1 */
	assert_int_equal(rec->format, 0);
	assert_int_equal(audit_record_since_submit(rec), -1);
	doc_hash(rec, h);
	assert_memory_equal(h, rec->hash.data, 32);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	rec = raw_record(&r, 14);
	assert_int_equal(rec->format, 2);
	assert_int_equal(audit_record_since_submit(rec), 1014);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	raw_close(f, &r);
	assert_int_equal(verify(f, NULL, &rep), AUDIT_VERIFY_OK);
	assert_int_equal(rep.count, 30);

	/* And it goes on: the next record chains onto them. */
	fill(f->s, f->a, 31, 32, 0, 100);
	assert_int_equal(verify(f, NULL, &rep), AUDIT_VERIFY_OK);
	assert_int_equal(rep.count, 32);

	/* A format-1 record given a risk its hash does not cover. */
	raw_open(f, &r);
	rec = raw_record(&r, 4);
	saved = rec->risk;
	rec->risk = (char *)"low";
	raw_put_record(&r, 4, rec);
	rec->risk = saved;	/* the unpacked one is freed with it */
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	rechain(&r, 4, 32);
	raw_close(f, &r);
	expect_bad(f, NULL, 4, "format-1 record");
}

static void
test_format_altered(void **state)
{
	struct fixture			*f = *state;
	struct raw			 r;
	Baton__Store__V1__AuditRecord	*rec;

	/* A changed risk level: the hash no longer fits. */
	fill(f->s, f->a, 1, 30, 0, 100);
	raw_open(f, &r);
	raw_edit(&r, 11, "high", "low ", 1);
	raw_close(f, &r);
	expect_bad(f, NULL, 11, "hash mismatch");

	/* Passed off as format 1 (new fields dropped, hash kept). */
	raw_open(f, &r);
	raw_edit(&r, 11, "low ", "high", 1);
	raw_to_format1(&r, 14);
	raw_close(f, &r);
	expect_bad(f, NULL, 14, "hash mismatch");

	/* Given a format no one wrote yet, re-hashed by the forger. */
	raw_open(f, &r);
	rechain(&r, 14, 30);
	rec = raw_record(&r, 20);
	rec->format = 3;
	raw_put_record(&r, 20, rec);
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	raw_close(f, &r);
	expect_bad(f, NULL, 20, "record format this program does not know");
}

static void
test_filters_or(void **state)
{
	struct fixture		*f = *state;
	struct audit_filter	 flt;
	char			 desc[256] = "", name[16];
	uint64_t		 n;
	int			 i;

	fill(f->s, f->a, 1, 40, 0, 1000);
	fill(f->s, f->a, 41, 44, 1, 1000);	/* actor node-z */

	/* Two events: either. */
	audit_filter_init(&flt);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_EVENT,
	    AUDIT_DELIVERED), 0);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 11);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_EVENT,
	    AUDIT_ACKNOWLEDGED), 0);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_EVENT,
	    AUDIT_DELIVERED), 0);	/* again: kept once */
	assert_int_equal(flt.nevents, 2);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 22);

	/* With two messages: both fields must match, each any of its own. */
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_MESSAGE,
	    "msg-1"), 0);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_MESSAGE,
	    "msg-10"), 0);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 4);
	audit_filter_describe(&flt, desc, sizeof(desc));
	assert_string_equal(desc, " message=msg-1,msg-10 "
	    "event=delivered,acknowledged");

	/* Two nodes: records of either. */
	audit_filter_init(&flt);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE, "node-a"),
	    0);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 40);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE, "node-z"),
	    0);
	free(export(f, &flt, AUDIT_FORMAT_JSONL, &n));
	assert_int_equal(n, 44);

	/* What is not a value of its field, and too many values. */
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_EVENT,
	    "made_up"), -1);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE,
	    "Not A Node"), -1);
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_MESSAGE,
	    "a/b/c"), -1);
	assert_int_equal(flt.nevents, 0);
	for (i = 2; i < AUDIT_FILTER_MAX; i++) {
		(void)snprintf(name, sizeof(name), "node-%d", i);
		assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE,
		    name), 0);
	}
	assert_int_equal(audit_filter_add(&flt, AUDIT_FILTER_NODE,
	    "one-more"), AUDIT_FILTER_ERR_FULL);
	assert_int_equal(flt.nnodes, AUDIT_FILTER_MAX);
}


/*
 * Rewrites an archive: in line number only (1-based; 0: every line whose
 * record is of format 1) the members format 2 added are taken out, as an
 * archive written before it; with replace, that suffix is replaced with
 * it instead.
 */
static FILE *
archive_edit(FILE *in, int only, const char *replace)
{
	FILE	*out = tmpfile();
	char	*all, *line, *next, *cut;
	int	 n = 0;

	assert_non_null(out);
	rewind(in);
	all = slurp(in);
	for (line = all; *line != '\0'; line = next) {
		next = strchr(line, '\n');
		assert_non_null(next);
		*next++ = '\0';
		n++;
		cut = strstr(line, ",\"format\":");
		assert_non_null(cut);
		if ((only == 0 && strncmp(cut, ",\"format\":1,", 12) == 0) ||
		    only == n) {
			*cut = '\0';
			fprintf(out, "%s%s\n", line, replace != NULL ? replace :
			    "}");
		} else
			fprintf(out, "%s\n", line);
	}
	free(all);
	rewind(out);
	return out;
}

static void
test_archive_format1(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 r;
	struct audit_archive_plan	 p;
	struct raw			 raw;
	FILE				*arch, *old;
	uint64_t			 seq;

	/* Records 1-10 of format 1, the rest of format 2, then signed. */
	fill(f->s, f->a, 1, 30, 0, 100);
	raw_open(f, &raw);
	for (seq = 1; seq <= 10; seq++)
		raw_to_format1(&raw, seq);
	rechain_from_1(&raw, 30);
	raw_close(f, &raw);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_checkpoint(f->a, f->s, T0 + 100), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	arch = archive(f, UINT64_MAX, INT64_MAX, &p);
	assert_int_equal(p.last, 31);
	assert_int_equal(verify_with(f, &arch, 1, 1, &r), AUDIT_VERIFY_OK);

	/* As written before format 2: its format-1 lines lack the members. */
	old = archive_edit(arch, 0, NULL);
	assert_int_equal(verify_with(f, &old, 1, 1, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.count, 33);	/* and the 2 of the removal */
	fclose(old);

	/* A format-2 line without them reads as format 1: its hash says no. */
	old = archive_edit(arch, 15, NULL);
	assert_int_equal(verify_with(f, &old, 1, 0, &r), AUDIT_VERIFY_BAD);
	assert_non_null(strstr(r.what, "line 15: hash mismatch"));
	fclose(old);
	/* With some of them only, it is short of fields. */
	old = archive_edit(arch, 16, ",\"format\":2,\"risk\":\"high\"}");
	assert_int_equal(verify_with(f, &old, 1, 0, &r), AUDIT_VERIFY_BAD);
	assert_non_null(strstr(r.what, "line 16: a field of the record is "
	    "missing"));
	fclose(old);

	/* A format-1 line with a time of format 2. */
	old = archive_edit(arch, 3, ",\"format\":1,\"risk\":\"\",\"kind\":"
	    "\"\",\"since_submit_ms\":5,\"since_delivery_ms\":null,"
	    "\"detail\":\"\"}");
	assert_int_equal(verify_with(f, &old, 1, 0, &r), AUDIT_VERIFY_BAD);
	assert_non_null(strstr(r.what, "line 3: a format-1 record with "
	    "times"));
	fclose(old);
	fclose(arch);
}

/* A record for the trail tests, its strings pointing at literals. */
static void
trail_rec(Baton__Store__V1__AuditRecord *r, uint64_t seq, const char *event,
    const char *actor, const char *other, const char *id, const char *ref)
{
	Baton__Store__V1__AuditRecord	 init =
	    BATON__STORE__V1__AUDIT_RECORD__INIT;

	*r = init;
	r->seq = seq;
	r->time_ms = T0 + (int64_t)seq * 1000;
	r->event = (char *)event;
	r->actor = (char *)actor;
	r->other = (char *)other;
	r->message_id = (char *)id;
	r->subject_ref = (char *)ref;
	r->outcome = (char *)"ok";
	r->format = 2;
	r->risk = (char *)"high";
	r->kind = (char *)"referral";
	r->since_submit_ms = r->since_delivery_ms = -1;
}

static char *
trail_out(const struct audit_trail *t, int json)
{
	FILE	*fp = tmpfile();
	char	*out;

	assert_non_null(fp);
	assert_int_equal(audit_trail_write(t, fp, json), 0);
	out = slurp(fp);
	fclose(fp);
	return out;
}

/* The longest line of s, in characters (UTF-8). */
static size_t
widest(const char *s)
{
	size_t	 w = 0, max = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\n')
			w = 0;
		else if (((unsigned char)*s & 0xc0) != 0x80 && ++w > max)
			max = w;
	}
	return max;
}

static void
test_trail(void **state)
{
	Baton__Store__V1__AuditRecord	 r;
	struct audit_filter		 flt;
	struct audit_trail		*t;
	char				 ref[AUDIT_REF_HEX + 1], id[128];
	char				*out;
	uint64_t			 seq = 1;
	int				 i;

	memset(ref, 'a', AUDIT_REF_HEX);
	ref[AUDIT_REF_HEX] = '\0';
	audit_filter_init(&flt);
	flt.subject_ref = ref;
	assert_non_null(t = audit_trail_new(&flt));

	trail_rec(&r, seq++, AUDIT_SUBMIT_ACCEPTED, "p", "c", "p/h1", ref);
	r.actor_role = (char *)"provider";
	r.actor_org = (char *)"Org \x1b[31m one";
	r.reason = (char *)"referral";
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_QUEUED, "broker", "c", "p/h1", ref);
	assert_int_equal(audit_trail_add(t, &r), 0);
	/* another person's, and a record about nobody */
	trail_rec(&r, seq++, AUDIT_SUBMIT_ACCEPTED, "p", "c", "p/other",
	    "bbbb");
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_CONN_ACCEPTED, "c", "", "", "");
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_DELIVERED, "c", "p", "p/h1", ref);
	r.actor_role = (char *)"cmht";
	r.disclosed = (char *)"subject,risk_summary,safeguarding,crisis_plan,"
	    "contacts,support_plan,medication_and_physical_health,transition";
	r.withheld = (char *)"";
	r.reason = (char *)"attempt 1";
	r.since_submit_ms = 1500;
	assert_int_equal(audit_trail_add(t, &r), 0);
	/* records without the subject, found by the message id */
	trail_rec(&r, seq++, AUDIT_NOTICE_DELIVERED, "p", "", "p/h1", "");
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_DECISION_REFUSED, "x", "", "p/h1", "");
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_STATUS_READ, "p", "", "p/h1", ref);
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_REJECTED, "c", "p", "p/h1", ref);
	r.reason = (char *)"wrong_service";
	r.since_submit_ms = 9000;
	r.since_delivery_ms = 7500;
	assert_int_equal(audit_trail_add(t, &r), 0);
	trail_rec(&r, seq++, AUDIT_LOG_READ, "batonctl", "", "", ref);
	assert_int_equal(audit_trail_add(t, &r), 0);

	out = trail_out(t, 1);
	assert_non_null(strstr(out, "\"message_id\":\"p/h1\",\"kind\":"
	    "\"referral\",\"risk\":\"high\",\"state\":\"rejected\""));
	assert_null(strstr(out, "p/other"));
	assert_non_null(strstr(out, "\"sender\":{\"node\":\"p\",\"role\":"
	    "\"provider\",\"org\":\"Org ?[31m one\"}"));
	assert_non_null(strstr(out, "\"disclosed\":[\"subject\","
	    "\"risk_summary\","));
	assert_non_null(strstr(out, "\"reason\":\"wrong_service\","
	    "\"disclosed\":[],\"withheld\":[],\"since_submit_ms\":9000,"
	    "\"since_delivery_ms\":7500}"));
	assert_non_null(strstr(out, "\"status_reads\":1,\"notices\":"
	    "{\"queued\":0,\"delivered\":1,\"acknowledged\":0},"
	    "\"refusals\":1"));
	assert_non_null(strstr(out, "\"audit_reads\":1"));
	assert_non_null(strstr(out, "\"truncated\":false"));
	assert_null(strchr(out, '\x1b'));
	free(out);
	out = trail_out(t, 0);
	assert_true(widest(out) <= AUDIT_TRAIL_WIDTH);
	assert_non_null(strstr(out, "rejected"));
	assert_non_null(strstr(out, "wrong_service"));
	assert_non_null(strstr(out, "disclosed: subject, risk_summary,"));
	assert_null(strchr(out, '\x1b'));
	free(out);
	audit_trail_free(t);

	/* Bounded: more handovers than a trail holds are said to be left out. */
	assert_non_null(t = audit_trail_new(&flt));
	for (i = 0; i < AUDIT_TRAIL_MAX_HANDOVERS + 10; i++) {
		(void)snprintf(id, sizeof(id), "p/a-very-long-message-id-to-"
		    "wrap-%03d-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
		    i);
		trail_rec(&r, seq++, AUDIT_SUBMIT_ACCEPTED, "p", "c", id, ref);
		assert_int_equal(audit_trail_add(t, &r), 0);
		trail_rec(&r, seq++, AUDIT_DELIVERED, "c", "p", id, ref);
		assert_int_equal(audit_trail_add(t, &r), 0);
	}
	out = trail_out(t, 1);
	assert_non_null(strstr(out, "\"records_left_out\":20,"
	    "\"truncated\":true"));
	free(out);
	out = trail_out(t, 0);
	assert_true(widest(out) <= AUDIT_TRAIL_WIDTH);
	assert_non_null(strstr(out, "Not shown: 20 records"));
	free(out);
	audit_trail_free(t);
}

/*
 * The head an append chains onto is the store's, whatever was appended
 * and undone in between: an aborted operation, an aborted transaction,
 * and a record added behind this audit's back (as batonctl does, from
 * another process) between two transactions.
 */
static void
test_head_after_undo(void **state)
{
	struct fixture			*f = *state;
	struct audit_verify_report	 r;
	struct audit_event		 ev;
	struct audit			*other;
	char				 msg[64], ref[AUDIT_REF_HEX + 1], err[512];

	assert_int_equal(audit_subject_ref(f->a, NHS, ref), 0);
	make_event(&ev, 1, 0, msg, sizeof(msg), ref);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 1), STORE_OK);
	/* appended in an operation that is then aborted */
	assert_int_equal(store_op_begin(f->s), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 2), STORE_OK);
	store_op_abort(f->s);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 3), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	/* appended in a transaction that is then aborted */
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 4), STORE_OK);
	store_abort(f->s);
	/* another writer's record between two transactions */
	other = audit_open(f->dir, 0, err, sizeof(err));
	assert_non_null(other);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(other, f->s, &ev, T0 + 5), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);
	audit_close(other);
	assert_int_equal(store_begin(f->s, 0), STORE_OK);
	assert_int_equal(audit_append(f->a, f->s, &ev, T0 + 6), STORE_OK);
	assert_int_equal(store_commit(f->s), STORE_OK);

	assert_int_equal(verify(f, NULL, &r), AUDIT_VERIFY_OK);
	assert_int_equal(r.head_seq, 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_intact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_after_undo, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_altered_rewrapped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_altered_raw, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_altered_and_rehashed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swapped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inserted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_rechained_tail, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_checkpoint_removed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_forged_key, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_with_anchor,
		    setup, teardown),
		cmocka_unit_test(test_anchor_parse),
		cmocka_unit_test_setup_teardown(test_subject_ref, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_key_files, setup,
		    teardown),
		cmocka_unit_test(test_times),
		cmocka_unit_test_setup_teardown(test_export_formats, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_new_store_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wiped_log, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_before_checkpoint,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_archive_plan, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive_then_verify, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive_to_head, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive_then_tamper, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive_then_cut, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive_anchor_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_archive_file, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_export_100k, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_record_format, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_format_mixed, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_format_altered, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_filters_or, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_archive_format1, setup,
		    teardown),
		cmocka_unit_test(test_trail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
