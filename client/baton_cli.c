/*
 * baton_cli.c - the `baton` command: send, receive, decide on and trace
 * handovers from a shell, list a node's own outbox and inbox, and query
 * the audit log as an auditor node, on top of libbaton.
 *
 * Owns argument handling and output formats only; everything on the wire
 * is libbaton's. Results go to stdout as one JSON object per line (work
 * lists and audit answers: a table for people, or the format asked for),
 * errors to stderr as "baton: <what to do>". Invariants: a received item is
 * acknowledged only after its line has been written and flushed to stdout
 * without error, so a full disk or a closed pipe leaves it queued at the
 * broker; handover content is printed only to stdout, never in errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "baton.h"
#include "clockms.h"
#include "frame.h"
#include "json.h"
#include "jsonl.h"
#include "names.h"
#include "validate.h"
#include "version.h"

#define EX_OK		0
#define EX_LOCAL	1	/* usage, files, JSON, invalid handover */
#define EX_CONNECT	2	/* network, TLS, broker refused connection */
#define EX_REFUSED	3	/* broker refused the request */
#define EX_TIMEOUT	4

#define RECV_GRACE_MS	1000	/* recv without --wait: stop after 1 s quiet */
#define SEND_WINDOW	64	/* send --jsonl: receipts outstanding */
#define READ_CHUNK	65536

struct opts {
	const char	*broker;
	const char	*ca;
	const char	*cert;
	const char	*key;
	const char	*server_name;
	int		 timeout_ms;
};

static const char usage_text[] =
"usage: baton [options] COMMAND [ARGS]\n"
"\n"
"Options (each may also come from the environment; a flag wins):\n"
"  --broker HOST:PORT    broker address, [IPV6]:PORT for IPv6 (BATON_BROKER)\n"
"  --ca FILE             CA certificate the broker's certificate is signed by\n"
"                        (BATON_CA)\n"
"  --cert FILE           this node's certificate (BATON_CERT)\n"
"  --key FILE            this node's private key, PEM, unencrypted (BATON_KEY)\n"
"  --server-name NAME    name the broker certificate must carry, when it\n"
"                        differs from HOST (BATON_SERVER_NAME)\n"
"  --timeout SECONDS     connect and per-request timeout (default 10)\n"
"  -h, --help            this text\n"
"  --version             print the version\n"
"\n"
"Commands:\n"
"  send --to NODE --json FILE [--id MESSAGE_ID] [--no-check]\n"
"      Submit the handover in FILE (JSON; - reads stdin) to NODE. The\n"
"      handover is checked locally first (--no-check leaves all checks to\n"
"      the broker). Without --id a random UUID is used; resending with the\n"
"      same --id is safe. Ids are this node's own: another node may use\n"
"      the same one. Prints {\"message_id\",\"reference\",\"code\":\"OK\",\n"
"      \"duplicate\",\"received_at\",\"text\"}, or on refusal {\"message_id\",\n"
"      \"code\",\"text\"}. The reference, NODE/MESSAGE_ID, is how the\n"
"      recipient names the handover.\n"
"  send --replaces REFERENCE --json FILE [--id MESSAGE_ID] [--no-check]\n"
"      Submit a corrected version of one of this node's handovers (its\n"
"      reference or own id; the latest version). The broker sends it to\n"
"      the team that holds the case (\"text\" says which): before a\n"
"      decision the earlier version is withdrawn (superseded), after\n"
"      acceptance the new one arrives as an update, with \"replaces\".\n"
"  send --jsonl FILE [--to NODE] [--window N] [--id-prefix PREFIX]\n"
"       [--no-check]\n"
"      Submit many handovers, one JSON object per line of FILE (- reads\n"
"      stdin): a handover, or {\"to\":NODE,\"message_id\":ID,\"handover\":{...}}\n"
"      (to defaults to --to; a line without an id gets PREFIX-LINE with\n"
"      --id-prefix, else a UUID). Up to N (default 64) are in flight at\n"
"      once; one JSON line is printed per receipt as it arrives, with\n"
"      \"line\" the input line. A handover that got no receipt (connection\n"
"      lost) is printed with \"code\":\"NO_RECEIPT\": resend it with the\n"
"      same id. A line that cannot be sent (bad JSON, invalid) is named on\n"
"      stderr and skipped.\n"
"  checkin REFERENCE --outcome made|missed|rescheduled [--index N]\n"
"          [--at TIME] [--note TEXT]\n"
"      Record a check-in of a handover this node accepted (status shows\n"
"      the schedule; without --index the earliest pending one). missed\n"
"      tells the lead and the sender (and, by the policy, the escalation\n"
"      nodes); rescheduled moves it to --at TIME (UTC, in the future).\n"
"  recv [--wait SECONDS] [--max N] [--no-ack]\n"
"      Print deliveries and notices, one JSON object per line, each\n"
"      acknowledged only after it is written to stdout (acks are\n"
"      pipelined; every ack's answer is checked before exit). Stops after N\n"
"      items, or after SECONDS; without --wait (or --wait 0), once\n"
"      nothing has arrived for 1 second. Items not acknowledged\n"
"      (--no-ack) are delivered again on the next connection. Each\n"
"      handover and notice shows its \"reference\" (SENDER/MESSAGE_ID),\n"
"      which status, accept, reject and redirect take.\n"
"  status REFERENCE [--json]\n"
"      Print the handover's lifecycle. A sender may give its own\n"
"      MESSAGE_ID instead of the reference.\n"
"  accept REFERENCE [--note TEXT]\n"
"  reject REFERENCE --reason REASON [--note TEXT] [--suggest NODE]\n"
"      REASON: NOT_ELIGIBLE, WRONG_SERVICE, INSUFFICIENT_INFORMATION,\n"
"      NO_CAPACITY, DUPLICATE or OTHER.\n"
"  redirect REFERENCE --to NODE [--note TEXT]\n"
"      Record the recipient's decision on a delivered handover.\n"
"  whoami\n"
"      Connect and print this node's id, role and organisation.\n"
"  outbox [--undecided] [--since T] [--limit N] [--json]\n"
"      List the handovers this node sent: reference, current recipient,\n"
"      state, risk level, kind, when received (UTC) and the time to the\n"
"      acceptance deadline, or how overdue. --undecided keeps those not\n"
"      yet accepted, rejected or expired; --since T (as for audit) those\n"
"      received at or after T.\n"
"  inbox [--limit N] [--json]\n"
"      List the handovers delivered to this node and not yet decided,\n"
"      with their sender, risk level and time to deadline.\n"
"      Neither consumes anything: recv still gets what is queued. Every\n"
"      page is fetched, N handovers a page (1 to 100, default 50), and\n"
"      printed as a table or, with --json, one JSON object per handover.\n"
"  audit list|export|head|trail|report [FILTERS] [--format F]\n"
"      Query the broker's audit log; only a node with the role auditor\n"
"      may (others are refused NOT_PERMITTED), and every query is itself\n"
"      recorded. The answer streams to stdout as it arrives. list: a\n"
"      table; export: --format jsonl (default) or csv; head: the chain\n"
"      head as SEQ:HASH; trail (table, json) and report (table, csv,\n"
"      html; a broker older than them refuses INVALID). FILTERS:\n"
"      --since T, --until T\n"
"      (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.mmm]][Z], UTC; a date alone\n"
"      for --until means the end of that day), --node NODE, --message\n"
"      REFERENCE, --event EVENT (each repeatable: any of them), --subject\n"
"      NHS_NUMBER (- reads it from stdin, keeping it out of shell\n"
"      history; the broker matches records by its pseudonym).\n"
"\n"
"Exit status:\n"
"  0  success (recv: even when nothing arrived)\n"
"  1  usage or local error: bad option, unreadable file, bad JSON,\n"
"     invalid handover, unreadable certificate or key\n"
"  2  could not talk to the broker: network, TLS, or the broker refused or\n"
"     dropped the connection\n"
"  3  the broker refused the request (send, ack, decision, status,\n"
"     outbox, inbox, audit: e.g. NOT_PERMITTED for a node that is not an\n"
"     auditor); for send --jsonl: any handover refused (2 or 4 when some\n"
"     got no receipt, 1 when a line was skipped and none was refused)\n"
"  4  timed out\n";

