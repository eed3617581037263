/*
 * audit.c - the audit log: records, the hash chain, signed checkpoints,
 * subject references and the deployment's audit keys.
 *
 * It owns the AUDIT table's content and the three key files in the data
 * directory; the store (store.c) owns transactions and wraps each value
 * with its own record hash. Verification and queries are in
 * audit_verify.c; both share the canonical encoding, defined in
 * audit_int.h and computed here (audit_record_hash).
 *
 * Invariants:
 * - Sequence numbers are contiguous from 1 and the record under key
 *   u64be(seq) holds that seq. The head is the last key (a cursor's
 *   MDB_LAST), read inside the writer's own transaction, so two writers
 *   (batond and batonctl) can never fork the chain: LMDB serialises them.
 * - Record seq N carries prev_hash = hash of N-1 (32 zero bytes for N = 1)
 *   and hash = SHA-256 of its canonical encoding (audit_int.h). The
 *   encoding is ours, field by field, so it never depends on how protobuf
 *   packs.
 * - Records are written in format AUDIT_FORMAT_NOW (2: risk, kind, the
 *   two times and detail are hashed too); records of format 1 written
 *   before stay as they are and still verify (audit_int.h).
 * - The record at every multiple of AUDIT_CHECKPOINT_EVERY is a
 *   checkpoint: audit_append writes one after the record before it. A
 *   checkpoint's signature covers "baton-audit-v1\n<seq>\n<hash hex>\n" of
 *   itself, so it vouches for the whole chain up to and including it.
 * - The last checkpoint written is also kept outside the chain
 *   (AUDIT_META_LAST_CP), in the same transaction, so verify can tell a
 *   log wiped or cut back before it. That copy only moves forward along
 *   the same chain: it is replaced only while the chain still holds it,
 *   so after a wipe or a cut the old copy stays, as evidence, however
 *   many new checkpoints follow.
 * - Archiving removes a prefix of the log ending at a checkpoint, which
 *   becomes the archive anchor (AUDIT_META_ARCHIVED) in the same
 *   transaction: the first record left always chains onto it.
 * - A record never holds an NHS number, a name or handover content: the
 *   subject appears only as an HMAC under subject.key.
 * - Private key bytes never leave this file and are cleansed when freed;
 *   key files are created 0600 through a temporary file and link(2), so a
 *   reader never sees half a key, and one that is group- or
 *   world-accessible is refused.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "hex.h"
#include "atomicfile.h"
#include "audit.h"
#include "audit_int.h"
#include "store.pb-c.h"
#include "validate.h"
#include "wire_check.h"

#define SUBJECT_KEY_FILE	"subject.key"
#define SIGNING_KEY_FILE	"audit-signing.key"
#define SIGNING_PUB_FILE	"audit-signing.pub"
#define SUBJECT_KEY_LEN		32
/* AuditRecord field numbers (store.proto) the head is read by. */
#define AUDIT_FIELD_SEQ		1
#define AUDIT_FIELD_HASH	19
#define KEY_FILE_MAX		8192	/* a PEM Ed25519 key is ~120 bytes */

struct audit {
	uint8_t		 subject_key[SUBJECT_KEY_LEN];
	EVP_PKEY	*sign;		/* Ed25519 private key */
	char		 key_id[AUDIT_REF_HEX + 1];
	EVP_MD_CTX	*md;		/* reused for every record hash */
	EVP_MAC_CTX	*subject_mac;	/* HMAC-SHA256 keyed with subject_key */
	/*
	 * The head as this process last appended it, good while the store's
	 * view is the one it was appended in (store_view): every record
	 * chains onto the head, and reading it back from the store cost a
	 * cursor and a checksum per record.
	 */
	const struct store *head_store;
	uint64_t	 head_view;
	uint64_t	 head_seq;
	uint8_t		 head_hash[AUDIT_HASH_LEN];
	char		 err[512];	/* last failure, for audit_strerror */
};

