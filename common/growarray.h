/*
 * growarray.h - appending to an array that doubles as it fills: the one
 * growth rule behind the CA's certificate and renewal lists and
 * batonctl's tables of nodes and certificates.
 *
 * The array stays the caller's own typed pointer (struct ca_cert *v),
 * with its count and capacity beside it (size_t n, cap; all zero when
 * empty), so the caller indexes v[i] as ever and frees v when done.
 */
#ifndef BATON_GROWARRAY_H
#define BATON_GROWARRAY_H

#include <stddef.h>

/*
 * Appends one zeroed element of size bytes to the array whose pointer is
 * at vp (&a->v), holding *n elements with room for *cap. Returns the new
 * element, or NULL when out of memory, with the array, *n and *cap as
 * they were.
 */
void	*growarray_push(void *vp, size_t *n, size_t *cap, size_t size);

#endif
