/*
 * log.c - one line per event on stderr (see log.h for what may be logged).
 *
 * A line is "TIME PROGRAM LEVEL: message", or under systemd (journal
 * format) "<N>PROGRAM LEVEL: message" with the sd-daemon priority N
 * instead of the time, which the journal adds itself. A message of
 * several lines (every policy error, say) becomes several events, each
 * with its own time and level, so no line of the log lacks them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_prog = "batond";
static int log_min = LOG_LEVEL_INFO;
static int log_journal;		/* "<N>" prefixes instead of the time */

/* A message is at most 8 KiB; a line adds its prefix. */
#define LOG_MSG_MAX	8192
#define LOG_LINE_MAX	(LOG_MSG_MAX + 128)

/* Buffered lines (log_set_buffered) and who is asked to flush them. */
static char log_buf[64 * 1024];
static size_t log_len;
static int log_pending;		/* a flush has been asked for */
static void (*log_schedule)(void *);
static void *log_schedule_arg;

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_min = level;
}

void
log_set_level(int level)
{
	log_min = level;
}

void
log_set_journal(int on)
{
	log_journal = on;
}

/* The sd-daemon priority of a level (syslog's numbers). */
static int
log_priority(int level)
{
	switch (level) {
	case LOG_LEVEL_DEBUG: return 7;
	case LOG_LEVEL_INFO: return 6;
	case LOG_LEVEL_WARN: return 4;
	default: return 2;
	}
}

/* Writes len bytes to stderr, whole (a log line is never half written). */
static void
log_write_all(const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(STDERR_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;	/* nowhere left to say it */
		p += n;
		len -= (size_t)n;
	}
}

void
log_flush(void)
{
	log_pending = 0;
	if (log_len > 0)
		log_write_all(log_buf, log_len);
	log_len = 0;
}

void
log_set_buffered(void (*schedule)(void *), void *arg)
{
	static int registered;

	log_flush();
	log_schedule = schedule;
	log_schedule_arg = arg;
	if (schedule != NULL && !registered && atexit(log_flush) == 0)
		registered = 1;
}

/*
 * Keeps a formatted line: buffered for info and debug while a flush can
 * be scheduled, else written at once after whatever is buffered.
 */
static void
log_emit(int level, const char *line, size_t len)
{
	int saved = errno;	/* logging never changes what a caller sees */

	if (log_schedule == NULL || level >= LOG_LEVEL_WARN) {
		log_flush();
		log_write_all(line, len);
		errno = saved;
		return;
	}
	if (len > sizeof(log_buf) - log_len)
		log_flush();
	if (len > sizeof(log_buf)) {
		log_write_all(line, len);
		errno = saved;
		return;
	}
	memcpy(log_buf + log_len, line, len);
	log_len += len;
	if (!log_pending) {
		log_pending = 1;
		log_schedule(log_schedule_arg);
	}
	errno = saved;
}

/* Formats one event: the prefix, then text up to its end or a newline. */
static void
log_line(int level, const char *tag, const char *text, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char when[32], line[LOG_LINE_MAX];
	int n;

	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>%s %s: %.*s\n",
		    log_priority(level), log_prog, tag, (int)len, text);
	} else {
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "%s.%03ldZ %s %s: %.*s\n",
		    when, ts.tv_nsec / 1000000L, log_prog, tag, (int)len, text);
	}
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	log_emit(level, line, (size_t)n);
}

static void log_vwrite(int, const char *, const char *, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static void
log_vwrite(int level, const char *tag, const char *errtext, const char *fmt,
    va_list ap)
{
	char msg[LOG_MSG_MAX];
	const char *p, *nl;
	int n;

	if (level < log_min)
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(unprintable log message)");
	if (errtext != NULL) {
		size_t used = strlen(msg);

		snprintf(msg + used, sizeof(msg) - used, ": %s", errtext);
	}
	/* one event per line of the message */
	for (p = msg; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		if (nl > p)
			log_line(level, tag, p, (size_t)(nl - p));
	if (*p != '\0' || p == msg)
		log_line(level, tag, p, strlen(p));
}

#define LOG_BODY(level, tag, errtext) do {			\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(level, tag, errtext, fmt, ap);		\
	va_end(ap);						\
} while (0)

void log_debug(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_DEBUG, "debug", NULL); }
void log_info(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_INFO, "info", NULL); }
void log_warnx(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_WARN, "warn", NULL); }
void log_crit(const char *fmt, ...) { LOG_BODY(LOG_LEVEL_CRIT, "crit", NULL); }

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_LEVEL_WARN, "warn", e);
}

void
fatal(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_LEVEL_CRIT, "fatal", e);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LEVEL_CRIT, "fatal", NULL);
	exit(1);
}
