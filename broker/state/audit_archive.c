/*
 * audit_archive.c - archives of the audit log: reading one back and
 * verifying it as part of the chain (audit_verifier_archive), choosing
 * the range to archive (audit_archive_plan) and writing it out
 * (audit_archive_write). Removing the archived records is audit.c's (it
 * writes); walking the chain is audit_verify.c's.
 *
 * Everything here only reads the store. What is read back from an archive
 * is untrusted input: each line is bounded (ARCHIVE_LINE_MAX) and parsed
 * by a checked, allocation-free parser of exactly what export writes.
 */
#include <sys/types.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "hex.h"
#include "audit.h"
#include "audit_int.h"
#include "audit_verify_int.h"
#include "store.pb-c.h"
#include "validate.h"

/*
 * Archives. An archive is what audit export --format jsonl writes, for a
 * range of records ending at a signed checkpoint. Reading one back parses
 * exactly that: one flat JSON object per line, with every field of the
 * record, each once; strings are decoded in place (an escape is never
 * shorter than what it stands for), so a line costs no allocation.
 */

#define ARCHIVE_LINE_MAX	(256 * 1024)	/* 18 fields x 1 KiB, escaped */
#define ARCHIVE_SIG_MAX		128

/* One parsed line: the record and the bytes its hex fields decode to. */
struct jrec {
	Baton__Store__V1__AuditRecord	 rec;
	const char			*time;
	uint8_t				 prev[AUDIT_HASH_LEN];
	uint8_t				 hash[AUDIT_HASH_LEN];
	uint8_t				 sig[ARCHIVE_SIG_MAX];
	uint32_t			 seen;	/* bit per field below */
	uint32_t			 nulls;	/* bit per time given as null */
};

/*
 * The members of a line: the first J_FORMAT1 are every record's (all an
 * archive written before record format 2 has); the rest come with
 * format 2 and are all there when its "format" is 2 or more. A record of
 * format 1 exported since has them too, empty and null.
 */
static const char *const jfields[] = {
	"seq", "time", "time_ms", "event", "actor", "actor_role",
	"actor_org", "other", "message_id", "subject_ref", "disclosed",
	"withheld", "outcome", "reason", "cert_serial", "cert_sha256",
	"peer", "key_id", "prev_hash", "hash", "signature",
	"format", "risk", "kind", "since_submit_ms", "since_delivery_ms",
	"detail",
};
#define NJFIELDS	(sizeof(jfields) / sizeof(jfields[0]))
#define J_FORMAT1	21		/* members up to "signature" */
#define J_FORMAT	21		/* index of "format" */
#define J_SINCE_SUBMIT	24
#define J_SINCE_DELIVERY 25
#define J_MASK(n)	((1u << (n)) - 1)

static char *
skip_ws(char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\r')
		p++;
	return p;
}

static int
hex4(const char *p, uint32_t *v)
{
	int	 i, d;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if ((d = OPENSSL_hexchar2int((unsigned char)p[i])) < 0)
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

/* Writes code point c as UTF-8 at *o, advancing it. */
static void
put_utf8(char **o, uint32_t c)
{
	unsigned char	*u = (unsigned char *)*o;

	if (c < 0x80)
		*u++ = (unsigned char)c;
	else if (c < 0x800) {
		*u++ = (unsigned char)(0xc0 | c >> 6);
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*u++ = (unsigned char)(0xe0 | c >> 12);
		*u++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	} else {
		*u++ = (unsigned char)(0xf0 | c >> 18);
		*u++ = (unsigned char)(0x80 | ((c >> 12) & 0x3f));
		*u++ = (unsigned char)(0x80 | ((c >> 6) & 0x3f));
		*u++ = (unsigned char)(0x80 | (c & 0x3f));
	}
	*o = (char *)u;
}

/* One \u escape at p (after the backslash and 'u'), with a surrogate pair. */
static char *
json_u_escape(char *p, char **o)
{
	uint32_t	 c, lo;

	if (hex4(p, &c) == -1)
		return NULL;
	p += 4;
	if (c >= 0xdc00 && c <= 0xdfff)
		return NULL;
	if (c >= 0xd800 && c <= 0xdbff) {
		if (p[0] != '\\' || p[1] != 'u' || hex4(p + 2, &lo) == -1 ||
		    lo < 0xdc00 || lo > 0xdfff)
			return NULL;
		c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
		p += 6;
	}
	put_utf8(o, c);
	return p;
}

/*
 * Decodes the JSON string starting at p (at its opening quote) in place;
 * *out is the NUL-terminated result. Returns the character after the
 * closing quote, or NULL if it is not a valid string.
 */
static char *
json_string(char *p, char **out)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char		*e;
	char			*o;

	if (*p++ != '"')
		return NULL;
	*out = o = p;
	while (*p != '"') {
		if (*p == '\0' || (unsigned char)*p < 0x20)
			return NULL;
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		if (*p == 'u') {
			if ((p = json_u_escape(p + 1, &o)) == NULL)
				return NULL;
		} else if (*p != '\0' && (e = strchr(from, *p)) != NULL) {
			*o++ = to[e - from];
			p++;
		} else
			return NULL;
	}
	*o = '\0';
	return p + 1;
}

