/*
 * fuzz_frame.c - libFuzzer target for the frame codec (proto/frame.c).
 *
 * Input is what a peer could send: a length prefix and a body. Whatever
 * the header check and decoder accept must encode again, and one
 * decode/encode pass must reach a fixed point (same bytes the second
 * time), so broker and client agree on what a frame is. A decoded frame
 * is also shown as JSON, as `baton` does with what it receives: that must
 * work for anything the decoder lets through (ill-formed UTF-8, undefined
 * enum values), and JSON it accepts back must format identically.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "json.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Decodes a whole encoded frame that must be valid; aborts otherwise. */
static Frame *
redecode(const uint8_t *buf, size_t n)
{
	uint32_t len;
	Frame *f;
	int st;

	if (frame_parse_header(buf, n, BATON_MAX_FRAME_DEFAULT, &len) != FRAME_OK ||
	    len != n - BATON_FRAME_HDR)
		abort();
	if ((f = frame_decode(buf + BATON_FRAME_HDR, len, &st)) == NULL ||
	    st != FRAME_OK)
		abort();
	return f;
}

/* 1 if st is a status frame_decode may give for a body it refuses. */
static int
is_decode_refusal(int st)
{
	switch (st) {
	case FRAME_MALFORMED:
	case FRAME_NO_BODY:
	case FRAME_REPEATED_FIELD:
	case FRAME_ONEOF_CONFLICT:
	case FRAME_UNKNOWN_FIELD:
	case FRAME_TOO_MANY_TAGS:
	case FRAME_TOO_DEEP:
		return 1;
	}
	return 0;
}

static void
as_json(const Frame *f)
{
	ProtobufCMessage *back;
	char err[512];
	char *s1, *s2;

	if ((s1 = baton_json_format(&f->base)) == NULL)
		abort();
	/* refusal is legitimate: e.g. an enum value the schema lacks */
	back = baton_json_parse(s1, strlen(s1), &baton__v1__frame__descriptor,
	    err, sizeof(err));
	if (back != NULL) {
		if ((s2 = baton_json_format(back)) == NULL || strcmp(s1, s2) != 0)
			abort();
		free(s2);
		protobuf_c_message_free_unpacked(back, NULL);
	}
	free(s1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *out = NULL, *out2 = NULL;
	size_t outlen, outlen2;
	uint32_t len;
	Frame *f, *f2;
	int st;

	st = frame_parse_header(data, size, BATON_MAX_FRAME_DEFAULT, &len);
	if ((st == FRAME_NEED_MORE) != (size < BATON_FRAME_HDR))
		abort();
	if (st != FRAME_OK)
		return 0;
	if (len == 0 || len > BATON_MAX_FRAME_DEFAULT)
		abort();
	if (len > size - BATON_FRAME_HDR)
		return 0;	/* the rest has not arrived */
	f = frame_decode(data + BATON_FRAME_HDR, len, &st);
	if (f == NULL) {
		if (!is_decode_refusal(st))
			abort();
		return 0;
	}
	if (st != FRAME_OK || frame_name(f) == NULL)
		abort();
	as_json(f);
	st = frame_encode(f, BATON_MAX_FRAME_DEFAULT, &out, &outlen);
	if (st == FRAME_TOO_LARGE)
		goto done;	/* repacking may not shrink an odd encoding */
	if (st != FRAME_OK)
		abort();
	f2 = redecode(out, outlen);
	if (f2->body_case != f->body_case)
		abort();
	if (frame_encode(f2, BATON_MAX_FRAME_DEFAULT, &out2, &outlen2) != FRAME_OK ||
	    outlen2 != outlen || memcmp(out, out2, outlen) != 0)
		abort();
	frame_free(f2);
done:
	free(out);
	free(out2);
	frame_free(f);
	return 0;
}
