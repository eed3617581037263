/*
 * datadir.c - refuses a data directory that others can read.
 *
 * data.mdb holds every handover in the clear, and the directory holds the
 * audit keys, so a directory or file that group or others may read (or
 * write) is a start-up error, as a group-readable TLS key is (tls.c). So is
 * an entry owned by someone other than the broker's user: that user could
 * change its mode back at any time. Checked before the store is opened,
 * after the broker has become its user, and by `batond -n`.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"

/*
 * Checks one stat result of path (a directory if isdir). Returns 0, or -1
 * with err set.
 */
static int
datadir_entry_ok(const char *path, const struct stat *st, int isdir,
    uid_t owner, char *err, size_t errlen)
{
	if (st->st_uid != owner) {
		snprintf(err, errlen, "%s: data %s is owned by uid %ld, not by "
		    "the broker's user (uid %ld); chown -R %ld %s", path,
		    isdir ? "directory" : "file", (long)st->st_uid,
		    (long)owner, (long)owner, path);
		return -1;
	}
	if (st->st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: data %s is accessible by group or "
		    "others (mode %04o); chmod %s %s", path,
		    isdir ? "directory" : "file", (unsigned)(st->st_mode & 07777),
		    isdir ? "0700" : "0600", path);
		return -1;
	}
	return 0;
}

/* Checks every entry of the open directory d (named dir). */
static int
datadir_entries_ok(DIR *d, const char *dir, uid_t owner, char *err,
    size_t errlen)
{
	struct dirent *de;
	struct stat st;
	char path[4096];

	errno = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (fstatat(dirfd(d), de->d_name, &st, 0) == -1) {
			snprintf(err, errlen, "%s: cannot check data file: %s",
			    path, strerror(errno));
			return -1;
		}
		if (datadir_entry_ok(path, &st, S_ISDIR(st.st_mode), owner,
		    err, errlen) == -1)
			return -1;
		errno = 0;
	}
	if (errno != 0) {
		snprintf(err, errlen, "%s: cannot list data directory: %s", dir,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
datadir_check(const char *dir, uid_t owner, char *err, size_t errlen)
{
	struct stat st;
	DIR *d;
	int rc;

	if (stat(dir, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: cannot check data directory: %s",
		    dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: data directory is not a directory",
		    dir);
		return -1;
	}
	if (datadir_entry_ok(dir, &st, 1, owner, err, errlen) == -1)
		return -1;
	if ((d = opendir(dir)) == NULL) {
		snprintf(err, errlen, "%s: cannot list data directory: %s", dir,
		    strerror(errno));
		return -1;
	}
	rc = datadir_entries_ok(d, dir, owner, err, errlen);
	closedir(d);
	return rc;
}
