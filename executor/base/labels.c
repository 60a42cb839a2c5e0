/* labels.c — container names derived from (executor id, execution id).
 *
 * Exists because the container name is the idempotency key of a Start: a
 * retried Start finds the container it created before instead of making a
 * second one. The name must therefore be deterministic, acceptable to every
 * engine ([A-Za-z0-9][A-Za-z0-9_.-]*, bounded length) and must not map two
 * distinct ids onto one name. Plain sanitising would ("a/b" and "a_b"), and
 * so would plain joining, since ids may contain '-' ("a-b"+"c" and
 * "a"+"b-c"): a hash of the raw id pair is therefore always appended.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labels.h"

#define NAME_MAX_LEN 128
#define HASH_SUFFIX_LEN 9 /* "-" + 8 hex digits */

static bool name_char_ok(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '.' || c == '-';
}

static uint32_t fnv1a(uint32_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

char *labels_container_name(const char *executor_id, const char *execution_id)
{
	const char *ex = executor_id ? executor_id : "";
	const char *run = execution_id ? execution_id : "";
	size_t len = strlen("dms-") + strlen(ex) + 1 + strlen(run);
	char *name;
	uint32_t h;

	name = malloc(len + HASH_SUFFIX_LEN + 1);
	if (!name)
		return NULL;
	snprintf(name, len + 1, "dms-%s-%s", ex, run);
	for (size_t i = strlen("dms-"); i < len; i++) {
		if (!name_char_ok((unsigned char)name[i]))
			name[i] = '_';
	}
	/* The NUL separates the ids so ("ab","c") and ("a","bc") differ. */
	h = fnv1a(2166136261u, ex, strlen(ex) + 1);
	h = fnv1a(h, run, strlen(run));
	if (len > NAME_MAX_LEN - HASH_SUFFIX_LEN)
		len = NAME_MAX_LEN - HASH_SUFFIX_LEN;
	snprintf(name + len, HASH_SUFFIX_LEN + 1, "-%08x", h);
	return name;
}
