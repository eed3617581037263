/*
 * test_frame.c - the frame codec against truncated, oversize, empty and
 * garbage input, and round trips; and the wire check in front of the
 * decoder (proto/wire_check.c): repeated singular fields, oneof conflicts,
 * packed and unpacked repeated fields, the tag budget and the depth cap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>
#include <cmocka.h>

#include "frame.h"
#include "wire_check.h"

static uint8_t *
encode_ping(uint64_t nonce, size_t *len)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Ping p = BATON__V1__PING__INIT;
	uint8_t *buf = NULL;

	p.nonce = nonce;
	f.body_case = BATON__V1__FRAME__BODY_PING;
	f.ping = &p;
	assert_int_equal(frame_encode(&f, BATON_MAX_FRAME_DEFAULT, &buf, len), FRAME_OK);
	return buf;
}

static void
test_round_trip(void **state)
{
	size_t len;
	uint8_t *buf = encode_ping(42, &len);
	uint32_t n;
	int st;
	Frame *f;

	assert_int_equal(frame_parse_header(buf, len, BATON_MAX_FRAME_DEFAULT, &n), FRAME_OK);
	assert_int_equal(n + BATON_FRAME_HDR, len);
	f = frame_decode(buf + BATON_FRAME_HDR, n, &st);
	assert_non_null(f);
	assert_int_equal(st, FRAME_OK);
	assert_int_equal(f->body_case, BATON__V1__FRAME__BODY_PING);
	assert_int_equal(f->ping->nonce, 42);
	assert_string_equal(frame_name(f), "ping");
	frame_free(f);
	free(buf);
}

static void
test_truncated_header(void **state)
{
	uint8_t hdr[4] = { 0, 0, 0, 5 };
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < 4; i++)
		assert_int_equal(frame_parse_header(hdr, i, 1024, &n), FRAME_NEED_MORE);
}

static void
test_truncated_body(void **state)
{
	size_t len, cut;
	uint8_t *buf = encode_ping(UINT64_MAX, &len);
	int st;

	/* every strict prefix of a varint-bearing body fails to decode */
	for (cut = 1; cut < len - BATON_FRAME_HDR; cut++) {
		Frame *f = frame_decode(buf + BATON_FRAME_HDR, cut, &st);

		assert_null(f);
		assert_int_equal(st, FRAME_MALFORMED);
	}
	free(buf);
}

static void
test_oversize(void **state)
{
	uint8_t big[4] = { 0x00, 0x10, 0x00, 0x01 };	/* 1 MiB + 1 */
	uint8_t huge[4] = { 0xff, 0xff, 0xff, 0xff };
	uint32_t n = 0;

	assert_int_equal(frame_parse_header(big, 4, 1u << 20, &n), FRAME_TOO_LARGE);
	assert_int_equal(frame_parse_header(huge, 4, BATON_MAX_FRAME_DEFAULT, &n),
	    FRAME_TOO_LARGE);
	assert_int_equal(n, 0xffffffffu);	/* the declared length, for the error */
	big[3] = 0;	/* exactly 1 MiB is allowed */
	assert_int_equal(frame_parse_header(big, 4, 1u << 20, &n), FRAME_OK);
	assert_int_equal(n, 1u << 20);
}

static void
test_empty(void **state)
{
	uint8_t z[4] = { 0, 0, 0, 0 };
	uint32_t n;

	assert_int_equal(frame_parse_header(z, 4, 1024, &n), FRAME_EMPTY);
}

static void
test_garbage(void **state)
{
	uint8_t junk[64];
	int st, i, decoded = 0;
	unsigned seed = 7;

	for (i = 0; i < 2000; i++) {
		size_t j;
		Frame *f;

		for (j = 0; j < sizeof(junk); j++)
			junk[j] = (uint8_t)(rand_r(&seed) & 0xff);
		f = frame_decode(junk, sizeof(junk), &st);
		if (f != NULL) {
			decoded++;
			assert_int_not_equal(f->body_case, BATON__V1__FRAME__BODY__NOT_SET);
			frame_free(f);
		} else
			assert_true(st < 0 && st != FRAME_NOMEM);
	}
	/* random bytes almost never form a valid frame */
	assert_true(decoded < 2000);
}

static void
test_no_body(void **state)
{
	/* an empty Frame message packs to zero bytes and sets no body; an
	 * unknown field alone is refused by the wire check before that */
	uint8_t unknown[] = { 0xa8, 0x06, 0x01 };	/* field 101, varint 1 */
	uint8_t none[1] = { 0 };
	int st;

	assert_null(frame_decode(none, 0, &st));
	assert_int_equal(st, FRAME_NO_BODY);
	assert_null(frame_decode(unknown, sizeof(unknown), &st));
	assert_int_equal(st, FRAME_UNKNOWN_FIELD);
}

