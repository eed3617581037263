/*
 * test_frame.c - the frame codec against truncated, oversize, empty and
 * garbage input, and round trips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "frame.h"

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
			assert_true(st == FRAME_MALFORMED || st == FRAME_NO_BODY);
	}
	/* random bytes almost never form a valid frame */
	assert_true(decoded < 2000);
}

static void
test_no_body(void **state)
{
	/* an empty Frame message packs to zero bytes; an unknown field alone
	 * decodes but sets no body */
	uint8_t unknown[] = { 0xa8, 0x06, 0x01 };	/* field 101, varint 1 */
	int st;

	assert_null(frame_decode(unknown, sizeof(unknown), &st));
	assert_int_equal(st, FRAME_NO_BODY);
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
	assert_int_equal(st, FRAME_MALFORMED);
	assert_null(frame_decode(outer, sizeof(outer), &st));
	assert_int_equal(st, FRAME_MALFORMED);
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
