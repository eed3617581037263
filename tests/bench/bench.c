/*
 * bench.c - Baton's throughput and latency benchmark.
 *
 * Forks S sender processes, each with its own connection, submitting N
 * handovers (the example handover, distinct message ids) one after the
 * other, and one receiver that receives and acks all S*N. Prints:
 * submit throughput (receipted handovers per second, all senders), submit
 * latency percentiles (send -> durable Receipt, which includes the
 * broker's fsync under group commit), and end-to-end time until the last
 * ack. It measures; it asserts nothing about speed. Exits non-zero only if
 * something failed (a refusal, a lost or unexpected delivery).
 *
 * usage: bench --broker HOST:PORT --ca CA --sender-cert C --sender-key K
 *              --recipient-cert C --recipient-key K --to NODE
 *              --json HANDOVER.json [--senders S] [--count N]
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "baton.h"

struct args {
	baton_config	 sender, recipient;
	const char	*to, *json_path;
	int		 senders, count;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0 ||
	    fseek(fp, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) == NULL ||
	    fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		fprintf(stderr, "bench: cannot read %s: %s\n", path, strerror(errno));
		exit(1);
	}
	fclose(fp);
	buf[n] = '\0';
	*len = (size_t)n;
	return buf;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One sender: submits count handovers; writes its latencies to fd. */
static int
run_sender(const struct args *a, int idx, int fd)
{
	baton_client *c;
	baton_receipt r;
	baton_error e;
	char id[64], *json;
	size_t len;
	int i;

	json = read_file(a->json_path, &len);
	if (baton_connect(&a->sender, &c, &e) != BATON_OK) {
		fprintf(stderr, "bench: sender %d: %s\n", idx, e.text);
		return 1;
	}
	for (i = 0; i < a->count; i++) {
		double t0 = now_s(), dt;

		snprintf(id, sizeof(id), "bench-%d-%d-%d", (int)getppid(), idx, i);
		if (baton_submit_json(c, a->to, json, len, id, &r, &e) != BATON_OK) {
			fprintf(stderr, "bench: sender %d: submit %s: %s\n", idx, id,
			    e.text);
			return 1;
		}
		dt = now_s() - t0;
		if (write(fd, &dt, sizeof(dt)) != (ssize_t)sizeof(dt))
			return 1;
	}
	baton_close(c);
	free(json);
	return 0;
}

/* The receiver: receives and acks total items; prints when done. */
static int
run_receiver(const struct args *a, int total)
{
	baton_client *c;
	baton_incoming *in;
	baton_error e;
	int got = 0, idle = 0;

	if (baton_connect(&a->recipient, &c, &e) != BATON_OK) {
		fprintf(stderr, "bench: receiver: %s\n", e.text);
		return 1;
	}
	while (got < total) {
		int rc = baton_next(c, 1000, &in, &e);

		if (rc == BATON_E_TIMEOUT) {
			if (++idle > 30) {
				fprintf(stderr, "bench: receiver: %d of %d after 30 s idle\n",
				    got, total);
				return 1;
			}
			continue;
		}
		if (rc != BATON_OK) {
			fprintf(stderr, "bench: receiver: %s\n", e.text);
			return 1;
		}
		idle = 0;
		if (baton_ack(c, in, &e) != BATON_OK) {
			fprintf(stderr, "bench: receiver: ack: %s\n", e.text);
			return 1;
		}
		if (in->type == BATON_INCOMING_HANDOVER &&
		    strncmp(in->message_id, "bench-", 6) == 0)
			got++;
		baton_incoming_free(in);
	}
	baton_close(c);
	return 0;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench --broker HOST:PORT --ca CA --sender-cert C "
	    "--sender-key K --recipient-cert C --recipient-key K --to NODE "
	    "--json FILE [--senders S] [--count N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "ca", required_argument, NULL, 'a' },
		{ "sender-cert", required_argument, NULL, 'c' },
		{ "sender-key", required_argument, NULL, 'k' },
		{ "recipient-cert", required_argument, NULL, 'C' },
		{ "recipient-key", required_argument, NULL, 'K' },
		{ "to", required_argument, NULL, 't' },
		{ "json", required_argument, NULL, 'j' },
		{ "senders", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 }
	};
	struct args a;
	int ch, i, total, status, failed = 0, pfd[2];
	pid_t recv_pid, *pids;
	double t0, t_submit, t_all, *lat, sum = 0;
	size_t nlat = 0;

	memset(&a, 0, sizeof(a));
	a.senders = 4;
	a.count = 500;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'b': a.sender.broker = a.recipient.broker = optarg; break;
		case 'a': a.sender.ca_file = a.recipient.ca_file = optarg; break;
		case 'c': a.sender.cert_file = optarg; break;
		case 'k': a.sender.key_file = optarg; break;
		case 'C': a.recipient.cert_file = optarg; break;
		case 'K': a.recipient.key_file = optarg; break;
		case 't': a.to = optarg; break;
		case 'j': a.json_path = optarg; break;
		case 's': a.senders = atoi(optarg); break;
		case 'n': a.count = atoi(optarg); break;
		default: usage();
		}
	}
	if (!a.sender.broker || !a.sender.ca_file || !a.sender.cert_file ||
	    !a.recipient.cert_file || !a.to || !a.json_path || a.senders < 1 ||
	    a.senders > 64 || a.count < 1)
		usage();
	total = a.senders * a.count;
	if (pipe(pfd) != 0 || (pids = calloc((size_t)a.senders, sizeof(*pids))) == NULL ||
	    (lat = calloc((size_t)total, sizeof(*lat))) == NULL)
		return 1;

	t0 = now_s();
	if ((recv_pid = fork()) == 0)
		_exit(run_receiver(&a, total));
	for (i = 0; i < a.senders; i++)
		if ((pids[i] = fork()) == 0) {
			close(pfd[0]);
			_exit(run_sender(&a, i, pfd[1]));
		}
	close(pfd[1]);
	while (nlat < (size_t)total &&
	    read(pfd[0], &lat[nlat], sizeof(double)) == (ssize_t)sizeof(double))
		nlat++;
	for (i = 0; i < a.senders; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed = 1;
	t_submit = now_s() - t0;
	if (waitpid(recv_pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		failed = 1;
	t_all = now_s() - t0;

	qsort(lat, nlat, sizeof(*lat), cmp_double);
	for (i = 0; i < (int)nlat; i++)
		sum += lat[i];
	printf("senders=%d handovers=%d receipted=%zu\n", a.senders, total, nlat);
	printf("submit throughput: %.0f handovers/s (%.2f s)\n",
	    (double)nlat / t_submit, t_submit);
	if (nlat > 0)
		printf("submit latency ms: mean %.2f p50 %.2f p90 %.2f p99 %.2f "
		    "max %.2f\n", 1e3 * sum / (double)nlat,
		    1e3 * lat[nlat / 2], 1e3 * lat[nlat * 9 / 10],
		    1e3 * lat[nlat * 99 / 100], 1e3 * lat[nlat - 1]);
	printf("end to end (last ack): %.2f s, %.0f handovers/s\n", t_all,
	    (double)total / t_all);
	free(pids);
	free(lat);
	if (failed || nlat != (size_t)total) {
		fprintf(stderr, "bench: FAILED (see messages above)\n");
		return 1;
	}
	return 0;
}
