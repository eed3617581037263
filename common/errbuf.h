/*
 * errbuf.h - filling a caller's error buffer: the one formatter behind
 * every "char *err, size_t errlen" parameter in Baton.
 *
 * A function that can fail takes err and errlen and, on failure, leaves a
 * sentence there a person can act on. err may be NULL or errlen 0: the
 * caller does not want the text, and nothing is written.
 */
#ifndef BATON_ERRBUF_H
#define BATON_ERRBUF_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into err (always terminated, cut at errlen - 1 bytes). */
void	errbuf_set(char *err, size_t errlen, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
void	errbuf_vset(char *err, size_t errlen, const char *fmt, va_list ap)
	    __attribute__((format(printf, 3, 0)));

#endif
