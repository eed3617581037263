/*
 * utctime.c - UTC times as people type them (see utctime.h).
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utctime.h"
#include "validate.h"

/* Two decimal digits at p into *v; 0, or -1. */
static int
two_digits(const char *p, int *v)
{
	if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]))
		return -1;
	*v = (p[0] - '0') * 10 + (p[1] - '0');
	return 0;
}

int
utctime_parse(const char *s, int end_of, int64_t *out)
{
	struct tm	 tm;
	char		 date[11];
	const char	*p;
	int64_t		 ms = 0, extra = 0;
	time_t		 t;
	int		 hh = 0, mi = 0, ss = 0, digits;

	if (s == NULL || strlen(s) < 10)
		return -1;
	memcpy(date, s, 10);
	date[10] = '\0';
	if (!validate_date(date))
		return -1;
	p = s + 10;
	if (*p == '\0') {
		if (end_of)
			extra = 86400000 - 1;
	} else {
		if (*p != 'T' && *p != 't' && *p != ' ')
			return -1;
		p++;
		if (two_digits(p, &hh) == -1 || p[2] != ':' ||
		    two_digits(p + 3, &mi) == -1 || hh > 23 || mi > 59)
			return -1;
		p += 5;
		if (*p == ':') {
			if (two_digits(p + 1, &ss) == -1 || ss > 59)
				return -1;
			p += 3;
			if (*p == '.') {
				p++;
				for (digits = 0; isdigit((unsigned char)*p) &&
				    digits < 3; digits++, p++)
					ms = ms * 10 + (*p - '0');
				if (digits == 0 || isdigit((unsigned char)*p))
					return -1;
				for (; digits < 3; digits++)
					ms *= 10;
			}
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		if (*p != '\0')
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = atoi(date) - 1900;
	tm.tm_mon = (date[5] - '0') * 10 + (date[6] - '0') - 1;
	tm.tm_mday = (date[8] - '0') * 10 + (date[9] - '0');
	tm.tm_hour = hh;
	tm.tm_min = mi;
	tm.tm_sec = ss;
	if ((t = timegm(&tm)) == (time_t)-1)
		return -1;
	*out = (int64_t)t * 1000 + ms + extra;
	return 0;
}
