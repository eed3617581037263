/*
 * readfile.c - a whole file of bounded size into memory (readfile.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "readfile.h"

#define KIB	((size_t)1024)
#define MIB	(KIB * 1024)

/* "larger than 1 MiB": max in the largest unit it is a whole number of. */
static void
too_large(const char *path, size_t max, char *err, size_t errlen)
{
	if (max >= MIB && max % MIB == 0)
		errbuf_set(err, errlen, "%s: larger than %zu MiB", path,
		    max / MIB);
	else if (max >= KIB && max % KIB == 0)
		errbuf_set(err, errlen, "%s: larger than %zu KiB", path,
		    max / KIB);
	else
		errbuf_set(err, errlen, "%s: larger than %zu bytes", path, max);
}

char *
readfile_all(const char *path, size_t max, size_t *len, char *err,
    size_t errlen)
{
	FILE *fp;
	char *buf;
	size_t n;

	if (max == SIZE_MAX) {		/* max + 1 below must not wrap */
		errbuf_set(err, errlen, "%s: no bound given for its size", path);
		return NULL;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		errbuf_set(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(max + 1)) == NULL) {
		fclose(fp);
		errbuf_set(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	/* one byte more than allowed: reading it means the file is too large */
	n = fread(buf, 1, max + 1, fp);
	if (ferror(fp) || n > max) {
		if (ferror(fp))
			errbuf_set(err, errlen, "%s: read error", path);
		else
			too_large(path, max, err, errlen);
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}
