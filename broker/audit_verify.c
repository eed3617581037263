/*
 * audit_verify.c - reading the audit log: verification of the chain and
 * its checkpoints, and the streaming queries behind batonctl audit
 * list/export, with their time and text formats.
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

#include "audit.h"
#include "audit_int.h"
#include "store.pb-c.h"
#include "validate.h"

struct audit_pubkey {
	EVP_PKEY	*pk;
	char		 key_id[AUDIT_REF_HEX + 1];
};

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

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

/* Two decimal digits at p into *v; 0, or -1. */
static int
two_digits(const char *p, int *v)
{
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	*v = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

int
audit_time_parse(const char *s, int end_of, int64_t *out)
{
	struct tm	 tm;
	char		 date[11];
	const char	*p;
	int64_t		 ms = 0, extra = 0;
	time_t		 t;
	int		 hh = 0, mi = 0, ss = 0, digits;

	if (s == NULL || strlen(s) < 10)
		return -1;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (!validate_date(date))
		return -1;
	p = s + 10;
	if (*p == '\0') {
		if (end_of)
			extra = 86400000 - 1;
	} else {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (two_digits(p, &hh) == -1 || p[2] != ':' ||
		    two_digits(p + 3, &mi) == -1 || hh > 23 || mi > 59)
			return -1;
		p += 5;
		if (*p == ':') {
			if (two_digits(p + 1, &ss) == -1 || ss > 59)
				return -1;
			p += 3;
			if (*p == '.') {
				p++;
				for (digits = 0; isdigit((unsigned char)*p) &&
				    digits < 3; digits++, p++)
					ms = ms * 10 + (*p - '0');
				if (digits == 0 || isdigit((unsigned char)*p))
					return -1;
				for (; digits < 3; digits++)
					ms *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		if (*p != '\0')
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(date) - 1900;
	tm.tm_mon = (date[5] - '0') * 10 + (date[6] - '0') - 1;
	tm.tm_mday = (date[8] - '0') * 10 + (date[9] - '0');
	tm.tm_hour = hh;
	tm.tm_min = mi;
	tm.tm_sec = ss;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (int64_t)t * 1000 + ms + extra;
	return 0;
}

/* Keys and anchors. */

struct audit_pubkey *
audit_pubkey_load(const char *path, char *err, size_t errlen)
{
	struct audit_pubkey	*k = NULL;
	BIO			*bio = NULL;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		seterr(err, errlen, "%s: cannot open the audit public key",
		    path);
		goto fail;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	if ((k->pk = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL)) == NULL) {
		seterr(err, errlen, "%s: not a PEM public key", path);
		goto fail;
	}
	if (EVP_PKEY_get_id(k->pk) != EVP_PKEY_ED25519) {
		seterr(err, errlen, "%s: not an Ed25519 key", path);
		goto fail;
	}
	if (audit_key_id(k->pk, k->key_id) == -1) {
		seterr(err, errlen, "%s: cannot read the key", path);
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

static int
unhex(const char *s, size_t n, uint8_t *out)
{
	size_t	 i;
	int	 hi, lo;

	for (i = 0; i < n; i++) {
		hi = OPENSSL_hexchar2int((unsigned char)s[2 * i]);
		lo = OPENSSL_hexchar2int((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
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
	if (strlen(h) != AUDIT_REF_HEX || unhex(h, AUDIT_HASH_LEN,
	    out->hash) == -1)
		return -1;
	out->seq = v;
	return 0;
}

/* Verification. */

static int
bad(struct audit_verify_report *r, uint64_t seq, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
bad(struct audit_verify_report *r, uint64_t seq, const char *fmt, ...)
{
	va_list	 ap;

	r->bad_seq = seq;
	va_start(ap, fmt);
	(void)vsnprintf(r->what, sizeof(r->what), fmt, ap);
	va_end(ap);
	return AUDIT_VERIFY_BAD;
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
	if ((tlen = audit_checkpoint_text(rec->seq, rec->hash.data, text,
	    sizeof(text))) == -1 || (ctx = EVP_MD_CTX_new()) == NULL) {
		(void)snprintf(r->what, sizeof(r->what), "out of memory");
		return -1;
	}
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
 * Checks the record under key k (kl bytes) with store result rc, expected
 * to be seq want, chained onto prev. Returns AUDIT_VERIFY_OK and its hash
 * in out, AUDIT_VERIFY_BAD, or -1.
 */
static int
check_record(EVP_MD_CTX *md, const struct audit_pubkey *pk, int rc,
    const void *k, size_t kl, const void *v, size_t vl, uint64_t want,
    const uint8_t prev[AUDIT_HASH_LEN], uint8_t out[AUDIT_HASH_LEN],
    int *is_checkpoint, struct audit_verify_report *r)
{
	Baton__Store__V1__AuditRecord	*rec;
	uint8_t				 h[AUDIT_HASH_LEN];
	uint64_t			 ks;
	int				 ret;

	if (kl != 8)
		return bad(r, want, "a record with a %zu-byte key where seq "
		    "%" PRIu64 " should be (inserted)", kl, want);
	ks = store_be64(k);
	if (ks < want)
		return bad(r, want, "a record with key %" PRIu64 " where seq "
		    "%" PRIu64 " should be (inserted)", ks, want);
	if (ks > want)
		return bad(r, want, "missing: the next record is seq %" PRIu64
		    " (removed)", ks);
	if (rc == STORE_CORRUPT)
		return bad(r, want, "fails the store's record check "
		    "(damaged or altered)");
	if ((rec = baton__store__v1__audit_record__unpack(NULL, vl,
	    v)) == NULL)
		return bad(r, want, "does not decode (torn or altered)");
	*is_checkpoint = 0;
	if (rec->seq != want)
		ret = bad(r, want, "holds seq %" PRIu64 " (moved or "
		    "reordered)", rec->seq);
	else if (rec->prev_hash.len != AUDIT_HASH_LEN ||
	    memcmp(rec->prev_hash.data, prev, AUDIT_HASH_LEN) != 0)
		ret = bad(r, want, "chain broken: prev_hash is not the hash of "
		    "seq %" PRIu64 " (a record before it was altered, removed "
		    "or inserted)", want - 1);
	else if (audit_record_hash(md, rec, h) == -1) {
		(void)snprintf(r->what, sizeof(r->what), "SHA-256 failed");
		ret = -1;
	} else if (rec->hash.len != AUDIT_HASH_LEN ||
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
	baton__store__v1__audit_record__free_unpacked(rec, NULL);
	return ret;
}

int
audit_verify(struct store *s, const struct audit_pubkey *pk,
    const struct audit_anchor *expect, struct audit_verify_report *r)
{
	struct store_cursor	*c = NULL;
	EVP_MD_CTX		*md = NULL;
	const void		*k, *v;
	size_t			 kl, vl;
	uint8_t			 prev[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
	uint64_t		 want = 1;
	int			 rc, ret = -1, cp = 0, found = 0;

	memset(r, 0, sizeof(*r));
	memset(prev, 0, sizeof(prev));
	audit_hex(prev, AUDIT_HASH_LEN, r->head_hash);
	if (pk == NULL) {
		(void)snprintf(r->what, sizeof(r->what), "no public key");
		return -1;
	}
	if ((md = EVP_MD_CTX_new()) == NULL) {
		(void)snprintf(r->what, sizeof(r->what), "out of memory");
		return -1;
	}
	if (store_begin(s, 1) != STORE_OK ||
	    store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK) {
		(void)snprintf(r->what, sizeof(r->what), "%s",
		    store_strerror(s));
		goto done;
	}
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (rc != STORE_OK && rc != STORE_CORRUPT) {
			(void)snprintf(r->what, sizeof(r->what),
			    "reading seq %" PRIu64 ": %s", want,
			    store_strerror(s));
			goto done;
		}
		ret = check_record(md, pk, rc, k, kl, v, vl, want, prev, h,
		    &cp, r);
		if (ret != AUDIT_VERIFY_OK)
			goto done;
		if (cp) {
			r->checkpoints++;
			r->last_checkpoint = want;
		}
		if (expect != NULL &&
		    memcmp(h, expect->hash, AUDIT_HASH_LEN) == 0 &&
		    (expect->seq == 0 || expect->seq == want))
			found = 1;
		else if (expect != NULL && expect->seq == want) {
			ret = bad(r, want, "differs from the anchor "
			    "(rewritten since the anchor was taken)");
			goto done;
		}
		memcpy(prev, h, AUDIT_HASH_LEN);
		r->count = want;
		r->head_seq = want;
		audit_hex(h, AUDIT_HASH_LEN, r->head_hash);
		want++;
		ret = -1;
	}
	ret = AUDIT_VERIFY_OK;
	if (expect != NULL && !found) {
		if (expect->seq != 0)
			ret = bad(r, r->head_seq + 1, "missing: the log ends at "
			    "seq %" PRIu64 " but the anchor is at seq %" PRIu64
			    " (truncated)", r->head_seq, expect->seq);
		else
			ret = bad(r, 0, "the anchor's hash is not in the log "
			    "(truncated or rewritten)");
	}
 done:
	store_cursor_close(c);
	if (store_active(s))
		store_abort(s);
	EVP_MD_CTX_free(md);
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

static int
str_is(const char *want, const char *have)
{
	return want == NULL || strcmp(want, have) == 0;
}

static int
matches(const struct audit_filter *f, const Baton__Store__V1__AuditRecord *r)
{
	if (r->time_ms < f->since_ms || r->time_ms > f->until_ms)
		return 0;
	if (f->node != NULL && strcmp(f->node, r->actor) != 0 &&
	    strcmp(f->node, r->other) != 0)
		return 0;
	return str_is(f->message_id, r->message_id) &&
	    str_is(f->event, r->event) && str_is(f->subject_ref, r->subject_ref);
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
	detail(out, &first, "disclosed", r->disclosed);
	detail(out, &first, "withheld", r->withheld);
	detail(out, &first, "reason", r->reason);
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
	"cert_sha256,peer,key_id,prev_hash,hash,signature\r\n"

/*
 * One CSV text field, always quoted. A leading = + - @ tab or CR gets a
 * "'" first so a spreadsheet shows it as text, never runs it as a formula
 * (OWASP's CSV injection advice).
 */
static void
csv_field(FILE *out, const char *v)
{
	(void)fputc('"', out);
	if (strchr("=+-@\t\r", v[0]) != NULL && v[0] != '\0')
		(void)fputc('\'', out);
	(void)put_text(out, v, TEXT_CSV);
	(void)fputs("\",", out);
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

static void
write_json_row(FILE *out, const Baton__Store__V1__AuditRecord *r)
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
	(void)fputs("}\n", out);
}

int
audit_export(struct store *s, const struct audit_filter *f,
    enum audit_format fmt, FILE *out, uint64_t *matched, char *err,
    size_t errlen)
{
	Baton__Store__V1__AuditRecord	*r;
	struct store_cursor		*c = NULL;
	const void			*k, *v;
	size_t				 kl, vl;
	uint64_t			 n = 0, ks;
	int				 rc, ret = -1;

	if (matched != NULL)
		*matched = 0;
	if (store_begin(s, 1) != STORE_OK ||
	    store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK) {
		seterr(err, errlen, "%s", store_strerror(s));
		goto fail;
	}
	if (fmt == AUDIT_FORMAT_TABLE)
		write_table_header(out);
	else if (fmt == AUDIT_FORMAT_CSV)
		(void)fputs(CSV_HEADER, out);
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		ks = kl == 8 ? store_be64(k) : 0;
		if (rc == STORE_CORRUPT) {
			seterr(err, errlen, "audit record %" PRIu64 " is "
			    "damaged (run batonctl audit verify)", ks);
			goto fail;
		}
		if (rc != STORE_OK) {
			seterr(err, errlen, "reading the audit log: %s",
			    store_strerror(s));
			goto fail;
		}
		if ((r = baton__store__v1__audit_record__unpack(NULL, vl,
		    v)) == NULL) {
			seterr(err, errlen, "audit record %" PRIu64 " does not "
			    "decode (run batonctl audit verify)", ks);
			goto fail;
		}
		if (matches(f, r)) {
			if (fmt == AUDIT_FORMAT_TABLE)
				write_table_row(out, r);
			else if (fmt == AUDIT_FORMAT_CSV)
				write_csv_row(out, r);
			else
				write_json_row(out, r);
			n++;
		}
		baton__store__v1__audit_record__free_unpacked(r, NULL);
		if (ferror(out)) {
			seterr(err, errlen, "write error");
			goto fail;
		}
	}
	if (fflush(out) == EOF || ferror(out)) {
		seterr(err, errlen, "write error");
		goto fail;
	}
	ret = 0;
 fail:
	store_cursor_close(c);
	if (store_active(s))
		store_abort(s);
	if (matched != NULL)
		*matched = n;
	return ret;
}
