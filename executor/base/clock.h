/* clock.h — monotonic and wall clocks in ns, and RFC 3339 timestamps. */
#ifndef DMS_CLOCK_H
#define DMS_CLOCK_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC / CLOCK_REALTIME now, in ns. */
int64_t mono_now_ns(void);
int64_t wall_now_ns(void);

/* RFC 3339 with nanoseconds, UTC, into buf (>= 40 bytes). */
void format_rfc3339(int64_t wall_ns, char *buf, size_t n);
/* Parses Docker's RFC 3339 timestamps; 0 for "0001-01-01T00:00:00Z". */
int64_t parse_rfc3339(const char *s);

#endif
