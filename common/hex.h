/*
 * hex.h - bytes as lower-case hex and back: the audit log's hashes and
 * keys, sealed work-list cursors, anchors typed by people.
 */
#ifndef BATON_HEX_H
#define BATON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* n bytes at p as 2n lower-case hex digits and a NUL into out. */
void	hex_encode(const uint8_t *p, size_t n, char *out);

/*
 * The first 2n characters of s (hex digits, either case) as n bytes into
 * out. Returns 0, or -1 at the first character that is not a hex digit.
 */
int	hex_decode(const char *s, size_t n, uint8_t *out);

#endif
