/*
 * loader.h - what the anchor loaders (Mosquitto, NATS, RabbitMQ) share
 * with each other and, in their output, with bench.c: N sender processes x
 * M messages of S bytes, at most W unacknowledged per sender, one receiver
 * process; the "BENCH key=value" line compare.sh reads. Each message
 * starts with its sender, sequence number and send time (CLOCK_MONOTONIC,
 * the same clock in every process on this machine), so the receiver can
 * time delivery. A loader defines the three functions below and includes
 * this file once. Exit 0 if every message was acked and delivered.
 *
 *   loader --host H --port P --ca F --cert F --key F [--senders N]
 *          [--count M] [--size S] [--window W] [--seconds T] [--dir D]
 */
#include <sys/mman.h>
#include <sys/wait.h>

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct lopts {
	const char	*host, *ca, *cert, *key, *dir;
	int		 port, senders, size, window, seconds;
	long		 count;
};

struct lshared {
	int64_t		 t_go;
	long		 acked[256], refused[256], delivered;
	int64_t		 t[];	/* per message: sub, ack, dlv (3 x N x M) */
};

struct lrun {
	struct lopts	 o;
	struct lshared	*sh;
	int64_t		*t_sub, *t_ack, *t_dlv;
};

/* What each loader provides. */
static int	loader_setup(struct lrun *);		/* queues, streams */
static int	loader_sender(struct lrun *, int idx);	/* 0 ok */
static int	loader_receiver(struct lrun *, int ready_fd);

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The message: idx, seq, send time, then filler up to size bytes. */
static void
msg_fill(uint8_t *buf, int size, int idx, long seq)
{
	int64_t t = now_ns();
	uint32_t i = (uint32_t)idx, q = (uint32_t)seq;

	memset(buf, 'x', (size_t)size);
	memcpy(buf, &i, 4);
	memcpy(buf + 4, &q, 4);
	memcpy(buf + 8, &t, 8);
}

/* The receiver's side: notes a delivery; 1 new, 0 repeated or bad. */
static int
msg_seen(struct lrun *r, const void *p, size_t len)
{
	uint32_t i, q;
	long k;

	if (len < 16)
		return 0;
	memcpy(&i, p, 4);
	memcpy(&q, (const uint8_t *)p + 4, 4);
	if ((int)i >= r->o.senders || (long)q >= r->o.count)
		return 0;
	k = (long)i * r->o.count + q;
	if (r->t_dlv[k] != 0)
		return 0;
	r->t_dlv[k] = now_ns();
	r->sh->delivered++;
	return 1;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static void
pct(const int64_t *from, const int64_t *to, long n, double out[4])
{
	int64_t *d = malloc((size_t)n * sizeof(*d) + 1);
	long i, k = 0;

	out[0] = out[1] = out[2] = out[3] = -1;
	if (d == NULL)
		return;
	for (i = 0; i < n; i++)
		if (from[i] && to[i])
			d[k++] = to[i] - from[i];
	if (k > 0) {
		qsort(d, (size_t)k, sizeof(*d), cmp_i64);
		out[0] = (double)d[(k - 1) / 2] / 1e6;
		out[1] = (double)d[(k - 1) * 95 / 100] / 1e6;
		out[2] = (double)d[(k - 1) * 99 / 100] / 1e6;
		out[3] = (double)d[k - 1] / 1e6;
	}
	free(d);
}

static void
lusage(void)
{
	fprintf(stderr, "usage: loader --host H --port P --ca F --cert F --key F "
	    "[--senders N] [--count M] [--size S] [--window W] [--seconds T] "
	    "[--dir D]\n");
	exit(2);
}

static void
lparse(struct lopts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "host", 1, NULL, 'h' }, { "port", 1, NULL, 'p' },
		{ "ca", 1, NULL, 'a' }, { "cert", 1, NULL, 'c' },
		{ "key", 1, NULL, 'k' }, { "senders", 1, NULL, 's' },
		{ "count", 1, NULL, 'n' }, { "size", 1, NULL, 'S' },
		{ "window", 1, NULL, 'w' }, { "seconds", 1, NULL, 't' },
		{ "dir", 1, NULL, 'd' }, { NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->host = "127.0.0.1";
	o->senders = 4;
	o->count = 5000;
	o->size = 2048;
	o->window = 64;
	o->seconds = 300;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'h': o->host = optarg; break;
		case 'p': o->port = atoi(optarg); break;
		case 'a': o->ca = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'k': o->key = optarg; break;
		case 's': o->senders = atoi(optarg); break;
		case 'n': o->count = atol(optarg); break;
		case 'S': o->size = atoi(optarg); break;
		case 'w': o->window = atoi(optarg); break;
		case 't': o->seconds = atoi(optarg); break;
		case 'd': o->dir = optarg; break;
		default: lusage();
		}
	}
	if (o->port < 1 || !o->ca || !o->cert || !o->key || o->senders < 1 ||
	    o->senders > 255 || o->count < 1 || o->size < 16 || o->window < 1 ||
	    o->seconds < 1)
		lusage();
}