static void
test_unknown_field_refused(void **state)
{
	/* ping{nonce=1} plus field 9 inside the ping, then at top level */
	uint8_t inner[] = { 0x72, 0x04, 0x08, 0x01, 0x48, 0x01 };
	uint8_t outer[] = { 0x72, 0x02, 0x08, 0x01, 0xa8, 0x06, 0x01 };
	uint8_t plain[] = { 0x72, 0x02, 0x08, 0x01 };
	Frame *f;
	int st;

	assert_null(frame_decode(inner, sizeof(inner), &st));
	assert_int_equal(st, FRAME_UNKNOWN_FIELD);
	assert_null(frame_decode(outer, sizeof(outer), &st));
	assert_int_equal(st, FRAME_UNKNOWN_FIELD);
	f = frame_decode(plain, sizeof(plain), &st);
	assert_non_null(f);
	assert_int_equal(f->ping->nonce, 1);
	frame_free(f);
}

static void
test_encode_too_large(void **state)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Error e = BATON__V1__ERROR__INIT;
	char text[2048];
	uint8_t *buf = NULL;
	size_t len;

	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	e.code = BATON__V1__CODE__CODE_INTERNAL;
	e.text = text;
	f.body_case = BATON__V1__FRAME__BODY_ERROR;
	f.error = &e;
	assert_int_equal(frame_encode(&f, 1024, &buf, &len), FRAME_TOO_LARGE);
	assert_null(buf);
	assert_int_equal(frame_encode(&f, 4096, &buf, &len), FRAME_OK);
	free(buf);
}

static void
test_code_names(void **state)
{
	assert_string_equal(frame_code_name(BATON__V1__CODE__CODE_ROUTE_NOT_ALLOWED),
	    "ROUTE_NOT_ALLOWED");
	assert_string_equal(frame_code_name(9999), "UNKNOWN_CODE");
	assert_int_equal(frame_code_from_name("STORE_FULL"),
	    BATON__V1__CODE__CODE_STORE_FULL);
	assert_int_equal(frame_code_from_name("CODE_STORE_FULL"),
	    BATON__V1__CODE__CODE_STORE_FULL);
	assert_int_equal(frame_code_from_name("NOPE"), -1);
}

/* ---- wire bytes built by hand, for the wire check ---- */

struct wbuf {
	uint8_t	*p;
	size_t	 len, cap;
};

static void
put_bytes(struct wbuf *b, const void *src, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static void
put_varint(struct wbuf *b, uint64_t v)
{
	uint8_t c;

	do {
		c = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v != 0)
			c |= 0x80;
		put_bytes(b, &c, 1);
	} while (v != 0);
}

static void
put_tag(struct wbuf *b, uint32_t field, unsigned wire_type)
{
	put_varint(b, ((uint64_t)field << 3) | wire_type);
}

/* Appends field number `field` holding the bytes of inner (length-delimited). */
static void
put_message(struct wbuf *b, uint32_t field, const struct wbuf *inner)
{
	put_tag(b, field, 2);
	put_varint(b, inner->len);
	put_bytes(b, inner->p, inner->len);
}

/* Wraps b in place as field `field` of an enclosing message. */
static void
wrap(struct wbuf *b, uint32_t field)
{
	struct wbuf outer = { NULL, 0, 0 };

	put_message(&outer, field, b);
	free(b->p);
	*b = outer;
}

/* Wraps a Handover's bytes as Frame{submit{envelope{handover}}}. */
static void
wrap_as_submit(struct wbuf *b)
{
	wrap(b, 5);	/* Envelope.handover */
	wrap(b, 1);	/* Submit.envelope */
	wrap(b, 3);	/* Frame.submit */
}

static int
decode_status(const struct wbuf *b)
{
	uint8_t none = 0;
	Frame *f;
	int st;

	f = frame_decode(b->p != NULL ? b->p : &none, b->len, &st);
	frame_free(f);
	assert_true((f != NULL) == (st == FRAME_OK));
	return st;
}

/*
 * Writes every field of a d message (reps entries for each repeated
 * field; the first member only of each oneof), sub-messages filled the
 * same way: what a sender filling in everything would send.
 */
