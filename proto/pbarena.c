/*
 * pbarena.c - a bump allocator for short-lived protobuf messages (see
 * pbarena.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pbarena.h"

#if defined(__SANITIZE_ADDRESS__)
#define PBARENA_OFF	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PBARENA_OFF	1
#endif
#endif

#define ALIGN		16

struct arena {
	uint8_t	*base;
	size_t	 cap;
	size_t	 used;
	size_t	 live;	/* allocations carved and not yet freed */
};

static _Thread_local struct arena arena;

static void *
arena_alloc(void *data, size_t size)
{
	size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
	void *p;

	(void)data;
	if (arena.base == NULL || need < size || need > arena.cap - arena.used)
		return malloc(size);
	p = arena.base + arena.used;
	arena.used += need;
	arena.live++;
	return p;
}

static void
arena_free(void *data, void *p)
{
	uint8_t *q = p;

	(void)data;
	if (arena.base != NULL && q >= arena.base && q < arena.base + arena.cap) {
		if (arena.live > 0 && --arena.live == 0)
			arena.used = 0;
		return;
	}
	free(p);
}

ProtobufCAllocator pbarena = { arena_alloc, arena_free, NULL };

int
pbarena_enable(size_t cap)
{
#ifdef PBARENA_OFF
	(void)cap;
	return 0;
#else
	uint8_t *b = NULL;

	if (arena.live > 0)
		return -1;	/* messages carved from the old buffer are live */
	if (cap > 0 && (b = malloc(cap)) == NULL)
		return -1;
	free(arena.base);
	arena.base = b;
	arena.cap = b != NULL ? cap : 0;
	arena.used = 0;
	return 0;
#endif
}

void *
pbarena_array_grow(void *old, size_t n, size_t elem)
{
	void *p;

	if (elem == 0 || n + 1 > SIZE_MAX / elem ||
	    (p = malloc((n + 1) * elem)) == NULL)
		return NULL;
	if (n > 0)
		memcpy(p, old, n * elem);
	if (old != NULL)
		arena_free(NULL, old);
	return p;
}

size_t
pbarena_used(void)
{
	return arena.used;
}

size_t
pbarena_live(void)
{
	return arena.live;
}
