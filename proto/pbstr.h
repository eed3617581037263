/*
 * pbstr.h - replacing a string field of an unpacked protobuf-c message.
 *
 * protobuf-c points unset proto3 strings at the shared protobuf_c_empty_string
 * and free_unpacked skips that pointer; anything else there is malloc'd and
 * owned by the message. This is the one place that knows.
 */
#ifndef BATON_PBSTR_H
#define BATON_PBSTR_H

#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

/* Sets *field to a malloc'd copy of value. Returns 0, or -1 on out of memory. */
static inline int
pbstr_set(char **field, const char *value)
{
	char *copy = strdup(value != NULL ? value : "");

	if (copy == NULL)
		return -1;
	if (*field != NULL && *field != protobuf_c_empty_string)
		free(*field);
	*field = copy;
	return 0;
}

/* Moves an owned string out of a field, leaving the field empty. */
static inline char *
pbstr_take(char **field)
{
	char *s = *field;

	*field = (char *)protobuf_c_empty_string;
	if (s == protobuf_c_empty_string)
		return strdup("");
	return s;
}

#endif
