/*
 * ctl_sessions.c - "batonctl sessions": who is connected to the running
 * broker: node, role, peer address, since when, bytes of output the
 * client has not yet taken, deliveries not yet acknowledged, and whether
 * it is the node's receiving session.
 *
 * Read from DATA/sessions, the snapshot the broker rewrites within a
 * second of a change (format and why a file: state/sessionlist.h). The
 * file names the broker's pid; a file left by a broker that died is
 * recognised as stale (that pid is gone, or is no longer a batond), and
 * "no broker is running" is its own exit status, EXIT_NO_BROKER, so a
 * script can tell it from a failure to read.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_opts.h"
#include "runfile.h"
#include "sessionlist.h"

#define TABLE_WIDTH	80
/* the numbers' columns, each with its two leading spaces */
#define NUMBERS_FMT	"%11s%11s%9s%6s"
#define NUMBERS_WIDTH	(11 + 11 + 9 + 6)
#define IDENT_WIDTH	(TABLE_WIDTH - NUMBERS_WIDTH - 4) /* node, role, peer */

struct sessions_args {
	const char	*data;
	int		 json;
};

static int
parse_sessions(const struct command *c, int argc, char **argv,
    struct sessions_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the running broker's data directory",
		  .required = 1 },
		{ CTL_FLAG("json", &a->json),
		  .help = "one JSON document instead of the table" },
		{ CTL_TEXT,
		  .help = "\n"
		  "CONNECTED is how long ago the session was accepted, "
		  "IN-FLIGHT the bytes of\n"
		  "output the client has not yet taken, UNACKED the "
		  "deliveries it has not\n"
		  "acknowledged, RECV whether it is the node's receiving "
		  "session. The broker\n"
		  "updates DIR/sessions within a second of a change.\n"
		  "\n"
		  "Exit status: 0 listed (also when nobody is connected), 1 "
		  "the list cannot\n"
		  "be read, 2 usage, 3 no broker is running on DIR (none "
		  "started, stopped,\n"
		  "or a stale file left by one that died)." },
	};

	memset(a, 0, sizeof(*a));
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

/*
 * 1 when pid is a live process and, where /proc can tell, a batond: alive
 * without /proc is given the benefit of the doubt, as only a list is read.
 */
static int
is_live_batond(long pid)
{
	return ctl_data_batond(pid) != CTL_BATOND_NO;
}

/*
 * No DIR/sessions: EXIT_NO_BROKER, unless DIR/batond.pid names a live
 * batond that has not written it (it could not: its log says why).
 */
static int
no_file(const char *dir)
{
	char err[4352];
	pid_t pid;

	if (runfile_read_pid(dir, &pid, err, sizeof(err)) == 0 &&
	    is_live_batond((long)pid))
		return ctl_failx("batond (pid %ld) runs on %s but has not "
		    "written %s/%s; see its log", (long)pid, dir, dir,
		    SESSIONLIST_FILE);
	fprintf(stderr, "batonctl: no broker is running on %s (no %s/%s)\n",
	    dir, dir, SESSIONLIST_FILE);
	return EXIT_NO_BROKER;
}

/*
 * Reads the list of the broker running on dir. EXIT_SUCCESS with l
 * filled, EXIT_NO_BROKER or EXIT_FAILURE with the reason printed.
 */
