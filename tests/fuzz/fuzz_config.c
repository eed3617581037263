/*
 * fuzz_config.c - libFuzzer target for the batond.conf reader
 * (broker/state/config.c).
 *
 * Any input either parses, giving settings within their ranges that print
 * and read back the same (config_print's output is itself a valid file
 * that prints identically), or is refused with every error starting
 * "fuzz.conf:".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char err[16384];

/* config_print of cfg into a new buffer of *len bytes. */
static char *
print_dump(const struct broker_config *cfg, size_t *len)
{
	char *buf = NULL;
	FILE *fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		abort();
	config_print(fp, cfg);
	fclose(fp);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct broker_config cfg, back;
	char *dump, *again;
	size_t dumplen, againlen;
	const char *p;

	broker_config_defaults(&cfg);
	if (config_parse_text(&cfg, "fuzz.conf", (const char *)data, size, err,
	    sizeof(err)) == -1) {
		for (p = err; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
			if (*p == '\n')
				p++;
			if (strncmp(p, "fuzz.conf:", 10) != 0 &&
			    strncmp(p, "too many errors", 15) != 0)
				abort();
		}
		broker_config_free(&cfg);
		return 0;
	}
	if (cfg.max_frame < 1024 || cfg.max_unacked == 0 ||
	    cfg.idle_timeout_s <= 0 || cfg.log_format < 0 || cfg.log_format > 2)
		abort();
	dump = print_dump(&cfg, &dumplen);
	broker_config_defaults(&back);
	if (config_parse_text(&back, "dump", dump, dumplen, err,
	    sizeof(err)) == -1)
		abort();
	again = print_dump(&back, &againlen);
	if (againlen != dumplen || memcmp(dump, again, dumplen) != 0)
		abort();
	free(again);
	broker_config_free(&back);
	broker_config_free(&cfg);
	free(dump);
	return 0;
}
