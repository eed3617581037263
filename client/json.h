/*
 * json.h - protobuf <-> JSON, generically from protobuf-c descriptors.
 *
 * Follows protobuf's JSON conventions: object keys are the .proto field
 * names (lowerCamelCase json names are accepted on input too), enums are
 * written by name and accepted by name or number, 64-bit integers are
 * written as strings and accepted as strings or numbers, bytes are base64,
 * repeated fields are arrays, unset sub-messages are omitted, null means
 * unset. Unknown fields, wrong types and out-of-range values are refused
 * with the JSON path of the offending value, e.g.
 * "$.risk_summary.level: unknown enum value \"SEVERE\"".
 *
 * Input is untrusted: nesting depth, string and document sizes are bounded.
 */
#ifndef BATON_JSON_H
#define BATON_JSON_H

#include <stddef.h>

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>

#define BATON_JSON_MAX_DEPTH	32
#define BATON_JSON_MAX_DOC	(4u * 1024u * 1024u)

/*
 * Parses JSON text (len bytes, need not be NUL-terminated) into a new
 * message of type desc. Returns the message (free with
 * protobuf_c_message_free_unpacked(m, NULL)) or NULL with err set.
 */
ProtobufCMessage *baton_json_parse(const char *text, size_t len,
    const ProtobufCMessageDescriptor *desc, char *err, size_t errlen);

/*
 * Same, from an already parsed jansson value; path is the JSON path prefix
 * used in errors ("$" at the top).
 */
ProtobufCMessage *baton_json_to_message(const json_t *j,
    const ProtobufCMessageDescriptor *desc, const char *path, char *err,
    size_t errlen);

/*
 * Builds a jansson object from a message (new reference; NULL on out of
 * memory). Fields at their default value (proto3: 0, "", empty repeated,
 * unset message) are omitted.
 */
json_t *baton_json_from_message(const ProtobufCMessage *m);

/*
 * Serialises a message to compact JSON text (malloc'd, NUL-terminated;
 * free()). NULL on out of memory.
 */
char *baton_json_format(const ProtobufCMessage *m);

#endif