static void
aerr(struct audit *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
aerr(struct audit *a, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(a->err, sizeof(a->err), fmt, ap);
	va_end(ap);
}

/*
 * The chain hash's input is gathered here and given to the digest in a
 * few large updates: one EVP_DigestUpdate per field (two per string) cost
 * more than the hashing itself for records of short fields.
 */
struct hash_in {
	EVP_MD_CTX	*md;
	size_t		 n;
	int		 failed;
	uint8_t		 buf[4096];
};

static void
hash_flush(struct hash_in *h)
{
	if (h->n > 0 && EVP_DigestUpdate(h->md, h->buf, h->n) != 1)
		h->failed = 1;
	h->n = 0;
}

static void
hash_put(struct hash_in *h, const void *p, size_t len)
{
	if (len == 0)
		return;
	if (len > sizeof(h->buf) - h->n)
		hash_flush(h);
	if (len > sizeof(h->buf)) {
		if (EVP_DigestUpdate(h->md, p, len) != 1)
			h->failed = 1;
		return;
	}
	memcpy(h->buf + h->n, p, len);
	h->n += len;
}

static void
put_u32(struct hash_in *h, uint32_t v)
{
	uint8_t	 b[4];

	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	hash_put(h, b, sizeof(b));
}

static void
put_str(struct hash_in *h, const char *s)
{
	size_t	 n = s != NULL ? strlen(s) : 0;

	if (n > UINT32_MAX) {
		h->failed = 1;
		return;
	}
	put_u32(h, (uint32_t)n);
	hash_put(h, s, n);
}

static void
put_i64(struct hash_in *h, int64_t v)
{
	uint8_t	 b[8];

	store_u64be(b, (uint64_t)v);
	hash_put(h, b, sizeof(b));
}

/* The fields format 2 adds, after those of format 1 (audit_int.h). */
static void
put_format2(struct hash_in *h, const Baton__Store__V1__AuditRecord *r)
{
	put_u32(h, r->format);
	put_str(h, r->risk);
	put_str(h, r->kind);
	put_i64(h, r->since_submit_ms);
	put_i64(h, r->since_delivery_ms);
	put_str(h, r->detail);
}

int
audit_record_format_ok(const Baton__Store__V1__AuditRecord *r,
    const char **why)
{
	if (r->format > AUDIT_FORMAT_NOW) {
		*why = "a record format this program does not know (written "
		    "by a newer batond?)";
		return 0;
	}
	if (r->format < AUDIT_FORMAT_2 && (r->risk[0] != '\0' ||
	    r->kind[0] != '\0' || r->since_submit_ms != 0 ||
	    r->since_delivery_ms != 0 || r->detail[0] != '\0')) {
		*why = "fields of record format 2 on a format-1 record, which "
		    "its hash does not cover (added)";
		return 0;
	}
	return 1;
}

int64_t
audit_record_since_submit(const Baton__Store__V1__AuditRecord *r)
{
	return r->format >= AUDIT_FORMAT_2 && r->since_submit_ms >= 0 ?
	    r->since_submit_ms : -1;
}

int64_t
audit_record_since_delivery(const Baton__Store__V1__AuditRecord *r)
{
	return r->format >= AUDIT_FORMAT_2 && r->since_delivery_ms >= 0 ?
	    r->since_delivery_ms : -1;
}

int
audit_record_hash(EVP_MD_CTX *md, const Baton__Store__V1__AuditRecord *r,
    uint8_t out[AUDIT_HASH_LEN])
{
	const char	*fields[AUDIT_NFIELDS];
	struct hash_in	 h;
	uint8_t		 b[8];
	unsigned int	 n;
	size_t		 i;

	if (r->prev_hash.len != AUDIT_HASH_LEN || r->format > AUDIT_FORMAT_NOW)
		return -1;
	fields[0] = r->event;
	fields[1] = r->actor;
	fields[2] = r->actor_role;
	fields[3] = r->actor_org;
	fields[4] = r->other;
	fields[5] = r->message_id;
	fields[6] = r->subject_ref;
	fields[7] = r->disclosed;
	fields[8] = r->withheld;
	fields[9] = r->outcome;
	fields[10] = r->reason;
	fields[11] = r->cert_serial;
	fields[12] = r->cert_sha256;
	fields[13] = r->peer;
	fields[14] = r->key_id;

	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		return -1;
	h.md = md;
	h.n = 0;
	h.failed = 0;
	hash_put(&h, AUDIT_ENC_TAG, sizeof(AUDIT_ENC_TAG) - 1);
	store_u64be(b, r->seq);
	hash_put(&h, b, sizeof(b));
	store_u64be(b, (uint64_t)r->time_ms);
	hash_put(&h, b, sizeof(b));
	hash_put(&h, r->prev_hash.data, AUDIT_HASH_LEN);
	for (i = 0; i < AUDIT_NFIELDS; i++)
		put_str(&h, fields[i]);
	if (r->format >= AUDIT_FORMAT_2)
		put_format2(&h, r);
	hash_flush(&h);
	if (h.failed || EVP_DigestFinal_ex(md, out, &n) != 1 ||
	    n != AUDIT_HASH_LEN)
		return -1;
	return 0;
}

int
audit_checkpoint_text(uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
    char *out, size_t outlen)
{
	char	 hex[AUDIT_REF_HEX + 1];
	int	 n;

	hex_encode(hash, AUDIT_HASH_LEN, hex);
	n = snprintf(out, outlen, "%s\n%" PRIu64 "\n%s\n", AUDIT_SIG_TAG, seq,
	    hex);
	if (n < 0 || (size_t)n >= outlen)
		return -1;
	return n;
}

int
audit_key_id(EVP_PKEY *pk, char out[AUDIT_REF_HEX + 1])
{
	uint8_t		 raw[64], h[AUDIT_HASH_LEN];
	size_t		 len = sizeof(raw);
	unsigned int	 n;

	if (EVP_PKEY_get_raw_public_key(pk, raw, &len) != 1 ||
	    EVP_Digest(raw, len, h, &n, EVP_sha256(), NULL) != 1 ||
	    n != AUDIT_HASH_LEN)
		return -1;
	hex_encode(h, AUDIT_HASH_LEN, out);
	return 0;
}

/* Key files. */

static int
path_in(char *out, size_t outlen, const char *dir, const char *name)
{
	int	 n;

	n = snprintf(out, outlen, "%s/%s", dir, name);
	return (n < 0 || (size_t)n >= outlen) ? -1 : 0;
}

/*
 * Reads a whole key file of at most KEY_FILE_MAX bytes into buf. With
 * secret set, refuses a file that is not a regular file or that group or
 * others can reach. Returns the length, -1 with err set, or -2 (errno
 * ENOENT) when it does not exist.
 */
static ssize_t
read_key_file(struct audit *a, const char *path, int secret, uint8_t *buf,
    size_t buflen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return -2;
		aerr(a, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		aerr(a, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		aerr(a, "%s: not a regular file", path);
		goto fail;
	}
	if (secret && (st.st_mode & 077) != 0) {
		aerr(a, "%s: mode %03o lets others read a secret key; "
		    "chmod 600 it", path, (unsigned int)(st.st_mode & 0777));
		goto fail;
	}
	if (st.st_size < 0 || (size_t)st.st_size > buflen) {
		aerr(a, "%s: %lld bytes, more than a key file holds", path,
		    (long long)st.st_size);
		goto fail;
	}
	while (got < buflen) {
		n = read(fd, buf + got, buflen - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			aerr(a, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
 fail:
	close(fd);
	return -1;
}

/*
 * Creates dir/name holding buf, mode 0600, only if it does not exist,
 * through atomicfile_write_buf (temporary file, fsync, link(2), directory
 * fsync). Returns 0 created, 1 it existed already (another process won
 * the race), -1 with err.
 */
static int
write_new_file(struct audit *a, const char *dir, const char *name,
    const void *buf, size_t len)
{
	char		 path[PATH_MAX], err[sizeof(a->err)];

	if (path_in(path, sizeof(path), dir, name) == -1) {
		aerr(a, "%s/%s: path too long", dir, name);
		return -1;
	}
	switch (atomicfile_write_buf(path, 0600, 0, buf, len, err,
	    sizeof(err))) {
	case ATOMICFILE_OK:
		return 0;
	case ATOMICFILE_EXISTS:
		return 1;
	}
	aerr(a, "%s", err);
	return -1;
}

static int
load_subject_key(struct audit *a, const char *dir, int create)
{
	char	 path[PATH_MAX];
	uint8_t	 buf[SUBJECT_KEY_LEN + 1];
	ssize_t	 n;
	int	 tries, rc;

	if (path_in(path, sizeof(path), dir, SUBJECT_KEY_FILE) == -1) {
		aerr(a, "%s: path too long", dir);
		return -1;
	}
	for (tries = 0; tries < 2; tries++) {
		n = read_key_file(a, path, 1, buf, sizeof(buf));
		if (n == -1)
			goto fail;
		if (n >= 0) {
			if (n != SUBJECT_KEY_LEN) {
				aerr(a, "%s: %zd bytes, want %d", path, n,
				    SUBJECT_KEY_LEN);
				goto fail;
			}
			memcpy(a->subject_key, buf, SUBJECT_KEY_LEN);
			OPENSSL_cleanse(buf, sizeof(buf));
			return 0;
		}
		if (!create) {
			aerr(a, "%s: no subject key (batond creates it at "
			    "first start)", path);
			return -1;
		}
		if (RAND_bytes(buf, SUBJECT_KEY_LEN) != 1) {
			aerr(a, "%s: RAND_bytes failed", path);
			goto fail;
		}
		rc = write_new_file(a, dir, SUBJECT_KEY_FILE, buf,
		    SUBJECT_KEY_LEN);
		if (rc == -1)
			goto fail;
		/* Created, or raced: either way read back what is there. */
	}
	aerr(a, "%s: could not be created", path);
 fail:
	OPENSSL_cleanse(buf, sizeof(buf));
	return -1;
}

/*
 * Keys the subject reference's HMAC once: every handover asks for one,
 * and a one-shot HMAC() fetched SHA-256 and scheduled the key each time.
 */
static int
key_subject_mac(struct audit *a)
{
	EVP_MAC		*mac;
	OSSL_PARAM	 params[2];

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (a->subject_mac = EVP_MAC_CTX_new(mac)) == NULL ||
	    EVP_MAC_init(a->subject_mac, a->subject_key, SUBJECT_KEY_LEN,
	    params) != 1) {
		EVP_MAC_free(mac);
		aerr(a, "audit: HMAC-SHA256 is not available");
		return -1;
	}
	EVP_MAC_free(mac);	/* the context holds its own reference */
	return 0;
}

/* An encrypted key is refused, never prompted for on a terminal. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static EVP_PKEY *
pem_private(struct audit *a, const char *path, const uint8_t *buf,
    size_t len)
{
	EVP_PKEY	*pk = NULL;
	BIO		*bio;

	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		aerr(a, "%s: out of memory", path);
		return NULL;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		aerr(a, "%s: not a PEM private key", path);
		return NULL;
	}
	if (EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519) {
		aerr(a, "%s: not an Ed25519 key", path);
		EVP_PKEY_free(pk);
		return NULL;
	}
	return pk;
}

/* PEM of pk's private (priv set) or public key, written out new. */
static int
write_pem(struct audit *a, const char *dir, const char *name, EVP_PKEY *pk,
    int priv)
{
	BIO	*bio;
	char	*mem;
	long	 len;
	int	 ok, rc = -1;

	if ((bio = BIO_new(BIO_s_mem())) == NULL) {
		aerr(a, "%s: out of memory", name);
		return -1;
	}
	ok = priv ? PEM_write_bio_PrivateKey(bio, pk, NULL, NULL, 0, NULL,
	    NULL) : PEM_write_bio_PUBKEY(bio, pk);
	if (ok != 1 || (len = BIO_get_mem_data(bio, &mem)) <= 0) {
		aerr(a, "%s: cannot encode the key", name);
		goto fail;
	}
	rc = write_new_file(a, dir, name, mem, (size_t)len);
	OPENSSL_cleanse(mem, (size_t)len);
 fail:
	BIO_free(bio);
	return rc;
}

static int
load_signing_key(struct audit *a, const char *dir, int create)
{
	char		 path[PATH_MAX], pubpath[PATH_MAX];
	uint8_t		 buf[KEY_FILE_MAX];
	EVP_PKEY	*pub = NULL, *gen = NULL;
	BIO		*bio = NULL;
	ssize_t		 n = -2;
	int		 tries, rc;

	if (path_in(path, sizeof(path), dir, SIGNING_KEY_FILE) == -1 ||
	    path_in(pubpath, sizeof(pubpath), dir, SIGNING_PUB_FILE) == -1) {
		aerr(a, "%s: path too long", dir);
		return -1;
	}
	for (tries = 0; tries < 2 && a->sign == NULL; tries++) {
		n = read_key_file(a, path, 1, buf, sizeof(buf));
		if (n == -1)
			goto fail;
		if (n >= 0) {
			if ((a->sign = pem_private(a, path, buf,
			    (size_t)n)) == NULL)
				goto fail;
			break;
		}
		if (!create) {
			aerr(a, "%s: no audit signing key (batond creates it "
			    "at first start)", path);
			goto fail;
		}
		if ((gen = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL) {
			aerr(a, "%s: cannot generate an Ed25519 key", path);
			goto fail;
		}
		rc = write_pem(a, dir, SIGNING_KEY_FILE, gen, 1);
		EVP_PKEY_free(gen);
		gen = NULL;
		if (rc == -1)
			goto fail;
	}
	if (a->sign == NULL) {
		aerr(a, "%s: could not be created", path);
		goto fail;
	}
	if (audit_key_id(a->sign, a->key_id) == -1) {
		aerr(a, "%s: cannot read its public key", path);
		goto fail;
	}

	/*
	 * The public key beside it is the default for verify: one that does
	 * not match would make every checkpoint look forged, so say so now.
	 */
	n = read_key_file(a, pubpath, 0, buf, sizeof(buf));
	if (n == -1)
		goto fail;
	if (n == -2) {
		if (!create) {
			aerr(a, "%s: missing", pubpath);
			goto fail;
		}
		if (write_pem(a, dir, SIGNING_PUB_FILE, a->sign, 0) == -1)
			goto fail;
	} else {
		if ((bio = BIO_new_mem_buf(buf, (int)n)) == NULL ||
		    (pub = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
			aerr(a, "%s: not a PEM public key", pubpath);
			goto fail;
		}
		if (EVP_PKEY_eq(pub, a->sign) != 1) {
			aerr(a, "%s does not match %s", pubpath, path);
			goto fail;
		}
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_free(pub);
	BIO_free(bio);
	return 0;
 fail:
	OPENSSL_cleanse(buf, sizeof(buf));
	EVP_PKEY_free(pub);
	BIO_free(bio);
	return -1;
}

struct audit *
audit_open(const char *data_dir, int create, char *err, size_t errlen)
{
	struct audit	*a;

	if ((a = calloc(1, sizeof(*a))) == NULL) {
		if (err != NULL && errlen > 0)
			(void)snprintf(err, errlen, "audit: out of memory");
		return NULL;
	}
	if (data_dir == NULL || *data_dir == '\0') {
		aerr(a, "audit: no data directory given");
		goto fail;
	}
	if (create && mkdir(data_dir, 0700) == -1 && errno != EEXIST) {
		aerr(a, "cannot create %s: %s", data_dir, strerror(errno));
		goto fail;
	}
	if ((a->md = EVP_MD_CTX_new()) == NULL) {
		aerr(a, "audit: out of memory");
		goto fail;
	}
	if (load_subject_key(a, data_dir, create) == -1 ||
	    key_subject_mac(a) == -1 ||
	    load_signing_key(a, data_dir, create) == -1)
		goto fail;
	return a;
 fail:
	if (err != NULL && errlen > 0)
		(void)snprintf(err, errlen, "%s", a->err);
	audit_close(a);
	return NULL;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	OPENSSL_cleanse(a->subject_key, sizeof(a->subject_key));
	EVP_PKEY_free(a->sign);
	EVP_MD_CTX_free(a->md);
	EVP_MAC_CTX_free(a->subject_mac);
	free(a);
}

const char *
audit_strerror(const struct audit *a)
{
	if (a == NULL)
		return "no audit log";
	return a->err;
}

int
audit_subject_ref(const struct audit *a, const char *nhs_number,
    char out[AUDIT_REF_HEX + 1])
{
	char		 norm[BATON_NHS_NUMBER_LEN + 1];
	uint8_t		 mac[EVP_MAX_MD_SIZE];
	size_t		 n = 0;
	int		 ok;

	out[0] = '\0';
	if (a == NULL || nhs_number == NULL ||
	    !validate_nhs_number(nhs_number, norm))
		return -1;
	/* a NULL key restarts the MAC with the key it already holds */
	ok = EVP_MAC_init(a->subject_mac, NULL, 0, NULL) == 1 &&
	    EVP_MAC_update(a->subject_mac, (const unsigned char *)norm,
	    BATON_NHS_NUMBER_LEN) == 1 &&
	    EVP_MAC_final(a->subject_mac, mac, &n, sizeof(mac)) == 1 &&
	    n == AUDIT_HASH_LEN;
	OPENSSL_cleanse(norm, sizeof(norm));
	if (!ok)
		return -1;
	hex_encode(mac, AUDIT_HASH_LEN, out);
	return 0;
}

/* The records kept outside the chain. */

int
audit_meta_get(struct store *s, const char *key,
    Baton__Store__V1__AuditRecord **out)
{
	const void	*v;
	size_t		 vl;
	int		 rc;

	*out = NULL;
	rc = store_get(s, STORE_META, key, strlen(key), &v, &vl);
	if (rc != STORE_OK)
		return rc;
	*out = baton__store__v1__audit_record__unpack(NULL, vl, v);
	if (*out != NULL && (*out)->hash.len == AUDIT_HASH_LEN &&
	    (*out)->seq > 0)
		return STORE_OK;
	if (*out != NULL)
		baton__store__v1__audit_record__free_unpacked(*out, NULL);
	*out = NULL;
	return STORE_CORRUPT;
}

/*
 * The head of an empty table: the archive anchor when everything up to
 * the head was archived (the chain goes on from it), else none (seq 0).
 */
static int
anchor_head(struct store *s, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN])
{
	Baton__Store__V1__AuditRecord	*a;
	int				 rc;

	rc = audit_meta_get(s, AUDIT_META_ARCHIVED, &a);
	if (rc == STORE_NOTFOUND)
		return STORE_OK;
	if (rc != STORE_OK)
		return rc;
	*seq = a->seq;
	memcpy(hash, a->hash.data, AUDIT_HASH_LEN);
	baton__store__v1__audit_record__free_unpacked(a, NULL);
	return STORE_OK;
}

/* The head. */

/*
 * Reads the head's seq and hash from the record's bytes (fields 1 and 19)
 * without unpacking it: every append reads the head, and unpacking
 * allocated each of the record's strings only to free them again.
 */
int
audit_read_head(struct store *s, uint64_t *seq, uint8_t hash[AUDIT_HASH_LEN])
{
	struct store_cursor	*c;
	const void		*k, *v;
	const uint8_t		*h;
	size_t			 kl, vl, hl;
	uint64_t		 rseq;
	int			 rc;

	*seq = 0;
	memset(hash, 0, AUDIT_HASH_LEN);
	if ((rc = store_cursor_open(s, STORE_AUDIT, &c)) != STORE_OK)
		return rc;
	rc = store_cursor_last(c, &k, &kl, &v, &vl);
	if (rc == STORE_NOTFOUND) {
		store_cursor_close(c);
		return anchor_head(s, seq, hash);
	}
	if (rc != STORE_OK) {
		store_cursor_close(c);
		return rc;
	}
	rc = STORE_CORRUPT;
	if (kl == 8 && wire_find(v, vl, AUDIT_FIELD_SEQ, NULL, NULL,
	    &rseq) == 0 && rseq == store_be64(k) && rseq > 0 &&
	    wire_find(v, vl, AUDIT_FIELD_HASH, &h, &hl, NULL) == 0 &&
	    hl == AUDIT_HASH_LEN) {
		*seq = rseq;
		memcpy(hash, h, AUDIT_HASH_LEN);
		rc = STORE_OK;
	}
	store_cursor_close(c);
	return rc;
}

int
audit_head(struct store *s, uint64_t *seq, char hash_hex[AUDIT_REF_HEX + 1])
{
	uint8_t	 h[AUDIT_HASH_LEN];
	int	 rc;

	rc = audit_read_head(s, seq, h);
	hex_encode(h, AUDIT_HASH_LEN, hash_hex);
	return rc;
}

/* 1 if the record at seq has hash h in the chain (or as its anchor). */
static int
chain_holds(struct store *s, uint64_t seq, const uint8_t h[AUDIT_HASH_LEN])
{
	Baton__Store__V1__AuditRecord	*r;
	const void			*v;
	size_t				 vl;
	uint8_t				 key[8];
	int				 same = 0;

	store_u64be(key, seq);
	if (store_get(s, STORE_AUDIT, key, sizeof(key), &v, &vl) == STORE_OK)
		r = baton__store__v1__audit_record__unpack(NULL, vl, v);
	else if (audit_meta_get(s, AUDIT_META_ARCHIVED, &r) != STORE_OK)
		r = NULL;
	if (r != NULL && r->seq == seq && r->hash.len == AUDIT_HASH_LEN)
		same = memcmp(r->hash.data, h, AUDIT_HASH_LEN) == 0;
	if (r != NULL)
		baton__store__v1__audit_record__free_unpacked(r, NULL);
	return same;
}

/*
 * Keeps checkpoint seq (its packed record, buf) as the last checkpoint
 * outside the chain, unless the copy there is of a later seq or of a
 * record the chain no longer holds: that copy is evidence of a log cut
 * back or wiped, which a new chain must not overwrite. A damaged copy is
 * left for verify to report.
 */
static int
keep_last_checkpoint(struct audit *a, struct store *s, uint64_t seq,
    const uint8_t *buf, size_t len)
{
	Baton__Store__V1__AuditRecord	*old;
	int				 rc, keep;

	rc = audit_meta_get(s, AUDIT_META_LAST_CP, &old);
	if (rc == STORE_CORRUPT)
		return STORE_OK;
	if (rc == STORE_OK) {
		keep = old->seq >= seq ||
		    !chain_holds(s, old->seq, old->hash.data);
		baton__store__v1__audit_record__free_unpacked(old, NULL);
		if (keep)
			return STORE_OK;
	} else if (rc != STORE_NOTFOUND) {
		aerr(a, "audit_append: reading the last checkpoint: %s",
		    store_strerror(s));
		return rc;
	}
	rc = store_put(s, STORE_META, AUDIT_META_LAST_CP,
	    strlen(AUDIT_META_LAST_CP), buf, len);
	if (rc != STORE_OK)
		aerr(a, "audit_append: keeping checkpoint %" PRIu64 ": %s",
		    seq, store_strerror(s));
	return rc;
}

/* Appending. */

/*
 * Copies s into buf if it is longer than AUDIT_FIELD_MAX, cut at a UTF-8
 * character boundary; returns the string to store ("" for NULL).
 */
static const char *
bounded(const char *s, char buf[AUDIT_FIELD_MAX + 1])
{
	size_t	 n;

	if (s == NULL)
		return "";
	if ((n = strlen(s)) <= AUDIT_FIELD_MAX)
		return s;
	n = AUDIT_FIELD_MAX;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return buf;
}

/* A time of an event as stored: -1 without its flag, never below 0 with. */
static int64_t
event_time(int has, int64_t ms)
{
	if (!has)
		return -1;
	return ms > 0 ? ms : 0;
}

/*
 * Appends one record after the head in the current transaction; *out_seq
 * is its seq. A checkpoint (ev->event AUDIT_CHECKPOINT) gets key_id and a
 * signature.
 */
static int
append_one(struct audit *a, struct store *s, const struct audit_event *ev,
    int64_t now_ms, uint64_t *out_seq)
{
	Baton__Store__V1__AuditRecord	 r = BATON__STORE__V1__AUDIT_RECORD__INIT;
	char				 cut[AUDIT_NFIELDS + 3][AUDIT_FIELD_MAX + 1];
	uint8_t				 prev[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
	uint8_t				 key[8], *buf = NULL, *sig = NULL;
	char				 text[AUDIT_SIG_TEXT_MAX];
	EVP_MD_CTX			*sctx = NULL;
	size_t				 len, siglen = 0;
	uint64_t			 head;
	int				 tlen, cp, rc = STORE_ERROR;

	if (ev == NULL || ev->event == NULL || !audit_event_known(ev->event)) {
		aerr(a, "audit_append: unknown event '%s'",
		    ev != NULL && ev->event != NULL ? ev->event : "(null)");
		return STORE_ERROR;
	}
	cp = strcmp(ev->event, AUDIT_CHECKPOINT) == 0;
	if (a->head_store == s && a->head_view == store_view(s)) {
		head = a->head_seq;
		memcpy(prev, a->head_hash, AUDIT_HASH_LEN);
		rc = STORE_OK;
	} else
		rc = audit_read_head(s, &head, prev);
	a->head_store = NULL;	/* set again once this record is in */
	if (rc == STORE_CORRUPT) {
		aerr(a, "audit_append: the last audit record is damaged; "
		    "refusing to chain onto it (run batonctl audit verify)");
		return STORE_ERROR;
	}
	if (rc != STORE_OK) {
		aerr(a, "audit_append: reading the head: %s",
		    store_strerror(s));
		return rc;
	}
	if (head == UINT64_MAX) {
		aerr(a, "audit_append: sequence exhausted");
		return STORE_ERROR;
	}

	r.seq = head + 1;
	r.time_ms = now_ms;
	r.event = (char *)(uintptr_t)ev->event;
	r.actor = (char *)(uintptr_t)bounded(ev->actor, cut[1]);
	r.actor_role = (char *)(uintptr_t)bounded(ev->actor_role, cut[2]);
	r.actor_org = (char *)(uintptr_t)bounded(ev->actor_org, cut[3]);
	r.other = (char *)(uintptr_t)bounded(ev->other, cut[4]);
	r.message_id = (char *)(uintptr_t)bounded(ev->message_id, cut[5]);
	r.subject_ref = (char *)(uintptr_t)bounded(ev->subject_ref, cut[6]);
	r.disclosed = (char *)(uintptr_t)bounded(ev->disclosed, cut[7]);
	r.withheld = (char *)(uintptr_t)bounded(ev->withheld, cut[8]);
	r.outcome = (char *)(uintptr_t)bounded(ev->outcome, cut[9]);
	r.reason = (char *)(uintptr_t)bounded(ev->reason, cut[10]);
	r.cert_serial = (char *)(uintptr_t)bounded(ev->cert_serial, cut[11]);
	r.cert_sha256 = (char *)(uintptr_t)bounded(ev->cert_sha256, cut[12]);
	r.peer = (char *)(uintptr_t)bounded(ev->peer, cut[13]);
	r.key_id = cp ? a->key_id : "";
	r.format = AUDIT_FORMAT_NOW;
	r.risk = (char *)(uintptr_t)bounded(ev->risk, cut[15]);
	r.kind = (char *)(uintptr_t)bounded(ev->kind, cut[16]);
	r.detail = (char *)(uintptr_t)bounded(ev->detail, cut[17]);
	r.since_submit_ms = event_time(ev->has_since_submit,
	    ev->since_submit_ms);
	r.since_delivery_ms = event_time(ev->has_since_delivery,
	    ev->since_delivery_ms);
	r.prev_hash.data = prev;
	r.prev_hash.len = AUDIT_HASH_LEN;
	if (audit_record_hash(a->md, &r, h) == -1) {
		aerr(a, "audit_append: SHA-256 failed");
		return STORE_ERROR;
	}
	r.hash.data = h;
	r.hash.len = AUDIT_HASH_LEN;

	if (cp) {
		if ((tlen = audit_checkpoint_text(r.seq, h, text,
		    sizeof(text))) == -1 ||
		    (sctx = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestSignInit(sctx, NULL, NULL, NULL, a->sign) != 1 ||
		    EVP_DigestSign(sctx, NULL, &siglen,
		    (const unsigned char *)text, (size_t)tlen) != 1 ||
		    (sig = malloc(siglen)) == NULL ||
		    EVP_DigestSign(sctx, sig, &siglen,
		    (const unsigned char *)text, (size_t)tlen) != 1) {
			aerr(a, "audit_append: signing checkpoint %" PRIu64
			    " failed", r.seq);
			rc = STORE_ERROR;
			goto fail;
		}
		r.signature.data = sig;
		r.signature.len = siglen;
	}

	len = baton__store__v1__audit_record__get_packed_size(&r);
	if ((buf = malloc(len > 0 ? len : 1)) == NULL) {
		aerr(a, "audit_append: %s", strerror(errno));
		rc = STORE_ERROR;
		goto fail;
	}
	(void)baton__store__v1__audit_record__pack(&r, buf);
	store_u64be(key, r.seq);
	rc = store_put_new(s, STORE_AUDIT, key, sizeof(key), buf, len);
	if (rc == STORE_EXISTS) {
		/* The head said it was free: the table is inconsistent. */
		aerr(a, "audit_append: seq %" PRIu64 " exists already", r.seq);
		rc = STORE_ERROR;
		goto fail;
	}
	if (rc != STORE_OK) {
		aerr(a, "audit_append: %s", store_strerror(s));
		goto fail;
	}
	if (cp && (rc = keep_last_checkpoint(a, s, r.seq, buf,
	    len)) != STORE_OK)
		goto fail;
	*out_seq = r.seq;
	a->head_store = s;
	a->head_view = store_view(s);
	a->head_seq = r.seq;
	memcpy(a->head_hash, h, AUDIT_HASH_LEN);
 fail:
	EVP_MD_CTX_free(sctx);
	free(sig);
	free(buf);
	return rc;
}

/*
 * Appends ev and then, if the next seq is a multiple of the period, a
 * checkpoint there: this keeps the invariant whichever record (an event
 * or an explicit checkpoint) lands just before a multiple.
 */
static int
append_periodic(struct audit *a, struct store *s,
    const struct audit_event *ev, int64_t now_ms)
{
	struct audit_event	 cp;
	uint64_t		 seq;
	int			 rc;

	if ((rc = append_one(a, s, ev, now_ms, &seq)) != STORE_OK)
		return rc;
	if ((seq + 1) % AUDIT_CHECKPOINT_EVERY != 0)
		return STORE_OK;
	memset(&cp, 0, sizeof(cp));
	cp.event = AUDIT_CHECKPOINT;
	cp.actor = "broker";
	cp.outcome = "ok";
	return append_one(a, s, &cp, now_ms, &seq);
}

int
audit_checkpoint(struct audit *a, struct store *s, int64_t now_ms)
{
	struct audit_event	 ev;

	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_CHECKPOINT;
	ev.actor = "broker";
	ev.outcome = "ok";
	return append_periodic(a, s, &ev, now_ms);
}

int
audit_append(struct audit *a, struct store *s, const struct audit_event *ev,
    int64_t now_ms)
{
	return append_periodic(a, s, ev, now_ms);
}

/* Archiving: the removal step (the plan and the writing are read-only). */

/* The seq of the first record in the table (0: empty). */
static int
first_seq(struct store *s, uint64_t *seq)
{
	struct store_cursor	*c;
	const void		*k, *v;
	size_t			 kl, vl;
	int			 rc;

	*seq = 0;
	if ((rc = store_cursor_open(s, STORE_AUDIT, &c)) != STORE_OK)
		return rc;
	rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	if ((rc == STORE_OK || rc == STORE_CORRUPT) && kl == 8)
		*seq = store_be64(k);
	store_cursor_close(c);
	return rc == STORE_NOTFOUND || rc == STORE_OK || rc == STORE_CORRUPT ?
	    STORE_OK : rc;
}

/*
 * Checks that the log still starts where the plan said and that its last
 * checkpoint is unchanged; copies that record's packed bytes to *buf.
 */
static int
plan_holds(struct audit *a, struct store *s,
    const struct audit_archive_plan *p, uint8_t **buf, size_t *len)
{
	Baton__Store__V1__AuditRecord	*r;
	const void			*v;
	size_t				 vl;
	uint8_t				 key[8];
	uint64_t			 first;
	int				 rc, ok;

	if ((rc = first_seq(s, &first)) != STORE_OK) {
		aerr(a, "audit archive: %s", store_strerror(s));
		return rc;
	}
	store_u64be(key, p->last);
	if (first != p->first || store_get(s, STORE_AUDIT, key, sizeof(key),
	    &v, &vl) != STORE_OK) {
		aerr(a, "audit archive: the log changed since it was "
		    "verified (another archive?); nothing removed, run it "
		    "again");
		return STORE_ERROR;
	}
	r = baton__store__v1__audit_record__unpack(NULL, vl, v);
	ok = r != NULL && r->seq == p->last && r->hash.len == AUDIT_HASH_LEN &&
	    memcmp(r->hash.data, p->last_hash, AUDIT_HASH_LEN) == 0 &&
	    strcmp(r->event, AUDIT_CHECKPOINT) == 0;
	if (r != NULL)
		baton__store__v1__audit_record__free_unpacked(r, NULL);
	if (!ok) {
		aerr(a, "audit archive: checkpoint %" PRIu64 " changed since "
		    "it was verified; nothing removed", p->last);
		return STORE_ERROR;
	}
	if ((*buf = malloc(vl)) == NULL) {
		aerr(a, "audit archive: %s", strerror(errno));
		return STORE_ERROR;
	}
	memcpy(*buf, v, vl);
	*len = vl;
	return STORE_OK;
}

int
audit_archive_remove(struct audit *a, struct store *s,
    const struct audit_archive_plan *p, const struct audit_event *ev,
    int64_t now_ms)
{
	uint8_t		 key[8], *anchor = NULL;
	size_t		 len = 0;
	uint64_t	 seq;
	int		 rc;

	a->head_store = NULL;	/* the table changes under the head */
	if (p->last == 0 || p->first == 0 || p->first > p->last ||
	    ev == NULL || ev->event == NULL ||
	    strcmp(ev->event, AUDIT_ARCHIVED) != 0) {
		aerr(a, "audit archive: nothing planned");
		return STORE_ERROR;
	}
	if ((rc = plan_holds(a, s, p, &anchor, &len)) != STORE_OK)
		return rc;
	for (seq = p->first; seq <= p->last; seq++) {
		store_u64be(key, seq);
		if ((rc = store_del(s, STORE_AUDIT, key, sizeof(key))) !=
		    STORE_OK) {
			aerr(a, "audit archive: removing seq %" PRIu64 ": %s",
			    seq, rc == STORE_NOTFOUND ? "not there" :
			    store_strerror(s));
			rc = STORE_ERROR;
			goto fail;
		}
	}
	rc = store_put(s, STORE_META, AUDIT_META_ARCHIVED,
	    strlen(AUDIT_META_ARCHIVED), anchor, len);
	if (rc != STORE_OK) {
		aerr(a, "audit archive: writing the anchor: %s",
		    store_strerror(s));
		goto fail;
	}
	/* The removal is recorded, and signed at once by a checkpoint. */
	if ((rc = audit_append(a, s, ev, now_ms)) == STORE_OK)
		rc = audit_checkpoint(a, s, now_ms);
 fail:
	free(anchor);
	return rc;
}

static const char *const events[] = {
	AUDIT_CONN_ACCEPTED, AUDIT_CONN_REFUSED, AUDIT_SUBMIT_ACCEPTED,
	AUDIT_SUBMIT_REFUSED, AUDIT_QUEUED, AUDIT_DELIVERED,
	AUDIT_ACKNOWLEDGED, AUDIT_ACK_REFUSED, AUDIT_ACCEPTED,
	AUDIT_REJECTED, AUDIT_REDIRECTED, AUDIT_DECISION_REFUSED,
	AUDIT_STATUS_READ, AUDIT_STATUS_REFUSED, AUDIT_PULL_REFUSED,
	AUDIT_ESCALATED,
	AUDIT_EXPIRED, AUDIT_NOTICE_QUEUED, AUDIT_NOTICE_DELIVERED,
	AUDIT_NOTICE_ACKED, AUDIT_QUARANTINED, AUDIT_PURGED,
	AUDIT_NODE_CHANGED, AUDIT_CERT_CHANGED, AUDIT_POLICY_LOADED,
	AUDIT_POLICY_REFUSED, AUDIT_SUPPRESSED,
	AUDIT_BROKER_STARTED, AUDIT_BROKER_STOPPED, AUDIT_CHECKPOINT,
	AUDIT_LOG_READ, AUDIT_ARCHIVED,
	AUDIT_AGREEMENT_ADDED, AUDIT_AGREEMENT_ENDED, AUDIT_AGREEMENT_LAPSING,
	AUDIT_AGREEMENT_LAPSED, AUDIT_HELD, AUDIT_RELEASED, AUDIT_SUPERSEDED,
	AUDIT_CHECKINS_SCHEDULED, AUDIT_CHECKIN_RECORDED, AUDIT_CHECKIN_REFUSED,
	AUDIT_CONTACT_MISSED, AUDIT_CONTACT_ESCALATED,
};

const char *
audit_event_name(size_t i)
{
	return i < sizeof(events) / sizeof(events[0]) ? events[i] : NULL;
}

int
audit_event_known(const char *e)
{
	size_t	 i;

	if (e == NULL)
		return 0;
	for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
		if (strcmp(e, events[i]) == 0)
			return 1;
	return 0;
}
