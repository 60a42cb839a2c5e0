/* clock.c — the clocks (monotonic and wall, in ns) and the RFC 3339
 * timestamps of results and engine answers (clock.h). One copy: the
 * runtimes parse the engine's times and the executor writes results with
 * the same functions. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static int64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t mono_now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

int64_t wall_now_ns(void)
{
	return clock_ns(CLOCK_REALTIME);
}

void format_rfc3339(int64_t wall_ns, char *buf, size_t n)
{
	int64_t sec = wall_ns / 1000000000LL, frac = wall_ns % 1000000000LL;
	time_t t;
	struct tm tm;
	char date[32];

	if (frac < 0) {
		frac += 1000000000LL;
		sec--;
	}
	t = (time_t)sec;
	if (!n)
		return;
	if (!gmtime_r(&t, &tm) || strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		buf[0] = '\0';
		return;
	}
	snprintf(buf, n, "%s.%09lldZ", date, (long long)frac);
}

/* Reads exactly `digits` decimal digits. */
static bool read_int(const char **p, int digits, int *out)
{
	int v = 0;

	for (int i = 0; i < digits; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += digits;
	*out = v;
	return true;
}

static bool expect(const char **p, const char *chars)
{
	if (**p && strchr(chars, **p)) {
		(*p)++;
		return true;
	}
	return false;
}

int64_t parse_rfc3339(const char *s)
{
	struct tm tm = {0};
	int year, mon, day, hour, min, sec, oh = 0, om = 0, sign = 0;
	int64_t frac = 0, scale = 100000000LL, t;

	if (!s)
		return 0;
	if (!read_int(&s, 4, &year) || !expect(&s, "-") || !read_int(&s, 2, &mon) ||
	    !expect(&s, "-") || !read_int(&s, 2, &day) || !expect(&s, "Tt ") ||
	    !read_int(&s, 2, &hour) || !expect(&s, ":") || !read_int(&s, 2, &min) ||
	    !expect(&s, ":") || !read_int(&s, 2, &sec))
		return 0;
	if (*s == '.' || *s == ',') {
		s++;
		if (*s < '0' || *s > '9')
			return 0;
		for (; *s >= '0' && *s <= '9'; s++) {
			frac += (*s - '0') * scale; /* digits past 9 fall off */
			scale /= 10;
		}
	}
	if (expect(&s, "Zz")) {
		sign = 0;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (!read_int(&s, 2, &oh) || !expect(&s, ":") || !read_int(&s, 2, &om))
			return 0;
	} else {
		return 0;
	}
	if (*s || mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		return 0;
	/* Go's zero time.Time: what engines report for "never". */
	if (year == 1 && mon == 1 && day == 1 && hour == 0 && min == 0 && sec == 0 && frac == 0)
		return 0;

	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = (int64_t)timegm(&tm);
	t -= (int64_t)sign * (oh * 3600 + om * 60);
	/* Nanoseconds since 1970 in an int64 span 1678 to 2262: a time outside
	 * is not one an engine means; "unknown", like Go's zero time above. */
	if (t <= INT64_MIN / 1000000000LL || t >= INT64_MAX / 1000000000LL)
		return 0;
	return t * 1000000000LL + frac;
}
