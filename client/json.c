/*
 * json.c - protobuf <-> JSON mapping driven only by protobuf-c descriptors.
 *
 * Owns: turning untrusted JSON text into a protobuf-c message of a given
 * type, and a message back into JSON. Knows nothing of Baton's schema: every
 * decision is taken from ProtobufCMessageDescriptor/ProtobufCFieldDescriptor,
 * so a schema change needs no change here. Does not validate content
 * (proto/validate.c does); it only guarantees the message is well-typed.
 *
 * Invariants:
 *  - a message under construction is always freeable with
 *    protobuf_c_message_free_unpacked(m, NULL): it is initialised from its
 *    descriptor, every pointer stored in it is either malloc'd here or the
 *    descriptor's own default, and a repeated field's count only ever covers
 *    elements already filled in;
 *  - input is bounded before it is walked: BATON_JSON_MAX_DOC bytes of text,
 *    BATON_JSON_MAX_DEPTH levels of nesting (checked over the whole parsed
 *    value, so recursion here is bounded whatever the schema);
 *  - errors carry the JSON path and the kind of mistake but never a string
 *    value from the document (it may be patient data); the only echoed text
 *    is a key or an enum name, printable-ASCII only and truncated.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define PATH_MAX_LEN	512	/* bytes of JSON path kept for errors */
#define ECHO_MAX	48	/* bytes of a key or enum name in an error */

static const char E_FRACTION[] = "expected an integer, got a fractional number";
static const char E_NOT_INT[] = "expected an integer, got a non-numeric string";
static const char E_NOT_NUM[] = "expected a number, got a non-numeric string";

struct jctx {
	char	*err;			/* caller's buffer or NULL */
	size_t	 errlen;
	char	 path[PATH_MAX_LEN];	/* where we are in the JSON */
	size_t	 plen;			/* strlen(path) */
};

static int	jfail(struct jctx *, const char *, ...)
		    __attribute__((__format__(__printf__, 2, 3)));