static void
gen_message(struct wbuf *b, const ProtobufCMessageDescriptor *d, unsigned reps)
{
	unsigned i, j, k, n;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		int later_member = 0;

		for (j = 0; j < i; j++)
			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    (d->fields[j].flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    d->fields[j].quantifier_offset == f->quantifier_offset)
				later_member = 1;
		if (later_member)
			continue;
		n = f->label == PROTOBUF_C_LABEL_REPEATED ? reps : 1;
		for (k = 0; k < n; k++) {
			switch (f->type) {
			case PROTOBUF_C_TYPE_STRING:
			case PROTOBUF_C_TYPE_BYTES:
				put_tag(b, f->id, 2);
				put_bytes(b, "\x01x", 2);
				break;
			case PROTOBUF_C_TYPE_MESSAGE: {
				struct wbuf sub = { NULL, 0, 0 };

				gen_message(&sub, f->descriptor, reps);
				put_message(b, f->id, &sub);
				free(sub.p);
				break;
			}
			case PROTOBUF_C_TYPE_FIXED32:
			case PROTOBUF_C_TYPE_SFIXED32:
			case PROTOBUF_C_TYPE_FLOAT:
				put_tag(b, f->id, 5);
				put_bytes(b, "\0\0\0\0", 4);
				break;
			case PROTOBUF_C_TYPE_FIXED64:
			case PROTOBUF_C_TYPE_SFIXED64:
			case PROTOBUF_C_TYPE_DOUBLE:
				put_tag(b, f->id, 1);
				put_bytes(b, "\0\0\0\0\0\0\0\0", 8);
				break;
			default:
				put_tag(b, f->id, 0);
				put_varint(b, 1);
				break;
			}
		}
	}
}

/* The deepest nesting below d (0: no sub-messages); fails on recursion. */
static unsigned
schema_depth(const ProtobufCMessageDescriptor *d, unsigned level)
{
	unsigned i, deepest = 0;

	assert_true(level <= WIRE_MAX_DEPTH);
	assert_true(d->n_fields <= WIRE_MAX_FIELDS);
	for (i = 0; i < d->n_fields; i++) {
		unsigned n;

		if (d->fields[i].type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		n = 1 + schema_depth(d->fields[i].descriptor, level + 1);
		if (n > deepest)
			deepest = n;
	}
	return deepest;
}

static void
test_schema_within_caps(void **state)
{
	/* Frame > Submit > Envelope > Handover > Contacts > Contact */
	assert_int_equal(schema_depth(&baton__v1__frame__descriptor, 0), 5);
}

/* Every kind of frame, every field set, decodes; so does its re-encoding. */
static void
test_every_frame_kind_decodes(void **state)
{
	const ProtobufCMessageDescriptor *fd = &baton__v1__frame__descriptor;
	unsigned i;

	for (i = 0; i < fd->n_fields; i++) {
		struct wbuf b = { NULL, 0, 0 };
		uint8_t *out = NULL;
		size_t outlen;
		uint32_t n;
		Frame *f, *f2;
		int st;

		gen_message(&b, fd->fields[i].descriptor, 3);
		wrap(&b, fd->fields[i].id);
		f = frame_decode(b.p, b.len, &st);
		if (f == NULL)
			fail_msg("frame %s: %s", fd->fields[i].name, frame_status_text(st));
		assert_int_equal(f->body_case, fd->fields[i].id);
		assert_int_equal(frame_encode(f, BATON_MAX_FRAME_DEFAULT, &out, &outlen),
		    FRAME_OK);
		assert_int_equal(frame_parse_header(out, outlen, BATON_MAX_FRAME_DEFAULT,
		    &n), FRAME_OK);
		f2 = frame_decode(out + BATON_FRAME_HDR, n, &st);
		assert_non_null(f2);
		assert_int_equal(f2->body_case, fd->fields[i].id);
		frame_free(f2);
		frame_free(f);
		free(out);
		free(b.p);
	}
}

/* An older session is told only what its version knows. */
static void
test_for_version(void **state)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Receipt r = BATON__V1__RECEIPT__INIT;
	Baton__V1__Notice n = BATON__V1__NOTICE__INIT;
	Baton__V1__Deliver d = BATON__V1__DELIVER__INIT;
	Baton__V1__Envelope e = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	Baton__V1__Transition t = BATON__V1__TRANSITION__INIT;

	(void)state;
	f.body_case = BATON__V1__FRAME__BODY_RECEIPT;
	f.receipt = &r;
	r.code = BATON__V1__CODE__CODE_NO_AGREEMENT;
	frame_for_version(&f, 4);
	assert_int_equal(r.code, BATON__V1__CODE__CODE_NO_AGREEMENT);
	frame_for_version(&f, 3);
	assert_int_equal(r.code, BATON__V1__CODE__CODE_ROUTE_NOT_ALLOWED);
	r.code = BATON__V1__CODE__CODE_NO_LAWFUL_BASIS;
	frame_for_version(&f, 2);
	assert_int_equal(r.code, BATON__V1__CODE__CODE_ROUTE_NOT_ALLOWED);
	r.code = BATON__V1__CODE__CODE_DUPLICATE;
	frame_for_version(&f, 2);
	assert_int_equal(r.code, BATON__V1__CODE__CODE_DUPLICATE);

	f.body_case = BATON__V1__FRAME__BODY_NOTICE;
	f.notice = &n;
	n.kind = BATON__V1__NOTICE_KIND__NOTICE_KIND_HELD;
	frame_for_version(&f, 4);
	assert_int_equal(n.kind, BATON__V1__NOTICE_KIND__NOTICE_KIND_HELD);
	frame_for_version(&f, 3);
	assert_int_equal(n.kind, BATON__V1__NOTICE_KIND__NOTICE_KIND_UNSPECIFIED);
	n.kind = BATON__V1__NOTICE_KIND__NOTICE_KIND_EXPIRED;
	frame_for_version(&f, 3);
	assert_int_equal(n.kind, BATON__V1__NOTICE_KIND__NOTICE_KIND_EXPIRED);

	f.body_case = BATON__V1__FRAME__BODY_DELIVER;
	f.deliver = &d;
	d.envelope = &e;
	e.handover = &h;
	h.transition = &t;
	t.kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL;
	t.lawful_basis = BATON__V1__LAWFUL_BASIS__LAWFUL_BASIS_CONSENT;
	frame_for_version(&f, 4);
	assert_int_equal(t.lawful_basis,
	    BATON__V1__LAWFUL_BASIS__LAWFUL_BASIS_CONSENT);
	frame_for_version(&f, 3);
	assert_int_equal(t.lawful_basis,
	    BATON__V1__LAWFUL_BASIS__LAWFUL_BASIS_UNSPECIFIED);
	assert_int_equal(t.kind, BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL);
	/* a redacted handover may have no transition at all */
	h.transition = NULL;
	frame_for_version(&f, 3);
}

