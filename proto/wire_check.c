/*
 * wire_check.c - one linear pass over protobuf wire bytes (see wire_check.h).
 *
 * The walk reads each tag, finds its field in the message descriptor,
 * checks the wire type against the field's type, and steps over the value;
 * a sub-message's bytes are walked the same way one level down. Per
 * message instance it keeps a bit per field it has seen, which is what
 * refuses a second occurrence of a singular field: that second occurrence
 * is exactly what protobuf-c would merge, at a cost that grows with
 * everything merged before it. The input is untrusted, so every read is
 * bounded by the end of the enclosing message, never by a length the input
 * declares.
 */
#include <stdio.h>

#include "wire_check.h"

#define WIRE_VARINT	0
#define WIRE_FIXED64	1
#define WIRE_LEN	2
#define WIRE_FIXED32	5

#define VARINT_MAX_BYTES	10	/* a 64-bit value */
#define TAG_MAX_BYTES		5	/* a 32-bit tag, as protobuf-c reads it */
#define LENGTH_MAX_BYTES	5	/* a 32-bit length, as protobuf-c reads it */

struct walk {
	const uint8_t	*buf;		/* the whole input */
	size_t		 tags;		/* tags (and packed values) read so far */
	size_t		 max_tags;
	struct wire_fault *fault;	/* may be NULL */
};

/* One value's place in the buffer, after its tag. */
struct value {
	uint32_t	number;		/* field number */
	unsigned	wire_type;
	size_t		tag_at;		/* offset of the tag */
	size_t		start;		/* offset of the payload */
	size_t		end;		/* offset just past it */
};

static enum wire_status
walk_fail(struct walk *w, enum wire_status st,
    const ProtobufCMessageDescriptor *d, uint32_t number, size_t at)
{
	if (w->fault != NULL) {
		w->fault->status = st;
		w->fault->message = d;
		w->fault->field = number;
		w->fault->offset = at;
	}
	return st;
}

/*
 * Reads a varint of at most max bytes at *pos, not reading at or past end.
 * Returns 0 and advances *pos, or -1 if it is unterminated.
 */
static int
read_varint(const uint8_t *buf, size_t *pos, size_t end, unsigned max,
    uint64_t *v)
{
	uint64_t x = 0;
	unsigned i;

	for (i = 0; i < max && *pos < end; i++) {
		uint8_t b = buf[(*pos)++];

		x |= (uint64_t)(b & 0x7f) << (7 * i);
		if ((b & 0x80) == 0) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

/*
 * Reads the tag at *pos and steps over its value, filling v. Returns 0, or
 * -1 if the tag or value is malformed or runs past end. Groups (wire types
 * 3 and 4) are refused: proto3 has none and protobuf-c cannot read them.
 */
static int
read_value(const uint8_t *buf, size_t *pos, size_t end, struct value *v)
{
	uint64_t tag, n;

	v->tag_at = *pos;
	v->number = 0;
	if (read_varint(buf, pos, end, TAG_MAX_BYTES, &tag) != 0 ||
	    tag > UINT32_MAX || (tag >> 3) == 0)
		return -1;
	v->number = (uint32_t)(tag >> 3);
	v->wire_type = (unsigned)(tag & 7);
	switch (v->wire_type) {
	case WIRE_VARINT:
		v->start = *pos;
		if (read_varint(buf, pos, end, VARINT_MAX_BYTES, &n) != 0)
			return -1;
		break;
	case WIRE_FIXED64:
	case WIRE_FIXED32:
		n = v->wire_type == WIRE_FIXED64 ? 8 : 4;
		if (end - *pos < n)
			return -1;
		v->start = *pos;
		*pos += n;
		break;
	case WIRE_LEN:
		if (read_varint(buf, pos, end, LENGTH_MAX_BYTES, &n) != 0 ||
		    n > end - *pos)
			return -1;
		v->start = *pos;
		*pos += n;
		break;
	default:
		return -1;
	}
	v->end = *pos;
	return 0;
}

int
wire_next(const uint8_t *buf, size_t len, size_t *pos, uint32_t *number,
    const uint8_t **val, size_t *vlen, uint64_t *varint)
{
	struct value v;
	size_t p;
	uint64_t x = 0;

	if (*pos >= len)
		return 0;
	if (read_value(buf, pos, len, &v) == -1)
		return -1;
	*number = v.number;
	if (val != NULL)
		*val = v.wire_type == WIRE_LEN ? buf + v.start : NULL;
	if (vlen != NULL)
		*vlen = v.wire_type == WIRE_LEN ? v.end - v.start : 0;
	if (v.wire_type == WIRE_VARINT) {
		p = v.start;
		if (read_varint(buf, &p, v.end, VARINT_MAX_BYTES, &x) != 0)
			return -1;
	}
	if (varint != NULL)
		*varint = x;
	return 1;
}

int
wire_find(const uint8_t *buf, size_t len, uint32_t number,
    const uint8_t **val, size_t *vlen, uint64_t *varint)
{
	const uint8_t *p;
	size_t pos = 0, n;
	uint32_t num;
	uint64_t x;
	int rc;

	while ((rc = wire_next(buf, len, &pos, &num, &p, &n, &x)) == 1) {
		if (num != number)
			continue;
		if (val != NULL)
			*val = p;
		if (vlen != NULL)
			*vlen = n;
		if (varint != NULL)
			*varint = x;
		return 0;
	}
	return -1;
}

/* The wire type a protobuf-c encoder uses for one value of type t. */
static unsigned
wire_type_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return WIRE_FIXED32;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return WIRE_FIXED64;
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_BYTES:
	case PROTOBUF_C_TYPE_MESSAGE:
		return WIRE_LEN;
	default:	/* the varint types, bool and enum */
		return WIRE_VARINT;
	}
}