int
main(int argc, char **argv)
{
	static struct lrun r;
	long n, i, acked = 0, refused = 0;
	int ready[2], go[2], st, failed = 0, left;
	pid_t pids[257];
	double pa[4], pd[4], el;
	int64_t last = 0, end;
	char c;

	lparse(&r.o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	n = r.o.senders * r.o.count;
	r.sh = mmap(NULL, sizeof(*r.sh) + 3 * (size_t)n * sizeof(int64_t),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r.sh == MAP_FAILED || pipe(ready) != 0 || pipe(go) != 0)
		return 1;
	r.t_sub = r.sh->t;
	r.t_ack = r.sh->t + n;
	r.t_dlv = r.sh->t + 2 * n;
	/* in a child of its own: a client library's threads (libnats) do not
	 * survive a fork, so the parent never starts one */
	if ((pids[0] = fork()) == 0)
		_exit(loader_setup(&r) != 0);
	if (pids[0] == -1 || waitpid(pids[0], &st, 0) != pids[0] ||
	    !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return 1;
	/* the receiver first: it says when it is subscribed */
	if ((pids[0] = fork()) == 0) {
		/* the senders start when the last write end of go closes */
		close(go[0]);
		close(go[1]);
		alarm((unsigned)r.o.seconds + 30);
		_exit(loader_receiver(&r, ready[1]));
	}
	if (read(ready[0], &c, 1) != 1)
		return 1;
	for (i = 0; i < r.o.senders; i++)
		if ((pids[i + 1] = fork()) == 0) {
			alarm((unsigned)r.o.seconds + 30);
			close(go[1]);
			if (read(go[0], &c, 1) != 0)
				_exit(1);
			_exit(loader_sender(&r, (int)i));
		}
	close(go[0]);
	r.sh->t_go = now_ns();
	close(go[1]);
	end = r.sh->t_go + (int64_t)(r.o.seconds + 10) * 1000000000;
	for (left = r.o.senders + 1; left > 0; ) {
		pid_t p = waitpid(-1, &st, WNOHANG);

		if (p > 0) {
			left--;
			failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		} else if (now_ns() > end) {
			for (i = 0; i <= r.o.senders; i++)
				kill(pids[i], SIGKILL);
			failed = 1;
			while (waitpid(-1, &st, 0) > 0)
				;
			break;
		} else
			usleep(20000);
	}
	for (i = 0; i < r.o.senders; i++) {
		acked += r.sh->acked[i];
		refused += r.sh->refused[i];
	}
	for (i = 0; i < n; i++) {
		if (r.t_dlv[i] > last)
			last = r.t_dlv[i];
		if (r.t_ack[i] > last)
			last = r.t_ack[i];
	}
	el = last > r.sh->t_go ? (double)(last - r.sh->t_go) / 1e9 : 1e-9;
	pct(r.t_sub, r.t_ack, n, pa);
	pct(r.t_sub, r.t_dlv, n, pd);
	printf("BENCH senders=%d count=%ld size=%d window=%d acked=%ld "
	    "refused=%ld delivered=%ld elapsed_s=%.3f msgs_per_s=%.0f "
	    "rcpt_p50_ms=%.3f rcpt_p95_ms=%.3f rcpt_p99_ms=%.3f rcpt_max_ms=%.3f "
	    "dlv_p50_ms=%.3f dlv_p95_ms=%.3f dlv_p99_ms=%.3f dlv_max_ms=%.3f\n",
	    r.o.senders, r.o.count, r.o.size, r.o.window, acked, refused,
	    r.sh->delivered, el, (double)r.sh->delivered / el, pa[0], pa[1],
	    pa[2], pa[3], pd[0], pd[1], pd[2], pd[3]);
	return failed || acked != n || refused || r.sh->delivered != n;
}
