/*
 * pbarena.h - a bump allocator for protobuf messages that live for one
 * callback.
 *
 * The broker unpacks a frame, a stored handover or a registry record,
 * works on it and frees it before the callback returns; protobuf-c gives
 * every string and sub-message of it a malloc of its own (some 150 for a
 * handover), which made malloc and free the largest single cost per
 * handover. With the arena on, those allocations are carved from one
 * buffer and the buffer is reused once every message carved from it has
 * been freed (a count of live allocations reaching zero). An allocation
 * that does not fit, or any while the arena is off, comes from malloc;
 * pbarena's free tells the two apart by address, so a message may hold
 * both and must simply be freed with the allocator it was unpacked with.
 *
 * Off by default (libbaton and the tools never turn it on); one arena per
 * thread. In AddressSanitizer builds it stays off, so every allocation is
 * checked on its own.
 */
#ifndef BATON_PBARENA_H
#define BATON_PBARENA_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/* Pass to *__unpack and *__free_unpacked (always both, or neither). */
extern ProtobufCAllocator pbarena;

/* Turns the calling thread's arena on with cap bytes (0: off). 0 or -1. */
int	pbarena_enable(size_t cap);

/*
 * Grows an array field of an unpacked message from n to n + 1 elements of
 * size elem, whether it was carved from the arena or malloc'd (realloc
 * cannot take an arena address): a malloc'd copy, the old one released as
 * pbarena's free would. NULL on out of memory (old is then untouched).
 */
void	*pbarena_array_grow(void *old, size_t n, size_t elem);

/* Bytes carved and allocations live now, for tests. */
size_t	pbarena_used(void);
size_t	pbarena_live(void);

#endif
