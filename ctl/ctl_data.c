/*
 * ctl_data.c - the broker's data directory as batonctl uses it
 * (ctl_data.h).
 *
 * The store is opened directly (LMDB is multi-process, so the broker may
 * be running); every batonctl command that touches it comes through here,
 * so a missing directory, a store that cannot be opened and a record that
 * cannot be committed are worded the same way by all of them.
 */
#include <sys/stat.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "store.h"

int
ctl_data_exists(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) == -1)
		return ctl_failx("cannot use the data directory %s: %s", dir,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ctl_failx("%s is not a directory", dir);
	return EXIT_SUCCESS;
}

int
ctl_data_audit_open(const char *dir, int new_dir, struct audit **au)
{
	struct stat st;
	char err[1024];
	int have;

	if (!new_dir && stat(dir, &st) == -1)
		return ctl_failx("cannot open the audit log: data directory "
		    "%s: %s", dir, strerror(errno));
	if ((have = store_exists(dir, err, sizeof(err))) == -1 ||
	    (*au = audit_open(dir, have == 0, err, sizeof(err))) == NULL)
		return ctl_failx("cannot open the audit log: %s", err);
	return EXIT_SUCCESS;
}

int
ctl_data_store(const char *dir, int readonly, struct store **s)
{
	struct store_opts so;
	char err[1024];

	memset(&so, 0, sizeof(so));
	so.dir = dir;
	so.readonly = readonly;
	if (store_open(&so, s, err, sizeof(err)) != STORE_OK)
		return ctl_failx("%s", err);
	return EXIT_SUCCESS;
}

int
ctl_data_begin(const char *dir, int readonly, struct store **s)
{
	if (ctl_data_store(dir, readonly, s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (store_begin(*s, readonly) != STORE_OK) {
		ctl_failx("cannot begin a transaction in %s: %s", dir,
		    store_strerror(*s));
		store_close(*s);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int
ctl_data_record(struct audit *au, struct store *s,
    const struct audit_event *ev, const char *what)
{
	if (store_begin(s, 0) != STORE_OK)
		return ctl_failx("cannot record %s: %s", what,
		    store_strerror(s));
	if (audit_append(au, s, ev, clockms_wall()) != STORE_OK) {
		store_abort(s);
		return ctl_failx("cannot record %s: %s", what,
		    audit_strerror(au));
	}
	if (store_commit(s) != STORE_OK)
		return ctl_failx("cannot record %s: %s", what,
		    store_strerror(s));
	return EXIT_SUCCESS;
}

int
ctl_data_batond(long pid)
{
	char path[64], comm[32] = "";
	FILE *fp;

	if (pid <= 0 || (kill((pid_t)pid, 0) == -1 && errno != EPERM))
		return CTL_BATOND_NO;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return CTL_BATOND_ALIVE;
	if (fgets(comm, sizeof(comm), fp) == NULL)
		comm[0] = '\0';
	fclose(fp);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "batond") == 0 ? CTL_BATOND_YES : CTL_BATOND_NO;
}
