/*
 * sessionlist.c - the live-sessions snapshot file (see sessionlist.h).
 * Read back like network input: size, line length and every field are
 * bounded and checked.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomicfile.h"
#include "sessionlist.h"

#define SESSIONLIST_FILE_MAX	(32u << 20)	/* SESSIONLIST_MAX rows fit */
#define SESSIONLIST_LINE_MAX	512

/* 1 when s is a field: 1 or more printable ASCII bytes, no space. */
static int
is_field(const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f)
			return 0;
	return s[0] != '\0';
}

/* Copies s into out, "?" if it is not a field or does not fit. */
static void
field_copy(char *out, size_t outlen, const char *s)
{
	if (!is_field(s) || strlen(s) >= outlen)
		snprintf(out, outlen, "?");
	else
		memcpy(out, s, strlen(s) + 1);
}

int
sessionlist_add(struct session_table *l, const struct session_row *row)
{
	struct session_row *nr, *r;
	size_t ncap;

	if (l->n == l->cap) {
		ncap = l->cap ? l->cap * 2 : 16;
		if ((nr = realloc(l->rows, ncap * sizeof(*nr))) == NULL)
			return -1;
		l->rows = nr;
		l->cap = ncap;
	}
	r = &l->rows[l->n++];
	*r = *row;
	field_copy(r->node, sizeof(r->node), row->node);
	field_copy(r->role, sizeof(r->role), row->role);
	field_copy(r->peer, sizeof(r->peer), row->peer);
	/* a wall clock set before 1970 would write what the reader refuses */
	if (r->since_ms < 0)
		r->since_ms = 0;
	return 0;
}

void
sessionlist_free(struct session_table *l)
{
	free(l->rows);
	memset(l, 0, sizeof(*l));
}

/*
 * The longest record: the word, seven fields at their bounds (a 64-bit
 * number is 20 digits), the spaces and the newline; the reader's
 * SESSIONLIST_LINE_MAX must hold it.
 */
#define ROW_MAX		(8 + BATON_NODE_ID_MAX + REGISTRY_ROLE_MAX + \
	SESSIONLIST_PEER_MAX + 20 + 20 + 10 + 1 + 6 + 1)
#define HEAD_MAX	(17 + 4 + 20 + 1 + 11 + 20 + 1)
_Static_assert(ROW_MAX <= SESSIONLIST_LINE_MAX, "a record must fit a line");

char *
sessionlist_format(const struct session_table *l, size_t *len)
{
	size_t cap, used = 0, i;
	char *buf;
	int n;

	if (l->n > (SIZE_MAX - HEAD_MAX - 1) / ROW_MAX)
		return NULL;
	cap = HEAD_MAX + l->n * ROW_MAX + 1;
	if ((buf = malloc(cap)) == NULL)
		return NULL;
	n = snprintf(buf, cap, "baton-sessions 1\npid %ld\nwritten_ms %lld\n",
	    l->pid, (long long)l->written_ms);
	if (n < 0 || (size_t)n >= cap)
		goto fail;
	used = (size_t)n;
	for (i = 0; i < l->n; i++) {
		const struct session_row *r = &l->rows[i];

		n = snprintf(buf + used, cap - used, "session %s %s %s %lld %llu "
		    "%u %d\n", r->node, r->role, r->peer, (long long)r->since_ms,
		    (unsigned long long)r->bytes, r->unacked, r->receiving != 0);
		if (n < 0 || (size_t)n >= cap - used)
			goto fail;	/* a field past its bound: a bug above */
		used += (size_t)n;
	}
	*len = used;
	return buf;
fail:
	free(buf);
	return NULL;
}

static void
list_path(char *path, size_t len, const char *dir)
{
	snprintf(path, len, "%s/%s", dir, SESSIONLIST_FILE);
}

int
sessionlist_write(const char *dir, const char *text, size_t len, char *err,
    size_t errlen)
{
	char path[4096];

	list_path(path, sizeof(path), dir);
	return atomicfile_write_buf(path, 0600, ATOMICFILE_REPLACE, text, len,
	    err, errlen) == ATOMICFILE_OK ? 0 : -1;
}

