/*
 * frame.c - length-prefixed protobuf frame codec (see frame.h).
 *
 * Untrusted input enters here. Lengths are bounded before allocation and
 * protobuf-c's unpacker is the only parser of the body; the schema has no
 * recursion so its depth is bounded by construction.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int
frame_parse_header(const uint8_t *hdr, size_t avail, uint32_t max_frame,
    uint32_t *len)
{
	uint32_t n;

	if (avail < BATON_FRAME_HDR)
		return FRAME_NEED_MORE;
	n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) |
	    ((uint32_t)hdr[2] << 8) | (uint32_t)hdr[3];
	if (n == 0)
		return FRAME_EMPTY;
	if (n > max_frame)
		return FRAME_TOO_LARGE;
	*len = n;
	return FRAME_OK;
}

Frame *
frame_decode(const uint8_t *body, size_t len, int *status)
{
	Frame *f;

	f = baton__v1__frame__unpack(NULL, len, body);
	if (f == NULL) {
		*status = FRAME_MALFORMED;
		return NULL;
	}
	if (f->body_case == BATON__V1__FRAME__BODY__NOT_SET) {
		baton__v1__frame__free_unpacked(f, NULL);
		*status = FRAME_NO_BODY;
		return NULL;
	}
	*status = FRAME_OK;
	return f;
}

int
frame_encode(const Frame *f, uint32_t max_frame, uint8_t **out, size_t *outlen)
{
	size_t n;
	uint8_t *buf;

	n = baton__v1__frame__get_packed_size(f);
	if (n == 0 || n > max_frame)
		return FRAME_TOO_LARGE;
	if ((buf = malloc(BATON_FRAME_HDR + n)) == NULL)
		return FRAME_NOMEM;
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	baton__v1__frame__pack(f, buf + BATON_FRAME_HDR);
	*out = buf;
	*outlen = BATON_FRAME_HDR + n;
	return FRAME_OK;
}

void
frame_free(Frame *f)
{
	if (f != NULL)
		baton__v1__frame__free_unpacked(f, NULL);
}

const char *
frame_name(const Frame *f)
{
	const ProtobufCFieldDescriptor *fd;

	if (f == NULL || f->body_case == BATON__V1__FRAME__BODY__NOT_SET)
		return "none";
	fd = protobuf_c_message_descriptor_get_field(&baton__v1__frame__descriptor,
	    (unsigned)f->body_case);
	return fd != NULL ? fd->name : "unknown";
}

const char *
frame_status_text(int status)
{
	switch (status) {
	case FRAME_OK:
		return "ok";
	case FRAME_NEED_MORE:
		return "incomplete frame";
	case FRAME_TOO_LARGE:
		return "frame length exceeds max_frame";
	case FRAME_EMPTY:
		return "zero-length frame";
	case FRAME_MALFORMED:
		return "frame does not decode as baton.v1.Frame";
	case FRAME_NO_BODY:
		return "frame has no body set";
	case FRAME_NOMEM:
		return "out of memory";
	}
	return "unknown frame status";
}

const char *
frame_code_name(int code)
{
	const ProtobufCEnumValue *v;

	v = protobuf_c_enum_descriptor_get_value(&baton__v1__code__descriptor,
	    code);
	if (v == NULL)
		return "UNKNOWN_CODE";
	/* protoc-c names are the proto names; strip the enum prefix */
	if (strncmp(v->name, "CODE_", 5) == 0)
		return v->name + 5;
	return v->name;
}

int
frame_code_from_name(const char *name)
{
	const ProtobufCEnumDescriptor *d = &baton__v1__code__descriptor;
	unsigned i;

	for (i = 0; i < d->n_values; i++) {
		const char *n = d->values[i].name;
		if (strcmp(n, name) == 0 ||
		    (strncmp(n, "CODE_", 5) == 0 && strcmp(n + 5, name) == 0))
			return d->values[i].value;
	}
	return -1;
}
