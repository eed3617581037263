/*
 * synccount.c - LD_PRELOAD shim for the benchmark: counts the broker's
 * fdatasync and fsync calls in a shared counter, so bench can say how many
 * commits a run took (each LMDB commit of a write transaction is one
 * fdatasync of the data file; its meta page goes through an O_DSYNC
 * descriptor and is not counted). The counter is the first 8 bytes of the
 * file named by BENCH_SYNC_FILE, mapped shared at load time (before the
 * broker sheds any rights); without that variable the shim only passes the
 * calls through. Costs one atomic add per call.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile uint64_t *counter;
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);

__attribute__((constructor)) static void
synccount_init(void)
{
	const char *path = getenv("BENCH_SYNC_FILE");
	void *p;
	int fd;

	real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
	real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	if (path == NULL || (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return;
	if (ftruncate(fd, sizeof(uint64_t)) == 0 &&
	    (p = mmap(NULL, sizeof(uint64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0)) != MAP_FAILED)
		counter = p;
	close(fd);
}

int
fdatasync(int fd)
{
	if (counter != NULL)
		__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
	return real_fdatasync(fd);
}

int
fsync(int fd)
{
	if (counter != NULL)
		__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
	return real_fsync(fd);
}