static int
read_sessions(const char *dir, struct session_table *l)
{
	char err[4352];
	int rc;

	if (ctl_data_exists(dir) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if ((rc = sessionlist_read(dir, l, err, sizeof(err))) == 1)
		return no_file(dir);
	if (rc == -1)
		return ctl_failx("%s", err);
	if (!is_live_batond(l->pid)) {
		fprintf(stderr, "batonctl: no broker is running on %s (%s/%s "
		    "was left by batond pid %ld, which has stopped)\n", dir,
		    dir, SESSIONLIST_FILE, l->pid);
		sessionlist_free(l);
		return EXIT_NO_BROKER;
	}
	return EXIT_SUCCESS;
}

/* By node, then the oldest session first. */
static int
row_cmp(const void *a, const void *b)
{
	const struct session_row *x = a, *y = b;
	int c;

	if ((c = strcmp(x->node, y->node)) != 0)
		return c;
	return x->since_ms < y->since_ms ? -1 : x->since_ms > y->since_ms;
}

/* ---- the table ---- */

/* Bytes for a table: exact below 10000, else one decimal and a unit. */
static void
format_bytes(uint64_t n, char *buf, size_t len)
{
	const char units[] = "KMGTPE";
	double v = (double)n;
	int u = -1;

	if (n < 10000) {
		snprintf(buf, len, "%llu", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
}

/* The length of field col (0 node, 1 role, 2 peer) of row r. */
static int
field_len(const struct session_row *r, int col)
{
	return (int)strlen(col == 0 ? r->node : col == 1 ? r->role : r->peer);
}

/*
 * The identity columns' widths (node, role, peer): the content's, the
 * headers' at the least. While they add up to more than IDENT_WIDTH, the
 * widest column narrows to its next shorter value, so the fewest rows go
 * over (print_row gives those a line of their own).
 */
static void
ident_widths(const struct session_table *l, int w[3])
{
	size_t i;
	int col, len, widest, next;

	w[0] = w[1] = w[2] = 4;		/* the headers */
	for (i = 0; i < l->n; i++)
		for (col = 0; col < 3; col++)
			if ((len = field_len(&l->rows[i], col)) > w[col])
				w[col] = len;
	while (w[0] + w[1] + w[2] > IDENT_WIDTH) {
		widest = w[0] >= w[1] && w[0] >= w[2] ? 0 : w[1] >= w[2] ? 1 : 2;
		next = 4;
		for (i = 0; i < l->n; i++)
			if ((len = field_len(&l->rows[i], widest)) < w[widest] &&
			    len > next)
				next = len;
		w[widest] = next;
	}
}

static void
print_row(const struct session_row *r, int64_t now, const int w[3])
{
	char node[sizeof(r->node)], role[sizeof(r->role)];
	char peer[sizeof(r->peer)], age[24], bytes[24], unacked[16];

	memcpy(node, r->node, sizeof(node));
	memcpy(role, r->role, sizeof(role));
	memcpy(peer, r->peer, sizeof(peer));
	ctl_sanitise(node);
	ctl_sanitise(role);
	ctl_sanitise(peer);
	ctl_duration(now > r->since_ms ? now - r->since_ms : 0, age,
	    sizeof(age));
	format_bytes(r->bytes, bytes, sizeof(bytes));
	snprintf(unacked, sizeof(unacked), "%u", r->unacked);
	/* a field too wide for its column: the three on a line of their own */
	if ((int)strlen(node) > w[0] || (int)strlen(role) > w[1] ||
	    (int)strlen(peer) > w[2]) {
		printf("%s  %s  %s\n", node, role, peer);
		node[0] = role[0] = peer[0] = '\0';
	}
	printf("%-*s  %-*s  %-*s" NUMBERS_FMT "\n", w[0], node, w[1], role,
	    w[2], peer, age, bytes, unacked, r->receiving ? "yes" : "no");
}

static void
print_table(const struct session_table *l)
{
	int64_t now = clockms_wall();
	int w[3];
	size_t i, receiving = 0;

	ident_widths(l, w);
	printf("%-*s  %-*s  %-*s" NUMBERS_FMT "\n", w[0], "NODE", w[1], "ROLE",
	    w[2], "PEER", "CONNECTED", "IN-FLIGHT", "UNACKED", "RECV");
	for (i = 0; i < l->n; i++) {
		print_row(&l->rows[i], now, w);
		receiving += l->rows[i].receiving != 0;
	}
	printf("%zu session%s, %zu receiving; batond pid %ld\n", l->n,
	    l->n == 1 ? "" : "s", receiving, l->pid);
}

/* ---- JSON ---- */

static json_t *
row_json(const struct session_row *r, int64_t now)
{
	char since[32];

	ctl_iso_time(r->since_ms, since, sizeof(since));
	return json_pack("{s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:b}",
	    "node", r->node, "role", r->role, "peer", r->peer,
	    "since_ms", (json_int_t)r->since_ms, "since", since,
	    "connected_s", (json_int_t)(now > r->since_ms ?
	    (now - r->since_ms) / 1000 : 0),
	    "bytes_in_flight", (json_int_t)(r->bytes > INT64_MAX ?
	    INT64_MAX : r->bytes),
	    "unacked", (json_int_t)r->unacked,
	    "receiving", r->receiving != 0);
}

static int
print_json(const struct session_table *l)
{
	int64_t now = clockms_wall();
	json_t *doc, *rows, *o;
	size_t i;

	if ((doc = json_pack("{s:I, s:I, s:o}", "broker_pid",
	    (json_int_t)l->pid, "at_ms", (json_int_t)now, "sessions",
	    json_array())) == NULL)
		return ctl_failx("out of memory");
	rows = json_object_get(doc, "sessions");
	for (i = 0; i < l->n; i++)
		if ((o = row_json(&l->rows[i], now)) == NULL ||
		    json_array_append_new(rows, o) != 0) {
			json_decref(doc);
			return ctl_failx("out of memory");
		}
	return ctl_json_put(doc, JSON_INDENT(2));
}

/* ---- the command ---- */

static int
run_sessions(const struct sessions_args *a)
{
	struct session_table l;
	int r;

	if ((r = read_sessions(a->data, &l)) != EXIT_SUCCESS)
		return r;
	if (l.n > 1)
		qsort(l.rows, l.n, sizeof(l.rows[0]), row_cmp);
	if (a->json)
		r = print_json(&l);
	else
		print_table(&l);
	if (r == EXIT_SUCCESS && fflush(stdout) == EOF)
		r = ctl_failx("cannot write the list: %s", strerror(errno));
	sessionlist_free(&l);
	return r;
}

int
ctl_sessions(const struct command *c, int argc, char **argv)
{
	struct sessions_args a;
	int r;

	if ((r = parse_sessions(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_sessions(&a);
}
