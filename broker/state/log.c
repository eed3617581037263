/*
 * log.c - timestamped lines on stderr (see log.h for what may be logged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

static const char *log_prog = "batond";
static int log_min = LOG_LEVEL_INFO;

void
log_init(const char *progname, int level)
{
	log_prog = progname;
	log_min = level;
}

static void log_vwrite(int, const char *, const char *, const char *, va_list)
    __attribute__((format(printf, 4, 0)));

static void
log_vwrite(int level, const char *tag, const char *errtext, const char *fmt,
    va_list ap)
{
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (level < log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ %s %s: ", when, ts.tv_nsec / 1000000L,
	    log_prog, tag);
	vfprintf(stderr, fmt, ap);
	if (errtext != NULL)
		fprintf(stderr, ": %s", errtext);
	fputc('\n', stderr);
	fflush(stderr);
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
