/* fuzz_config.c — libFuzzer harness for the executor config decoder
 * (executor/decode/config.c, through the document tree and field setters
 * the request uses too): config_parse on arbitrary YAML text, and the two
 * unit parsers it relies on (units_parse_duration_ms, units_parse_size)
 * on every line of the input.
 *
 * Contract checked on every input (docs/config.md, docs/errors.md): a
 * failure is DMS_ERR_CONFIG with a matching error object and a non-empty
 * message (DMS_ERR_INTERNAL, out of memory while decoding, aborts too); a
 * success hands out a config whose values obey the rules (known runtime, absolute state_dir, a
 * canonical or numeric stop signal, non-negative durations). The unit
 * parsers return -1 or a value in [0, INT64_MAX/2]. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "runtime_names.h"
#include "units.h"
#include "error.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_config: contract broken: %s: ", #cond);              \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_config(const struct exec_config *c)
{
	bool known;

	CHECK(c->runtime, "no runtime");
	known = runtime_name_valid(c->runtime);
	CHECK(known, "runtime %s", c->runtime);
	CHECK(c->state_dir && c->state_dir[0] == '/', "state_dir %s",
	      c->state_dir ? c->state_dir : "(null)");
	CHECK(!c->host || c->host[0], "empty host");
	CHECK(c->stop_signal && (strncmp(c->stop_signal, "SIG", 3) == 0 ||
	                         isdigit((unsigned char)c->stop_signal[0])),
	      "stop_signal %s", c->stop_signal ? c->stop_signal : "(null)");
	CHECK(c->stop_timeout_ms >= 0 && c->retention_ms >= 0, "negative duration");
}

static void check_units(const char *s)
{
	int64_t ms = units_parse_duration_ms(s);
	int64_t bytes = units_parse_size(s);

	CHECK(ms == -1 || (ms >= 0 && ms <= INT64_MAX / 2 + 1), "duration %s -> %lld", s,
	      (long long)ms);
	CHECK(bytes == -1 || (bytes >= 0 && bytes <= INT64_MAX / 2 + 1), "size %s -> %lld", s,
	      (long long)bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* config_parse takes a C string: the input up to its first NUL. */
	char *text = malloc(size + 1);
	struct exec_config *c = NULL;
	dms_error *err = NULL;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	rc = config_parse(text, &c, &err);
	if (rc == 0) {
		CHECK(c != NULL && err == NULL, "config_parse succeeded without a config");
		check_config(c);
	} else {
		CHECK(c == NULL, "config_parse failed but handed out a config");
		CHECK(rc == DMS_ERR_CONFIG, "config_parse returned %d (%s)", rc,
		      err && err->message ? err->message : "no error object");
		CHECK(err && err->category == (dms_status)rc && err->message && err->message[0],
		      "config_parse: bad error object");
	}
	config_free(c);
	err_free(err);

	/* Each line on its own through the unit parsers (short inputs only:
	 * the value of a config key is one line). */
	for (char *line = text, *next; line && size <= 4096; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		check_units(line);
	}
	free(text);
	return 0;
}
