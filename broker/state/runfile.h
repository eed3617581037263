/*
 * runfile.h - the two small files a running broker keeps in its data
 * directory for batonctl: batond.pid (its process id, while it runs) and
 * reload.status (the outcome of its last reload), each written whole
 * (atomicfile) with mode 0600, read back as untrusted, bounded input.
 */
#ifndef BATON_RUNFILE_H
#define BATON_RUNFILE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#define RUNFILE_PID		"batond.pid"
#define RUNFILE_RELOAD		"reload.status"

/* The outcome of one reload; generation 0 is the start. */
struct reload_status {
	long		 pid;		/* the broker that wrote it */
	unsigned long	 generation;	/* reloads since it started */
	int64_t		 time_ms;	/* wall clock, ms since 1970 */
	char		 result[16];	/* "ok" or "refused" */
	char		 error[512];	/* first reason when refused */
};

/* Writes DIR/batond.pid. Returns 0, or -1 with err set. */
int	runfile_write_pid(const char *dir, pid_t pid, char *err, size_t errlen);

/* Removes DIR/batond.pid (at a clean stop); best effort. */
void	runfile_remove_pid(const char *dir);

/*
 * Reads DIR/batond.pid. Returns 0 with *pid set, 1 when there is none,
 * -1 with err set when it cannot be read or is not a process id.
 */
int	runfile_read_pid(const char *dir, pid_t *pid, char *err, size_t errlen);

/* Writes DIR/reload.status. Returns 0, or -1 with err set. */
int	runfile_write_reload(const char *dir, const struct reload_status *st,
	    char *err, size_t errlen);

/*
 * Reads DIR/reload.status. Returns 0 with st filled, 1 when there is
 * none, -1 with err set when it cannot be read or is malformed.
 */
int	runfile_read_reload(const char *dir, struct reload_status *st,
	    char *err, size_t errlen);

#endif
