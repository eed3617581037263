/*
 * timedsend.c - one sender, one handover at a time, each receipt timed
 * (TESTPLAN D2).
 *
 * On ONE session it submits COUNT copies of the handover in JSON, ids
 * PREFIX-0, PREFIX-1, ..., to node TO, waiting for each Receipt before the
 * next submit and GAP_MS after it. For each accepted one it prints
 *   ID MS
 * MS being the milliseconds (monotonic clock) from just before the submit
 * frame was written to the receipt's arrival. Exits 0 once all are
 * receipted OK, 1 on any error or refusal (named on stderr).
 *
 * usage: timedsend BROKER CA CERT KEY TO JSON PREFIX COUNT GAP_MS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "baton.h"

/* Reads all of path into a malloc'd buffer; NULL on error. */
static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
	    fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf != NULL)
		*len = (size_t)n;
	fclose(fp);
	return buf;
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int
main(int argc, char **argv)
{
	baton_config cfg;
	baton_client *c;
	baton_receipt r;
	baton_error e;
	char id[129], *json;
	size_t len = 0;
	long i, count, gap;
	int64_t t0;

	if (argc != 10) {
		fprintf(stderr, "usage: timedsend BROKER CA CERT KEY TO JSON "
		    "PREFIX COUNT GAP_MS\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.broker = argv[1];
	cfg.ca_file = argv[2];
	cfg.cert_file = argv[3];
	cfg.key_file = argv[4];
	cfg.timeout_ms = 30000;
	count = strtol(argv[8], NULL, 10);
	gap = strtol(argv[9], NULL, 10);
	if ((json = slurp(argv[6], &len)) == NULL) {
		fprintf(stderr, "timedsend: cannot read %s\n", argv[6]);
		return 1;
	}
	if (baton_connect(&cfg, &c, &e) != BATON_OK) {
		fprintf(stderr, "timedsend: %s\n", e.text);
		free(json);
		return 1;
	}
	for (i = 0; i < count; i++) {
		snprintf(id, sizeof(id), "%s-%ld", argv[7], i);
		memset(&r, 0, sizeof(r));
		t0 = mono_ms();
		if (baton_submit_json(c, argv[5], json, len, id, &r, &e) !=
		    BATON_OK) {
			fprintf(stderr, "timedsend: %s: %s\n", id, e.text);
			break;
		}
		printf("%s %lld\n", id, (long long)(mono_ms() - t0));
		fflush(stdout);
		if (gap > 0)
			sleep_ms(gap);
	}
	baton_close(c);
	free(json);
	return i == count ? 0 : 1;
}
