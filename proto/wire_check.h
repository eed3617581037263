/*
 * wire_check.h - a linear pre-check of protobuf wire bytes against a schema.
 *
 * protobuf-c merges every repeated occurrence of a singular sub-message
 * into the one before, copying the repeated fields it has gathered so far
 * each time, so n occurrences cost O(n^2): a 4 MB Submit repeating one
 * small risk_summary 595,000 times took 55 s to unpack. wire_check walks
 * the bytes once, before protobuf-c sees them, and refuses what a
 * protobuf-c encoder never produces and what makes unpacking slow or big:
 * a singular field (or a oneof) set more than once, a field number the
 * schema does not define, a wire type that does not fit the field, a
 * malformed varint or length, more tags than a budget, or nesting deeper
 * than a cap. Repeated numeric fields are accepted packed and unpacked, as
 * protobuf-c accepts both.
 *
 * Cost: O(len) time, with a constant factor bounded by the widest message
 * (WIRE_MAX_FIELDS); O(WIRE_MAX_DEPTH) stack; no allocation.
 */
#ifndef BATON_WIRE_CHECK_H
#define BATON_WIRE_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/*
 * Sub-messages may nest this deep below the outermost message. The schema
 * has no recursion (Frame > Submit > Envelope > Handover > Contacts >
 * Contact is the deepest path, 5), so this is only a guard in case it ever
 * gains some.
 */
#define WIRE_MAX_DEPTH		16

/* Widest message the walker can track (bits of its "seen" set). */
#define WIRE_MAX_FIELDS		128

enum wire_status {
	WIRE_OK = 0,
	WIRE_MALFORMED,		/* bad varint, length, wire type or field 0 */
	WIRE_UNKNOWN_FIELD,	/* a field number the message does not define */
	WIRE_REPEATED_FIELD,	/* a singular field occurs more than once */
	WIRE_ONEOF_CONFLICT,	/* two members of one oneof are set */
	WIRE_TOO_MANY_TAGS,	/* more tags in all than the budget */
	WIRE_TOO_DEEP,		/* sub-messages nested past WIRE_MAX_DEPTH */
	WIRE_SCHEMA_TOO_WIDE,	/* a message has over WIRE_MAX_FIELDS fields */
};

/* Where a check failed, for logs and tests. */
struct wire_fault {
	enum wire_status status;
	const ProtobufCMessageDescriptor *message; /* the message being read */
	uint32_t	field;		/* the field number involved, 0 if none */
	size_t		offset;		/* byte offset of its tag in the buffer */
};

/*
 * Checks that buf[0..len) is an encoding of a d message that protobuf-c can
 * unpack in linear time, with at most max_tags field tags in all (nested
 * ones included). Returns WIRE_OK, or the first problem found; then, if
 * fault is not NULL, says where.
 */
enum wire_status wire_check(const ProtobufCMessageDescriptor *d,
	    const uint8_t *buf, size_t len, size_t max_tags,
	    struct wire_fault *fault);

/*
 * Finds the first top-level occurrence of field number in buf[0..len),
 * without unpacking: *val and *vlen get a length-delimited field's
 * payload, *varint a varint field's value (either pointer may be NULL).
 * Returns 0, or -1 if the field is absent or the bytes before it are
 * malformed. For bytes this program packed (protobuf-c writes each field
 * once), read on a hot path where unpacking the whole message would
 * allocate every string in it only to read one field.
 */
int	wire_find(const uint8_t *buf, size_t len, uint32_t number,
	    const uint8_t **val, size_t *vlen, uint64_t *varint);

/*
 * Steps over the top-level field at *pos of buf[0..len): returns 1 with
 * its number, and *val and *vlen for a length-delimited field's payload
 * (NULL and 0 otherwise), *varint for a varint's value (0 otherwise); 0
 * at the end; -1 if the bytes there are malformed. Any output pointer may
 * be NULL.
 */
int	wire_next(const uint8_t *buf, size_t len, size_t *pos,
	    uint32_t *number, const uint8_t **val, size_t *vlen,
	    uint64_t *varint);

/* Short, stable text for a wire_status ("a field occurs more than once"). */
const char	*wire_status_text(enum wire_status status);

/*
 * Writes a one-line account of fault into buf, e.g. "field risk_summary (2)
 * of baton.v1.Handover occurs more than once (byte 19)". Returns buf.
 */
char	*wire_fault_format(const struct wire_fault *fault, char *buf,
	    size_t size);

#endif
