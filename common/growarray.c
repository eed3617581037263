/*
 * growarray.c - appending to a doubling array (growarray.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "growarray.h"

#define GROWARRAY_FIRST	16	/* elements made room for at first */

void *
growarray_push(void *vp, size_t *n, size_t *cap, size_t size)
{
	void *v, *grown;
	size_t newcap;

	/*
	 * vp holds the caller's typed pointer: copied in and out as bytes,
	 * as every ABI Baton builds for gives all object pointers one
	 * representation, so the caller needs no cast and no macro.
	 */
	memcpy(&v, vp, sizeof(v));
	if (*n == *cap) {
		if (*cap > SIZE_MAX / 2)
			return NULL;
		newcap = *cap == 0 ? GROWARRAY_FIRST : *cap * 2;
		/* reallocarray refuses newcap * size overflowing */
		if ((grown = reallocarray(v, newcap, size)) == NULL)
			return NULL;
		v = grown;
		memcpy(vp, &v, sizeof(v));
		*cap = newcap;
	}
	v = (char *)v + *n * size;
	memset(v, 0, size);
	(*n)++;
	return v;
}
