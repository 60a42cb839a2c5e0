/* units.h — sizes, durations and signals as people write them
 * (docs/config.md, "Units"): the one parser the request, the config and
 * dmsctl share. */
#ifndef DMS_UNITS_H
#define DMS_UNITS_H

#include <stdbool.h>
#include <stdint.h>

/* "10s", "1.5m", "250ms", "1h", plain number = seconds. -1 on error. */
int64_t units_parse_duration_ms(const char *s);
/* "1MiB", "64MB", "512k", "1048576". -1 on error. */
int64_t units_parse_size(const char *s);
/* A stop signal as Docker takes it: a name ("SIGTERM", "TERM", "sigterm",
 * "SIGRTMIN+3") -> "SIGTERM" form, or a number 1..64 -> its decimal text.
 * false when s is neither. The one signal parser of the config, the
 * request and dmsctl. */
#define SIGNAL_MAX 64 /* SIGRTMAX on Linux: units_parse_signal's bound */
bool units_parse_signal(const char *s, char canon[32]);

#endif