/* A JSON integer at p into *v (signed when neg_ok); the next character. */
static char *
json_int(char *p, int neg_ok, int64_t *sv, uint64_t *uv)
{
	uint64_t	 v = 0, lim;
	int		 neg = 0, digits = 0;

	if (*p == '-' && neg_ok) {
		neg = 1;
		p++;
	}
	lim = neg ? (uint64_t)INT64_MAX + 1 : neg_ok ? (uint64_t)INT64_MAX :
	    UINT64_MAX;
	if (*p == '0' && isdigit((unsigned char)p[1]))
		return NULL;
	for (; isdigit((unsigned char)*p); p++, digits++) {
		if (v > (lim - (uint64_t)(*p - '0')) / 10)
			return NULL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (digits == 0)
		return NULL;
	if (uv != NULL)
		*uv = v;
	if (sv != NULL)
		*sv = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN :
		    -(int64_t)v) : (int64_t)v;
	return p;
}

/* Decodes hex text into buf (at most max bytes), for a bytes field. */
static int
json_hex_bytes(const char *hex, uint8_t *buf, size_t max,
    ProtobufCBinaryData *out)
{
	size_t	 n = strlen(hex);

	if (n % 2 != 0 || n / 2 > max || hex_decode(hex, n / 2, buf) == -1)
		return -1;
	out->data = n > 0 ? buf : NULL;
	out->len = n / 2;
	return 0;
}

/* Stores the string value of field i in j. */
static int
jrec_set_string(struct jrec *j, size_t i, char *val)
{
	char	**strs[] = { &j->rec.event, &j->rec.actor,
	    &j->rec.actor_role, &j->rec.actor_org, &j->rec.other,
	    &j->rec.message_id, &j->rec.subject_ref, &j->rec.disclosed,
	    &j->rec.withheld, &j->rec.outcome, &j->rec.reason,
	    &j->rec.cert_serial, &j->rec.cert_sha256, &j->rec.peer,
	    &j->rec.key_id };

	if (i == 1)
		j->time = val;
	else if (i >= 3 && i <= 17)
		*strs[i - 3] = val;
	else if (i == 22)
		j->rec.risk = val;
	else if (i == 23)
		j->rec.kind = val;
	else if (i == 26)
		j->rec.detail = val;
	else if (i == 18)
		return json_hex_bytes(val, j->prev, AUDIT_HASH_LEN,
		    &j->rec.prev_hash);
	else if (i == 19)
		return json_hex_bytes(val, j->hash, AUDIT_HASH_LEN,
		    &j->rec.hash);
	else if (i == 20)
		return json_hex_bytes(val, j->sig, sizeof(j->sig),
		    &j->rec.signature);
	else
		return -1;
	return 0;
}

/* A record format, at most a 32-bit number; the next character. */
static char *
json_format(char *p, uint32_t *out)
{
	uint64_t	 v;

	if ((p = json_int(p, 0, NULL, &v)) == NULL || v > UINT32_MAX)
		return NULL;
	*out = (uint32_t)v;
	return p;
}