/*
 * 1 if v is a packed run of f's values: a repeated numeric field sent as
 * one length-delimited value. protobuf-c reads repeated numeric fields
 * packed or not, whatever the schema's packed option says, so both are
 * accepted here.
 */
static int
is_packed(const ProtobufCFieldDescriptor *f, const struct value *v)
{
	return f->label == PROTOBUF_C_LABEL_REPEATED &&
	    wire_type_of(f->type) != WIRE_LEN && v->wire_type == WIRE_LEN;
}

/*
 * Checks that a packed run holds whole values only. Each value counts
 * against the tag budget like a tag, as protobuf-c gives it the same
 * room in memory.
 */
static enum wire_status
check_packed(struct walk *w, const ProtobufCMessageDescriptor *d,
    const ProtobufCFieldDescriptor *f, const struct value *v)
{
	unsigned wt = wire_type_of(f->type);
	size_t pos = v->start, n = 0;
	uint64_t x;

	if (wt == WIRE_VARINT) {
		while (pos < v->end) {
			if (read_varint(w->buf, &pos, v->end, VARINT_MAX_BYTES, &x) != 0)
				return walk_fail(w, WIRE_MALFORMED, d, v->number, v->tag_at);
			n++;
		}
	} else {
		size_t size = wt == WIRE_FIXED64 ? 8 : 4;

		if ((v->end - v->start) % size != 0)
			return walk_fail(w, WIRE_MALFORMED, d, v->number, v->tag_at);
		n = (v->end - v->start) / size;
	}
	if (n > w->max_tags - w->tags)
		return walk_fail(w, WIRE_TOO_MANY_TAGS, d, v->number, v->tag_at);
	w->tags += n;
	return WIRE_OK;
}

/*
 * Records that singular field f (index i of d) was seen in this message
 * instance. Refuses a second occurrence, and a second member of f's oneof:
 * members of one oneof share the case word at quantifier_offset. The scan
 * for a sibling runs at most once per field per instance (a second
 * occurrence is refused first), so a tag costs at most WIRE_MAX_FIELDS.
 */
static enum wire_status
note_singular(struct walk *w, const ProtobufCMessageDescriptor *d,
    uint64_t *seen, unsigned i, const struct value *v)
{
	const ProtobufCFieldDescriptor *f = &d->fields[i];
	unsigned j;

	if (seen[i / 64] & ((uint64_t)1 << (i % 64)))
		return walk_fail(w, WIRE_REPEATED_FIELD, d, v->number, v->tag_at);
	seen[i / 64] |= (uint64_t)1 << (i % 64);
	if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0)
		return WIRE_OK;
	for (j = 0; j < d->n_fields; j++) {
		const ProtobufCFieldDescriptor *g = &d->fields[j];

		if (j != i && (seen[j / 64] & ((uint64_t)1 << (j % 64))) &&
		    (g->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    g->quantifier_offset == f->quantifier_offset)
			return walk_fail(w, WIRE_ONEOF_CONFLICT, d, v->number,
			    v->tag_at);
	}
	return WIRE_OK;
}

static enum wire_status walk_message(struct walk *,
	    const ProtobufCMessageDescriptor *, size_t, size_t, unsigned);