static void
warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warnx_(const char *fmt, ...)
{
	va_list ap;

	fputs("baton: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int
usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("baton: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'baton --help'.\n", stderr);
	return EX_LOCAL;
}

/* After getopt_long returned '?' (opterr is 0: we say it ourselves). */
static int
bad_option(const char *cmd, char **argv)
{
	const char *arg = optind > 0 ? argv[optind - 1] : "?";

	if (cmd == NULL)
		return usage_error("%s: unknown option or missing argument",
		    arg);
	return usage_error("%s: %s: unknown option or missing argument", cmd,
	    arg);
}

static int
exit_for(int rc)
{
	switch (rc) {
	case BATON_OK:
		return EX_OK;
	case BATON_E_REFUSED:
		return EX_REFUSED;
	case BATON_E_TIMEOUT:
		return EX_TIMEOUT;
	case BATON_E_CONNECT:
	case BATON_E_TLS:
	case BATON_E_BROKER:
	case BATON_E_CLOSED:
	case BATON_E_PROTOCOL:
		return EX_CONNECT;
	default:
		return EX_LOCAL;
	}
}

static int
fail(int rc, const baton_error *e)
{
	warnx_("%s", e->text[0] ? e->text : baton_strerror(rc));
	return exit_for(rc);
}

/* Seconds as a decimal (e.g. 2.5) into milliseconds within [min, max]. */
static int
parse_seconds(const char *s, double min, double max, int *ms)
{
	char *ep;
	double d;

	errno = 0;
	d = strtod(s, &ep);
	if (ep == s || *ep != '\0' || errno != 0 || !(d >= min) || d > max)
		return -1;
	*ms = (int)(d * 1000.0 + 0.5);
	return 0;
}

static int
parse_count(const char *s, long max, long *out)
{
	char *ep;
	long n;

	errno = 0;
	n = strtol(s, &ep, 10);
	if (ep == s || *ep != '\0' || errno != 0 || n < 1 || n > max)
		return -1;
	*out = n;
	return 0;
}

/* Prints one JSON object as a line; -1 when stdout fails. */
static int
print_line(const char *s)
{
	if (fputs(s, stdout) == EOF || fputc('\n', stdout) == EOF ||
	    fflush(stdout) == EOF || ferror(stdout)) {
		warnx_("cannot write to stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
print_json(json_t *o)
{
	char *s;
	int r;

	if (o == NULL || (s = json_dumps(o, JSON_COMPACT)) == NULL) {
		json_decref(o);
		warnx_("out of memory");
		return -1;
	}
	json_decref(o);
	r = print_line(s);
	free(s);
	return r;
}

static int
connect_broker(const struct opts *o, unsigned window, baton_client **c)
{
	baton_config cfg;
	baton_error e;
	int rc;

	memset(&cfg, 0, sizeof(cfg));
	cfg.broker = o->broker;
	cfg.ca_file = o->ca;
	cfg.cert_file = o->cert;
	cfg.key_file = o->key;
	cfg.server_name = o->server_name;
	cfg.client_name = "baton/0.1 (" BATON_CLIENT_NAME ")";
	cfg.timeout_ms = o->timeout_ms;
	cfg.window = window;
	if ((rc = baton_connect(&cfg, c, &e)) != BATON_OK)
		return fail(rc, &e);
	return EX_OK;
}

/* Reads a whole file (or stdin for "-"), bounded by the JSON size limit. */
static int
read_file(const char *path, char **out, size_t *outlen)
{
	size_t cap = 65536, len = 0;
	char *buf, *nb;
	ssize_t n;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		warnx_("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(cap)) == NULL)
		goto nomem;
	for (;;) {
		if (len == cap) {
			if (cap > BATON_JSON_MAX_DOC) {
				warnx_("%s: larger than %u bytes", path,
				    BATON_JSON_MAX_DOC);
				goto fail;
			}
			cap *= 2;
			if ((nb = realloc(buf, cap)) == NULL)
				goto nomem;
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n == 0)
			break;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			warnx_("cannot read %s: %s", path, strerror(errno));
			goto fail;
		}
		len += (size_t)n;
	}
	if (len > BATON_JSON_MAX_DOC) {
		warnx_("%s: larger than %u bytes", path, BATON_JSON_MAX_DOC);
		goto fail;
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*out = buf;
	*outlen = len;
	return 0;
nomem:
	warnx_("out of memory reading %s", path);
fail:
	free(buf);
	if (fd != STDIN_FILENO)
		close(fd);
	return -1;
}

/* ------------------------------------------------------------------------
 * send --jsonl: many handovers, pipelined
 * ---------------------------------------------------------------------- */

/* Input lines, read from a file descriptor as poll(2) says it is ready. */
struct lines {
	int		 fd;
	const char	*name;		/* for messages */
	char		*buf;
	size_t		 len;		/* bytes in buf */
	size_t		 off;		/* start of the next line */
	size_t		 cap;
	int		 eof;
	long		 lineno;	/* of the last line taken */
};

/* The send's tallies and options. */
struct sendrun {
	const char	*to;		/* --to, or NULL */
	const char	*prefix;	/* --id-prefix, or NULL */
	int		 check;
	long		 sent;		/* submits queued */
	long		 accepted;
	long		 refused;
	long		 skipped;	/* lines not sent (local errors) */
	long		 lost;		/* submits without a receipt */
	int		 lost_rc;	/* why (a BATON_E_* code) */
	int		 out_failed;	/* stdout failed */
};

/*
 * Takes the next complete line (the last may lack its newline at EOF).
 * Returns 1 with the line and its length, 0 when none is complete yet, -1
 * when a line is longer than the JSON limit.
 */
static int
lines_next(struct lines *l, const char **line, size_t *len)
{
	char *nl;
	size_t avail = l->len - l->off;

	if (avail == 0)
		return 0;
	nl = memchr(l->buf + l->off, '\n', avail);
	if (nl == NULL) {
		if (avail > BATON_JSON_MAX_DOC)
			return -1;
		if (!l->eof)
			return 0;
		nl = l->buf + l->len;	/* last line, no newline */
	}
	*line = l->buf + l->off;
	*len = (size_t)(nl - *line);
	if (*len > BATON_JSON_MAX_DOC)
		return -1;
	l->off = nl < l->buf + l->len ? (size_t)(nl - l->buf) + 1 : l->len;
	l->lineno++;
	return 1;
}

/* Reads what is there (one read). 0, or -1 on error (said). */
static int
lines_fill(struct lines *l)
{
	ssize_t n;
	char *nb;

	if (l->off > 0) {
		memmove(l->buf, l->buf + l->off, l->len - l->off);
		l->len -= l->off;
		l->off = 0;
	}
	if (l->cap - l->len < READ_CHUNK) {
		if ((nb = realloc(l->buf, l->cap + READ_CHUNK)) == NULL) {
			warnx_("out of memory reading %s", l->name);
			return -1;
		}
		l->buf = nb;
		l->cap += READ_CHUNK;
	}
	n = read(l->fd, l->buf + l->len, l->cap - l->len);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		warnx_("cannot read %s: %s", l->name, strerror(errno));
		return -1;
	}
	if (n == 0)
		l->eof = 1;
	l->len += (size_t)n;
	return 0;
}

/* Prints one result of a submit as its JSON line and counts it. */
static void
print_send_result(struct sendrun *sr, const baton_result *r)
{
	const baton_receipt *rc = &r->receipt;
	json_int_t line = (json_int_t)(intptr_t)r->user;
	char tbuf[40];
	json_t *out;

	if (r->status == BATON_OK) {
		sr->accepted++;
		baton_format_time(rc->received_at_ms, tbuf, sizeof(tbuf));
		out = json_pack("{s:I, s:s, s:s, s:s, s:b, s:o}", "line", line,
		    "message_id", rc->message_id, "reference", rc->reference,
		    "code", rc->code_name, "duplicate", rc->duplicate,
		    "received_at", rc->received_at_ms != 0 && tbuf[0] != '\0' ?
		    json_string(tbuf) : json_null());
	} else if (r->status == BATON_E_REFUSED) {
		sr->refused++;
		out = json_pack("{s:I, s:s, s:s, s:s}", "line", line,
		    "message_id", rc->message_id, "code", rc->code_name,
		    "text", rc->text);
	} else {
		sr->lost++;
		if (sr->lost_rc == 0)
			sr->lost_rc = r->status;
		out = json_pack("{s:I, s:s, s:s, s:s}", "line", line,
		    "message_id", rc->message_id, "code", "NO_RECEIPT",
		    "text", r->error.text);
	}
	if (print_json(out) == -1)
		sr->out_failed = 1;
}

static void
take_send_results(baton_client *c, struct sendrun *sr)
{
	baton_result r;

	while (baton_poll_result(c, &r) == BATON_OK)
		print_send_result(sr, &r);
}

/*
 * Sends one input line. Returns 0 (sent, or skipped with a message), or
 * the BATON_E_* code that killed the connection.
 */
static int
send_line(baton_client *c, struct sendrun *sr, const struct lines *l,
    const char *text, size_t len)
{
	struct jsonl_item it;
	char err[300], idbuf[130];
	const char *to, *id = NULL;
	baton_error e;
	int rc;

	rc = baton_jsonl_parse(text, len, &it, err, sizeof(err));
	if (rc == 1)
		return 0;
	if (rc == -1) {
		warnx_("%s:%ld: %s", l->name, l->lineno, err);
		sr->skipped++;
		return 0;
	}
	to = it.to[0] != '\0' ? it.to : sr->to;
	if (to == NULL) {
		warnx_("%s:%ld: no recipient: give \"to\" in the line or --to",
		    l->name, l->lineno);
		goto skip;
	}
	if (sr->check && validate_handover(it.handover, err,
	    sizeof(err)) == -1) {
		warnx_("%s:%ld: invalid handover: %s", l->name, l->lineno,
		    err);
		goto skip;
	}
	if (it.message_id[0] != '\0')
		id = it.message_id;
	else if (sr->prefix != NULL) {
		snprintf(idbuf, sizeof(idbuf), "%s-%ld", sr->prefix, l->lineno);
		id = idbuf;
	}
	rc = baton_submit_async(c, to, it.handover, id,
	    (void *)(intptr_t)l->lineno, &e);
	baton_jsonl_clear(&it);
	if (rc == BATON_OK) {
		sr->sent++;
		return 0;
	}
	if (rc == BATON_E_INVALID_ARG || rc == BATON_E_TOO_LARGE ||
	    rc == BATON_E_NOMEM) {
		warnx_("%s:%ld: %s", l->name, l->lineno, e.text);
		sr->skipped++;
		return 0;
	}
	warnx_("%s", e.text);
	return rc;
skip:
	baton_jsonl_clear(&it);
	sr->skipped++;
	return 0;
}

/*
 * The loop: while the window has room, send complete lines; wait in
 * poll(2) for the broker or more input; print receipts as they come.
 * Returns 0 when the input is done and every submit has its result, or a
 * BATON_E_* code (the connection failed or timed out: the submits still
 * outstanding are printed as NO_RECEIPT by the caller).
 */
static int
send_loop(baton_client *c, struct sendrun *sr, struct lines *l,
    unsigned window, int timeout_ms)
{
	struct pollfd pfd[2];
	const char *text;
	int64_t quiet_since = baton_monotonic_us();
	baton_error e;
	unsigned had;
	size_t len;
	int rc, n, done_input = 0;

	for (;;) {
		while (!done_input && baton_outstanding(c) < window) {
			if ((n = lines_next(l, &text, &len)) == 0)
				break;
			if (n == -1) {
				warnx_("%s:%ld: line longer than %u bytes; "
				    "stopped reading", l->name, l->lineno + 1,
				    BATON_JSON_MAX_DOC);
				sr->skipped++;
				done_input = 1;
				break;
			}
			if ((rc = send_line(c, sr, l, text, len)) != 0)
				return rc;
		}
		if (l->eof && l->off == l->len)
			done_input = 1;
		if (done_input && baton_outstanding(c) == 0)
			return 0;
		if (sr->out_failed)
			return BATON_E_CLOSED;	/* said by print_line */

		pfd[0].fd = baton_fd(c);
		pfd[0].events = POLLIN | (baton_want_write(c) ? POLLOUT : 0);
		pfd[1].fd = !done_input && baton_outstanding(c) < window ?
		    l->fd : -1;
		pfd[1].events = POLLIN;
		pfd[0].revents = pfd[1].revents = 0;
		n = poll(pfd, 2, 1000);
		if (n < 0 && errno != EINTR) {
			warnx_("poll: %s", strerror(errno));
			return BATON_E_CLOSED;
		}
		had = baton_outstanding(c);
		if ((rc = baton_process(c, &e)) != BATON_OK) {
			warnx_("%s", e.text);
			return rc;
		}
		take_send_results(c, sr);
		if (baton_outstanding(c) < had || had == 0)
			quiet_since = baton_monotonic_us();
		else if (baton_monotonic_us() - quiet_since >
		    (int64_t)timeout_ms * 1000) {
			warnx_("no receipt from the broker for %d ms; %u "
			    "handovers still without one", timeout_ms, had);
			return BATON_E_TIMEOUT;
		}
		if (n > 0 && pfd[1].fd != -1 &&
		    (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
		    lines_fill(l) == -1) {
			done_input = 1;
			sr->skipped++;
		}
	}
}

static int
cmd_send_jsonl(const struct opts *o, const char *file, const char *to,
    const char *prefix, unsigned window, int check)
{
	struct sendrun sr;
	struct lines l;
	baton_client *c = NULL;
	int rc, ex;

	memset(&sr, 0, sizeof(sr));
	memset(&l, 0, sizeof(l));
	sr.to = to;
	sr.prefix = prefix;
	sr.check = check;
	l.name = strcmp(file, "-") == 0 ? "<stdin>" : file;
	if (strcmp(file, "-") == 0)
		l.fd = STDIN_FILENO;
	else if ((l.fd = open(file, O_RDONLY | O_CLOEXEC)) == -1) {
		warnx_("cannot open %s: %s", file, strerror(errno));
		return EX_LOCAL;
	}
	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		goto done;
	(void)baton_set_pipeline(c, window);
	rc = send_loop(c, &sr, &l, window, o->timeout_ms);
	if (rc != 0) {
		/* every submit still outstanding gets its NO_RECEIPT line */
		baton_disconnect(c);
		take_send_results(c, &sr);
		if (rc == BATON_E_TIMEOUT || sr.lost_rc == 0)
			sr.lost_rc = rc;
	}
	if (sr.out_failed)
		ex = EX_LOCAL;
	else if (sr.lost > 0 || sr.lost_rc != 0) {
		ex = exit_for(sr.lost_rc != 0 ? sr.lost_rc : BATON_E_CLOSED);
		if (ex == EX_LOCAL)
			ex = EX_CONNECT;
	} else if (sr.refused > 0)
		ex = EX_REFUSED;
	else if (sr.skipped > 0 || sr.out_failed)
		ex = EX_LOCAL;
	else
		ex = EX_OK;
	if (sr.refused > 0 || sr.skipped > 0 || sr.lost > 0)
		warnx_("%ld handovers accepted, %ld refused, %ld lines "
		    "skipped, %ld without a receipt", sr.accepted, sr.refused,
		    sr.skipped, sr.lost);
done:
	baton_close(c);
	if (l.fd != STDIN_FILENO)
		close(l.fd);
	free(l.buf);
	return ex;
}

static int
cmd_send(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "to", required_argument, NULL, 't' },
		{ "json", required_argument, NULL, 'j' },
		{ "id", required_argument, NULL, 'i' },
		{ "no-check", no_argument, NULL, 'n' },
		{ "jsonl", required_argument, NULL, 'l' },
		{ "window", required_argument, NULL, 'w' },
		{ "id-prefix", required_argument, NULL, 'p' },
		{ "replaces", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 }
	};
	const char *to = NULL, *file = NULL, *id = NULL, *shown;
	const char *replaces = NULL;
	const char *jsonl = NULL, *prefix = NULL;
	long window = SEND_WINDOW;
	Baton__V1__Handover *h = NULL;
	baton_client *c = NULL;
	baton_receipt r;
	baton_error e;
	char *text = NULL, verr[256], jerr[256], tbuf[40];
	size_t len;
	json_t *out;
	int ch, rc, ex = EX_LOCAL, check = 1;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 't':
			to = optarg;
			break;
		case 'j':
			file = optarg;
			break;
		case 'i':
			id = optarg;
			break;
		case 'n':
			check = 0;
			break;
		case 'l':
			jsonl = optarg;
			break;
		case 'w':
			if (parse_count(optarg, BATON_MAX_PIPELINE, &window) ==
			    -1)
				return usage_error("send: --window takes 1 to "
				    "%d", BATON_MAX_PIPELINE);
			break;
		case 'p':
			prefix = optarg;
			break;
		case 'r':
			replaces = optarg;
			break;
		default:
			return bad_option("send", argv);
		}
	}
	if (optind != argc)
		return usage_error("send: unexpected argument %s",
		    argv[optind]);
	if (replaces != NULL && (jsonl != NULL || to != NULL))
		return usage_error("send: --replaces takes neither --to (a "
		    "correction goes to the team that holds the case) nor "
		    "--jsonl");
	if (replaces != NULL && !validate_message_id(replaces))
		return usage_error("send: --replaces %s is neither a message id "
		    "nor a reference", replaces);
	if (jsonl != NULL) {
		if (file != NULL || id != NULL)
			return usage_error("send: --jsonl takes neither --json "
			    "nor --id (ids go in the lines, or --id-prefix)");
		if (to != NULL && !validate_node_id(to))
			return usage_error("send: --to %s is not a node id",
			    to);
		/* PREFIX-LINE must still be an id: 128 less "-" and 10 digits */
		if (prefix != NULL && (strlen(prefix) > 117 ||
		    !validate_own_id(prefix)))
			return usage_error("send: --id-prefix must be 1 to 117 "
			    "of A-Z a-z 0-9 . _ : -");
		return cmd_send_jsonl(o, jsonl, to, prefix, (unsigned)window,
		    check);
	}
	if ((to == NULL && replaces == NULL) || file == NULL)
		return usage_error("send: --to NODE (or --replaces REFERENCE) "
		    "and --json FILE are required");
	if (to != NULL && !validate_node_id(to))
		return usage_error("send: --to %s is not a node id", to);
	if (id != NULL && !validate_own_id(id))
		return usage_error("send: --id must be 1 to 128 of "
		    "A-Z a-z 0-9 . _ : -");
	shown = strcmp(file, "-") == 0 ? "<stdin>" : file;

	if (read_file(file, &text, &len) == -1)
		return EX_LOCAL;
	jerr[0] = '\0';
	h = (Baton__V1__Handover *)baton_json_parse(text, len,
	    &baton__v1__handover__descriptor, jerr, sizeof(jerr));
	free(text);
	if (h == NULL) {
		warnx_("%s: %s", shown, jerr[0] ? jerr : "cannot parse");
		return EX_LOCAL;
	}
	if (check && validate_handover(h, verr, sizeof(verr)) == -1) {
		warnx_("%s: invalid handover: %s", shown, verr);
		goto done;
	}

	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		goto done;
	rc = replaces != NULL ? baton_correct(c, replaces, h, id, &r, &e) :
	    baton_submit(c, to, h, id, &r, &e);
	if (rc == BATON_OK) {
		baton_format_time(r.received_at_ms, tbuf, sizeof(tbuf));
		out = json_pack("{s:s, s:s, s:s, s:b, s:o, s:s}", "message_id",
		    r.message_id, "reference", r.reference, "code",
		    r.code_name, "duplicate", r.duplicate, "received_at",
		    r.received_at_ms != 0 && tbuf[0] != '\0' ?
		    json_string(tbuf) : json_null(), "text", r.text);
		ex = print_json(out) == 0 ? EX_OK : EX_LOCAL;
	} else if (rc == BATON_E_REFUSED) {
		out = json_pack("{s:s, s:s, s:s}", "message_id",
		    r.message_id, "code", r.code_name, "text", r.text);
		(void)print_json(out);
		warnx_("send refused: %s: %s", r.code_name, r.text);
		ex = EX_REFUSED;
	} else
		ex = fail(rc, &e);
done:
	baton_close(c);
	if (h != NULL)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	return ex;
}

/*
 * Takes the ack results that are in: a refusal is said and counted in
 * *refused; BATON_OK, or the status of an ack that got no answer (said).
 */
static int
take_ack_results(baton_client *c, int *refused)
{
	baton_result r;
	int rc = BATON_OK;

	while (baton_poll_result(c, &r) == BATON_OK) {
		if (r.status == BATON_E_REFUSED) {
			warnx_("%s", r.error.text);
			*refused = 1;
		} else if (r.status != BATON_OK) {
			if (rc == BATON_OK)
				warnx_("%s", r.error.text);
			rc = r.status;
		}
	}
	return rc;
}

/*
 * Acknowledges in without waiting for the broker's answer; results are
 * checked as they come in. BATON_OK, or why the connection failed (err).
 */
static int
ack_item(baton_client *c, const baton_incoming *in, int *refused,
    baton_error *err)
{
	int rc;

	while ((rc = baton_ack_async(c, in, NULL, err)) == BATON_E_AGAIN) {
		rc = baton_wait(c, BATON_DEFAULT_TIMEOUT_MS, err);
		if (rc != BATON_OK && rc != BATON_E_TIMEOUT)
			break;
		(void)take_ack_results(c, refused);
	}
	if (rc != BATON_OK)
		return rc;
	/* results in so far: a lost connection shows up in baton_next */
	(void)take_ack_results(c, refused);
	return BATON_OK;
}

static int
cmd_recv(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ "max", required_argument, NULL, 'm' },
		{ "no-ack", no_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	baton_client *c = NULL;
	baton_incoming *in;
	baton_error e;
	int64_t deadline = 0, left;
	long max = 0, got = 0;
	char *line;
	int ch, rc, ex, wait_ms = 0, ack = 1, refused = 0;
	unsigned window;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if (parse_seconds(optarg, 0, 86400, &wait_ms) == -1)
				return usage_error("recv: --wait takes seconds "
				    "from 0 to 86400");
			break;
		case 'm':
			if (parse_count(optarg, 1000000000L, &max) == -1)
				return usage_error("recv: --max takes a "
				    "positive count");
			break;
		case 'n':
			ack = 0;
			break;
		default:
			return bad_option("recv", argv);
		}
	}
	if (optind != argc)
		return usage_error("recv: unexpected argument %s",
		    argv[optind]);

	/* never ask for more than we take: the rest would be redelivered */
	window = BATON_DEFAULT_WINDOW;
	if (max > 0 && max < (long)window)
		window = (unsigned)max;
	if ((ex = connect_broker(o, window, &c)) != EX_OK)
		return ex;
	if (wait_ms > 0)
		deadline = clockms_mono() + wait_ms;
	for (;;) {
		if (max > 0 && got >= max)
			break;
		if (wait_ms > 0) {
			left = deadline - clockms_mono();
			if (left <= 0)
				break;
		} else
			left = RECV_GRACE_MS;
		rc = baton_next(c, (int)left, &in, &e);
		if (rc == BATON_E_TIMEOUT)
			break;
		if (rc != BATON_OK) {
			ex = fail(rc, &e);
			goto done;
		}
		got++;
		if ((line = baton_incoming_to_json(in)) == NULL) {
			warnx_("out of memory formatting %s", in->ack_id);
			baton_incoming_free(in);
			ex = EX_LOCAL;
			goto done;
		}
		rc = print_line(line);
		free(line);
		if (rc == -1) {
			baton_incoming_free(in);
			ex = EX_LOCAL;
			goto done;
		}
		if (ack && (rc = ack_item(c, in, &refused, &e)) != BATON_OK) {
			baton_incoming_free(in);
			ex = fail(rc, &e);
			goto done;
		}
		baton_incoming_free(in);
	}
	/* every ack answered before we say we are done */
	if (ack && (rc = baton_drain(c, o->timeout_ms, &e)) != BATON_OK) {
		take_ack_results(c, &refused);
		ex = fail(rc, &e);
		goto done;
	}
	if ((rc = take_ack_results(c, &refused)) != BATON_OK) {
		ex = exit_for(rc);
		goto done;
	}
	ex = refused ? EX_REFUSED : EX_OK;
