/* fuzz_host_json.c — libFuzzer harness for the host's own JSON reader
 * (host/common/json.c) and its object-path escaping (host/common/util.c).
 * The reader takes what the plugin hands out (results, the engine
 * fingerprint, lists) in dms-host and dmsctl; the escaping takes executor
 * ids D-Bus clients send. Requests are never read by the host: the plugin
 * decodes them (executor/decode/request.c) and start_job says which
 * execution id it used.
 *
 * Checks, besides crashes, leaks and UB:
 * - differential: when both the host's reader and yajl (the plugin's)
 *   accept the text as an object with one string member execution_id (no
 *   \u0000 — request.c refuses duplicates and NULs), the host reads it byte
 *   for byte as yajl does: the two readers agree on strings;
 * - host_escape_path_element gives a non-empty [A-Za-z0-9_] element and
 *   host_unescape_path_element gives the id back (ids are the first bytes
 *   of the input, up to a NUL). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "json.h"
#include "util.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_host_json: contract broken: %s: ", #cond);           \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_escaping(const uint8_t *data, size_t size)
{
	char id[65];
	size_t n = size < 64 ? size : 64;

	memcpy(id, data, n);
	id[n] = '\0';
	char *esc = host_escape_path_element(id);
	CHECK(esc[0] != '\0', "empty element for \"%s\"", id);
	for (const char *p = esc; *p; p++)
		CHECK((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		          (*p >= '0' && *p <= '9') || *p == '_',
		      "byte 0x%02x in element %s", (unsigned char)*p, esc);
	char *back = host_unescape_path_element(esc);
	CHECK(back && strcmp(back, id) == 0, "%s does not unescape to the id", esc);
	free(back);
	free(esc);
	/* Arbitrary text through the unescaper: no crash, no over-read. */
	free(host_unescape_path_element(id));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct host_json *doc = host_json_parse(text, size, NULL);

	check_escaping(data, size);
	if (!doc)
		return 0;
	const struct host_json *hid = host_json_get(doc, "execution_id");

	/* The plugin's view, as request.c gets it. */
	char *copy = NULL;
	yajl_val root = NULL;
	if (!memchr(text, '\0', size) && (copy = strndup(text, size)) && !strstr(copy, "\\u0000"))
		root = yajl_tree_parse(copy, NULL, 0);
	if (root && YAJL_IS_OBJECT(root) && doc->type == HOST_JSON_OBJECT) {
		size_t keys = 0;
		yajl_val yid = NULL;
		for (size_t i = 0; i < root->u.object.len; i++) {
			if (strcmp(root->u.object.keys[i], "execution_id") == 0) {
				keys++;
				yid = root->u.object.values[i];
			}
		}
		if (keys == 1 && YAJL_IS_STRING(yid)) {
			const char *y = YAJL_GET_STRING(yid);
			CHECK(hid && hid->type == HOST_JSON_STRING,
			      "host sees no execution_id, "
			      "the plugin sees \"%s\"",
			      y);
			CHECK(hid->string_len == strlen(y) &&
			          memcmp(hid->string, y, hid->string_len) == 0,
			      "host execution_id \"%s\" (%zu bytes), plugin \"%s\"", hid->string,
			      hid->string_len, y);
		}
	}
	yajl_tree_free(root);
	free(copy);
	host_json_free(doc);
	return 0;
}
