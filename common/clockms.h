/*
 * clockms.h - the two clocks in milliseconds.
 *
 * clockms_wall is CLOCK_REALTIME, Unix milliseconds: for what is recorded
 * (audit records, created_at). It can step; never measure an interval
 * with it. clockms_mono is CLOCK_MONOTONIC from an arbitrary origin: for
 * timeouts and intervals within one process, never stored.
 */
#ifndef BATON_CLOCKMS_H
#define BATON_CLOCKMS_H

#include <stdint.h>

int64_t	clockms_wall(void);
int64_t	clockms_mono(void);

#endif