done:
	baton_close(c);
	return ex;
}

/* Parses an enum value name, with or without its prefix, any case. */
static int
enum_value(const ProtobufCEnumDescriptor *d, const char *prefix,
    const char *s, int *out)
{
	char buf[96];
	size_t i, n;
	const ProtobufCEnumValue *v;

	n = strlen(prefix);
	if (strlen(s) + n + 1 > sizeof(buf))
		return -1;
	if (strncasecmp(s, prefix, n) == 0)
		s += n;
	memcpy(buf, prefix, n);
	for (i = 0; s[i] != '\0'; i++)
		buf[n + i] = s[i] == '-' ? '_' : (char)(s[i] >= 'a' &&
		    s[i] <= 'z' ? s[i] - 'a' + 'A' : s[i]);
	buf[n + i] = '\0';
	if ((v = protobuf_c_enum_descriptor_get_value_by_name(d, buf)) ==
	    NULL || v->value == 0)
		return -1;
	*out = v->value;
	return 0;
}

static int
cmd_decide(const struct opts *o, int outcome, const char *name, int argc,
    char **argv)
{
	static const struct option lo[] = {
		{ "note", required_argument, NULL, 'n' },
		{ "reason", required_argument, NULL, 'r' },
		{ "suggest", required_argument, NULL, 's' },
		{ "to", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	Baton__V1__Decision d = BATON__V1__DECISION__INIT;
	const char *note = NULL, *reason = NULL, *suggest = NULL, *to = NULL;
	baton_client *c = NULL;
	baton_error e;
	json_t *out;
	int ch, rc, ex, rv = 0;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'n':
			note = optarg;
			break;
		case 'r':
			reason = optarg;
			break;
		case 's':
			suggest = optarg;
			break;
		case 't':
			to = optarg;
			break;
		default:
			return bad_option(name, argv);
		}
	}
	if (optind + 1 != argc)
		return usage_error("%s: give exactly one REFERENCE", name);
	if (!validate_message_id(argv[optind]))
		return usage_error("%s: %s is not a reference (NODE/MESSAGE_ID) "
		    "or message id", name, argv[optind]);
	if ((reason != NULL || suggest != NULL) &&
	    outcome != BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_REJECT)
		return usage_error("%s: --reason and --suggest are for reject",
		    name);
	if (to != NULL &&
	    outcome != BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_REDIRECT)
		return usage_error("%s: --to is for redirect", name);
	if (outcome == BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_REJECT) {
		if (reason == NULL)
			return usage_error("reject: --reason is required");
		if (enum_value(&baton__v1__reject_reason__descriptor,
		    "REJECT_REASON_", reason, &rv) == -1)
			return usage_error("reject: unknown reason %s", reason);
	}
	if (outcome == BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_REDIRECT &&
	    (to == NULL || !validate_node_id(to)))
		return usage_error("redirect: --to NODE is required");
	if (suggest != NULL && !validate_node_id(suggest))
		return usage_error("reject: --suggest %s is not a node id",
		    suggest);

	d.message_id = argv[optind];
	d.outcome = outcome;
	d.reason = rv;
	if (note != NULL)
		d.note = (char *)note;
	if (suggest != NULL)
		d.suggested_node = (char *)suggest;
	if (to != NULL)
		d.redirect_to = (char *)to;

	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		return ex;
	rc = baton_decide(c, &d, &e);
	if (rc == BATON_OK) {
		out = json_pack("{s:s, s:s}", "message_id", d.message_id,
		    "code", "OK");
		ex = print_json(out) == 0 ? EX_OK : EX_LOCAL;
	} else if (rc == BATON_E_REFUSED) {
		out = json_pack("{s:s, s:s, s:s}", "message_id", d.message_id,
		    "code", e.code_name, "text", e.broker_text);
		(void)print_json(out);
		warnx_("%s refused: %s: %s", name, e.code_name, e.broker_text);
		ex = EX_REFUSED;
	} else
		ex = fail(rc, &e);
	baton_close(c);
	return ex;
}

