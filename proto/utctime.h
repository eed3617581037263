/*
 * utctime.h - the one reader of the times people type for audit queries:
 * a date "YYYY-MM-DD" or a date-time "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]",
 * always UTC. batonctl (audit_time_parse) and an auditor's baton
 * (baton_parse_time) both read through it, so a period means the same
 * on either side of the wire.
 */
#ifndef BATON_UTCTIME_H
#define BATON_UTCTIME_H

#include <stdint.h>

/*
 * s as Unix milliseconds into *out; with end_of set, a date alone means
 * the last millisecond of that day (for an upper bound). Returns 0, or -1
 * if s is not such a time.
 */
int	utctime_parse(const char *s, int end_of, int64_t *out);

#endif
