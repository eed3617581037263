/*
 * runfile.c - batond.pid and reload.status in the data directory (see
 * runfile.h): how `batonctl reload` finds the broker and learns whether
 * its reload was refused, without a control socket.
 *
 * reload.status is "key=value" lines (pid, generation, time_ms, result,
 * error). The error text is the broker's own first reason (a file:line
 * of the policy or config, or a TLS failure), never handover content;
 * control bytes are replaced before it is written, and again when read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "runfile.h"

#define RUNFILE_MAX	4096

static void
runfile_path(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

/* Replaces control bytes, so a status never moves a terminal. */
static void
runfile_clean(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Reads DIR/name (bounded) into buf. Returns 0, 1 when absent, -1. */
static int
runfile_read(const char *dir, const char *name, char *buf, size_t len,
    char *err, size_t errlen)
{
	char path[4096];
	FILE *fp;
	size_t n;

	runfile_path(path, sizeof(path), dir, name);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, len - 1, fp);
	if (ferror(fp) || !feof(fp)) {
		snprintf(err, errlen, "%s: %s", path, ferror(fp) ?
		    "read error" : "too large");
		fclose(fp);
		return -1;
	}
	fclose(fp);
	buf[n] = '\0';
	return 0;
}

int
runfile_write_pid(const char *dir, pid_t pid, char *err, size_t errlen)
{
	char path[4096], text[32];
	int n = snprintf(text, sizeof(text), "%ld\n", (long)pid);

	runfile_path(path, sizeof(path), dir, RUNFILE_PID);
	return atomicfile_write_buf(path, 0600, ATOMICFILE_REPLACE, text,
	    (size_t)n, err, errlen) == ATOMICFILE_OK ? 0 : -1;
}

void
runfile_remove_pid(const char *dir)
{
	char path[4096];

	runfile_path(path, sizeof(path), dir, RUNFILE_PID);
	(void)unlink(path);
}

/* A whole decimal number from 1 to max, with only a newline after it. */
static int
runfile_number(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno != 0 || *v > max || (*end != '\0' && strcmp(end, "\n") != 0))
		return -1;
	return 0;
}

int
runfile_read_pid(const char *dir, pid_t *pid, char *err, size_t errlen)
{
	char buf[64];
	unsigned long long v;
	int rc;

	if ((rc = runfile_read(dir, RUNFILE_PID, buf, sizeof(buf), err,
	    errlen)) != 0)
		return rc;
	if (runfile_number(buf, 4194304, &v) == -1 || v < 2) {
		snprintf(err, errlen, "%s/%s: not a process id", dir,
		    RUNFILE_PID);
		return -1;
	}
	*pid = (pid_t)v;
	return 0;
}

int
runfile_write_reload(const char *dir, const struct reload_status *st,
    char *err, size_t errlen)
{
	char path[4096], text[RUNFILE_MAX], error[sizeof(st->error)];
	int n;

	snprintf(error, sizeof(error), "%s", st->error);
	runfile_clean(error);
	n = snprintf(text, sizeof(text), "pid=%ld\ngeneration=%lu\n"
	    "time_ms=%lld\nresult=%s\nerror=%s\n", st->pid, st->generation,
	    (long long)st->time_ms, st->result, error);
	if (n < 0 || (size_t)n >= sizeof(text)) {
		snprintf(err, errlen, "reload status too long");
		return -1;
	}
	runfile_path(path, sizeof(path), dir, RUNFILE_RELOAD);
	return atomicfile_write_buf(path, 0600, ATOMICFILE_REPLACE, text,
	    (size_t)n, err, errlen) == ATOMICFILE_OK ? 0 : -1;
}

/* Takes one "key=value" line into st; unknown keys are ignored. */
static int
runfile_reload_line(char *line, struct reload_status *st)
{
	char *eq = strchr(line, '=');
	unsigned long long v;

	if (eq == NULL)
		return -1;
	*eq++ = '\0';
	if (strcmp(line, "result") == 0)
		snprintf(st->result, sizeof(st->result), "%s", eq);
	else if (strcmp(line, "error") == 0)
		snprintf(st->error, sizeof(st->error), "%s", eq);
	else if (strcmp(line, "pid") == 0 || strcmp(line, "generation") == 0 ||
	    strcmp(line, "time_ms") == 0) {
		if (runfile_number(eq, (1ull << 62), &v) == -1)
			return -1;
		if (line[0] == 'p')
			st->pid = (long)v;
		else if (line[0] == 'g')
			st->generation = (unsigned long)v;
		else
			st->time_ms = (int64_t)v;
	}
	return 0;
}

int
runfile_read_reload(const char *dir, struct reload_status *st, char *err,
    size_t errlen)
{
	char buf[RUNFILE_MAX], *line, *save;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = runfile_read(dir, RUNFILE_RELOAD, buf, sizeof(buf), err,
	    errlen)) != 0)
		return rc;
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (runfile_reload_line(line, st) == -1) {
			snprintf(err, errlen, "%s/%s: malformed", dir,
			    RUNFILE_RELOAD);
			return -1;
		}
	runfile_clean(st->result);
	runfile_clean(st->error);
	if (st->pid == 0 || st->result[0] == '\0') {
		snprintf(err, errlen, "%s/%s: incomplete", dir, RUNFILE_RELOAD);
		return -1;
	}
	return 0;
}
