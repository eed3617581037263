/*
 * names.h - short lowercase names of enum values for logs, policy.conf,
 * status output and the CLI: TRANSITION_KIND_STEP_DOWN -> "step_down".
 */
#ifndef BATON_NAMES_H
#define BATON_NAMES_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

/*
 * Writes the name of value in d, without prefix and lowercased, into buf
 * and returns buf; returns "unknown" when the value is not defined or does
 * not carry the prefix.
 */
const char	*names_enum_short(const ProtobufCEnumDescriptor *d, int value,
		    const char *prefix, char *buf, size_t len);

/*
 * The reverse: the value whose short name is name, or -1. Value 0
 * ("unspecified") is never returned.
 */
int		 names_enum_value(const ProtobufCEnumDescriptor *d,
		    const char *prefix, const char *name);

#endif