/*
 * The members format 2 added, once the line is read: all of them with
 * format 2 or later, a null time standing for -1 (none); with format 1,
 * none or all of them empty (a null time is the 0 such records hold).
 * 0, or -1 with why set.
 */
static int
jrec_format(struct jrec *j, const char **why)
{
	uint32_t	 f2 = J_MASK(NJFIELDS) & ~J_MASK(J_FORMAT1);

	if (j->rec.format >= AUDIT_FORMAT_2) {
		if ((j->seen & f2) != f2) {
			*why = "a field of the record is missing";
			return -1;
		}
		if (j->nulls & (1u << J_SINCE_SUBMIT))
			j->rec.since_submit_ms = -1;
		if (j->nulls & (1u << J_SINCE_DELIVERY))
			j->rec.since_delivery_ms = -1;
		return 0;
	}
	if ((j->seen & f2) != 0 && (j->seen & f2) != f2) {
		*why = "a field of the record is missing";
		return -1;
	}
	/* format-1 times are absent, however written; others check below */
	if ((j->seen & f2) != 0 && (j->nulls & (1u << J_SINCE_SUBMIT |
	    1u << J_SINCE_DELIVERY)) != (1u << J_SINCE_SUBMIT |
	    1u << J_SINCE_DELIVERY)) {
		*why = "a format-1 record with times of format 2 (altered)";
		return -1;
	}
	return 0;
}

/* One "name": value pair at p; the character after the value, or NULL. */
static char *
jrec_member(struct jrec *j, char *p)
{
	char	*name, *val;
	size_t	 i;

	if ((p = json_string(p, &name)) == NULL)
		return NULL;
	for (i = 0; i < NJFIELDS && strcmp(name, jfields[i]) != 0; i++)
		;
	if (i == NJFIELDS || (j->seen & (1u << i)) != 0)
		return NULL;		/* unknown or repeated */
	j->seen |= 1u << i;
	p = skip_ws(p);
	if (*p++ != ':')
		return NULL;
	p = skip_ws(p);
	if (i == 0)
		return json_int(p, 0, NULL, &j->rec.seq);
	if (i == 2)
		return json_int(p, 1, &j->rec.time_ms, NULL);
	if (i == J_FORMAT)
		return json_format(p, &j->rec.format);
	if (i == J_SINCE_SUBMIT || i == J_SINCE_DELIVERY) {
		if (strncmp(p, "null", 4) == 0) {
			j->nulls |= 1u << i;
			return p + 4;
		}
		return json_int(p, 1, i == J_SINCE_SUBMIT ?
		    &j->rec.since_submit_ms : &j->rec.since_delivery_ms, NULL);
	}
	if ((p = json_string(p, &val)) == NULL ||
	    jrec_set_string(j, i, val) == -1)
		return NULL;
	return p;
}

/*
 * Parses one line (NUL-terminated, newline removed) into j. Returns 0, or
 * -1 with why set.
 */
static int
jrec_parse(char *line, struct jrec *j, const char **why)
{
	Baton__Store__V1__AuditRecord	 init =
	    BATON__STORE__V1__AUDIT_RECORD__INIT;
	char				 t[AUDIT_TIME_LEN + 1];
	char				*p = skip_ws(line);

	memset(j, 0, sizeof(*j));
	j->rec = init;
	*why = "not a JSON record as audit export writes it";
	if (*p++ != '{')
		return -1;
	for (p = skip_ws(p); *p != '}'; p = skip_ws(p + 1)) {
		if ((p = jrec_member(j, p)) == NULL)
			return -1;
		p = skip_ws(p);
		if (*p == '}')
			break;
		if (*p != ',')
			return -1;
	}
	if (*skip_ws(p + 1) != '\0')
		return -1;
	if ((j->seen & J_MASK(J_FORMAT1)) != J_MASK(J_FORMAT1)) {
		*why = "a field of the record is missing";
		return -1;
	}
	if (jrec_format(j, why) == -1)
		return -1;
	if (j->rec.seq == 0) {
		*why = "seq 0";
		return -1;
	}
	/* The time people read must be the time the hash covers. */
	audit_time_format(j->rec.time_ms, t);
	if (strcmp(t, j->time) != 0) {
		*why = "its time does not match its time_ms (altered)";
		return -1;
	}
	return 0;
}