static int
jfail(struct jctx *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	if (c->err == NULL || c->errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s", c->path, msg);
	return -1;
}

/*
 * Copies at most ECHO_MAX bytes of s into out, replacing anything that is
 * not printable ASCII, so an error line can never carry control characters
 * or a whole field's worth of user text.
 */
static void
echo_safe(char out[ECHO_MAX + 4], const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < ECHO_MAX; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"') ?
		    s[i] : '?';
	if (n > ECHO_MAX) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

/* Appends to the path; returns the old length for path_pop. */
static size_t
path_push_key(struct jctx *c, const char *key, size_t keylen)
{
	char safe[ECHO_MAX + 4];
	size_t old = c->plen;
	int n;

	echo_safe(safe, key, keylen);
	n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, ".%s", safe);
	if (n < 0 || (size_t)n >= sizeof(c->path) - c->plen)
		c->plen = sizeof(c->path) - 1;
	else
		c->plen += (size_t)n;
	return old;
}

static size_t
path_push_index(struct jctx *c, size_t i)
{
	size_t old = c->plen;
	int n;

	n = snprintf(c->path + c->plen, sizeof(c->path) - c->plen, "[%zu]", i);
	if (n < 0 || (size_t)n >= sizeof(c->path) - c->plen)
		c->plen = sizeof(c->path) - 1;
	else
		c->plen += (size_t)n;
	return old;
}

static void
path_pop(struct jctx *c, size_t old)
{
	c->plen = old;
	c->path[old] = '\0';
}

static const char *
jtype(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "unknown";
}

/*
 * Refuses nesting deeper than BATON_JSON_MAX_DEPTH anywhere in the value,
 * before any of it is interpreted. Recursion stops one level past the
 * bound, so this walk is itself bounded.
 */
static int
check_depth(struct jctx *c, const json_t *j, int depth)
{
	const char *key;
	size_t keylen, i, old;
	json_t *v;

	if (!json_is_object(j) && !json_is_array(j))
		return 0;
	if (depth > BATON_JSON_MAX_DEPTH)
		return jfail(c, "nesting deeper than %d levels",
		    BATON_JSON_MAX_DEPTH);
	if (json_is_object(j)) {
		json_object_keylen_foreach((json_t *)j, key, keylen, v) {
			old = path_push_key(c, key, keylen);
			if (check_depth(c, v, depth + 1) != 0)
				return -1;
			path_pop(c, old);
		}
	} else {
		json_array_foreach(j, i, v) {
			old = path_push_index(c, i);
			if (check_depth(c, v, depth + 1) != 0)
				return -1;
			path_pop(c, old);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* base64 (RFC 4648; standard or URL-safe alphabet on input)           */

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int
b64val(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+' || ch == '-')
		return 62;
	if (ch == '/' || ch == '_')
		return 63;
	return -1;
}

/*
 * Decodes n bytes of base64; padding is optional but, when present, must
 * complete the last quantum. Returns 0 with *out malloc'd (NULL when the
 * result is empty), -1 on bad input, -2 on out of memory.
 */
static int
b64_decode(const char *s, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *buf;
	uint32_t acc = 0;
	size_t i, o = 0, pad = 0;
	int bits = 0, v;

	*out = NULL;
	*outlen = 0;
	while (n > 0 && s[n - 1] == '=' && pad < 2) {
		n--;
		pad++;
	}
	if (pad > 0 && (n + pad) % 4 != 0)
		return -1;
	if (n % 4 == 1)
		return -1;
	if (n == 0)
		return 0;
	if ((buf = malloc(n / 4 * 3 + 3)) == NULL)
		return -2;
	for (i = 0; i < n; i++) {
		if ((v = b64val((unsigned char)s[i])) < 0) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	if (o == 0) {
		free(buf);
		return 0;
	}
	*out = buf;
	*outlen = o;
	return 0;
}

static json_t *
b64_encode(const uint8_t *p, size_t n)
{
	json_t *j;
	char *buf;
	size_t i, o = 0;
	uint32_t v;

	if (n > (SIZE_MAX - 4) / 4 * 3)
		return NULL;
	if ((buf = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i + 2 < n; i += 3) {
		v = ((uint32_t)p[i] << 16) | ((uint32_t)p[i + 1] << 8) |
		    p[i + 2];
		buf[o++] = b64chars[(v >> 18) & 63];
		buf[o++] = b64chars[(v >> 12) & 63];
		buf[o++] = b64chars[(v >> 6) & 63];
		buf[o++] = b64chars[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		buf[o++] = b64chars[(v >> 18) & 63];
		buf[o++] = b64chars[(v >> 12) & 63];
		buf[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
		buf[o++] = '=';
	}
	buf[o] = '\0';
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

/* ------------------------------------------------------------------ */
/* JSON -> message                                                     */

static ProtobufCMessage *to_message(struct jctx *, const json_t *,
    const ProtobufCMessageDescriptor *);

/* 1 when key is the lowerCamelCase json_name protoc derives from name. */
static int
camel_equal(const char *name, const char *key, size_t keylen)
{
	size_t k = 0;
	int up = 0;

	for (; *name != '\0'; name++) {
		if (*name == '_') {
			up = 1;
			continue;
		}
		if (k == keylen)
			return 0;
		if ((up && *name >= 'a' && *name <= 'z' ?
		    *name - 'a' + 'A' : *name) != key[k])
			return 0;
		up = 0;
		k++;
	}
	return k == keylen;
}

static const ProtobufCFieldDescriptor *
find_field(const ProtobufCMessageDescriptor *d, const char *key, size_t keylen)
{
	const ProtobufCFieldDescriptor *f;
	unsigned i;

	/* a key with an embedded NUL must not match by its prefix */
	if (strlen(key) != keylen)
		return NULL;
	f = protobuf_c_message_descriptor_get_field_by_name(d, key);
	if (f != NULL)
		return f;
	for (i = 0; i < d->n_fields; i++)
		if (camel_equal(d->fields[i].name, key, keylen))
			return &d->fields[i];
	return NULL;
}

/*
 * Reads an integer given as a JSON integer, an integral real, or a decimal
 * string (protobuf's JSON form for 64-bit values), into [lo, hi].
 */
static int
get_int(struct jctx *c, const json_t *j, int64_t lo, int64_t hi,
    const char *tname, int64_t *out)
{
	long long v;
	double d;
	const char *s;
	char *end;

	switch (json_typeof(j)) {
	case JSON_INTEGER:
		v = json_integer_value(j);
		break;
	case JSON_REAL:
		d = json_real_value(j);
		if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
			return jfail(c, "integer out of range for %s", tname);
		v = (long long)d;
		if ((double)v != d)
			return jfail(c, "%s", E_FRACTION);
		break;
	case JSON_STRING:
		s = json_string_value(j);
		if (json_string_length(j) != strlen(s) ||
		    !((s[0] >= '0' && s[0] <= '9') ||
		    (s[0] == '-' && s[1] >= '0' && s[1] <= '9')))
			return jfail(c, "%s", E_NOT_INT);
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*end != '\0')
			return jfail(c, "%s", E_NOT_INT);
		if (errno == ERANGE)
			return jfail(c, "integer out of range for %s", tname);
		break;
	default:
		return jfail(c, "expected an integer, got %s", jtype(j));
	}
	if (v < lo || v > hi)
		return jfail(c, "integer out of range for %s", tname);
	*out = v;
	return 0;
}

static int
get_uint(struct jctx *c, const json_t *j, uint64_t hi, const char *tname,
    uint64_t *out)
{
	unsigned long long v;
	long long iv;
	double d;
	const char *s;
	char *end;

	switch (json_typeof(j)) {
	case JSON_INTEGER:
		if ((iv = json_integer_value(j)) < 0)
			return jfail(c, "integer out of range for %s", tname);
		v = (unsigned long long)iv;
		break;
	case JSON_REAL:
		d = json_real_value(j);
		if (!(d >= 0.0 && d < 18446744073709551616.0))
			return jfail(c, "integer out of range for %s", tname);
		v = (unsigned long long)d;
		if ((double)v != d)
			return jfail(c, "%s", E_FRACTION);
		break;
	case JSON_STRING:
		s = json_string_value(j);
		if (json_string_length(j) != strlen(s))
			return jfail(c, "%s", E_NOT_INT);
		if (s[0] == '-' && s[1] >= '0' && s[1] <= '9')
			return jfail(c, "integer out of range for %s", tname);
		/* strtoull would accept and negate a sign or skip spaces */
		if (!(s[0] >= '0' && s[0] <= '9'))
			return jfail(c, "%s", E_NOT_INT);
		errno = 0;
		v = strtoull(s, &end, 10);
		if (*end != '\0')
			return jfail(c, "%s", E_NOT_INT);
		if (errno == ERANGE)
			return jfail(c, "integer out of range for %s", tname);
		break;
	default:
		return jfail(c, "expected an integer, got %s", jtype(j));
	}
	if (v > hi)
		return jfail(c, "integer out of range for %s", tname);
	*out = v;
	return 0;
}

/* A number, or "NaN", "Infinity", "-Infinity" or a numeric string. */
static int
get_double(struct jctx *c, const json_t *j, double *out)
{
	const char *s;
	char *end;

	switch (json_typeof(j)) {
	case JSON_INTEGER:
		*out = (double)json_integer_value(j);
		return 0;
	case JSON_REAL:
		*out = json_real_value(j);
		return 0;
	case JSON_STRING:
		s = json_string_value(j);
		if (strcmp(s, "NaN") == 0)
			*out = NAN;
		else if (strcmp(s, "Infinity") == 0)
			*out = INFINITY;
		else if (strcmp(s, "-Infinity") == 0)
			*out = -INFINITY;
		else {
			if (json_string_length(j) != strlen(s) ||
			    !((s[0] >= '0' && s[0] <= '9') || s[0] == '-' ||
			    s[0] == '.'))
				return jfail(c, "%s", E_NOT_NUM);
			errno = 0;
			*out = strtod(s, &end);
			if (*end != '\0' || end == s)
				return jfail(c, "%s", E_NOT_NUM);
			if (errno == ERANGE || !isfinite(*out))
				return jfail(c, "number out of range");
		}
		return 0;
	default:
		return jfail(c, "expected a number, got %s", jtype(j));
	}
}

/* Copies a JSON string; refuses an embedded NUL, which C cannot carry. */
static int
get_string(struct jctx *c, const json_t *j, char **out)
{
	size_t n;
	char *s;

	if (!json_is_string(j))
		return jfail(c, "expected a string, got %s", jtype(j));
	n = json_string_length(j);
	if (memchr(json_string_value(j), '\0', n) != NULL)
		return jfail(c, "string contains a NUL character");
	if ((s = malloc(n + 1)) == NULL)
		return jfail(c, "out of memory");
	memcpy(s, json_string_value(j), n + 1);
	*out = s;
	return 0;
}

static int
get_enum(struct jctx *c, const json_t *j, const ProtobufCEnumDescriptor *ed,
    int *out)
{
	const ProtobufCEnumValue *ev;
	char safe[ECHO_MAX + 4];
	const char *s;
	long long v;

	if (json_is_string(j)) {
		s = json_string_value(j);
		ev = NULL;
		if (json_string_length(j) == strlen(s))
			ev = protobuf_c_enum_descriptor_get_value_by_name(ed,
			    s);
		if (ev == NULL) {
			echo_safe(safe, s, json_string_length(j));
			return jfail(c, "unknown enum value \"%s\"", safe);
		}
		*out = ev->value;
		return 0;
	}
	if (json_is_integer(j)) {
		v = json_integer_value(j);
		if (v < INT_MIN || v > INT_MAX ||
		    protobuf_c_enum_descriptor_get_value(ed, (int)v) == NULL)
			return jfail(c, "unknown enum value %lld", v);
		*out = (int)v;
		return 0;
	}
	return jfail(c, "expected an enum name or number, got %s", jtype(j));
}

/*
 * Stores one value of field f's type at dst (the field itself, or one
 * element of its repeated array). dst holds the type's zero or default;
 * on failure nothing has been allocated into it.
 */
static int
get_value(struct jctx *c, const ProtobufCFieldDescriptor *f, const json_t *j,
    void *dst)
{
	ProtobufCBinaryData *bd;
	ProtobufCMessage *sub;
	int64_t i64;
	uint64_t u64;
	double d;
	int e = 0, r;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (get_int(c, j, INT32_MIN, INT32_MAX, "int32", &i64) != 0)
			return -1;
		*(int32_t *)dst = (int32_t)i64;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (get_int(c, j, INT64_MIN, INT64_MAX, "int64", &i64) != 0)
			return -1;
		*(int64_t *)dst = i64;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (get_uint(c, j, UINT32_MAX, "uint32", &u64) != 0)
			return -1;
		*(uint32_t *)dst = (uint32_t)u64;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (get_uint(c, j, UINT64_MAX, "uint64", &u64) != 0)
			return -1;
		*(uint64_t *)dst = u64;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(j))
			return jfail(c, "expected a boolean, got %s", jtype(j));
		*(protobuf_c_boolean *)dst = json_is_true(j);
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if (get_double(c, j, &d) != 0)
			return -1;
		if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
			return jfail(c, "number out of range for float");
		*(float *)dst = (float)d;
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (get_double(c, j, &d) != 0)
			return -1;
		*(double *)dst = d;
		return 0;
	case PROTOBUF_C_TYPE_ENUM:
		if (get_enum(c, j, f->descriptor, &e) != 0)
			return -1;
		*(int *)dst = e;
		return 0;
	case PROTOBUF_C_TYPE_STRING:
		return get_string(c, j, (char **)dst);
	case PROTOBUF_C_TYPE_BYTES:
		if (!json_is_string(j))
			return jfail(c, "expected a base64 string, got %s",
			    jtype(j));
		bd = dst;
		r = b64_decode(json_string_value(j), json_string_length(j),
		    &bd->data, &bd->len);
		if (r == -2)
			return jfail(c, "out of memory");
		if (r != 0)
			return jfail(c, "invalid base64");
		return 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		if ((sub = to_message(c, j, f->descriptor)) == NULL)
			return -1;
		*(ProtobufCMessage **)dst = sub;
		return 0;
	}
	return jfail(c, "unsupported field type %d", (int)f->type);
}

static size_t
elem_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return sizeof(uint32_t);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/*
 * Fills a repeated field. The array is attached to the message before it
 * is filled and the count grows one element at a time, so a failure
 * half-way leaves a message free_unpacked can release.
 */
static int
get_repeated(struct jctx *c, const ProtobufCFieldDescriptor *f,
    const json_t *j, ProtobufCMessage *m)
{
	size_t *count = (size_t *)((char *)m + f->quantifier_offset);
	void **arr = (void **)((char *)m + f->offset);
	size_t n, i, sz, old;
	const json_t *v;

	if (!json_is_array(j))
		return jfail(c, "expected an array, got %s", jtype(j));
	if ((n = json_array_size(j)) == 0)
		return 0;
	if ((sz = elem_size(f->type)) == 0)
		return jfail(c, "unsupported field type %d", (int)f->type);
	if ((*arr = calloc(n, sz)) == NULL)
		return jfail(c, "out of memory");
	for (i = 0; i < n; i++) {
		v = json_array_get(j, i);
		old = path_push_index(c, i);
		if (json_is_null(v))
			return jfail(c, "null is not allowed in an array");
		if (get_value(c, f, v, (char *)*arr + i * sz) != 0)
			return -1;
		(*count)++;
		path_pop(c, old);
	}
	return 0;
}

static int
set_field(struct jctx *c, const ProtobufCFieldDescriptor *f, const json_t *v,
    ProtobufCMessage *m)
{
	const ProtobufCFieldDescriptor *other;
	uint32_t *oneof_case;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return get_repeated(c, f, v, m);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		/* a oneof's members share the case word at quantifier_offset */
		oneof_case = (uint32_t *)((char *)m + f->quantifier_offset);
		if (*oneof_case != 0) {
			other = protobuf_c_message_descriptor_get_field(
			    m->descriptor, *oneof_case);
			return jfail(c, "only one of a oneof may be set, "
			    "\"%s\" is set already",
			    other != NULL ? other->name : "?");
		}
		if (get_value(c, f, v, (char *)m + f->offset) != 0)
			return -1;
		*oneof_case = f->id;
		return 0;
	}
	if (get_value(c, f, v, (char *)m + f->offset) != 0)
		return -1;
	/* explicit presence (proto2 optional, proto3 `optional`) of scalars */
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    f->quantifier_offset != 0 &&
	    f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)((char *)m + f->quantifier_offset) = 1;
	return 0;
}

static ProtobufCMessage *
to_message(struct jctx *c, const json_t *j, const ProtobufCMessageDescriptor *d)
{
	const ProtobufCFieldDescriptor *f;
	ProtobufCMessage *m = NULL;
	unsigned char *seen = NULL;
	const char *key;
	size_t keylen, old, fi;
	json_t *v;

	if (!json_is_object(j)) {
		jfail(c, "expected an object, got %s", jtype(j));
		return NULL;
	}
	if ((m = malloc(d->sizeof_message)) == NULL ||
	    (seen = calloc(d->n_fields + 1, 1)) == NULL) {
		jfail(c, "out of memory");
		goto fail;
	}
	protobuf_c_message_init(d, m);
	json_object_keylen_foreach((json_t *)j, key, keylen, v) {
		old = path_push_key(c, key, keylen);
		if ((f = find_field(d, key, keylen)) == NULL) {
			jfail(c, "unknown field");
			goto fail;
		}
		/* "risk_summary" and "riskSummary" name the same field */
		fi = (size_t)(f - d->fields);
		if (seen[fi]) {
			jfail(c, "field \"%s\" given twice", f->name);
			goto fail;
		}
		seen[fi] = 1;
		if (!json_is_null(v) && set_field(c, f, v, m) != 0)
			goto fail;
		path_pop(c, old);
	}
	free(seen);
	return m;

fail:
	free(seen);
	if (m != NULL)
		protobuf_c_message_free_unpacked(m, NULL);
	return NULL;
}

ProtobufCMessage *
baton_json_to_message(const json_t *j, const ProtobufCMessageDescriptor *desc,
    const char *path, char *err, size_t errlen)
{
	struct jctx c;

	memset(&c, 0, sizeof(c));
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	snprintf(c.path, sizeof(c.path), "%s", path != NULL ? path : "$");
	c.plen = strlen(c.path);
	if (j == NULL || desc == NULL) {
		jfail(&c, "no value");
		return NULL;
	}
	if (check_depth(&c, j, 1) != 0)
		return NULL;
	return to_message(&c, j, desc);
}

ProtobufCMessage *
baton_json_parse(const char *text, size_t len,
    const ProtobufCMessageDescriptor *desc, char *err, size_t errlen)
{
	ProtobufCMessage *m;
	json_error_t jerr;
	json_t *j;
	char *near;

	if (err == NULL)
		errlen = 0;
	if (len > BATON_JSON_MAX_DOC) {
		snprintf(err, errlen, "$: document larger than %u bytes",
		    BATON_JSON_MAX_DOC);
		return NULL;
	}
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		/* jansson quotes the offending token; it may be patient data */
		if ((near = strstr(jerr.text, " near ")) != NULL)
			*near = '\0';
		snprintf(err, errlen,
		    "$: invalid JSON at line %d, column %d: %s", jerr.line,
		    jerr.column, jerr.text);
		return NULL;
	}
	m = baton_json_to_message(j, desc, "$", err, errlen);
	json_decref(j);
	return m;
}

/* ------------------------------------------------------------------ */
/* message -> JSON                                                     */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		need = 1;
	else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* nothing past U+10FFFF */
	} else
		return 0;
	if (n < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

/*
 * A string from the wire need not be UTF-8 (protobuf-c does not check);
 * JSON must be, so ill-formed bytes become U+FFFD rather than failing.
 */
static json_t *
string_to_json(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, i, o = 0, k;
	json_t *j;
	char *buf;

	if (s == NULL)
		return json_string("");
	if ((j = json_string(s)) != NULL)
		return j;
	n = strlen(s);
	if (n > (SIZE_MAX - 1) / 3 || (buf = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; ) {
		if ((k = utf8_seq(p + i, n - i)) == 0) {
			memcpy(buf + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(buf + o, p + i, k);
		o += k;
		i += k;
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

static json_t *
float_to_json(double v)
{
	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	return json_real(v);
}

static json_t *message_to_json(const ProtobufCMessage *);

static json_t *
value_to_json(const ProtobufCFieldDescriptor *f, const void *p)
{
	const ProtobufCEnumValue *ev;
	const ProtobufCBinaryData *bd;
	const ProtobufCMessage *sub;
	char buf[32];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		/* as a string: JSON numbers lose precision past 2^53 */
		snprintf(buf, sizeof(buf), "%" PRId64, *(const int64_t *)p);
		return json_string(buf);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)p);
		return json_string(buf);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return float_to_json(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return float_to_json(*(const double *)p);
	case PROTOBUF_C_TYPE_ENUM:
		/* proto3 enums are open: an undefined value stays a number */
		ev = protobuf_c_enum_descriptor_get_value(f->descriptor,
		    *(const int *)p);
		if (ev != NULL)
			return json_string(ev->name);
		return json_integer(*(const int *)p);
	case PROTOBUF_C_TYPE_STRING:
		return string_to_json(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		bd = p;
		return b64_encode(bd->data, bd->data != NULL ? bd->len : 0);
	case PROTOBUF_C_TYPE_MESSAGE:
		sub = *(ProtobufCMessage *const *)p;
		return sub != NULL ? message_to_json(sub) : json_object();
	}
	return NULL;
}

/* 1 when a proto3 implicit-presence field holds its default. */
static int
is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	const char *s;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return *(const uint32_t *)p == 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)p == 0;
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)p == 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0;
	case PROTOBUF_C_TYPE_ENUM:
		return *(const int *)p == 0;
	case PROTOBUF_C_TYPE_STRING:
		s = *(char *const *)p;
		return s == NULL || *s == '\0';
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(ProtobufCMessage *const *)p == NULL;
	}
	return 1;
}

/* 1 when field f of m is to be written out. */
static int
field_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base = (const char *)m;
	const void *p = base + f->offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
		return *(const uint32_t *)(base + f->quantifier_offset) ==
		    f->id;
	switch (f->label) {
	case PROTOBUF_C_LABEL_REPEATED:
		return *(const size_t *)(base + f->quantifier_offset) > 0;
	case PROTOBUF_C_LABEL_REQUIRED:
		return f->type != PROTOBUF_C_TYPE_MESSAGE ||
		    *(ProtobufCMessage *const *)p != NULL;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (f->type == PROTOBUF_C_TYPE_STRING)
			return *(char *const *)p != NULL &&
			    *(char *const *)p != f->default_value;
		if (f->type == PROTOBUF_C_TYPE_MESSAGE)
			return *(ProtobufCMessage *const *)p != NULL;
		return *(const protobuf_c_boolean *)(base +
		    f->quantifier_offset);
	case PROTOBUF_C_LABEL_NONE:
		return !is_default(f, p);
	}
	return 0;
}

static json_t *
message_to_json(const ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	const char *base = (const char *)m;
	const ProtobufCFieldDescriptor *f;
	json_t *o, *v = NULL, *a;
	const char *arr;
	size_t n, i, sz;
	unsigned fi;

	if ((o = json_object()) == NULL)
		return NULL;
	for (fi = 0; fi < d->n_fields; fi++) {
		f = &d->fields[fi];
		if (!field_present(m, f))
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(base + f->quantifier_offset);
			arr = *(char *const *)(base + f->offset);
			sz = elem_size(f->type);
			if ((v = json_array()) == NULL)
				goto fail;
			for (i = 0; i < n; i++) {
				a = value_to_json(f, arr + i * sz);
				if (a == NULL ||
				    json_array_append_new(v, a) != 0)
					goto fail;
			}
		} else if ((v = value_to_json(f, base + f->offset)) == NULL)
			goto fail;
		if (json_object_set_new(o, f->name, v) != 0) {
			v = NULL;	/* consumed even on failure */
			goto fail;
		}
		v = NULL;
	}
	return o;

fail:
	json_decref(v);
	json_decref(o);
	return NULL;
}

json_t *
baton_json_from_message(const ProtobufCMessage *m)
{
	if (m == NULL || m->descriptor == NULL)
		return NULL;
	return message_to_json(m);
}

char *
baton_json_format(const ProtobufCMessage *m)
{
	json_t *j;
	char *s;

	if ((j = baton_json_from_message(m)) == NULL)
		return NULL;
	s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return s;
}
