/*
 * agreement.c - agreement records on top of the store (see agreement.h).
 *
 * A record is a baton.store.v1.Agreement under its id in
 * STORE_AGREEMENTS. What is read back is checked like network input: its
 * own id must match its key, strings must fit struct agreement's buffers
 * and section names must be known.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agreement.h"
#include "pbarena.h"
#include "store.pb-c.h"

#define AGREEMENT_SEQ	"agreements"

enum agreement_state
agreement_state(const struct agreement *a, int64_t now)
{
	if (a->ended_at_ms != 0 && a->ended_at_ms <= now)
		return AGREEMENT_ENDED;
	if (now < a->from_ms)
		return AGREEMENT_PENDING;
	if (now >= a->until_ms)
		return AGREEMENT_LAPSED;
	return AGREEMENT_IN_FORCE;
}

const char *
agreement_state_name(enum agreement_state st)
{
	switch (st) {
	case AGREEMENT_PENDING:
		return "pending";
	case AGREEMENT_IN_FORCE:
		return "in force";
	case AGREEMENT_LAPSED:
		return "lapsed";
	case AGREEMENT_ENDED:
		return "ended";
	}
	return "unknown";
}

int
agreement_between(const struct agreement *a, const char *o1, const char *o2)
{
	return (strcmp(a->org_a, o1) == 0 && strcmp(a->org_b, o2) == 0) ||
	    (strcmp(a->org_a, o2) == 0 && strcmp(a->org_b, o1) == 0);
}

int
agreement_valid_id(const char *id)
{
	size_t n;

	if (id == NULL || strncmp(id, "ag-", 3) != 0)
		return 0;
	n = strlen(id + 3);
	return n >= 1 && n <= 20 && strspn(id + 3, "0123456789") == n &&
	    id[3] != '0';
}

static int
copy_field(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int
agreement_decode(const char *key, size_t klen, const void *val, size_t vlen,
    struct agreement *out)
{
	Baton__Store__V1__Agreement *rec;
	section_mask bit;
	size_t i;
	int rc = STORE_CORRUPT;

	if ((rec = baton__store__v1__agreement__unpack(&pbarena, vlen,
	    val)) == NULL)
		return STORE_CORRUPT;
	memset(out, 0, sizeof(*out));
	if (strlen(rec->agreement_id) != klen ||
	    memcmp(rec->agreement_id, key, klen) != 0 ||
	    copy_field(out->id, sizeof(out->id), rec->agreement_id) ||
	    copy_field(out->org_a, sizeof(out->org_a), rec->org_a) ||
	    copy_field(out->org_b, sizeof(out->org_b), rec->org_b) ||
	    copy_field(out->reference, sizeof(out->reference),
	    rec->reference) ||
	    copy_field(out->created_by, sizeof(out->created_by),
	    rec->created_by) ||
	    copy_field(out->ended_by, sizeof(out->ended_by), rec->ended_by) ||
	    copy_field(out->end_reason, sizeof(out->end_reason),
	    rec->end_reason))
		goto done;
	for (i = 0; i < rec->n_sections; i++) {
		if ((bit = sections_bit(rec->sections[i])) == 0)
			goto done;
		out->sections |= bit;
	}
	out->from_ms = rec->from_ms;
	out->until_ms = rec->until_ms;
	out->created_at_ms = rec->created_at_ms;
	out->ended_at_ms = rec->ended_at_ms;
	out->lapse_warned = rec->lapse_warned;
	out->lapse_recorded = rec->lapse_recorded;
	rc = STORE_OK;
done:
	baton__store__v1__agreement__free_unpacked(rec, &pbarena);
	return rc;
}

int
agreement_get(struct store *s, const char *id, struct agreement *out)
{
	const void *val;
	size_t vlen;
	int rc;

	if (!agreement_valid_id(id))
		return STORE_NOTFOUND;
	if ((rc = store_get(s, STORE_AGREEMENTS, id, strlen(id), &val,
	    &vlen)) != STORE_OK)
		return rc;
	return agreement_decode(id, strlen(id), val, vlen, out);
}

int
agreement_put(struct store *s, const struct agreement *a)
{
	Baton__Store__V1__Agreement rec = BATON__STORE__V1__AGREEMENT__INIT;
	char *names[SECTION_COUNT];
	uint8_t *buf;
	size_t i, len;
	int rc;

	rec.agreement_id = (char *)a->id;
	rec.org_a = (char *)a->org_a;
	rec.org_b = (char *)a->org_b;
	rec.reference = (char *)a->reference;
	rec.from_ms = a->from_ms;
	rec.until_ms = a->until_ms;
	for (i = 0; i < SECTION_COUNT; i++)
		if (a->sections & ((section_mask)1u << i))
			names[rec.n_sections++] = (char *)sections_name(i);
	rec.sections = names;
	rec.created_at_ms = a->created_at_ms;
	rec.created_by = (char *)a->created_by;
	rec.ended_at_ms = a->ended_at_ms;
	rec.ended_by = (char *)a->ended_by;
	rec.end_reason = (char *)a->end_reason;
	rec.lapse_warned = a->lapse_warned != 0;
	rec.lapse_recorded = a->lapse_recorded != 0;
	len = baton__store__v1__agreement__get_packed_size(&rec);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return STORE_ERROR;
	baton__store__v1__agreement__pack(&rec, buf);
	rc = store_put(s, STORE_AGREEMENTS, a->id, strlen(a->id), buf, len);
	free(buf);
	return rc;
}

static int
count_one(const struct agreement *a, void *arg)
{
	(void)a;
	(*(size_t *)arg)++;
	return 0;
}

int
agreement_add(struct store *s, struct agreement *a)
{
	uint64_t seq;
	size_t n = 0;
	int rc;

	if ((rc = agreement_each(s, count_one, &n)) != STORE_OK)
		return rc;
	if (n >= AGREEMENT_MAX)
		return STORE_FULL;
	if ((rc = store_next_seq(s, AGREEMENT_SEQ, &seq)) != STORE_OK)
		return rc;
	snprintf(a->id, sizeof(a->id), "ag-%" PRIu64, seq);
	return agreement_put(s, a);
}

int
agreement_each(struct store *s, int (*fn)(const struct agreement *, void *),
    void *arg)
{
	struct store_cursor *c;
	struct agreement a;
	const void *k, *v;
	size_t kl, vl;
	int rc, stop = 0;

	if ((rc = store_cursor_open(s, STORE_AGREEMENTS, &c)) != STORE_OK)
		return rc == STORE_NOTFOUND ? STORE_OK : rc;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc == STORE_OK || rc == STORE_CORRUPT;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		if (rc == STORE_CORRUPT ||
		    agreement_decode(k, kl, v, vl, &a) != STORE_OK)
			continue;	/* batonctl agreement list reports it */
		if ((stop = fn(&a, arg)) != 0)
			break;
	}
	store_cursor_close(c);
	if (stop)
		return stop;
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

struct find {
	const char		*o1, *o2;
	int64_t			 now;
	struct agreement	*out;
	int			 found;
};

static int
find_one(const struct agreement *a, void *arg)
{
	struct find *f = arg;

	if (agreement_state(a, f->now) != AGREEMENT_IN_FORCE ||
	    !agreement_between(a, f->o1, f->o2))
		return 0;
	if (!f->found || a->until_ms > f->out->until_ms)
		*f->out = *a;
	f->found = 1;
	return 0;
}

int
agreement_find(struct store *s, const char *o1, const char *o2, int64_t now,
    struct agreement *out)
{
	struct find f = { o1, o2, now, out, 0 };
	int rc;

	if ((rc = agreement_each(s, find_one, &f)) != STORE_OK)
		return rc;
	return f.found ? STORE_OK : STORE_NOTFOUND;
}
