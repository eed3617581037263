/*
 * policy_file.c - the policy file read once, parsed and hashed (see
 * policy_file.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "policy_file.h"
#include "hex.h"
#include "readfile.h"

/* Lower-case hex SHA-256 of n bytes at p; 0, or -1. */
static int
sha256_hex(const char *p, size_t n, char out[POLICY_SHA256_HEX + 1])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 != POLICY_SHA256_HEX)
		return -1;
	hex_encode(md, mdlen, out);
	return 0;
}

struct policy *
policy_file_load(const char *path, char sha256[POLICY_SHA256_HEX + 1],
    const char **why, char *err, size_t errlen)
{
	struct policy	*p;
	char		*buf;
	size_t		 len = 0;

	sha256[0] = '\0';
	*why = POLICY_FILE_UNREADABLE;
	if ((buf = readfile_all(path, POLICY_FILE_MAX, &len, err,
	    errlen)) == NULL)
		return NULL;
	if (sha256_hex(buf, len, sha256) == -1) {	/* also for a refusal */
		snprintf(err, errlen, "%s: SHA-256 failed", path);
		free(buf);
		return NULL;
	}
	*why = POLICY_FILE_INVALID;
	if ((p = policy_parse(path, buf, len, err, errlen)) != NULL)
		memcpy(p->sha256, sha256, POLICY_SHA256_HEX + 1);
	free(buf);
	return p;
}

void
policy_file_first_error(const char *err, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.*s", (int)strcspn(err, "\n"), err);
}
