/* units.c — the one parser of sizes, durations and signals (units.h), for
 * the request, the executor config and dmsctl alike, so that "64MB" or
 * "1.5m" mean the same wherever a person writes them. */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "units.h"

struct unit {
	const char *name;
	double factor;
};

/* Parses "<decimal>" at *p (digits with an optional fraction; no sign, no
 * exponent, no hex), advancing *p. */
static bool parse_decimal(const char **p, double *out)
{
	const char *s = *p;
	double v = 0, scale = 1;
	bool digits = false;

	while (isdigit((unsigned char)*s)) {
		v = v * 10 + (*s++ - '0');
		digits = true;
	}
	if (*s == '.') {
		s++;
		while (isdigit((unsigned char)*s)) {
			scale /= 10;
			v += (*s++ - '0') * scale;
			digits = true;
		}
	}
	if (!digits)
		return false;
	*p = s;
	*out = v;
	return true;
}

/* Rounds without libm; callers checked 0 <= v < INT64_MAX / 2. */
static int64_t round_nonneg(double v)
{
	return (int64_t)(v + 0.5);
}

/* Matches the longest unit name (case-insensitively) at *p. */
static const struct unit *match_unit(const char **p, const struct unit *units)
{
	const struct unit *best = NULL;
	size_t best_len = 0;

	for (const struct unit *u = units; u->name; u++) {
		size_t n = strlen(u->name);

		if (n > best_len && strncasecmp(*p, u->name, n) == 0 &&
		    !isalpha((unsigned char)(*p)[n])) {
			best = u;
			best_len = n;
		}
	}
	if (best)
		*p += best_len;
	return best;
}

static const struct unit duration_units[] = {
    {"ns", 1e-6}, {"us", 1e-3},  {"ms", 1},      {"s", 1000},
    {"m", 60e3},  {"h", 3600e3}, {"d", 86400e3}, {NULL, 0},
};

int64_t units_parse_duration_ms(const char *s)
{
	double total = 0, v;
	bool any = false;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	/* A bare number is seconds. */
	{
		const char *p = s;

		if (parse_decimal(&p, &v)) {
			while (isspace((unsigned char)*p))
				p++;
			if (*p == '\0')
				return v * 1000 > (double)INT64_MAX / 2 ? -1
				                                        : round_nonneg(v * 1000);
		}
	}
	/* Otherwise one or more <number><unit> terms, as Go's "1m30s". */
	while (*s) {
		const struct unit *u;

		if (!parse_decimal(&s, &v))
			return -1;
		while (*s == ' ')
			s++;
		u = match_unit(&s, duration_units);
		if (!u)
			return -1;
		total += v * u->factor;
		any = true;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (!any || total > (double)INT64_MAX / 2)
		return -1;
	return round_nonneg(total);
}

/* Single letters and IEC suffixes are powers of 1024 (as Docker reads
 * "512k" or "64m"); SI suffixes with a B are powers of 1000. */
static const struct unit size_units[] = {
    {"b", 1},
    {"k", 1024.0},
    {"kib", 1024.0},
    {"kb", 1e3},
    {"m", 1048576.0},
    {"mib", 1048576.0},
    {"mb", 1e6},
    {"g", 1073741824.0},
    {"gib", 1073741824.0},
    {"gb", 1e9},
    {"t", 1099511627776.0},
    {"tib", 1099511627776.0},
    {"tb", 1e12},
    {NULL, 0},
};

int64_t units_parse_size(const char *s)
{
	const struct unit *u = NULL;
	double v;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	if (!parse_decimal(&s, &v))
		return -1;
	while (*s == ' ')
		s++;
	if (*s) {
		u = match_unit(&s, size_units);
		if (!u)
			return -1;
		v *= u->factor;
	}
	while (isspace((unsigned char)*s))
		s++;
	if (*s || v > (double)INT64_MAX / 2)
		return -1;
	/* Bytes are whole: "1.5" without a unit is not a byte count. */
	if (!u && v != (double)(int64_t)v)
		return -1;
	return round_nonneg(v);
}

bool units_parse_signal(const char *s, char canon[32])
{
	static const char *const names[] = {
	    "HUP",  "INT",   "QUIT", "ILL",  "TRAP", "ABRT", "IOT",   "BUS",    "FPE",
	    "KILL", "USR1",  "SEGV", "USR2", "PIPE", "ALRM", "TERM",  "STKFLT", "CHLD",
	    "CONT", "STOP",  "TSTP", "TTIN", "TTOU", "URG",  "XCPU",  "XFSZ",   "VTALRM",
	    "PROF", "WINCH", "IO",   "POLL", "PWR",  "SYS",  "RTMIN", "RTMAX",  NULL,
	};
	char up[24], *end;
	size_t i;

	if (!s)
		return false;
	if (s[0] >= '1' && s[0] <= '9') {
		long n = strtol(s, &end, 10);
		if (*end || n < 1 || n > 64)
			return false;
		snprintf(canon, 32, "%ld", n);
		return true;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; s[i] && i < sizeof(up) - 1; i++)
		up[i] = (char)toupper((unsigned char)s[i]);
	if (s[i] || i == 0)
		return false;
	up[i] = '\0';
	for (i = 0; names[i]; i++)
		if (strcmp(up, names[i]) == 0)
			goto ok;
	/* Within the 30 real-time signals, as Docker writes them. */
	if ((strncmp(up, "RTMIN+", 6) == 0 || strncmp(up, "RTMAX-", 6) == 0) && up[6] >= '1' &&
	    up[6] <= '9') {
		long off = strtol(up + 6, &end, 10);
		if (*end == '\0' && off >= 1 && off <= 30)
			goto ok;
	}
	return false;
ok:
	snprintf(canon, 32, "SIG%s", up);
	return true;
}