int
sessionlist_present(const char *dir)
{
	struct stat st;
	char path[4096];

	list_path(path, sizeof(path), dir);
	return lstat(path, &st) == 0;
}

void
sessionlist_remove(const char *dir)
{
	char path[4096];

	list_path(path, sizeof(path), dir);
	(void)unlink(path);
}

/* A whole decimal number from 0 to max. */
static int
number(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || *end != '\0' || *v > max ? -1 : 0;
}

/* One "session ..." line (after the word) into a row. */
static int
parse_row(char *line, struct session_row *r)
{
	char *f[7], *save = NULL;
	unsigned long long since, bytes, unacked, recv;
	int i;

	for (i = 0; i < 7; i++)
		if ((f[i] = strtok_r(i == 0 ? line : NULL, " ", &save)) == NULL)
			return -1;
	if (strtok_r(NULL, " ", &save) != NULL || !validate_node_id(f[0]) ||
	    (!registry_valid_role(f[1]) && strcmp(f[1], "?") != 0) ||
	    !is_field(f[2]) || strlen(f[2]) > SESSIONLIST_PEER_MAX ||
	    number(f[3], INT64_MAX, &since) == -1 ||
	    number(f[4], UINT64_MAX, &bytes) == -1 ||
	    number(f[5], UINT32_MAX, &unacked) == -1 ||
	    number(f[6], 1, &recv) == -1)
		return -1;
	memset(r, 0, sizeof(*r));
	memcpy(r->node, f[0], strlen(f[0]) + 1);
	memcpy(r->role, f[1], strlen(f[1]) + 1);
	memcpy(r->peer, f[2], strlen(f[2]) + 1);
	r->since_ms = (int64_t)since;
	r->bytes = bytes;
	r->unacked = (uint32_t)unacked;
	r->receiving = (int)recv;
	return 0;
}

/* One line of the file; 0, -1 when it is not a record, -2 out of memory. */
static int
parse_line(struct session_table *l, char *line, int lineno)
{
	struct session_row r;
	unsigned long long v;

	if (lineno == 1)
		return strcmp(line, "baton-sessions 1") == 0 ? 0 : -1;
	if (strncmp(line, "pid ", 4) == 0 && number(line + 4, 1u << 30, &v) == 0) {
		l->pid = (long)v;
		return 0;
	}
	if (strncmp(line, "written_ms ", 11) == 0 &&
	    number(line + 11, INT64_MAX, &v) == 0) {
		l->written_ms = (int64_t)v;
		return 0;
	}
	if (strncmp(line, "session ", 8) != 0 || l->n >= SESSIONLIST_MAX ||
	    parse_row(line + 8, &r) == -1)
		return -1;
	return sessionlist_add(l, &r) == -1 ? -2 : 0;
}

int
sessionlist_read(const char *dir, struct session_table *l, char *err,
    size_t errlen)
{
	char path[4096], line[SESSIONLIST_LINE_MAX + 2];
	struct stat st;
	FILE *fp;
	int lineno = 0, fd, rc;

	memset(l, 0, sizeof(*l));
	list_path(path, sizeof(path), dir);
	/* O_NONBLOCK: a FIFO put in its place must not hang the reader */
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 1;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if ((fp = fdopen(fd, "r")) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t n = strlen(line);

		lineno++;
		if (ftell(fp) > SESSIONLIST_FILE_MAX) {
			snprintf(err, errlen, "%s: larger than %u bytes", path,
			    SESSIONLIST_FILE_MAX);
			goto fail;
		}
		if (n == 0 || line[n - 1] != '\n') {
			snprintf(err, errlen, "%s:%d: line too long or unterminated",
			    path, lineno);
			goto fail;
		}
		line[n - 1] = '\0';
		if ((rc = parse_line(l, line, lineno)) != 0) {
			snprintf(err, errlen, "%s:%d: %s", path, lineno, rc == -2 ?
			    "out of memory" : "not a sessions record");
			goto fail;
		}
	}
	if (ferror(fp) || lineno == 0 || l->pid == 0) {
		snprintf(err, errlen, "%s: unreadable or incomplete", path);
		goto fail;
	}
	fclose(fp);
	return 0;
fail:
	fclose(fp);
	sessionlist_free(l);
	return -1;
}