/* A handover at validation's limits (256 per list) is far under budget. */
static void
test_maximal_handover_within_budget(void **state)
{
	struct wbuf b = { NULL, 0, 0 };
	struct wire_fault fault;

	gen_message(&b, &baton__v1__handover__descriptor, 256);
	wrap_as_submit(&b);
	assert_int_equal(decode_status(&b), FRAME_OK);
	/* the arithmetic in frame.h says about 6,700 tags; hold it to 1/8 */
	assert_int_equal(wire_check(&baton__v1__frame__descriptor, b.p, b.len,
	    BATON_FRAME_MAX_TAGS / 8, &fault), WIRE_OK);
	assert_int_equal(wire_check(&baton__v1__frame__descriptor, b.p, b.len,
	    6000, &fault), WIRE_TOO_MANY_TAGS);
	free(b.p);
}

/* RiskSummary{level=3, current_risks="a"}: 08 03 12 01 61 */
static void
put_risk_summary(struct wbuf *b)
{
	put_bytes(b, "\x12\x05\x08\x03\x12\x01\x61", 7);
}

static void
test_repeated_submessage_refused(void **state)
{
	struct wbuf b = { NULL, 0, 0 };
	struct wire_fault fault;
	char why[200];

	put_risk_summary(&b);
	wrap_as_submit(&b);
	assert_int_equal(decode_status(&b), FRAME_OK);	/* once is fine */
	free(b.p);
	memset(&b, 0, sizeof(b));

	put_risk_summary(&b);
	put_risk_summary(&b);
	wrap_as_submit(&b);
	assert_int_equal(decode_status(&b), FRAME_REPEATED_FIELD);
	assert_int_equal(wire_check(&baton__v1__frame__descriptor, b.p, b.len,
	    BATON_FRAME_MAX_TAGS, &fault), WIRE_REPEATED_FIELD);
	assert_ptr_equal(fault.message, &baton__v1__handover__descriptor);
	assert_int_equal(fault.field, 2);
	assert_int_equal(b.p[fault.offset], 0x12);
	wire_fault_format(&fault, why, sizeof(why));
	assert_non_null(strstr(why, "field risk_summary (2) of baton.v1.Handover "
	    "occurs more than once"));
	free(b.p);
}

