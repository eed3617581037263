/*
 * policy_file.c - the policy file read once, parsed and hashed (see
 * policy_file.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "policy_file.h"

/*
 * Reads all of path into a new buffer (*len bytes). Returns it, or NULL
 * with err set (cannot open, read error, or more than POLICY_FILE_MAX).
 */
static char *
read_all(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE	*fp;
	char	*buf;
	size_t	 n;

	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(POLICY_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	n = fread(buf, 1, POLICY_FILE_MAX + 1, fp);
	if (ferror(fp) || n > POLICY_FILE_MAX) {
		snprintf(err, errlen, "%s: %s", path, ferror(fp) ?
		    "read error" : "larger than 1 MiB");
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	*len = n;
	return buf;
}

/* Lower-case hex SHA-256 of n bytes at p; 0, or -1. */
static int
sha256_hex(const char *p, size_t n, char out[POLICY_SHA256_HEX + 1])
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen * 2 != POLICY_SHA256_HEX)
		return -1;
	for (i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
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
	if ((buf = read_all(path, &len, err, errlen)) == NULL)
		return NULL;
	if (sha256_hex(buf, len, sha256) == -1) {
		snprintf(err, errlen, "%s: SHA-256 failed", path);
		free(buf);
		return NULL;
	}
	*why = POLICY_FILE_INVALID;
	p = policy_parse(path, buf, len, err, errlen);
	free(buf);
	return p;
}

void
policy_file_first_error(const char *err, char *out, size_t outlen)
{
	snprintf(out, outlen, "%.*s", (int)strcspn(err, "\n"), err);
}
