/*
 * policy_file.h - loading the policy file for batond: the policy parsed
 * and the SHA-256 of the very bytes parsed, so the audit record of a
 * (re)load says which policy is in force (policy_loaded, detail
 * policy_sha256=HEX), and a refused one says why in one line.
 *
 * The file is read once: hashing it apart from the parse could name
 * another file than the one in force if it were replaced in between.
 * Parsing is policy.c's (policy_parse); this only reads, bounds and hashes.
 */
#ifndef BATON_POLICY_FILE_H
#define BATON_POLICY_FILE_H

#include <stddef.h>

#include "policy.h"

#define POLICY_SHA256_HEX	64

/* Why a load failed (the outcome of a policy_refused record). */
#define POLICY_FILE_UNREADABLE	"UNREADABLE"	/* cannot open or read it */
#define POLICY_FILE_INVALID	"INVALID"	/* read, but has errors */

/*
 * Reads path (at most POLICY_FILE_MAX bytes), parses it and puts the
 * lower-case hex SHA-256 of its bytes in sha256 (POLICY_SHA256_HEX + 1
 * bytes). Returns the policy, or NULL with err holding every problem,
 * one "file:line: reason" per line, and *why one of POLICY_FILE_*.
 */
struct policy	*policy_file_load(const char *path,
		    char sha256[POLICY_SHA256_HEX + 1], const char **why,
		    char *err, size_t errlen);

/*
 * The first line of err from policy_file_load into out: what a
 * policy_refused record and `batonctl reload` show.
 */
void		 policy_file_first_error(const char *err, char *out,
		    size_t outlen);

#endif
