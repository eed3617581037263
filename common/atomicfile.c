/*
 * atomicfile.c - write to a temporary file, fsync, link or rename into
 * place (atomicfile.h).
 *
 * Invariant: whatever the outcome, the temporary file is gone when the
 * call returns, and path is either as it was or the whole new content.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "errbuf.h"

#define TMP_TRIES	8	/* names tried before giving up on EEXIST */

void
atomicfile_sync_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int fd;

	if (slash == NULL)
		(void)snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		(void)snprintf(dir, sizeof(dir), "/");
	else
		(void)snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path),
		    path);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	(void)fsync(fd);
	close(fd);
}

/* Creates a fresh temporary file beside path; its name goes to tmp. */
static FILE *
create_tmp(const char *path, mode_t mode, char *tmp, size_t tmplen,
    char *err, size_t errlen)
{
	FILE *f;
	int fd = -1, n, tries;

	for (tries = 0; tries < TMP_TRIES; tries++) {
		n = snprintf(tmp, tmplen, "%s.tmp-%ld-%d", path,
		    (long)getpid(), tries);
		if (n < 0 || (size_t)n >= tmplen) {
			errbuf_set(err, errlen, "path too long: %s", path);
			return NULL;
		}
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
		    O_CLOEXEC, mode);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1) {
		errbuf_set(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		return NULL;
	}
	if ((f = fdopen(fd, "w+")) == NULL) {
		errbuf_set(err, errlen, "cannot write %s: %s", tmp,
		    strerror(errno));
		close(fd);
		(void)unlink(tmp);
	}
	return f;
}

/* Puts tmp in place as path: link(2), or rename(2) with replace. */
static int
install(const char *tmp, const char *path, int replace, char *err,
    size_t errlen)
{
	if (replace) {
		if (rename(tmp, path) == 0)
			return ATOMICFILE_OK;
		errbuf_set(err, errlen, "cannot replace %s: %s", path,
		    strerror(errno));
		return ATOMICFILE_FAIL;
	}
	if (link(tmp, path) == 0)
		return ATOMICFILE_OK;
	if (errno == EEXIST) {
		errbuf_set(err, errlen, "%s already exists", path);
		return ATOMICFILE_EXISTS;
	}
	errbuf_set(err, errlen, "cannot create %s: %s", path, strerror(errno));
	return ATOMICFILE_FAIL;
}

int
atomicfile_write(const char *path, mode_t mode, int flags,
    atomicfile_writer fn, void *arg, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	FILE *f;
	int r = ATOMICFILE_FAIL;

	if ((f = create_tmp(path, mode, tmp, sizeof(tmp), err,
	    errlen)) == NULL)
		return ATOMICFILE_FAIL;
	if (fn(f, arg) != 1) {
		errbuf_set(err, errlen, "cannot write %s", path);
		r = ATOMICFILE_WRITER;
		goto done;
	}
	if (fflush(f) == EOF || fsync(fileno(f)) == -1) {
		errbuf_set(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		goto done;
	}
	r = fclose(f);
	f = NULL;
	if (r == EOF) {
		errbuf_set(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		r = ATOMICFILE_FAIL;
		goto done;
	}
	if ((r = install(tmp, path, flags & ATOMICFILE_REPLACE, err,
	    errlen)) == ATOMICFILE_OK)
		atomicfile_sync_dir(path);
done:
	if (f != NULL)
		fclose(f);
	/* A rename took the name away; a link left it for us to remove. */
	if (r != ATOMICFILE_OK || !(flags & ATOMICFILE_REPLACE))
		(void)unlink(tmp);
	return r;
}

struct buf {
	const void	*p;
	size_t		 len;
};

static int
write_buf(FILE *f, void *arg)
{
	const struct buf *b = arg;

	return fwrite(b->p, 1, b->len, f) == b->len;
}

int
atomicfile_write_buf(const char *path, mode_t mode, int flags,
    const void *buf, size_t len, char *err, size_t errlen)
{
	struct buf b = { buf, len };

	return atomicfile_write(path, mode, flags, write_buf, &b, err, errlen);
}
