/*
 * readfile.h - reading a whole file of bounded size into memory: the one
 * reader behind the policy files (policy.c, policy_file.c), so a file
 * that is too large is refused the same way, before it is parsed, and
 * never allocated beyond its bound.
 */
#ifndef BATON_READFILE_H
#define BATON_READFILE_H

#include <stddef.h>

/*
 * Reads all of path, at most max bytes, into a new buffer (free it) with
 * a NUL after the last byte; *len gets the length without it. Returns the
 * buffer, or NULL with err "PATH: reason": the open's errno text, "out of
 * memory", "read error" or "larger than 1 MiB" (max as MiB, KiB or
 * bytes).
 */
char	*readfile_all(const char *path, size_t max, size_t *len, char *err,
	    size_t errlen);

#endif
