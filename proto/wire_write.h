/*
 * wire_write.h - writing protobuf wire bytes by hand, for the two frames
 * that carry a handover already packed: a pipelined Submit (client/pipe.c)
 * and a Deliver of a stored handover as it is (frame_encode_deliver). The
 * rest of the protocol is packed by protobuf-c.
 */
#ifndef BATON_WIRE_WRITE_H
#define BATON_WIRE_WRITE_H

#include <stddef.h>
#include <stdint.h>

/* The tag byte of length-delimited field number n (n < 16). */
#define WIRE_TAG_LEN(n)		((uint8_t)((n) << 3 | 2))
/* The tag byte of varint field number n (n < 16). */
#define WIRE_TAG_VARINT(n)	((uint8_t)((n) << 3))

/* Bytes a varint of v takes. */
size_t	 wire_varint_len(uint64_t v);

/* Writes v as a varint at p; returns the byte after it. */
uint8_t	*wire_put_varint(uint8_t *p, uint64_t v);

/* Bytes a length-delimited field of len payload bytes takes (1-byte tag). */
size_t	 wire_ld_len(size_t len);

/* Writes a length-delimited field's tag and length; its bytes follow. */
uint8_t	*wire_put_head(uint8_t *p, uint8_t tag, size_t len);

/* Writes a whole length-delimited field: tag, length, v[0..len). */
uint8_t	*wire_put_ld(uint8_t *p, uint8_t tag, const void *v, size_t len);

#endif