static void
test_repeated_scalar_refused(void **state)
{
	uint8_t nonce_twice[] = { 0x72, 0x04, 0x08, 0x01, 0x08, 0x02 };
	/* Envelope.message_id twice, inside a Submit */
	uint8_t id_twice[] = { 0x1a, 0x0a, 0x0a, 0x08, 0x0a, 0x02, 'a', 'b',
	    0x0a, 0x02, 'c', 'd' };
	struct wbuf b = { NULL, 0, 0 };
	int st;

	assert_null(frame_decode(nonce_twice, sizeof(nonce_twice), &st));
	assert_int_equal(st, FRAME_REPEATED_FIELD);
	assert_null(frame_decode(id_twice, sizeof(id_twice), &st));
	assert_int_equal(st, FRAME_REPEATED_FIELD);
	/* an enum twice, apart from each other: RiskSummary.level */
	put_bytes(&b, "\x12\x07\x08\x03\x12\x01\x61\x08\x02", 9);
	wrap_as_submit(&b);
	assert_int_equal(decode_status(&b), FRAME_REPEATED_FIELD);
	free(b.p);
}

static void
test_oneof_conflict_refused(void **state)
{
	uint8_t hello_ping[] = { 0x0a, 0x02, 0x08, 0x01, 0x72, 0x02, 0x08, 0x01 };
	uint8_t hello_twice[] = { 0x0a, 0x02, 0x08, 0x01, 0x0a, 0x02, 0x08, 0x01 };
	uint8_t empty_pair[] = { 0x1a, 0x00, 0x22, 0x00 };	/* submit{}, receipt{} */
	struct wire_fault fault;
	int st;

	assert_null(frame_decode(hello_ping, sizeof(hello_ping), &st));
	assert_int_equal(st, FRAME_ONEOF_CONFLICT);
	assert_int_equal(wire_check(&baton__v1__frame__descriptor, hello_ping,
	    sizeof(hello_ping), BATON_FRAME_MAX_TAGS, &fault), WIRE_ONEOF_CONFLICT);
	assert_int_equal(fault.field, 14);
	assert_int_equal(fault.offset, 4);
	assert_null(frame_decode(hello_twice, sizeof(hello_twice), &st));
	assert_int_equal(st, FRAME_REPEATED_FIELD);
	assert_null(frame_decode(empty_pair, sizeof(empty_pair), &st));
	assert_int_equal(st, FRAME_ONEOF_CONFLICT);
}

/* Repeated strings and messages, interleaved with singular fields. */
static void
test_repeated_fields_accepted(void **state)
{
	/* Deliver{withheld: a, attempt: 2, withheld: b, withheld: c} */
	uint8_t deliver[] = { 0x32, 0x0b, 0x12, 0x01, 'a', 0x18, 0x02, 0x12,
	    0x01, 'b', 0x12, 0x01, 'c' };
	/* Status{events: {}, message_id: "m", events: {at_ms: 1}} */
	uint8_t status[] = { 0x62, 0x09, 0x2a, 0x00, 0x0a, 0x01, 'm', 0x2a,
	    0x02, 0x08, 0x01 };
	Frame *f;
	int st;

	f = frame_decode(deliver, sizeof(deliver), &st);
	assert_non_null(f);
	assert_int_equal(f->deliver->n_withheld, 3);
	assert_string_equal(f->deliver->withheld[2], "c");
	assert_int_equal(f->deliver->attempt, 2);
	frame_free(f);
	f = frame_decode(status, sizeof(status), &st);
	assert_non_null(f);
	assert_int_equal(f->status->n_events, 2);
	assert_int_equal(f->status->events[1]->at_ms, 1);
	frame_free(f);
}

/*
 * The schema has no repeated numeric field, so packing is checked on a
 * message made for the test: Nums{repeated uint32 a = 1 [packed];
 * repeated fixed32 b = 2 (unpacked); repeated sint64 c = 3; string s = 4}.
 */
static const ProtobufCFieldDescriptor nums_fields[] = {
	{ "a", 1, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_UINT32, 0, 0, NULL,
	    NULL, PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL },
	{ "b", 2, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_FIXED32, 0, 0, NULL,
	    NULL, 0, 0, NULL, NULL },
	{ "c", 3, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_SINT64, 0, 0, NULL,
	    NULL, 0, 0, NULL, NULL },
	{ "s", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_STRING, 0, 0, NULL,
	    NULL, 0, 0, NULL, NULL },
};
static const unsigned nums_by_name[] = { 0, 1, 2, 3 };
static const ProtobufCIntRange nums_ranges[] = { { 1, 0 }, { 0, 4 } };
static const ProtobufCMessageDescriptor nums_descriptor = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Nums", "Nums", "Nums",
	"test", 0, 4, nums_fields, nums_by_name, 1, nums_ranges, NULL,
	NULL, NULL, NULL,
};

static enum wire_status
check_nums(const char *bytes, size_t n, size_t max_tags)
{
	return wire_check(&nums_descriptor, (const uint8_t *)bytes, n, max_tags,
	    NULL);
}

/* the bytes of a string literal, without its terminating NUL */
#define NUMS(lit)		check_nums(lit, sizeof(lit) - 1, 100)
#define NUMS_BUDGET(lit, n)	check_nums(lit, sizeof(lit) - 1, n)

