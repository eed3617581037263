/*
 * names.c - short enum names (see names.h), from the generated descriptors
 * so there is one list of names: the .proto file.
 */
#include <ctype.h>
#include <string.h>

#include "names.h"

const char *
names_enum_short(const ProtobufCEnumDescriptor *d, int value,
    const char *prefix, char *buf, size_t len)
{
	const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(d, value);
	size_t i, pl = strlen(prefix);

	if (ev == NULL || strncmp(ev->name, prefix, pl) != 0 || len == 0)
		return "unknown";
	for (i = 0; ev->name[pl + i] && i + 1 < len; i++)
		buf[i] = (char)tolower((unsigned char)ev->name[pl + i]);
	buf[i] = '\0';
	return buf;
}

int
names_enum_value(const ProtobufCEnumDescriptor *d, const char *prefix,
    const char *name)
{
	size_t i, j, pl = strlen(prefix);

	for (i = 0; i < d->n_values; i++) {
		const char *n = d->values[i].name;

		if (d->values[i].value == 0 || strncmp(n, prefix, pl) != 0)
			continue;
		n += pl;
		for (j = 0; n[j] && name[j] &&
		    tolower((unsigned char)n[j]) == name[j]; j++)
			;
		if (n[j] == '\0' && name[j] == '\0')
			return d->values[i].value;
	}
	return -1;
}
