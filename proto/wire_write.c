/*
 * wire_write.c - protobuf wire bytes written by hand (see wire_write.h).
 */
#include <string.h>

#include "wire_write.h"

size_t
wire_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

uint8_t *
wire_put_varint(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

size_t
wire_ld_len(size_t len)
{
	return 1 + wire_varint_len(len) + len;
}

uint8_t *
wire_put_head(uint8_t *p, uint8_t tag, size_t len)
{
	*p++ = tag;
	return wire_put_varint(p, len);
}

uint8_t *
wire_put_ld(uint8_t *p, uint8_t tag, const void *v, size_t len)
{
	p = wire_put_head(p, tag, len);
	if (len > 0)
		memcpy(p, v, len);
	return p + len;
}
