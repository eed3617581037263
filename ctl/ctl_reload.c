/*
 * ctl_reload.c - "batonctl reload": asks the running broker to reload
 * (SIGHUP) and reports what it did, exiting non-zero when the new config,
 * policy or TLS files were refused.
 *
 * The broker names itself in DATA/batond.pid and writes the outcome of
 * every reload to DATA/reload.status with a generation counter
 * (broker/state/runfile.h); this waits, bounded by --timeout, for a
 * generation newer than the one before the signal. Before signalling, the
 * pid must be a live process called batond, so a stale pid file never
 * sends SIGHUP to some other program. Two reloads asked for at the same
 * moment may both report the later outcome.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clockms.h"
#include "ctl.h"
#include "ctl_data.h"
#include "ctl_opts.h"
#include "runfile.h"

#define POLL_MS		50

struct reload_args {
	const char	*data;
	int		 timeout_s;
};

static int
parse_reload(const struct command *c, int argc, char **argv,
    struct reload_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("data", "DIR", &a->data),
		  .help = "the running broker's data directory",
		  .required = 1 },
		{ CTL_INT("timeout", "SECONDS", &a->timeout_s),
		  .help = "how long to wait for the outcome (default 10)",
		  .min = 1, .max = 300 },
	};

	memset(a, 0, sizeof(*a));
	a->timeout_s = 10;
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

/* Finds the broker of dir and checks it may be signalled. */
static int
find_broker(const char *dir, pid_t *pid)
{
	char err[4352];
	int rc;

	if ((rc = runfile_read_pid(dir, pid, err, sizeof(err))) == 1)
		return ctl_failx("no broker is running on %s (no %s)", dir,
		    RUNFILE_PID);
	if (rc == -1)
		return ctl_failx("%s", err);
	/* only a process known to be batond is sent SIGHUP */
	if (ctl_data_batond((long)*pid) != CTL_BATOND_YES)
		return ctl_failx("%s/%s names process %ld, which is not a "
		    "running batond (a stale pid file?)", dir, RUNFILE_PID,
		    (long)*pid);
	return EXIT_SUCCESS;
}

/* The generation of the last outcome pid wrote (0 if none yet). */
static unsigned long
current_generation(const char *dir, pid_t pid)
{
	struct reload_status st;
	char err[512];

	if (runfile_read_reload(dir, &st, err, sizeof(err)) != 0 ||
	    st.pid != (long)pid)
		return 0;
	return st.generation;
}

/*
 * Waits until pid writes an outcome newer than base or the time is up.
 * Returns 0 with st filled, -1 on time out.
 */
static int
await_outcome(const char *dir, pid_t pid, unsigned long base, int timeout_s,
    struct reload_status *st)
{
	int64_t deadline = clockms_mono() + (int64_t)timeout_s * 1000;
	struct timespec nap = { 0, POLL_MS * 1000000L };
	char err[512];

	for (;;) {
		if (runfile_read_reload(dir, st, err, sizeof(err)) == 0 &&
		    st->pid == (long)pid && st->generation > base)
			return 0;
		if (clockms_mono() >= deadline || kill(pid, 0) == -1)
			return -1;
		nanosleep(&nap, NULL);
	}
}

static int
run_reload(const struct reload_args *a)
{
	struct reload_status st;
	unsigned long base;
	pid_t pid;
	int rc;

	if ((rc = find_broker(a->data, &pid)) != EXIT_SUCCESS)
		return rc;
	base = current_generation(a->data, pid);
	if (kill(pid, SIGHUP) == -1)
		return ctl_failx("cannot signal batond (pid %ld): %s%s",
		    (long)pid, strerror(errno), errno == EPERM ?
		    "; run as the broker's user or root" : "");
	if (await_outcome(a->data, pid, base, a->timeout_s, &st) == -1)
		return ctl_failx("no reload outcome from batond (pid %ld): it "
		    "stopped, or took over %d s; see its log", (long)pid,
		    a->timeout_s);
	if (strcmp(st.result, "ok") == 0) {
		printf("reload %lu: ok\n", st.generation);
		return EXIT_SUCCESS;
	}
	printf("reload %lu: refused: %s\n", st.generation, st.error);
	return ctl_failx("the broker refused the reload and keeps what it "
	    "had; fix the file above and reload again");
}

int
ctl_reload(const struct command *c, int argc, char **argv)
{
	struct reload_args a;
	int r;

	if ((r = parse_reload(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_reload(&a);
}
