/*
 * sessionlist.h - the live-sessions snapshot the broker publishes in its
 * data directory (DATA/sessions) for `batonctl sessions`.
 *
 * Why a file and not an answer on the metrics listener: batonctl then
 * needs only --data DIR, as for every other view; it works with the
 * metrics listener off; and who may read it is decided by the data
 * directory's mode (0700, the broker's user), whereas the metrics
 * endpoint has no authentication and any local user could learn the
 * partners' addresses from it. The broker writes it atomically
 * (common/atomicfile), at most once a second and only when it changed
 * (or was removed), and removes it at a clean stop; it names the
 * broker's pid, so a file left by a crash is recognised as stale.
 *
 * Format, one record per line, fields separated by one space (each
 * field printable ASCII without spaces; a writer replaces any other with
 * "?"):
 *   baton-sessions 1
 *   pid PID
 *   written_ms MS
 *   session NODE ROLE PEER SINCE_MS BYTES_IN_FLIGHT UNACKED RECEIVING
 * NODE is a node id, ROLE a role or "?", PEER address:port, SINCE_MS when
 * the connection was accepted (Unix ms), RECEIVING 0 or 1. written_ms is
 * when the file was last rewritten, which is not how fresh it is: an
 * unchanged list is not rewritten.
 */
#ifndef BATON_SESSIONLIST_H
#define BATON_SESSIONLIST_H

#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "validate.h"

#define SESSIONLIST_FILE	"sessions"
#define SESSIONLIST_MAX		100000		/* rows read back */
#define SESSIONLIST_PEER_MAX	63

struct session_row {
	char		 node[BATON_NODE_ID_MAX + 1];
	char		 role[REGISTRY_ROLE_MAX + 1];
	char		 peer[SESSIONLIST_PEER_MAX + 1];	/* address:port */
	int64_t		 since_ms;	/* connected, Unix ms */
	uint64_t	 bytes;		/* output not yet taken by the client */
	uint32_t	 unacked;	/* deliveries not yet acknowledged */
	int		 receiving;	/* the node's receiving session */
};

struct session_table {
	long		   pid;
	int64_t		   written_ms;
	struct session_row *rows;
	size_t		   n, cap;
};

/*
 * Appends row to l (fields that would break the format are replaced by
 * "?"). Returns 0, or -1 when out of memory.
 */
int	sessionlist_add(struct session_table *l, const struct session_row *row);

/*
 * Formats l into a malloc'd text (*len bytes, no NUL); NULL when out of
 * memory (or a row's field is past its bound, which sessionlist_add
 * prevents).
 */
char	*sessionlist_format(const struct session_table *l, size_t *len);

/* Writes text into DIR/sessions atomically. 0, or -1 with err set. */
int	sessionlist_write(const char *dir, const char *text, size_t len,
	    char *err, size_t errlen);

/* 1 when DIR/sessions exists (as anything), else 0. */
int	sessionlist_present(const char *dir);

/* Removes DIR/sessions (at a clean stop); a missing file is fine. */
void	sessionlist_remove(const char *dir);

/*
 * Reads DIR/sessions into l, every line checked. Returns 0, 1 when there
 * is no such file (no broker running, or one that has not written yet),
 * or -1 with err set (unreadable, not a regular file, or malformed, with
 * the line). Whether the broker named by l->pid still runs is the
 * caller's to find out.
 */
int	sessionlist_read(const char *dir, struct session_table *l, char *err,
	    size_t errlen);

void	sessionlist_free(struct session_table *l);

#endif
