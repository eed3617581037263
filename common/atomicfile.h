/*
 * atomicfile.h - writing a file so that a crash, a reader or another
 * user never sees half of it or a wider mode: the one writer behind the
 * CA's keys, certificates and CRL, the audit log's keys and its archives.
 *
 * The content goes to a temporary file beside path ("path.tmp-PID-N"),
 * created O_EXCL|O_NOFOLLOW with the final mode, so a secret never sits
 * under a wider one, not even for a moment. It is flushed and fsynced,
 * then put in place: by link(2), which refuses an existing name
 * atomically, or with ATOMICFILE_REPLACE by rename(2) over it. Last the
 * directory is fsynced, so the name survives a crash as well as the
 * bytes. The temporary file never outlives the call.
 */
#ifndef BATON_ATOMICFILE_H
#define BATON_ATOMICFILE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>

/*
 * Puts the content in f, opened for reading too ("w+"): a writer may
 * flush, rewind and read back what it wrote. Returns 1 when it wrote all
 * of it, 0 when it failed (the reason is the writer's to keep, in arg).
 */
typedef int (*atomicfile_writer)(FILE *f, void *arg);

#define ATOMICFILE_REPLACE	0x1	/* rename over an existing path */

#define ATOMICFILE_OK		0
#define ATOMICFILE_FAIL		(-1)	/* err says why; path untouched */
#define ATOMICFILE_EXISTS	1	/* path exists (no ATOMICFILE_REPLACE);
					   err says so; nothing written */
#define ATOMICFILE_WRITER	2	/* fn returned 0; err is "cannot write
					   PATH", the writer's reason to add */

/*
 * Writes path with mode through fn as above. Returns one of the
 * ATOMICFILE_* codes.
 */
int	atomicfile_write(const char *path, mode_t mode, int flags,
	    atomicfile_writer fn, void *arg, char *err, size_t errlen);

/* atomicfile_write of the len bytes at buf. */
int	atomicfile_write_buf(const char *path, mode_t mode, int flags,
	    const void *buf, size_t len, char *err, size_t errlen);

/* fsyncs the directory path is in ("." without a slash); best effort. */
void	atomicfile_sync_dir(const char *path);

#endif