static void
test_packed_and_unpacked_accepted(void **state)
{
	/* a: 1, 300 unpacked; then packed [1, 300, 2]; then 5 unpacked */
	assert_int_equal(NUMS("\x08\x01\x08\xac\x02"
	    "\x0a\x04\x01\xac\x02\x02" "\x08\x05"), WIRE_OK);
	/* b: fixed32 unpacked twice, then packed (two values) */
	assert_int_equal(NUMS("\x15\x01\0\0\0\x15\x02\0\0\0"
	    "\x12\x08\x01\0\0\0\x02\0\0\0"), WIRE_OK);
	/* c: sint64 packed although the schema does not say so; empty run */
	assert_int_equal(NUMS("\x1a\x02\x01\x7f\x1a\x00"), WIRE_OK);
	/* a packed run must hold whole values */
	assert_int_equal(NUMS("\x12\x05\x01\0\0\0\x02"), WIRE_MALFORMED);
	assert_int_equal(NUMS("\x0a\x02\x01\x80"), WIRE_MALFORMED);
	/* packed values count against the budget */
	assert_int_equal(NUMS_BUDGET("\x0a\x04\x01\x02\x03\x04", 4),
	    WIRE_TOO_MANY_TAGS);
	assert_int_equal(NUMS_BUDGET("\x0a\x04\x01\x02\x03\x04", 5), WIRE_OK);
	/* a string is never a varint; a singular string is not repeatable */
	assert_int_equal(NUMS("\x20\x01"), WIRE_MALFORMED);
	assert_int_equal(NUMS("\x22\x00\x22\x00"), WIRE_REPEATED_FIELD);
	/* fixed32 sent as a varint is the wrong wire type */
	assert_int_equal(NUMS("\x10\x01"), WIRE_MALFORMED);
}

/*
 * A Deliver sent with its envelope as stored bytes is the same frame,
 * byte for byte, as one packed from the unpacked envelope.
 */
static void
test_encode_deliver_as_is(void **state)
{
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	Baton__V1__Subject subj = BATON__V1__SUBJECT__INIT;
	Baton__V1__Deliver d = BATON__V1__DELIVER__INIT;
	Frame f = BATON__V1__FRAME__INIT, *got;
	char *withheld[] = { "safeguarding" };
	uint8_t packed[512], *a, *b;
	size_t plen, alen, blen;
	int st;

	(void)state;
	subj.nhs_number = "9434765919";
	h.subject = &subj;
	env.message_id = "provider/m-1";
	env.from = "provider";
	env.to = "cmht";
	env.handover = &h;
	plen = baton__v1__envelope__pack(&env, packed);
	d.envelope = &env;
	d.n_withheld = 1;
	d.withheld = withheld;
	d.attempt = 2;
	d.received_at_ms = 1700000000123;
	f.body_case = BATON__V1__FRAME__BODY_DELIVER;
	f.deliver = &d;
	assert_int_equal(frame_encode(&f, 1 << 20, &a, &alen), FRAME_OK);
	/* refused while the envelope is also set: it would go twice */
	assert_int_not_equal(frame_encode_deliver(&d, packed, plen, 1 << 20,
	    &b, &blen), FRAME_OK);
	d.envelope = NULL;
	assert_int_equal(frame_encode_deliver(&d, packed, plen, 1 << 20, &b,
	    &blen), FRAME_OK);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	got = frame_decode(b + BATON_FRAME_HDR, blen - BATON_FRAME_HDR, &st);
	assert_non_null(got);
	assert_int_equal(got->body_case, BATON__V1__FRAME__BODY_DELIVER);
	assert_string_equal(got->deliver->envelope->message_id, "provider/m-1");
	assert_string_equal(got->deliver->envelope->handover->subject->nhs_number,
	    "9434765919");
	assert_int_equal(got->deliver->attempt, 2);
	frame_free(got);
	free(a);
	free(b);
	/* over max_frame, as frame_encode says */
	assert_int_equal(frame_encode_deliver(&d, packed, plen, 16, &b, &blen),
	    FRAME_TOO_LARGE);
}

