/*
 * audit_report_text.c - how the governance report writes a value for
 * people: durations, policy deadlines, and text escaped for HTML (see
 * audit_report_int.h). Shared by the table, the page and its charts, so a
 * figure reads the same in all of them.
 */
#include <stdint.h>
#include <stdio.h>

#include "audit_report_int.h"

/* A duration for people: 850ms, 4.2s, 35s, 4m05s, 3h10m, 2d04h. */
void
report_human_ms(char *buf, size_t len, int64_t ms)
{
	long long s = (ms + 500) / 1000, t = (ms + 50) / 100;

	if (ms < 1000)
		(void)snprintf(buf, len, "%lldms", (long long)ms);
	else if (t < 100)
		(void)snprintf(buf, len, "%lld.%llds", t / 10, t % 10);
	else if (s < 60)
		(void)snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		(void)snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else if (s < 86400)
		(void)snprintf(buf, len, "%lldh%02lldm", s / 3600,
		    s % 3600 / 60);
	else
		(void)snprintf(buf, len, "%lldd%02lldh", s / 86400,
		    s % 86400 / 3600);
}

/* A duration as a policy file writes it: 24h, 90s (no days). */
void
report_policy_ms(char *buf, size_t len, int64_t ms)
{
	static const struct {
		int64_t		 ms;
		const char	*unit;
	} units[] = {
		{ 3600000, "h" }, { 60000, "m" }, { 1000, "s" }, { 1, "ms" }
	};
	size_t i;

	for (i = 0; i < sizeof(units) / sizeof(units[0]) - 1; i++)
		if (ms % units[i].ms == 0)
			break;
	(void)snprintf(buf, len, "%lld%s", (long long)(ms / units[i].ms),
	    units[i].unit);
}

void
report_html_text(FILE *out, const char *s)
{
	for (; *s != '\0'; s++)
		switch (*s) {
		case '&':
			(void)fputs("&amp;", out);
			break;
		case '<':
			(void)fputs("&lt;", out);
			break;
		case '>':
			(void)fputs("&gt;", out);
			break;
		case '"':
			(void)fputs("&quot;", out);
			break;
		default:
			(void)fputc(*s, out);
		}
}
