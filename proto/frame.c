/*
 * frame.c - length-prefixed protobuf frame codec (see frame.h).
 *
 * Untrusted input enters here. Lengths are bounded before allocation; the
 * body is walked once by wire_check, which refuses what protobuf-c would
 * unpack slowly (a singular field repeated is merged at quadratic cost),
 * and only then unpacked by protobuf-c. The schema has no recursion, and
 * the walk caps depth anyway.
 */
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "pbarena.h"
#include "wire_check.h"
#include "wire_write.h"

int
frame_parse_header(const uint8_t *hdr, size_t avail, uint32_t max_frame,
    uint32_t *len)
{
	uint32_t n;

	if (avail < BATON_FRAME_HDR)
		return FRAME_NEED_MORE;
	n = ((uint32_t)hdr[0] << 24) | ((uint32_t)hdr[1] << 16) |
	    ((uint32_t)hdr[2] << 8) | (uint32_t)hdr[3];
	*len = n;
	if (n == 0)
		return FRAME_EMPTY;
	if (n > max_frame)
		return FRAME_TOO_LARGE;
	return FRAME_OK;
}

/*
 * 1 if m or any message inside it carries fields the schema does not
 * define. Such frames are refused: the broker would otherwise store and
 * forward data under field numbers that policy knows nothing about, and
 * protobuf-c 1.4 re-encodes some odd tags (e.g. a two-byte tag 0) into
 * bytes its own decoder rejects, which would make a poison message. The
 * wire check refuses these before unpacking; this second look stays
 * because a miss would be a poison message in the store.
 */
static int
has_unknown_fields(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned i;
	size_t j;

	if (m->n_unknown_fields > 0)
		return 1;
	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)base;

			for (j = 0; j < n; j++)
				if (v[j] != NULL && has_unknown_fields(v[j]))
					return 1;
		} else {
			const ProtobufCMessage *c = *(ProtobufCMessage *const *)base;

			/* a oneof member that is not the chosen case is not set */
			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *)((const char *)m + f->quantifier_offset) !=
			    f->id)
				continue;
			if (c != NULL && has_unknown_fields(c))
				return 1;
		}
	}
	return 0;
}

_Static_assert(BATON_FRAME_MAX_TAGS == 65536u,
    "frame_status_text names the tag budget");

/* The frame_status for a wire_check refusal. */
static int
wire_to_frame_status(enum wire_status st)
{
	switch (st) {
	case WIRE_OK:
		return FRAME_OK;
	case WIRE_REPEATED_FIELD:
		return FRAME_REPEATED_FIELD;
	case WIRE_ONEOF_CONFLICT:
		return FRAME_ONEOF_CONFLICT;
	case WIRE_UNKNOWN_FIELD:
		return FRAME_UNKNOWN_FIELD;
	case WIRE_TOO_MANY_TAGS:
		return FRAME_TOO_MANY_TAGS;
	case WIRE_TOO_DEEP:
		return FRAME_TOO_DEEP;
	default:
		return FRAME_MALFORMED;
	}
}

Frame *
frame_decode(const uint8_t *body, size_t len, int *status)
{
	enum wire_status wst;
	Frame *f;

	wst = wire_check(&baton__v1__frame__descriptor, body, len,
	    BATON_FRAME_MAX_TAGS, NULL);
	if (wst != WIRE_OK) {
		*status = wire_to_frame_status(wst);
		return NULL;
	}
	f = baton__v1__frame__unpack(&pbarena, len, body);
	if (f == NULL) {
		*status = FRAME_MALFORMED;
		return NULL;
	}
	if (f->body_case == BATON__V1__FRAME__BODY__NOT_SET) {
		baton__v1__frame__free_unpacked(f, &pbarena);
		*status = FRAME_NO_BODY;
		return NULL;
	}
	if (has_unknown_fields(&f->base)) {
		baton__v1__frame__free_unpacked(f, &pbarena);
		*status = FRAME_MALFORMED;
		return NULL;
	}
	*status = FRAME_OK;
	return f;
}

uint8_t *
frame_buffer(size_t n)
{
	uint8_t *buf;

	if ((buf = malloc(BATON_FRAME_HDR + n)) == NULL)
		return NULL;
	buf[0] = (uint8_t)(n >> 24);
	buf[1] = (uint8_t)(n >> 16);
	buf[2] = (uint8_t)(n >> 8);
	buf[3] = (uint8_t)n;
	return buf;
}

int
frame_encode(const Frame *f, uint32_t max_frame, uint8_t **out, size_t *outlen)
{
	size_t n;
	uint8_t *buf;

	n = baton__v1__frame__get_packed_size(f);
	if (n == 0 || n > max_frame)
		return FRAME_TOO_LARGE;
	if ((buf = frame_buffer(n)) == NULL)
		return FRAME_NOMEM;
	baton__v1__frame__pack(f, buf + BATON_FRAME_HDR);
	*out = buf;
	*outlen = BATON_FRAME_HDR + n;
	return FRAME_OK;
}