/* wire_find reads one field of packed bytes as unpacking would see it. */
static void
test_wire_find(void **state)
{
	Baton__V1__Ping ping = BATON__V1__PING__INIT;
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	uint8_t buf[256];
	const uint8_t *p;
	size_t len, n;
	uint64_t v;

	(void)state;
	ping.nonce = 300;	/* a two-byte varint */
	len = baton__v1__ping__pack(&ping, buf);
	assert_int_equal(wire_find(buf, len, 1, NULL, NULL, &v), 0);
	assert_int_equal(v, 300);
	assert_int_equal(wire_find(buf, len, 2, NULL, NULL, &v), -1);

	env.message_id = "m-1";
	env.to = "cmht";
	len = baton__v1__envelope__pack(&env, buf);
	assert_int_equal(wire_find(buf, len, 1, &p, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "m-1", 3);
	assert_int_equal(wire_find(buf, len, 3, &p, &n, NULL), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "cmht", 4);
	/* wire_next walks the fields in order, then says the end */
	{
		size_t pos = 0;
		uint32_t num;

		assert_int_equal(wire_next(buf, len, &pos, &num, &p, &n, &v), 1);
		assert_int_equal(num, 1);
		assert_int_equal(n, 3);
		assert_int_equal(wire_next(buf, len, &pos, &num, &p, &n, &v), 1);
		assert_int_equal(num, 3);
		assert_int_equal(wire_next(buf, len, &pos, &num, &p, &n, &v), 0);
		pos = 0;
		assert_int_equal(wire_next(buf, 3, &pos, &num, &p, &n, &v), -1);
	}
	/* absent, cut short before it, empty, an unterminated varint */
	assert_int_equal(wire_find(buf, len, 9, &p, &n, NULL), -1);
	assert_int_equal(wire_find(buf, 3, 3, &p, &n, NULL), -1);
	assert_int_equal(wire_find(buf, 0, 1, &p, &n, NULL), -1);
	assert_int_equal(wire_find((const uint8_t *)"\x08\x80", 2, 1, NULL,
	    NULL, &v), -1);
}

static void
test_malformed_wire_refused(void **state)
{
	static const struct {
		const char	*what;
		const char	*bytes;
		size_t		 n;
	} bad[] = {
#define BAD(what, lit)	{ what, lit, sizeof(lit) - 1 }
		BAD("ping nonce as fixed64", "\x72\x09\x09\0\0\0\0\0\0\0\0"),
		BAD("ping as a varint", "\x70\x01"),
		BAD("a group", "\x73\x74"),
		BAD("field number 0", "\x02\x00"),
		BAD("a two-byte tag 0", "\x80\x00\x00"),
		BAD("length past the end", "\x72\x05\x08\x01"),
		BAD("sub-message length past its parent", "\x1a\x02\x0a\x05\x00\x00"),
		BAD("unterminated varint", "\x72\x02\x08\x80"),
		BAD("11-byte varint", "\x72\x0c\x08\x80\x80\x80\x80\x80\x80\x80\x80"
		    "\x80\x80\x01"),
		BAD("6-byte tag", "\xf2\x80\x80\x80\x80\x00\x00"),
		BAD("6-byte length", "\x72\x80\x80\x80\x80\x80\x00"),
#undef BAD
	};
	size_t i;
	int st;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (frame_decode((const uint8_t *)bad[i].bytes, bad[i].n, &st) != NULL)
			fail_msg("%s: decoded", bad[i].what);
		if (st != FRAME_MALFORMED)
			fail_msg("%s: status %d (%s)", bad[i].what, st,
			    frame_status_text(st));
	}
}

/* Deliver{withheld: "" x n}: n + 1 tags in all. */
static int
decode_withheld(size_t n)
{
	struct wbuf b = { NULL, 0, 0 };
	size_t i;
	int st;

	for (i = 0; i < n; i++)
		put_bytes(&b, "\x12\x00", 2);
	wrap(&b, 6);
	st = decode_status(&b);
	free(b.p);
	return st;
}

static void
test_tag_budget(void **state)
{
	assert_int_equal(decode_withheld(BATON_FRAME_MAX_TAGS - 1), FRAME_OK);
	assert_int_equal(decode_withheld(BATON_FRAME_MAX_TAGS), FRAME_TOO_MANY_TAGS);
	assert_int_equal(decode_withheld(500000), FRAME_TOO_MANY_TAGS);
}

/* Node{Node child = 1; uint32 v = 2}: recursive, as the schema never is. */
static const ProtobufCMessageDescriptor node_descriptor;
static const ProtobufCFieldDescriptor node_fields[] = {
	{ "child", 1, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_MESSAGE, 0, 0,
	    &node_descriptor, NULL, 0, 0, NULL, NULL },
	{ "v", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_UINT32, 0, 0, NULL,
	    NULL, 0, 0, NULL, NULL },
};
static const unsigned node_by_name[] = { 0, 1 };
static const ProtobufCIntRange node_ranges[] = { { 1, 0 }, { 0, 2 } };
static const ProtobufCMessageDescriptor node_descriptor = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Node", "Node", "Node",
	"test", 0, 2, node_fields, node_by_name, 1, node_ranges, NULL,
	NULL, NULL, NULL,
};

