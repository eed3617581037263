/*
 * audit_page.c - paged, resumable reads of the audit log (see
 * audit_page.h). Only reads; one record decoded at a time.
 */
#include <inttypes.h>
#include <stdio.h>

#include "audit_page.h"
#include "audit_verify_int.h"
#include "errbuf.h"
#include "store.pb-c.h"

/* Positions c at the first record past after: its result, as the cursor's. */
static int
seek_after(struct store_cursor *c, uint64_t after, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	uint8_t key[8];

	if (after == UINT64_MAX)
		return STORE_NOTFOUND;
	store_u64be(key, after + 1);
	return store_cursor_seek(c, key, sizeof(key), k, kl, v, vl);
}

/* One stored record at seq ks: written if it matches. 0, or -1 (err). */
static int
page_record(const struct audit_filter *f, enum audit_format fmt,
    struct audit_page *p, uint64_t ks, const void *v, size_t vl, FILE *out,
    char *err, size_t errlen)
{
	Baton__Store__V1__AuditRecord *r;

	if ((r = baton__store__v1__audit_record__unpack(NULL, vl, v)) == NULL ||
	    r->seq != ks) {
		if (r != NULL)
			baton__store__v1__audit_record__free_unpacked(r, NULL);
		errbuf_set(err, errlen, "audit record %" PRIu64 " does not "
		    "decode (run batonctl audit verify)", ks);
		return -1;
	}
	if (audit_filter_match(f, r)) {
		audit_write_row(out, fmt, r);
		p->matched++;
	}
	baton__store__v1__audit_record__free_unpacked(r, NULL);
	return 0;
}

int
audit_page_read(struct store *s, const struct audit_filter *f,
    enum audit_format fmt, struct audit_page *p, size_t max_bytes,
    unsigned max_scan, FILE *out, char *err, size_t errlen)
{
	struct store_cursor	*c = NULL;
	const void		*k, *v;
	size_t			 kl, vl;
	uint64_t		 ks;
	long			 start = ftell(out);
	unsigned		 scanned = 0;
	int			 rc, ret = -1;

	if (p->done)
		return 0;
	if (store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK) {
		errbuf_set(err, errlen, "%s", store_strerror(s));
		return -1;
	}
	for (rc = seek_after(c, p->after, &k, &kl, &v, &vl);
	    rc != STORE_NOTFOUND && scanned < max_scan &&
	    ftell(out) - start < (long)max_bytes;
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
		if (ks > p->upto)
			break;
		if (ks != p->after + 1 && p->after != 0) {
			errbuf_set(err, errlen, "audit records after %" PRIu64
			    " were archived or are missing while this query "
			    "ran", p->after);
			goto fail;
		}
		if (page_record(f, fmt, p, ks, v, vl, out, err, errlen) == -1)
			goto fail;
		p->after = ks;
		scanned++;
		if (ferror(out)) {
			errbuf_set(err, errlen, "out of memory");
			goto fail;
		}
	}
	if (rc == STORE_NOTFOUND || p->after >= p->upto ||
	    (rc == STORE_OK && kl == 8 && store_be64(k) > p->upto))
		p->done = 1;
	ret = 0;
 fail:
	store_cursor_close(c);
	return ret;
}

void
audit_page_header(FILE *out, enum audit_format fmt)
{
	audit_write_header(out, fmt);
}
