/* json.h — a small, bounded JSON reader for the host and the CLI.
 *
 * Why it exists: dms-host needs one field of the IsInstalled fingerprint
 * and the execution id of a Run request; dmsctl reads exit codes from
 * results and prints lists. Neither may link the executor's yajl-based
 * internals (they build against the plugin header only), and pulling a
 * JSON library into the host for a handful of lookups is not worth it. */
#ifndef DMS_HOST_JSON_H
#define DMS_HOST_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum host_json_type {
	HOST_JSON_NULL,
	HOST_JSON_BOOL,
	HOST_JSON_NUMBER,
	HOST_JSON_STRING,
	HOST_JSON_ARRAY,
	HOST_JSON_OBJECT,
};

struct host_json {
	enum host_json_type type;
	bool boolean;
	double number;
	char *string; /* STRING: value (NUL-terminated, may hold NULs) */
	size_t string_len;
	char **keys;              /* OBJECT: keys[i] names items[i] */
	struct host_json **items; /* ARRAY and OBJECT */
	size_t n_items;
};

/* Parses one JSON document (nesting at most 64 deep). NULL on a syntax
 * error; then *err_offset (may be NULL) is the byte where it stopped. */
struct host_json *host_json_parse(const char *text, size_t len, size_t *err_offset);
void host_json_free(struct host_json *j);

/* Member `key` of an object, NULL when absent or j is not an object. */
const struct host_json *host_json_get(const struct host_json *j, const char *key);
/* The string value of member `key`, NULL when absent or not a string. */
const char *host_json_get_string(const struct host_json *j, const char *key);
/* The number value of member `key`; `def` when absent or not a number. */
double host_json_get_number(const struct host_json *j, const char *key, double def);
bool host_json_get_bool(const struct host_json *j, const char *key, bool def);

#endif
