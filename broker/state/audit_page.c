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

/* What a page does with each record that matches. */
struct page_sink {
	audit_page_fn	 each;		/* NULL: write a row of fmt to out */
	void		*arg;
	enum audit_format fmt;
	FILE		*out;		/* NULL: no byte budget */
	long		 start;		/* out's position at the page's start */
	size_t		 max_bytes;
};

/* 1 while the page may read on: out has room left, or there is no out. */
static int
sink_has_room(const struct page_sink *k)
{
	return k->out == NULL || ftell(k->out) - k->start < (long)k->max_bytes;
}

/*
 * One stored record at seq ks: handed to the sink if it matches f (NULL:
 * every record). 0, or -1 with err set (it does not decode, the sink
 * failed, or out has a write error).
 */
static int
page_record(const struct audit_filter *f, struct page_sink *k,
    struct audit_page *p, uint64_t ks, const void *v, size_t vl, char *err,
    size_t errlen)
{
	Baton__Store__V1__AuditRecord *r;
	int rc = 0;

	if ((r = baton__store__v1__audit_record__unpack(NULL, vl, v)) == NULL ||
	    r->seq != ks) {
		if (r != NULL)
			baton__store__v1__audit_record__free_unpacked(r, NULL);
		errbuf_set(err, errlen, "audit record %" PRIu64 " does not "
		    "decode (run batonctl audit verify)", ks);
		return -1;
	}
	if (f == NULL || audit_filter_match(f, r)) {
		if (k->each != NULL)
			rc = k->each(k->arg, r);
		else
			audit_write_row(k->out, k->fmt, r);
		p->matched++;
	}
	baton__store__v1__audit_record__free_unpacked(r, NULL);
	if (rc != 0 || (k->out != NULL && ferror(k->out))) {
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* The page proper: records past p->after, up to p->upto, to the sink. */
static int
page_walk(struct store *s, const struct audit_filter *f, struct audit_page *p,
    unsigned max_scan, struct page_sink *k, char *err, size_t errlen)
{
	struct store_cursor	*c = NULL;
	const void		*key, *v;
	size_t			 kl, vl;
	uint64_t		 ks;
	unsigned		 scanned = 0;
	int			 rc, ret = -1;

	if (p->done)
		return 0;
	if (store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK) {
		errbuf_set(err, errlen, "%s", store_strerror(s));
		return -1;
	}
	for (rc = seek_after(c, p->after, &key, &kl, &v, &vl);
	    rc != STORE_NOTFOUND && scanned < max_scan && sink_has_room(k);
	    rc = store_cursor_next(c, &key, &kl, &v, &vl)) {
		ks = kl == 8 ? store_be64(key) : 0;
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
		if (page_record(f, k, p, ks, v, vl, err, errlen) == -1)
			goto fail;
		p->after = ks;
		scanned++;
	}
	if (rc == STORE_NOTFOUND || p->after >= p->upto ||
	    (rc == STORE_OK && kl == 8 && store_be64(key) > p->upto))
		p->done = 1;
	ret = 0;
 fail:
	store_cursor_close(c);
	return ret;
}

int
audit_page_read(struct store *s, const struct audit_filter *f,
    enum audit_format fmt, struct audit_page *p, size_t max_bytes,
    unsigned max_scan, FILE *out, char *err, size_t errlen)
{
	struct page_sink k = { NULL, NULL, fmt, out, ftell(out), max_bytes };

	return page_walk(s, f, p, max_scan, &k, err, errlen);
}

int
audit_page_feed(struct store *s, const struct audit_filter *f,
    struct audit_page *p, unsigned max_scan, audit_page_fn each, void *arg,
    char *err, size_t errlen)
{
	struct page_sink k = { each, arg, AUDIT_FORMAT_JSONL, NULL, 0, 0 };

	return page_walk(s, f, p, max_scan, &k, err, errlen);
}

void
audit_page_header(FILE *out, enum audit_format fmt)
{
	audit_write_header(out, fmt);
}
