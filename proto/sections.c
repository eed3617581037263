/*
 * sections.c - section bit sets derived from baton.v1.Handover's descriptor.
 *
 * Bit i stands for the i-th field of Handover in declaration order. The
 * descriptor's fields are sorted by number, which matches declaration
 * order in baton.proto (1..8); an assertion at first use keeps that true.
 */
#include <assert.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "pbarena.h"
#include "sections.h"

static const ProtobufCMessageDescriptor *
handover_desc(void)
{
	const ProtobufCMessageDescriptor *d = &baton__v1__handover__descriptor;

	assert(d->n_fields == SECTION_COUNT);
	return d;
}

size_t
sections_count(void)
{
	return handover_desc()->n_fields;
}

const char *
sections_name(size_t i)
{
	const ProtobufCMessageDescriptor *d = handover_desc();

	return i < d->n_fields ? d->fields[i].name : NULL;
}

section_mask
sections_bit(const char *name)
{
	const ProtobufCMessageDescriptor *d = handover_desc();
	size_t i;

	for (i = 0; i < d->n_fields; i++)
		if (strcmp(d->fields[i].name, name) == 0)
			return (section_mask)1u << i;
	return 0;
}

static ProtobufCMessage **
section_slot(Baton__V1__Handover *h, size_t i)
{
	const ProtobufCFieldDescriptor *f = &handover_desc()->fields[i];

	assert(f->type == PROTOBUF_C_TYPE_MESSAGE);
	return (ProtobufCMessage **)((char *)h + f->offset);
}

section_mask
sections_present(const Baton__V1__Handover *h)
{
	section_mask m = 0;
	size_t i;

	for (i = 0; i < SECTION_COUNT; i++)
		if (*section_slot((Baton__V1__Handover *)h, i) != NULL)
			m |= (section_mask)1u << i;
	return m;
}

section_mask
sections_redact(Baton__V1__Handover *h, section_mask allowed)
{
	section_mask removed = 0;
	size_t i;

	for (i = 0; i < SECTION_COUNT; i++) {
		ProtobufCMessage **slot = section_slot(h, i);

		if (*slot == NULL || (allowed & ((section_mask)1u << i)))
			continue;
		protobuf_c_message_free_unpacked(*slot, &pbarena);
		*slot = NULL;
		removed |= (section_mask)1u << i;
	}
	return removed;
}

char *
sections_format(section_mask mask, char *buf, size_t len)
{
	size_t i, used = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (i = 0; i < SECTION_COUNT; i++) {
		const char *n;
		size_t nl;

		if (!(mask & ((section_mask)1u << i)))
			continue;
		n = sections_name(i);
		nl = strlen(n);
		if (used + (used ? 1 : 0) + nl + 1 > len)
			break;
		if (used)
			buf[used++] = ',';
		memcpy(buf + used, n, nl + 1);
		used += nl;
	}
	return buf;
}