/* Checks one value of field f of d: its wire type, then what it holds. */
static enum wire_status
check_value(struct walk *w, const ProtobufCMessageDescriptor *d,
    const ProtobufCFieldDescriptor *f, const struct value *v, unsigned depth)
{
	if (is_packed(f, v))
		return check_packed(w, d, f, v);
	if (v->wire_type != wire_type_of(f->type))
		return walk_fail(w, WIRE_MALFORMED, d, v->number, v->tag_at);
	if (f->type != PROTOBUF_C_TYPE_MESSAGE)
		return WIRE_OK;
	if (depth + 1 > WIRE_MAX_DEPTH)
		return walk_fail(w, WIRE_TOO_DEEP, d, v->number, v->tag_at);
	return walk_message(w, f->descriptor, v->start, v->end, depth + 1);
}

/* Walks the d message in buf[start..end), depth levels below the top. */
static enum wire_status
walk_message(struct walk *w, const ProtobufCMessageDescriptor *d,
    size_t start, size_t end, unsigned depth)
{
	uint64_t seen[WIRE_MAX_FIELDS / 64] = { 0 };
	size_t pos = start;
	enum wire_status st;

	if (d->n_fields > WIRE_MAX_FIELDS)
		return walk_fail(w, WIRE_SCHEMA_TOO_WIDE, d, 0, start);
	while (pos < end) {
		const ProtobufCFieldDescriptor *f;
		struct value v;

		if (read_value(w->buf, &pos, end, &v) != 0)
			return walk_fail(w, WIRE_MALFORMED, d, v.number, v.tag_at);
		if (w->tags++ >= w->max_tags)
			return walk_fail(w, WIRE_TOO_MANY_TAGS, d, v.number, v.tag_at);
		f = protobuf_c_message_descriptor_get_field(d, v.number);
		if (f == NULL)
			return walk_fail(w, WIRE_UNKNOWN_FIELD, d, v.number, v.tag_at);
		if (f->label != PROTOBUF_C_LABEL_REPEATED &&
		    (st = note_singular(w, d, seen, (unsigned)(f - d->fields),
		    &v)) != WIRE_OK)
			return st;
		if ((st = check_value(w, d, f, &v, depth)) != WIRE_OK)
			return st;
	}
	return WIRE_OK;
}

enum wire_status
wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
    size_t len, size_t max_tags, struct wire_fault *fault)
{
	struct walk w = { buf, 0, max_tags, fault };

	if (fault != NULL) {
		fault->status = WIRE_OK;
		fault->message = NULL;
		fault->field = 0;
		fault->offset = 0;
	}
	return walk_message(&w, d, 0, len, 0);
}

const char *
wire_status_text(enum wire_status status)
{
	switch (status) {
	case WIRE_OK:
		return "ok";
	case WIRE_MALFORMED:
		return "malformed field (bad varint, length or wire type)";
	case WIRE_UNKNOWN_FIELD:
		return "field the schema does not define";
	case WIRE_REPEATED_FIELD:
		return "a field that may occur once occurs more than once";
	case WIRE_ONEOF_CONFLICT:
		return "more than one member of a oneof is set";
	case WIRE_TOO_MANY_TAGS:
		return "more fields than the tag budget";
	case WIRE_TOO_DEEP:
		return "messages nested too deep";
	case WIRE_SCHEMA_TOO_WIDE:
		return "schema message too wide for the wire check";
	}
	return "unknown wire status";
}

/* What a fault says about the field it names. */
static const char *
fault_phrase(enum wire_status status)
{
	switch (status) {
	case WIRE_MALFORMED:
		return "has a bad value or the wrong wire type";
	case WIRE_UNKNOWN_FIELD:
		return "is not defined";
	case WIRE_REPEATED_FIELD:
		return "occurs more than once";
	case WIRE_ONEOF_CONFLICT:
		return "is a second member of its oneof";
	case WIRE_TOO_MANY_TAGS:
		return "goes past the tag budget";
	case WIRE_TOO_DEEP:
		return "nests messages too deep";
	default:
		return wire_status_text(status);
	}
}

char *
wire_fault_format(const struct wire_fault *fault, char *buf, size_t size)
{
	const ProtobufCFieldDescriptor *f = NULL;
	const char *msg = "?";

	if (fault->message != NULL) {
		msg = fault->message->name;
		f = protobuf_c_message_descriptor_get_field(fault->message,
		    fault->field);
	}
	if (fault->status == WIRE_OK)
		snprintf(buf, size, "ok");
	else if (fault->field == 0)
		snprintf(buf, size, "%s in %s (byte %zu)",
		    wire_status_text(fault->status), msg, fault->offset);
	else if (f == NULL)
		snprintf(buf, size, "field %u of %s %s (byte %zu)",
		    (unsigned)fault->field, msg, fault_phrase(fault->status),
		    fault->offset);
	else
		snprintf(buf, size, "field %s (%u) of %s %s (byte %zu)",
		    f->name, (unsigned)fault->field, msg,
		    fault_phrase(fault->status), fault->offset);
	return buf;
}
