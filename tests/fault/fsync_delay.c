/*
 * fsync_delay.c - an LD_PRELOAD shim that makes every fdatasync() and
 * fsync() take at least FSYNC_DELAY_MS milliseconds longer (default 300),
 * then does the real sync (TESTPLAN D2 b).
 *
 * LMDB syncs each commit with fdatasync() through libc, so under this shim
 * a broker that sends a receipt only after its commit is durable cannot
 * answer a submit sooner than the delay; one that answered first would
 * answer at once. The shim changes timing only, never a result.
 *
 * Built without the sanitizers (it must load before anything else); in a
 * sanitizer build the test puts the ASan runtime ahead of it in LD_PRELOAD.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef int (*sync_fn)(int);

/* Sleeps the configured delay, whole even across signals. */
static void
delay(void)
{
	const char *v = getenv("FSYNC_DELAY_MS");
	long ms = v != NULL ? strtol(v, NULL, 10) : 300;
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Calls the next definition of name (libc's), or fails with ENOSYS. */
static int
real_sync(const char *name, int fd)
{
	sync_fn fn = (sync_fn)dlsym(RTLD_NEXT, name);

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	return fn(fd);
}

int
fdatasync(int fd)
{
	int saved = errno;

	delay();
	errno = saved;
	return real_sync("fdatasync", fd);
}

int
fsync(int fd)
{
	int saved = errno;

	delay();
	errno = saved;
	return real_sync("fsync", fd);
}