/* baton checkin REFERENCE --outcome made|missed|rescheduled [--index N]
 * [--at TIME] [--note TEXT] */
static int
cmd_checkin(const struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "outcome", required_argument, NULL, 'o' },
		{ "index", required_argument, NULL, 'i' },
		{ "at", required_argument, NULL, 'a' },
		{ "note", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	Baton__V1__CheckIn ci = BATON__V1__CHECK_IN__INIT;
	const char *outcome = NULL, *at = NULL, *note = NULL;
	baton_client *c = NULL;
	baton_error e;
	json_t *out;
	uint32_t index = 0;
	long n = 0;
	int ch, rc, ex;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'o':
			outcome = optarg;
			break;
		case 'i':
			if (parse_count(optarg, 64, &n) == -1)
				return usage_error("checkin: --index takes 1 to "
				    "64 (see status)");
			break;
		case 'a':
			at = optarg;
			break;
		case 'n':
			note = optarg;
			break;
		default:
			return bad_option("checkin", argv);
		}
	}
	if (optind != argc - 1)
		return usage_error("checkin: give exactly one REFERENCE");
	if (!validate_message_id(argv[optind]))
		return usage_error("checkin: %s is not a reference "
		    "(NODE/MESSAGE_ID)", argv[optind]);
	if (outcome == NULL)
		return usage_error("checkin: --outcome made|missed|rescheduled "
		    "is required");
	if (strcmp(outcome, "made") == 0)
		ci.outcome = BATON__V1__CHECK_IN_OUTCOME__CHECK_IN_OUTCOME_MADE;
	else if (strcmp(outcome, "missed") == 0)
		ci.outcome = BATON__V1__CHECK_IN_OUTCOME__CHECK_IN_OUTCOME_MISSED;
	else if (strcmp(outcome, "rescheduled") == 0)
		ci.outcome =
		    BATON__V1__CHECK_IN_OUTCOME__CHECK_IN_OUTCOME_RESCHEDULED;
	else
		return usage_error("checkin: --outcome is made, missed or "
		    "rescheduled, not %s", outcome);
	if ((at != NULL) != (strcmp(outcome, "rescheduled") == 0))
		return usage_error("checkin: --at TIME goes with --outcome "
		    "rescheduled, and only with it");
	if (at != NULL && baton_parse_time(at, 0, &ci.rescheduled_to_ms) !=
	    BATON_OK)
		return usage_error("checkin: --at %s is not a time "
		    "(YYYY-MM-DDTHH:MM[:SS]Z)", at);
	ci.message_id = argv[optind];
	ci.index = (uint32_t)n;
	if (note != NULL)
		ci.note = (char *)note;

	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		return ex;
	rc = baton_checkin(c, &ci, &index, &e);
	if (rc == BATON_OK) {
		out = json_pack("{s:s, s:s, s:i}", "message_id", ci.message_id,
		    "code", "OK", "index", (int)index);
		ex = print_json(out) == 0 ? EX_OK : EX_LOCAL;
	} else if (rc == BATON_E_REFUSED) {
		out = json_pack("{s:s, s:s, s:s}", "message_id", ci.message_id,
		    "code", e.code_name, "text", e.broker_text);
		(void)print_json(out);
		warnx_("checkin refused: %s: %s", e.code_name, e.broker_text);
		ex = EX_REFUSED;
	} else
		ex = fail(rc, &e);
	baton_close(c);
	return ex;
}