/*
 * Reads one line of at most ARCHIVE_LINE_MAX bytes into buf, hashing the
 * raw bytes. Returns its length with the newline removed, 0 at the end of
 * the file, or -1 (too long, incomplete or a read error; *why says).
 */
static ssize_t
archive_line(FILE *in, char *buf, EVP_MD_CTX *sha, const char **why)
{
	size_t	 n;

	if (fgets(buf, ARCHIVE_LINE_MAX, in) == NULL) {
		*why = ferror(in) ? "read error" : NULL;
		return ferror(in) ? -1 : 0;
	}
	n = strlen(buf);
	(void)EVP_DigestUpdate(sha, buf, n);
	if (n == 0 || buf[n - 1] != '\n') {
		*why = n == ARCHIVE_LINE_MAX - 1 ? "a line longer than any "
		    "record" : "the last line is incomplete (cut short)";
		return -1;
	}
	buf[--n] = '\0';
	return (ssize_t)(n + 1);
}

/* Prefixes r->what with the archive's name and line. */
static int
in_archive(struct audit_verify_report *r, int ret, const char *name,
    uint64_t line)
{
	char	 what[sizeof(r->what)];

	/* The name is cut first, so that the reason always shows. */
	(void)snprintf(what, sizeof(what), "%s", r->what);
	(void)snprintf(r->what, sizeof(r->what), "in %.120s, line %" PRIu64
	    ": %.360s", name, line, what);
	return ret;
}

/* Walks the lines of one archive. */
static int
walk_archive(struct audit_verifier *v, FILE *in, const char *name,
    char *buf, EVP_MD_CTX *sha, int *last_cp)
{
	struct audit_verify_report	*r = v->r;
	struct jrec			 j;
	const char			*why;
	uint64_t			 line = 0;
	ssize_t				 n;
	int				 ret;

	while ((n = archive_line(in, buf, sha, &why)) != 0) {
		line++;
		if (n == -1)
			return in_archive(r, bad(r, v->want, "%s", why), name,
			    line);
		if (jrec_parse(buf, &j, &why) == -1)
			return in_archive(r, bad(r, v->want, "%s", why), name,
			    line);
		if (v->want != 0 && j.rec.seq > v->want)
			ret = bad(r, v->want, "missing: the next record is seq "
			    "%" PRIu64 " (removed)", j.rec.seq);
		else
			ret = audit_verifier_step(v, &j.rec);
		if (ret != AUDIT_VERIFY_OK)
			return in_archive(r, ret, name, line);
		*last_cp = strcmp(j.rec.event, AUDIT_CHECKPOINT) == 0;
		r->archive_records++;
		if (r->archive_first == 0)
			r->archive_first = j.rec.seq;
		r->archive_last = j.rec.seq;
	}
	return AUDIT_VERIFY_OK;
}

