/*
 * fuzz_decode_time.c - libFuzzer target: frame_decode takes time linear in
 * the frame's length (issue 9: protobuf-c merged 595,000 repeats of one
 * singular sub-message at quadratic cost, 55 s for a 4 MB Submit).
 *
 * The input is a place and a unit: the first byte picks where the unit
 * goes (at the top of a Frame, or inside a Submit's handover, a Deliver's,
 * a Status, ...), the rest is the unit. The unit is repeated to SMALL_BYTES
 * and, the same unit at the same place, four times as often (256 KiB);
 * each body is decoded and the CPU time of frame_decode and frame_free
 * measured. Two checks, either of which aborts:
 *
 * - Growth: linear decoding takes about 4 times as long for 4 times the
 *   bytes, quadratic about 16 times. The large body may take at most
 *   GROWTH_BOUND (8, between the two) times the small one's time plus
 *   GROWTH_SLACK_NS, the slack keeping bodies decoded in microseconds,
 *   whose times are noise, out of the verdict. A ratio holds whatever the
 *   machine's speed or load: a slower machine makes both times longer.
 * - Absolute, for the large body: BOUND_NS_PER_BYTE per byte plus
 *   BOUND_NS_CONSTANT. In this build (ASan, UBSan, libFuzzer), at 256 KiB,
 *   the old decoder took 6 to 8 s on the quadratic seeds (the issue's
 *   pattern and its kin, corpus/decode_time/01, 03 and 08) and at most
 *   about 0.2 s on linear ones that unpack 130,000 small messages; the
 *   fixed one refuses or decodes any seed in under 50 ms. 1.5 s sits
 *   between, far from both.
 *
 * CPU time, not wall time, is measured, so waiting for a CPU does not
 * count. Measured with the old decoder (protobuf-c's unpack alone) on a
 * loaded 2-core machine: the pattern took 1.5 s at 64 KiB and 30 s
 * at 256 KiB (20 times as long), failing both checks; the linear seeds
 * took 3.3 to 4.2 times as long at 256 KiB as at 64 KiB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "frame.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define SMALL_BYTES		(64u * 1024u)
#define GROWTH_BOUND		8u	/* linear: 4; quadratic: 16 */
#define GROWTH_SLACK_NS		50000000u		/* 50 ms */
#define BOUND_NS_PER_BYTE	4000u			/* 1 s at 256 KiB */
#define BOUND_NS_CONSTANT	500000000u		/* 0.5 s */
#define MAX_PATH		5

/* Where the repeated unit goes: field numbers from the Frame inwards. */
static const struct place {
	unsigned	n;
	uint32_t	fields[MAX_PATH];
} places[] = {
	{ 0, { 0 } },			/* a Frame's own fields */
	{ 3, { 3, 1, 5 } },		/* Submit.envelope.handover */
	{ 1, { 3 } },			/* Submit */
	{ 2, { 3, 1 } },		/* Submit.envelope */
	{ 4, { 3, 1, 5, 5 } },		/* ...handover.contacts */
	{ 4, { 3, 1, 5, 7 } },		/* ...handover.medication... */
	{ 3, { 6, 1, 5 } },		/* Deliver.envelope.handover */
	{ 1, { 6 } },			/* Deliver */
	{ 1, { 12 } },			/* Status */
	{ 1, { 13 } },			/* Notice */
};

static size_t
varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/*
 * Builds the body: the wrappers of pl, outermost first, then the unit
 * repeated reps times. Returns it (free()) with *len set.
 */
static uint8_t *
build_body(const struct place *pl, const uint8_t *unit, size_t ulen,
    size_t reps, size_t *len)
{
	size_t inner[MAX_PATH + 1], total, i;
	uint8_t *body, *p;

	inner[pl->n] = reps * ulen;
	for (i = pl->n; i > 0; i--)
		inner[i - 1] = varint_len((uint64_t)pl->fields[i - 1] << 3 | 2) +
		    varint_len(inner[i]) + inner[i];
	total = inner[0];
	if ((body = malloc(total)) == NULL)
		abort();
	p = body;
	for (i = 0; i < pl->n; i++) {
		p = put_varint(p, (uint64_t)pl->fields[i] << 3 | 2);
		p = put_varint(p, inner[i + 1]);
	}
	for (i = 0; i < reps; i++, p += ulen)
		memcpy(p, unit, ulen);
	*len = total;
	return body;
}

static uint64_t
cpu_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		abort();
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The CPU time of decoding (and freeing) unit repeated reps times at pl. */
static uint64_t
decode_ns(const struct place *pl, const uint8_t *unit, size_t ulen,
    size_t reps, size_t *len)
{
	uint64_t t0, spent;
	uint8_t *body;
	Frame *f;
	int st;

	body = build_body(pl, unit, ulen, reps, len);
	t0 = cpu_ns();
	f = frame_decode(body, *len, &st);
	frame_free(f);
	spent = cpu_ns() - t0;
	free(body);
	return spent;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct place *pl;
	uint64_t small_ns, large_ns;
	size_t reps, small_len, large_len;

	if (size < 2)
		return 0;
	pl = &places[data[0] % (sizeof(places) / sizeof(places[0]))];
	reps = SMALL_BYTES / (size - 1);
	if (reps == 0)
		reps = 1;
	small_ns = decode_ns(pl, data + 1, size - 1, reps, &small_len);
	large_ns = decode_ns(pl, data + 1, size - 1, 4 * reps, &large_len);
	/* super-linear in either sense: the input is the reproducer */
	if (large_ns > GROWTH_SLACK_NS + (uint64_t)GROWTH_BOUND * small_ns)
		abort();
	if (large_ns > BOUND_NS_CONSTANT + (uint64_t)BOUND_NS_PER_BYTE * large_len)
		abort();
	return 0;
}
