/*
 * pbstr.h - replacing a string field of an unpacked protobuf-c message.
 *
 * protobuf-c points unset proto3 strings at the shared protobuf_c_empty_string
 * and free_unpacked skips that pointer; anything else there is owned by the
 * message: malloc'd, or carved from the arena when the message was unpacked
 * with pbarena, whose free tells the two apart. This is the one place that
 * knows.
 */
#ifndef BATON_PBSTR_H
#define BATON_PBSTR_H

#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "pbarena.h"

/* Sets *field to a malloc'd copy of value. Returns 0, or -1 on out of memory. */
static inline int
pbstr_set(char **field, const char *value)
{
	char *copy = strdup(value != NULL ? value : "");

	if (copy == NULL)
		return -1;
	if (*field != NULL && *field != protobuf_c_empty_string)
		pbarena.free(pbarena.allocator_data, *field);
	*field = copy;
	return 0;
}

#endif