int
audit_verifier_archive(struct audit_verifier *v, FILE *in, const char *name)
{
	struct audit_verify_report	*r = v->r;
	EVP_MD_CTX			*sha = NULL;
	uint8_t				 h[AUDIT_HASH_LEN];
	unsigned int			 hl;
	char				*buf = NULL;
	int				 ret, last_cp = 0;

	r->archive_first = r->archive_last = r->archive_records = 0;
	r->archive_sha256[0] = '\0';
	if (v->pk == NULL)
		return cannot(r, "no public key");
	if ((buf = malloc(ARCHIVE_LINE_MAX)) == NULL ||
	    (sha = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
		ret = cannot(r, "out of memory");
		goto done;
	}
	ret = walk_archive(v, in, name, buf, sha, &last_cp);
	if (ret != AUDIT_VERIFY_OK)
		goto done;
	if (r->archive_records == 0)
		ret = bad(r, v->want, "%s holds no records", name);
	else if (!last_cp)
		ret = bad(r, v->want, "%s does not end with a signed "
		    "checkpoint: records after seq %" PRIu64 " are missing (cut "
		    "short)", name, r->archive_last);
	else if (EVP_DigestFinal_ex(sha, h, &hl) != 1)
		ret = cannot(r, "SHA-256 failed");
	else
		hex_encode(h, AUDIT_HASH_LEN, r->archive_sha256);
 done:
	EVP_MD_CTX_free(sha);
	free(buf);
	return ret;
}

/* Archiving: choosing the range and writing it out. */

struct plan_walk {
	struct audit_archive_plan	*p;
	uint64_t			 upto;
	int64_t				 before_ms;
	int64_t				 newest_ms;	/* so far */
	int				 closed;	/* no later cut can qualify */
};

/* Called for each verified record: is a cut after it allowed? */
static int
plan_each(void *arg, const Baton__Store__V1__AuditRecord *rec, int cp)
{
	struct plan_walk		*w = arg;
	struct audit_archive_plan	*p = w->p;

	if (p->first == 0) {
		p->first = rec->seq;
		p->first_ms = rec->time_ms;
		w->newest_ms = rec->time_ms;
	}
	if (rec->time_ms > w->newest_ms)
		w->newest_ms = rec->time_ms;
	if (!cp || w->closed)
		return 0;
	if (rec->seq <= w->upto && w->newest_ms < w->before_ms) {
		p->last = rec->seq;
		memcpy(p->last_hash, rec->hash.data, AUDIT_HASH_LEN);
		p->newest_ms = w->newest_ms;
		return 0;
	}
	/* Seqs only grow and so does the newest time: no later cut fits. */
	w->closed = 1;
	p->skipped_seq = rec->seq;
	p->skipped_why = rec->seq > w->upto ? "seq" : "time";
	return 0;
}

int
audit_archive_plan(struct store *s, const struct audit_pubkey *pk,
    uint64_t upto, int64_t before_ms, struct audit_archive_plan *p,
    struct audit_verify_report *r)
{
	struct audit_verifier	*v;
	struct plan_walk	 w;
	int			 ret;

	memset(p, 0, sizeof(*p));
	memset(&w, 0, sizeof(w));
	w.p = p;
	w.upto = upto;
	w.before_ms = before_ms;
	if ((v = audit_verifier_new(pk, NULL, r)) == NULL)
		return -1;
	v->each = plan_each;
	v->arg = &w;
	ret = audit_verifier_store(v, s);
	audit_verifier_free(v);
	p->head_seq = r->head_seq;
	if (ret != AUDIT_VERIFY_OK)
		p->last = 0;
	return ret;
}

struct write_walk {
	FILE				*out;
	struct audit_verify_report	*r;
};

static int
write_each(void *arg, const Baton__Store__V1__AuditRecord *rec, int cp)
{
	struct write_walk	*w = arg;

	audit_write_json_row(w->out, rec);
	if (ferror(w->out)) {
		(void)cannot(w->r, "write error");
		return -1;
	}
	return 0;
}

int
audit_archive_write(struct store *s, const struct audit_pubkey *pk,
    const struct audit_archive_plan *p, FILE *out,
    struct audit_verify_report *r)
{
	struct audit_verifier	*v;
	struct write_walk	 w;
	char			 hex[AUDIT_REF_HEX + 1];
	int			 ret;

	if ((v = audit_verifier_new(pk, NULL, r)) == NULL)
		return -1;
	if (p->last == 0) {
		audit_verifier_free(v);
		return cannot(r, "nothing to archive");
	}
	w.out = out;
	w.r = r;
	v->each = write_each;
	v->arg = &w;
	v->stop_after = p->last;
	ret = audit_verifier_store(v, s);
	audit_verifier_free(v);
	if (ret != AUDIT_VERIFY_OK)
		return ret;
	hex_encode(p->last_hash, AUDIT_HASH_LEN, hex);
	if (r->first_seq != p->first || r->head_seq != p->last ||
	    strcmp(r->head_hash, hex) != 0)
		return cannot(r, "the log changed since it was verified "
		    "(another archive?); run it again");
	if (fflush(out) == EOF || ferror(out))
		return cannot(r, "write error");
	return AUDIT_VERIFY_OK;
}
