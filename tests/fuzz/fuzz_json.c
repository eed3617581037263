/*
 * fuzz_json.c - libFuzzer target for the JSON mapping (client/json.c).
 *
 * Feeds arbitrary bytes to baton_json_parse as a Handover and as a Frame.
 * Whatever is accepted must format, parse back, format to the same text
 * and pack to the same bytes: the mapping is a bijection on what it
 * accepts. A refusal must say where (an error starting with "$").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "validate.h"
#include "baton.pb-c.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(*len + 1)) == NULL)
		abort();
	if (protobuf_c_message_pack(m, buf) != *len)
		abort();
	return buf;
}

static void
one(const uint8_t *data, size_t size, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m, *back;
	uint8_t *a, *b;
	size_t alen, blen;
	char err[512] = "";
	char *s1, *s2;

	m = baton_json_parse((const char *)data, size, d, err, sizeof(err));
	if (m == NULL) {
		if (err[0] != '$')
			abort();
		return;
	}
	if (d == &baton__v1__handover__descriptor)
		(void)validate_handover((Baton__V1__Handover *)m, err, sizeof(err));
	if ((s1 = baton_json_format(m)) == NULL)
		abort();
	back = baton_json_parse(s1, strlen(s1), d, err, sizeof(err));
	if (back == NULL)
		abort();	/* our own output refused */
	if ((s2 = baton_json_format(back)) == NULL || strcmp(s1, s2) != 0)
		abort();
	a = pack(m, &alen);
	b = pack(back, &blen);
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
	free(a);
	free(b);
	free(s1);
	free(s2);
	protobuf_c_message_free_unpacked(back, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size, &baton__v1__handover__descriptor);
	one(data, size, &baton__v1__frame__descriptor);
	return 0;
}