/* Prints s with control characters shown as '?': notes are free text
 * from another organisation and must not drive the terminal. */
static void
print_plain(const char *s)
{
	for (; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s);
}

/* The human-readable form of a Status: one line per lifecycle event. */
static int
print_status_text(const Baton__V1__Status *s)
{
	char tbuf[40];
	size_t i;

	printf("handover %s: %s\n", s->message_id, s->state);
	if (s->n_versions > 0) {
		fputs("  versions:", stdout);
		for (i = 0; i < s->n_versions; i++)
			printf("%s %s", i > 0 ? " ->" : "", s->versions[i]);
		putchar('\n');
	}
	for (i = 0; i < s->n_checkins; i++) {
		const Baton__V1__CheckInInfo *ck = s->checkins[i];

		baton_format_time(ck->due_at_ms, tbuf, sizeof(tbuf));
		printf("  %-7s %2u due %s  %s", ck->kind, ck->index, tbuf,
		    ck->state);
		if (*ck->recorded_by)
			printf(" (%s)", ck->recorded_by);
		if (ck->rescheduled > 0)
			printf(" rescheduled %u time%s", ck->rescheduled,
			    ck->rescheduled == 1 ? "" : "s");
		if (*ck->note) {
			fputs("  note: ", stdout);
			print_plain(ck->note);
		}
		putchar('\n');
	}
	for (i = 0; i < s->n_events; i++) {
		const Baton__V1__LifecycleEvent *e = s->events[i];

		baton_format_time(e->at_ms, tbuf, sizeof(tbuf));
		printf("  %s  %-13s %s", tbuf, e->event, e->actor);
		if (*e->other)
			printf(" -> %s", e->other);
		if (*e->reason)
			printf("  (%s)", e->reason);
		if (*e->note) {
			fputs("  note: ", stdout);
			print_plain(e->note);
		}
		putchar('\n');
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		warnx_("cannot write to stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
cmd_status(const struct opts *o, int argc, char **argv)
{
	Baton__V1__Status *s = NULL;
	baton_client *c = NULL;
	baton_error e;
	json_t *j, *evs, *ev;
	char tbuf[40];
	size_t i;
	int rc, ex, as_json = 0;

	if (argc == 3 && strcmp(argv[1], "--json") == 0) {
		as_json = 1;
		argv[1] = argv[2];
		argc = 2;
	} else if (argc == 3 && strcmp(argv[2], "--json") == 0) {
		as_json = 1;
		argc = 2;
	}
	if (argc != 2 || argv[1][0] == '-')
		return usage_error("status: give exactly one REFERENCE [--json]");
	if (!validate_message_id(argv[1]))
		return usage_error("status: %s is not a reference (NODE/MESSAGE_ID) "
		    "or message id", argv[1]);
	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		return ex;
	rc = baton_status(c, argv[1], &s, &e);
	if (rc == BATON_E_REFUSED) {
		j = json_pack("{s:s, s:s, s:s}", "message_id", argv[1],
		    "code", e.code_name, "text", e.broker_text);
		(void)print_json(j);
		warnx_("status refused: %s: %s", e.code_name, e.broker_text);
		ex = EX_REFUSED;
		goto done;
	}
	if (rc != BATON_OK) {
		ex = fail(rc, &e);
		goto done;
	}
	if (!as_json) {
		ex = print_status_text(s) == 0 ? EX_OK : EX_LOCAL;
		goto done;
	}
	if ((j = baton_json_from_message(&s->base)) == NULL) {
		warnx_("out of memory");
		ex = EX_LOCAL;
		goto done;
	}
	/* codes as everywhere else in our output; readable times */
	json_object_set_new(j, "code", json_string(frame_code_name(s->code)));
	evs = json_object_get(j, "events");
	for (i = 0; i < s->n_events && json_is_array(evs); i++) {
		ev = json_array_get(evs, i);
		if (json_is_object(ev) && s->events[i]->at_ms != 0) {
			baton_format_time(s->events[i]->at_ms, tbuf,
			    sizeof(tbuf));
			json_object_set_new(ev, "at", json_string(tbuf));
		}
	}
	ex = print_json(j) == 0 ? EX_OK : EX_LOCAL;
done:
	baton_status_free(s);
	baton_close(c);
	return ex;
}

static int
cmd_whoami(const struct opts *o, int argc, char **argv)
{
	baton_client *c = NULL;
	json_t *j;
	int ex;

	if (argc != 1)
		return usage_error("whoami: takes no arguments");
	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		return ex;
	j = json_pack("{s:s, s:s, s:s, s:s}", "node_id", baton_node_id(c),
	    "role", baton_role(c), "organisation", baton_organisation(c),
	    "broker", o->broker);
	ex = print_json(j) == 0 ? EX_OK : EX_LOCAL;
	baton_close(c);
	return ex;
}

/* ------------------------------------------------------------------------
 * outbox, inbox: this node's own work, read without consuming anything
 * ---------------------------------------------------------------------- */

/*
 * Column widths of the work list table: with a space between columns and
 * at most 12 characters of deadline, a row fits 79 columns. A reference
 * longer than its column goes on a line of its own and the row continues
 * under it (as df(1) does), so it is never cut; a node id longer than its
 * column is cut with '~' (--json has every field whole).
 */
#define W_REF		16
#define W_OTHER		9
#define W_STATE		12
#define W_RISK		4
#define W_KIND		9
#define W_RECEIVED	11
#define WL_PAGE_DEFAULT	50

struct wl_args {
	int		 inbox;		/* else the outbox */
	int		 undecided;
	int64_t		 since_ms;
	unsigned	 limit;		/* items per page asked for */
	int		 json;
};

/* Copies s into buf (len bytes), control characters shown as '?'. */
static const char *
term_safe(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' :
		    s[i];
	buf[i] = '\0';
	return buf;
}

/* s cut to width w with a '~' at the end when it is longer. */
static const char *
cut_to(const char *s, size_t w, char *buf, size_t len)
{
	term_safe(s, buf, len);
	if (strlen(buf) > w && w < len) {
		buf[w - 1] = '~';
		buf[w] = '\0';
	}
	return buf;
}

static const char *
risk_name(int v, char *buf, size_t len)
{
	return names_enum_short(&baton__v1__risk_level__descriptor, v,
	    "RISK_LEVEL_", buf, len);
}

static const char *
kind_name(int v, char *buf, size_t len)
{
	return names_enum_short(&baton__v1__transition_kind__descriptor, v,
	    "TRANSITION_KIND_", buf, len);
}

/* The table's short risk: low, med, high, crit, or "-". */
static const char *
risk_short(int v)
{
	switch (v) {
	case BATON__V1__RISK_LEVEL__RISK_LEVEL_LOW:
		return "low";
	case BATON__V1__RISK_LEVEL__RISK_LEVEL_MEDIUM:
		return "med";
	case BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH:
		return "high";
	case BATON__V1__RISK_LEVEL__RISK_LEVEL_CRITICAL:
		return "crit";
	}
	return "-";
}

/* The table's kind: its name, "crisis" for crisis_handover, or "-". */
static const char *
kind_short(int v, char *buf, size_t len)
{
	if (v == BATON__V1__TRANSITION_KIND__TRANSITION_KIND_CRISIS_HANDOVER)
		return "crisis";
	if (v == BATON__V1__TRANSITION_KIND__TRANSITION_KIND_UNSPECIFIED)
		return "-";
	return kind_name(v, buf, len);
}

/*
 * Time to the acceptance deadline: "in 45m", "in 3h05m", "in 2d03h"; once
 * passed "overdue 45m", "overdue 5h", "overdue 3d"; "-" with none left to
 * meet (decided, expired, or no deadline in the policy).
 */
static const char *
deadline_text(const Baton__V1__WorkItem *it, char *buf, size_t len)
{
	long long m;

	if (!it->has_deadline)
		snprintf(buf, len, "-");
	else if (it->deadline_in_ms >= 0) {
		m = (long long)(it->deadline_in_ms / 60000);
		if (m < 60)
			snprintf(buf, len, "in %lldm", m);
		else if (m < 24 * 60)
			snprintf(buf, len, "in %lldh%02lldm", m / 60, m % 60);
		else
			snprintf(buf, len, "in %lldd%02lldh", m / 1440,
			    m % 1440 / 60);
	} else {
		m = (long long)(-it->deadline_in_ms / 60000);
		if (m < 60)
			snprintf(buf, len, "overdue %lldm", m);
		else if (m < 24 * 60)
			snprintf(buf, len, "overdue %lldh", m / 60);
		else
			snprintf(buf, len, "overdue %lldd", m / 1440);
	}
	return buf;
}

/* "MM-DD HH:MM" (UTC) of ms, or "-". */
static const char *
short_time(int64_t ms, char *buf, size_t len)
{
	char t[40];

	if (ms == 0 || *baton_format_time(ms, t, sizeof(t)) == '\0')
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.5s %.5s", t + 5, t + 11);
	return buf;
}

static void
print_wl_header(void)
{
	printf("%-*s %-*s %-*s %-*s %-*s %-*s %s\n", W_REF, "REFERENCE",
	    W_OTHER, "OTHER", W_STATE, "STATE", W_RISK, "RISK", W_KIND, "KIND",
	    W_RECEIVED, "RECEIVED", "DEADLINE");
}

/* One item as a table row; OTHER is the recipient, for an inbox the sender. */
static void
print_wl_row(const struct wl_args *a, const Baton__V1__WorkItem *it)
{
	char ref[BATON_REFERENCE_LEN], other[80], state[W_STATE + 8];
	char kind[32], recv[W_RECEIVED + 8], due[40];

	term_safe(it->reference, ref, sizeof(ref));
	if (strlen(ref) > W_REF)
		printf("%s\n%-*s ", ref, W_REF, "");
	else
		printf("%-*s ", W_REF, ref);
	printf("%-*s %-*s %-*s %-*s %-*s %s\n",
	    W_OTHER, cut_to(a->inbox ? it->sender : it->recipient, W_OTHER,
	    other, sizeof(other)),
	    W_STATE, cut_to(it->state, W_STATE, state, sizeof(state)),
	    W_RISK, risk_short(it->risk_level),
	    W_KIND, kind_short(it->transition_kind, kind, sizeof(kind)),
	    W_RECEIVED, short_time(it->received_at_ms, recv, sizeof(recv)),
	    deadline_text(it, due, sizeof(due)));
}

/* A time as JSON: the ISO 8601 string, or null for 0. */
static json_t *
json_time(int64_t ms)
{
	char t[40];

	if (ms == 0 || *baton_format_time(ms, t, sizeof(t)) == '\0')
		return json_null();
	return json_string(t);
}

/* One item as a JSON object (NULL when out of memory). */
static json_t *
wl_item_json(const Baton__V1__WorkItem *it)
{
	char risk[32], kind[32];
	json_t *o;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, "
	    "s:b, s:b, s:I}",
	    "reference", it->reference, "sender", it->sender,
	    "recipient", it->recipient, "state", it->state,
	    "risk_level", risk_name(it->risk_level, risk, sizeof(risk)),
	    "transition_kind", kind_name(it->transition_kind, kind,
	    sizeof(kind)),
	    "received_at", json_time(it->received_at_ms),
	    "delivered_at", json_time(it->delivered_at_ms),
	    "decided_at", json_time(it->decided_at_ms),
	    "deadline_in_ms", it->has_deadline ?
	    json_integer(it->deadline_in_ms) : json_null(),
	    "overdue", it->has_deadline && it->deadline_in_ms < 0,
	    "escalated", it->escalated,
	    "hops", (json_int_t)it->hops);
	return o;
}

/* One page's items to stdout. 0, or -1 when stdout failed (said). */
static int
print_wl_page(const struct wl_args *a, const Baton__V1__WorkList *wl,
    long *shown)
{
	size_t i;

	for (i = 0; i < wl->n_items; i++) {
		if (a->json && print_json(wl_item_json(wl->items[i])) == -1)
			return -1;
		if (!a->json)
			print_wl_row(a, wl->items[i]);
		(*shown)++;
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		warnx_("cannot write to stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * 1 if every item of wl comes after last (references in key order) and
 * after the one before it; last then holds the page's last item.
 */
static int
wl_page_follows(const Baton__V1__WorkList *wl, char *last, size_t lastlen)
{
	size_t i;

	for (i = 0; i < wl->n_items; i++) {
		if (strlen(wl->items[i]->reference) >= lastlen ||
		    strcmp(wl->items[i]->reference, last) <= 0)
			return 0;
		memcpy(last, wl->items[i]->reference,
		    strlen(wl->items[i]->reference) + 1);
	}
	return 1;
}

/*
 * Asks for page after page until the broker says there are no more. The
 * cursor is the broker's and opaque, so a broker that repeats itself is
 * caught by the items (each page's must come after the last page's, in
 * reference order) and by a bound on pages. Returns an exit status.
 */
#define WL_PAGES_MAX	100000	/* pages of one listing: 200 M records read */
static int
wl_all_pages(baton_client *c, const struct wl_args *a, const char *name)
{
	char cursor[BATON_WORK_CURSOR_MAX + 1] = "";
	char last[BATON_REFERENCE_LEN] = "";
	long pages = 0;
	Baton__V1__WorkList *wl = NULL;
	baton_error e;
	long shown = 0;
	int rc, header = 0;

	for (;;) {
		rc = a->inbox ? baton_inbox(c, cursor, a->limit, &wl, &e) :
		    baton_outbox(c, a->undecided, a->since_ms, cursor, a->limit,
		    &wl, &e);
		if (rc == BATON_E_REFUSED) {
			warnx_("%s refused: %s: %s", name, e.code_name,
			    e.broker_text);
			return EX_REFUSED;
		}
		if (rc != BATON_OK)
			return fail(rc, &e);
		if (!wl_page_follows(wl, last, sizeof(last))) {
			warnx_("%s: the broker's page repeats handovers of the "
			    "last one; stopped", name);
			baton_work_list_free(wl);
			return EX_CONNECT;
		}
		if (!a->json && !header++)
			print_wl_header();
		if (print_wl_page(a, wl, &shown) == -1)
			goto local;
		if (wl->next_cursor[0] == '\0')
			break;
		if (strlen(wl->next_cursor) >= sizeof(cursor) ||
		    ++pages == WL_PAGES_MAX) {
			warnx_("%s: the broker's next page does not follow the "
			    "last one; stopped", name);
			baton_work_list_free(wl);
			return EX_CONNECT;
		}
		memcpy(cursor, wl->next_cursor, strlen(wl->next_cursor) + 1);
		baton_work_list_free(wl);
		wl = NULL;
	}
	baton_work_list_free(wl);
	if (!a->json && (printf("(%ld handover%s)\n", shown, shown == 1 ?
	    "" : "s") < 0 || fflush(stdout) == EOF)) {
		warnx_("cannot write to stdout: %s", strerror(errno));
		return EX_LOCAL;
	}
	return EX_OK;
local:
	baton_work_list_free(wl);
	return EX_LOCAL;
}

/*
 * outbox [--undecided] [--since T] [--limit N] [--json]
 * inbox [--limit N] [--json]
 */
static int
cmd_worklist(const struct opts *o, int inbox, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "undecided", no_argument, NULL, 'u' },
		{ "since", required_argument, NULL, 's' },
		{ "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 }
	};
	const char *name = inbox ? "inbox" : "outbox";
	struct wl_args a;
	baton_client *c = NULL;
	long n;
	int ch, ex;

	memset(&a, 0, sizeof(a));
	a.inbox = inbox;
	a.limit = WL_PAGE_DEFAULT;
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u':
		case 's':
			if (inbox)
				return usage_error("inbox: --undecided and "
				    "--since are for outbox");
			if (ch == 'u')
				a.undecided = 1;
			else if (baton_parse_time(optarg, 0, &a.since_ms) !=
			    BATON_OK)
				return usage_error("outbox: --since wants "
				    "YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS[.mmm]]"
				    "[Z] (UTC), not '%s'", optarg);
			break;
		case 'l':
			if (parse_count(optarg, BATON_WORK_LIST_MAX, &n) == -1)
				return usage_error("%s: --limit takes 1 to %d "
				    "(items per page)", name,
				    BATON_WORK_LIST_MAX);
			a.limit = (unsigned)n;
			break;
		case 'j':
			a.json = 1;
			break;
		default:
			return bad_option(name, argv);
		}
	}
	if (optind != argc)
		return usage_error("%s: unexpected argument %s", name,
		    argv[optind]);
	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		return ex;
	ex = wl_all_pages(c, &a, name);
	baton_close(c);
	return ex;
}

/* ------------------------------------------------------------------------
 * audit: an auditor node's queries of the broker's audit log
 * ---------------------------------------------------------------------- */

struct audit_verb {
	const char		*name;
	enum baton_audit_kind	 kind;
	const char		*formats;	/* " a b ": default first */
};

static const struct audit_verb audit_verbs[] = {
	{ "list",	BATON_AUDIT_LIST,	" table " },
	{ "export",	BATON_AUDIT_EXPORT,	" jsonl csv " },
	{ "trail",	BATON_AUDIT_TRAIL,	" table json " },
	{ "report",	BATON_AUDIT_REPORT,	" table csv html " },
	{ "head",	BATON_AUDIT_HEAD,	"" },
};

static const char *const audit_format_names[] = {
	[BATON_AUDIT_FORMAT_TABLE] = "table",
	[BATON_AUDIT_FORMAT_CSV] = "csv",
	[BATON_AUDIT_FORMAT_JSONL] = "jsonl",
	[BATON_AUDIT_FORMAT_JSON] = "json",
	[BATON_AUDIT_FORMAT_HTML] = "html",
};

/* What an audit command was given. */
struct audit_args {
	const struct audit_verb	*verb;
	baton_audit_request	 req;
	const char		*nodes[BATON_AUDIT_FILTER_MAX];
	const char		*messages[BATON_AUDIT_FILTER_MAX];
	const char		*events[BATON_AUDIT_FILTER_MAX];
	const char		*since, *until, *format;
	char			 nhs[32];	/* --subject (wiped) */
	int			 has_subject;
	int			 filters;	/* any filter given */
};

/* The answer's bytes as they come: straight to stdout. */
struct audit_out {
	int	 wrote;		/* something was written */
	int	 failed;	/* stdout failed (said) */
};

static int
audit_chunk(void *arg, const void *data, size_t len)
{
	struct audit_out *out = arg;

	if (len == 0)
		return 0;
	if (fwrite(data, 1, len, stdout) != len || fflush(stdout) == EOF) {
		warnx_("cannot write to stdout: %s", strerror(errno));
		out->failed = 1;
		return -1;
	}
	out->wrote = 1;
	return 0;
}

/*
 * --subject: the NHS number, from the argument (then wiped from argv, so
 * it leaves /proc/PID/cmdline) or, for "-", one line of stdin (so it stays
 * out of shell history). EX_OK, or EX_LOCAL (said).
 */
static int
take_subject(struct audit_args *a, char *arg)
{
	char norm[BATON_NHS_NUMBER_LEN + 1];
	size_t n;

	if (strcmp(arg, "-") == 0) {
		if (fgets(a->nhs, sizeof(a->nhs), stdin) == NULL)
			return usage_error("audit: --subject -: no NHS number "
			    "on standard input");
		n = strcspn(a->nhs, "\r\n");
		a->nhs[n] = '\0';
	} else {
		snprintf(a->nhs, sizeof(a->nhs), "%s", arg);
		explicit_bzero(arg, strlen(arg));
	}
	a->has_subject = 1;
	if (!validate_nhs_number(a->nhs, norm)) {
		explicit_bzero(a->nhs, sizeof(a->nhs));
		return usage_error("audit: --subject: not a valid NHS number "
		    "(10 digits with a valid check digit)");
	}
	memcpy(a->nhs, norm, sizeof(norm));
	explicit_bzero(norm, sizeof(norm));
	a->req.nhs_number = a->nhs;
	return EX_OK;
}

/* The --format the verb has, if one was given. EX_OK or EX_LOCAL (said). */
static int
pick_audit_format(struct audit_args *a)
{
	char want[16];
	size_t i;

	if (a->format == NULL)
		return EX_OK;	/* the broker's default for the kind */
	snprintf(want, sizeof(want), " %s ", a->format);
	if (strlen(a->format) > 8 || strstr(a->verb->formats, want) == NULL)
		return usage_error("audit %s: --format wants one of:%s",
		    a->verb->name, *a->verb->formats ? a->verb->formats :
		    " (none: it takes no --format)");
	for (i = 1; i < sizeof(audit_format_names) /
	    sizeof(audit_format_names[0]); i++)
		if (strcmp(audit_format_names[i], a->format) == 0)
			a->req.format = (enum baton_audit_format)i;
	return EX_OK;
}

/* Checks what needs more than one option. EX_OK, or EX_LOCAL (said). */
static int
check_audit_args(struct audit_args *a)
{
	const char *v = a->verb->name;
	int64_t since = INT64_MIN, until = INT64_MAX;
	size_t i;

	if (a->verb->kind == BATON_AUDIT_HEAD && (a->filters ||
	    a->format != NULL))
		return usage_error("audit head: takes no filters and no "
		    "--format");
	if (a->since != NULL && baton_parse_time(a->since, 0, &since) !=
	    BATON_OK)
		return usage_error("audit %s: --since wants YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC), not '%s'", v,
		    a->since);
	if (a->until != NULL && baton_parse_time(a->until, 1, &until) !=
	    BATON_OK)
		return usage_error("audit %s: --until wants YYYY-MM-DD or "
		    "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z] (UTC), not '%s'", v,
		    a->until);
	if (since > until)
		return usage_error("audit %s: --since is after --until", v);
	/* 0 on the wire means no bound: the epoch itself is asked as 1 ms */
	a->req.since_ms = a->since == NULL ? 0 : since != 0 ? since : 1;
	a->req.until_ms = a->until == NULL ? 0 : until != 0 ? until : 1;
	for (i = 0; i < a->req.n_nodes; i++)
		if (!validate_node_id(a->nodes[i]))
			return usage_error("audit %s: --node: '%s' is not a "
			    "node id", v, a->nodes[i]);
	for (i = 0; i < a->req.n_message_ids; i++)
		if (!validate_message_id(a->messages[i]))
			return usage_error("audit %s: --message: '%s' is not a "
			    "reference (NODE/MESSAGE_ID)", v, a->messages[i]);
	return pick_audit_format(a);
}

/* One more value of a repeatable filter. EX_OK, or EX_LOCAL (said). */
static int
add_value(const char **v, size_t *n, const char *value, const char *opt)
{
	if (*n == BATON_AUDIT_FILTER_MAX)
		return usage_error("audit: at most %d %s",
		    BATON_AUDIT_FILTER_MAX, opt);
	v[(*n)++] = value;
	return EX_OK;
}

/* Parses audit VERB's options into a. EX_OK, or EX_LOCAL (said). */
static int
parse_audit(int argc, char **argv, struct audit_args *a)
{
	static const struct option lo[] = {
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "node", required_argument, NULL, 'n' },
		{ "message", required_argument, NULL, 'm' },
		{ "event", required_argument, NULL, 'e' },
		{ "subject", required_argument, NULL, 'S' },
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		a->filters |= ch != 'f';
		switch (ch) {
		case 's':
			a->since = optarg;
			break;
		case 'u':
			a->until = optarg;
			break;
		case 'n':
			if (add_value(a->nodes, &a->req.n_nodes, optarg,
			    "--node") != EX_OK)
				return EX_LOCAL;
			break;
		case 'm':
			if (add_value(a->messages, &a->req.n_message_ids,
			    optarg, "--message") != EX_OK)
				return EX_LOCAL;
			break;
		case 'e':
			if (add_value(a->events, &a->req.n_events, optarg,
			    "--event") != EX_OK)
				return EX_LOCAL;
			break;
		case 'S':
			if (a->has_subject)
				return usage_error("audit: one --subject");
			if (take_subject(a, optarg) != EX_OK)
				return EX_LOCAL;
			break;
		case 'f':
			a->format = optarg;
			break;
		default:
			return bad_option("audit", argv);
		}
	}
	if (optind != argc)
		return usage_error("audit %s: unexpected argument %s",
		    a->verb->name, argv[optind]);
	a->req.nodes = a->nodes;
	a->req.message_ids = a->messages;
	a->req.events = a->events;
	return check_audit_args(a);
}

/* Runs the query and streams its answer to stdout; an exit status. */
static int
run_audit(const struct opts *o, struct audit_args *a)
{
	struct audit_out out = { 0, 0 };
	baton_audit_summary sum;
	baton_client *c = NULL;
	baton_error e;
	int rc, ex;

	if ((ex = connect_broker(o, 0, &c)) != EX_OK)
		return ex;
	rc = baton_audit_query(c, &a->req, audit_chunk, &out, &sum, &e);
	baton_close(c);
	if (rc == BATON_OK) {
		/* a list ends with its count, as batonctl's does */
		if (a->verb->kind == BATON_AUDIT_LIST && (printf("(%llu "
		    "record%s)\n", (unsigned long long)sum.records,
		    sum.records == 1 ? "" : "s") < 0 ||
		    fflush(stdout) == EOF)) {
			warnx_("cannot write to stdout: %s", strerror(errno));
			return EX_LOCAL;
		}
		return EX_OK;
	}
	if (out.failed)
		return EX_LOCAL;
	if (out.wrote)
		warnx_("audit %s: the output above is incomplete",
		    a->verb->name);
	if (rc == BATON_E_REFUSED) {
		warnx_("audit %s refused: %s: %s", a->verb->name, e.code_name,
		    e.broker_text);
		return EX_REFUSED;
	}
	return fail(rc, &e);
}

static int
cmd_audit(const struct opts *o, int argc, char **argv)
{
	struct audit_args a;
	size_t i;
	int ex;

	memset(&a, 0, sizeof(a));
	if (argc < 2)
		return usage_error("audit: give list, export, head, trail or "
		    "report");
	for (i = 0; i < sizeof(audit_verbs) / sizeof(audit_verbs[0]); i++)
		if (strcmp(argv[1], audit_verbs[i].name) == 0)
			a.verb = &audit_verbs[i];
	if (a.verb == NULL)
		return usage_error("audit: unknown query %s (list, export, "
		    "head, trail or report)", argv[1]);
	a.req.kind = a.verb->kind;
	if ((ex = parse_audit(argc - 1, argv + 1, &a)) == EX_OK)
		ex = run_audit(o, &a);
	explicit_bzero(a.nhs, sizeof(a.nhs));
	return ex;
}

static const char *
from_env(const char *flag, const char *env)
{
	const char *v;

	if (flag != NULL)
		return flag;
	v = getenv(env);
	return v != NULL && *v != '\0' ? v : NULL;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "server-name", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	const char *cmd;
	int ch, missing = 0;

	/* a closed stdout must be an error return, not a silent death */
	signal(SIGPIPE, SIG_IGN);

	memset(&o, 0, sizeof(o));
	o.timeout_ms = BATON_DEFAULT_TIMEOUT_MS;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+h", lo, NULL)) != -1) {
		switch (ch) {
		case 'b':
			o.broker = optarg;
			break;
		case 'a':
			o.ca = optarg;
			break;
		case 'c':
			o.cert = optarg;
			break;
		case 'k':
			o.key = optarg;
			break;
		case 's':
			o.server_name = optarg;
			break;
		case 't':
			if (parse_seconds(optarg, 0.001, 3600, &o.timeout_ms) ==
			    -1)
				return usage_error("--timeout takes seconds, "
				    "more than 0 and at most 3600");
			break;
		case 'h':
			fputs(usage_text, stdout);
			return EX_OK;
		case 'V':
			printf("baton %s\n", BATON_VERSION);
			return EX_OK;
		default:
			return bad_option(NULL, argv);
		}
	}
	if (optind >= argc)
		return usage_error("no command given");
	cmd = argv[optind];
	argc -= optind;
	argv += optind;

	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return EX_OK;
	}
	if (strcmp(cmd, "send") != 0 && strcmp(cmd, "recv") != 0 &&
	    strcmp(cmd, "status") != 0 && strcmp(cmd, "accept") != 0 &&
	    strcmp(cmd, "reject") != 0 && strcmp(cmd, "redirect") != 0 &&
	    strcmp(cmd, "whoami") != 0 && strcmp(cmd, "outbox") != 0 &&
	    strcmp(cmd, "inbox") != 0 && strcmp(cmd, "audit") != 0 &&
	    strcmp(cmd, "checkin") != 0)
		return usage_error("unknown command %s", cmd);

	o.broker = from_env(o.broker, "BATON_BROKER");
	o.ca = from_env(o.ca, "BATON_CA");
	o.cert = from_env(o.cert, "BATON_CERT");
	o.key = from_env(o.key, "BATON_KEY");
	o.server_name = from_env(o.server_name, "BATON_SERVER_NAME");
	if (o.broker == NULL) {
		warnx_("no broker address: give --broker HOST:PORT or set "
		    "BATON_BROKER");
		missing = 1;
	}
	if (o.ca == NULL) {
		warnx_("no CA certificate: give --ca FILE or set BATON_CA");
		missing = 1;
	}
	if (o.cert == NULL) {
		warnx_("no node certificate: give --cert FILE or set "
		    "BATON_CERT");
		missing = 1;
	}
	if (o.key == NULL) {
		warnx_("no private key: give --key FILE or set BATON_KEY");
		missing = 1;
	}
	if (missing)
		return usage_error("%s needs a broker and credentials", cmd);

	if (strcmp(cmd, "send") == 0)
		return cmd_send(&o, argc, argv);
	if (strcmp(cmd, "recv") == 0)
		return cmd_recv(&o, argc, argv);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&o, argc, argv);
	if (strcmp(cmd, "whoami") == 0)
		return cmd_whoami(&o, argc, argv);
	if (strcmp(cmd, "outbox") == 0 || strcmp(cmd, "inbox") == 0)
		return cmd_worklist(&o, strcmp(cmd, "inbox") == 0, argc, argv);
	if (strcmp(cmd, "audit") == 0)
		return cmd_audit(&o, argc, argv);
	if (strcmp(cmd, "checkin") == 0)
		return cmd_checkin(&o, argc, argv);
	if (strcmp(cmd, "accept") == 0)
		return cmd_decide(&o,
		    BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_ACCEPT,
		    cmd, argc, argv);
	if (strcmp(cmd, "reject") == 0)
		return cmd_decide(&o,
		    BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_REJECT,
		    cmd, argc, argv);
	return cmd_decide(&o,
	    BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_REDIRECT, cmd, argc,
	    argv);
}