static enum wire_status
check_nested(unsigned levels)
{
	struct wbuf b = { NULL, 0, 0 };
	enum wire_status st;
	unsigned i;

	put_bytes(&b, "\x10\x07", 2);
	for (i = 0; i < levels; i++)
		wrap(&b, 1);
	st = wire_check(&node_descriptor, b.p, b.len, 1000, NULL);
	free(b.p);
	return st;
}

static void
test_depth_cap(void **state)
{
	assert_int_equal(check_nested(WIRE_MAX_DEPTH), WIRE_OK);
	assert_int_equal(check_nested(WIRE_MAX_DEPTH + 1), WIRE_TOO_DEEP);
	assert_int_equal(check_nested(500), WIRE_TOO_DEEP);
}

/*
 * How long the issue 9 frame may take to be refused. The issue's bound is
 * 50 ms; the wire check stops at the second risk_summary, so the real time
 * is some microseconds whatever the frame's length. AddressSanitizer makes
 * every load and store several times slower, so a sanitizer build gets ten
 * times the bound; either is far below the 55 s the merge used to take.
 */
#if defined(__SANITIZE_ADDRESS__)
#define REFUSE_BOUND_MS	500.0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REFUSE_BOUND_MS	500.0
#endif
#endif
#ifndef REFUSE_BOUND_MS
#define REFUSE_BOUND_MS	50.0
#endif
#define REFUSE_TRIES	3	/* the fastest counts */

static double
ms_between(const struct timespec *t0, const struct timespec *t1)
{
	return (double)(t1->tv_sec - t0->tv_sec) * 1e3 +
	    (double)(t1->tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * Issue 9: a Submit repeating risk_summary 595,000 times (4.1 MB) took
 * 55 s to unpack. It is refused at the second occurrence, unread beyond,
 * within REFUSE_BOUND_MS of wall clock. A miss by less than 20 times the
 * bound (a preemption on a loaded machine) is tried again, up to
 * REFUSE_TRIES in all; a decoder that reads the whole frame misses each.
 */
static void
test_issue9_repeats_refused(void **state)
{
	struct wbuf b = { NULL, 0, 0 };
	struct timespec t0, t1;
	struct wire_fault fault;
	double ms, best = -1;
	size_t i;

	for (i = 0; i < 595000; i++)
		put_risk_summary(&b);
	wrap_as_submit(&b);
	assert_true(b.len > 4000000 && b.len <= BATON_MAX_FRAME_DEFAULT);
	/* another try only after a miss that a preemption could explain */
	for (i = 0; i < REFUSE_TRIES && (best < 0 || (best >= REFUSE_BOUND_MS &&
	    best < 20 * REFUSE_BOUND_MS)); i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(decode_status(&b), FRAME_REPEATED_FIELD);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = ms_between(&t0, &t1);
		if (best < 0 || ms < best)
			best = ms;
	}
	print_message("issue 9 frame (%zu bytes) refused in %.3f ms (bound %.0f ms)\n",
	    b.len, best, REFUSE_BOUND_MS);
	if (best >= REFUSE_BOUND_MS)
		fail_msg("the issue 9 frame took %.3f ms to refuse (bound %.0f ms)",
		    best, REFUSE_BOUND_MS);
	assert_int_equal(wire_check(&baton__v1__frame__descriptor, b.p, b.len,
	    BATON_FRAME_MAX_TAGS, &fault), WIRE_REPEATED_FIELD);
	/* Frame, Submit, Envelope: a tag and a 4-byte length each; then the
	 * first risk_summary; the second one is the fault */
	assert_int_equal(fault.offset, 3 * 5 + 7);
	free(b.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_truncated_body),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_no_body),
		cmocka_unit_test(test_unknown_field_refused),
		cmocka_unit_test(test_encode_too_large),
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_for_version),
		cmocka_unit_test(test_schema_within_caps),
		cmocka_unit_test(test_every_frame_kind_decodes),
		cmocka_unit_test(test_maximal_handover_within_budget),
		cmocka_unit_test(test_repeated_submessage_refused),
		cmocka_unit_test(test_repeated_scalar_refused),
		cmocka_unit_test(test_oneof_conflict_refused),
		cmocka_unit_test(test_repeated_fields_accepted),
		cmocka_unit_test(test_packed_and_unpacked_accepted),
		cmocka_unit_test(test_malformed_wire_refused),
		cmocka_unit_test(test_wire_find),
		cmocka_unit_test(test_encode_deliver_as_is),
		cmocka_unit_test(test_tag_budget),
		cmocka_unit_test(test_depth_cap),
		cmocka_unit_test(test_issue9_repeats_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