#define FRAME_DELIVER_FIELD	6	/* baton.v1.Frame.deliver */
#define DELIVER_ENVELOPE_FIELD	1	/* baton.v1.Deliver.envelope */

int
frame_encode_deliver(const Baton__V1__Deliver *d, const uint8_t *env,
    size_t envlen, uint32_t max_frame, uint8_t **out, size_t *outlen)
{
	size_t rest, dlen, n;
	uint8_t *buf, *p;

	if (d->envelope != NULL)
		return FRAME_TOO_LARGE;	/* a caller's mistake; never sent */
	rest = baton__v1__deliver__get_packed_size(d);
	dlen = wire_ld_len(envlen) + rest;
	n = wire_ld_len(dlen);
	if (envlen > max_frame || n > max_frame)
		return FRAME_TOO_LARGE;
	if ((buf = frame_buffer(n)) == NULL)
		return FRAME_NOMEM;
	p = wire_put_head(buf + BATON_FRAME_HDR, WIRE_TAG_LEN(FRAME_DELIVER_FIELD),
	    dlen);
	p = wire_put_ld(p, WIRE_TAG_LEN(DELIVER_ENVELOPE_FIELD), env, envlen);
	baton__v1__deliver__pack(d, p);
	*out = buf;
	*outlen = BATON_FRAME_HDR + n;
	return FRAME_OK;
}

void
frame_free(Frame *f)
{
	if (f != NULL)
		baton__v1__frame__free_unpacked(f, &pbarena);
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
		return "frame does not decode as baton.v1.Frame (or has fields "
		    "this protocol version does not define)";
	case FRAME_NO_BODY:
		return "frame has no body set";
	case FRAME_NOMEM:
		return "out of memory";
	case FRAME_REPEATED_FIELD:
		return "frame repeats a field that may occur only once";
	case FRAME_ONEOF_CONFLICT:
		return "frame sets more than one member of a oneof";
	case FRAME_UNKNOWN_FIELD:
		return "frame has a field this protocol version does not define";
	case FRAME_TOO_MANY_TAGS:
		return "frame has more than 65536 fields in all";
	case FRAME_TOO_DEEP:
		return "frame nests messages deeper than the schema allows";
	}
	return "unknown frame status";
}

static int
code_for_version(int code, uint32_t proto)
{
	if (proto < 4 && (code == BATON__V1__CODE__CODE_NO_AGREEMENT ||
	    code == BATON__V1__CODE__CODE_NO_LAWFUL_BASIS))
		return BATON__V1__CODE__CODE_ROUTE_NOT_ALLOWED;
	if (proto < 4 && code == BATON__V1__CODE__CODE_NOT_LATEST_VERSION)
		return BATON__V1__CODE__CODE_INVALID;
	return code;
}

void
frame_for_version(Frame *f, uint32_t proto)
{
	Baton__V1__Envelope *e;

	if (proto >= 4)
		return;
	switch (f->body_case) {
	case BATON__V1__FRAME__BODY_RECEIPT:
		f->receipt->code = code_for_version(f->receipt->code, proto);
		break;
	case BATON__V1__FRAME__BODY_DECISION_RESULT:
		f->decision_result->code = code_for_version(
		    f->decision_result->code, proto);
		break;
	case BATON__V1__FRAME__BODY_ERROR:
		f->error->code = code_for_version(f->error->code, proto);
		break;
	case BATON__V1__FRAME__BODY_NOTICE:
		if (f->notice->kind == BATON__V1__NOTICE_KIND__NOTICE_KIND_HELD ||
		    f->notice->kind ==
		    BATON__V1__NOTICE_KIND__NOTICE_KIND_CONTACT_MISSED)
			f->notice->kind =
			    BATON__V1__NOTICE_KIND__NOTICE_KIND_UNSPECIFIED;
		break;
	case BATON__V1__FRAME__BODY_DELIVER:
		e = f->deliver->envelope;
		if (e != NULL && e->replaces != NULL &&
		    e->replaces != protobuf_c_empty_string) {
			pbarena.free(pbarena.allocator_data, e->replaces);
			e->replaces = (char *)protobuf_c_empty_string;
		}
		if (e != NULL && e->handover != NULL &&
		    e->handover->transition != NULL)
			e->handover->transition->lawful_basis =
			    BATON__V1__LAWFUL_BASIS__LAWFUL_BASIS_UNSPECIFIED;
		if (e != NULL && e->handover != NULL &&
		    e->handover->support_plan != NULL &&
		    e->handover->support_plan->lead_node != NULL &&
		    e->handover->support_plan->lead_node !=
		    protobuf_c_empty_string) {
			pbarena.free(pbarena.allocator_data,
			    e->handover->support_plan->lead_node);
			e->handover->support_plan->lead_node =
			    (char *)protobuf_c_empty_string;
		}
		break;
	case BATON__V1__FRAME__BODY_STATUS:
		f->status->code = code_for_version(f->status->code, proto);
		f->status->n_versions = 0;
		f->status->n_checkins = 0;
		break;
	default:
		break;
	}
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
