/*
 * clockms.c - the two clocks in milliseconds (clockms.h).
 */
#include <time.h>

#include "clockms.h"

static int64_t
read_ms(clockid_t id)
{
	struct timespec ts;

	(void)clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clockms_wall(void)
{
	return read_ms(CLOCK_REALTIME);
}

int64_t
clockms_mono(void)
{
	return read_ms(CLOCK_MONOTONIC);
}
