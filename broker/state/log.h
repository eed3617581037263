/*
 * log.h - the broker's few log verbs, to stderr (the journal under systemd).
 * Each line is one event with its level; a message with newlines is
 * written as one event per line.
 *
 * log_warn appends errno's text, log_warnx does not; fatal/fatalx exit
 * non-zero and are only for when the broker cannot go on. A line carries
 * key=value fields and never dataset content: message ids, node ids and
 * codes only (no NHS numbers, names or clinical text).
 */
#ifndef BATON_LOG_H
#define BATON_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_CRIT };

/* Sets the program name and the lowest level written (default INFO). */
void	log_init(const char *progname, int level);

/* Changes the lowest level written (a reload may turn debug on or off). */
void	log_set_level(int level);

/*
 * 1: sd-daemon "<N>" priority prefixes instead of the time (under
 * systemd, whose journal keeps its own time); 0: timestamped lines.
 */
void	log_set_journal(int on);

/*
 * Buffers info and debug lines until log_flush, and asks schedule(arg) to
 * run log_flush soon after the first line is buffered (the broker: an
 * event after the loop's I/O), so the lines of a busy pass reach stderr in
 * one write rather than one each. Warnings and worse are written at once,
 * after what is buffered. schedule NULL: every line at once (the default).
 * The buffer is also flushed when full and at exit.
 */
void	log_set_buffered(void (*schedule)(void *), void *arg);

/* Writes the buffered lines now. */
void	log_flush(void);

void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_crit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
