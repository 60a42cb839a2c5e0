/* fuzz_engine_json.c — libFuzzer harness for what compat_*.c read from the
 * engine's JSON answers: a container inspect document, a container list,
 * and the JSON-lines stream of an image pull (progress, then maybe an
 * error line). Each input goes through all three.
 *
 * Contracts: inspect and list either fail with an error object and a
 * message, or hand out ids and "k=v" labels (never NULL) and a known
 * status; the pull stream gives the same progress reports and the same
 * verdict whether it arrives whole or cut at random split points (split.h),
 * reports carry a status, and an error line ends it with that error.
 *
 * Input: the split header of split.h, then the text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat_fuzz.h"
#include "split.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_engine_json: contract broken: %s: ", #cond);         \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_labels(strv labels)
{
	CHECK(labels, "labels NULL on success");
	for (size_t i = 0; labels[i]; i++)
		CHECK(strchr(labels[i], '='), "label without '=': %.80s", labels[i]);
}

static void check_inspect(const char *text)
{
	struct container_state st = {0};
	dms_error *err = NULL;
	int rc = compat_fuzz_inspect(text, &st, &err);

	if (rc != 0) {
		CHECK(err && err->message && *err->message, "inspect failed (%d) without a message",
		      rc);
	} else {
		CHECK(!err, "inspect succeeded with an error: %s", err->message);
		CHECK(st.id, "inspect: no id");
		CHECK(st.status >= CS_UNKNOWN && st.status <= CS_DEAD, "status %d", (int)st.status);
		check_labels(st.labels);
		container_state_free(&st);
	}
	err_free(err);
}

static void check_list(const char *text)
{
	struct container_summary *v = NULL;
	size_t n = 0;
	dms_error *err = NULL;
	int rc = compat_fuzz_list(text, &v, &n, &err);

	if (rc != 0) {
		CHECK(err && err->message && *err->message, "list failed (%d) without a message",
		      rc);
	} else {
		CHECK(!err, "list succeeded with an error: %s", err->message);
		for (size_t i = 0; i < n; i++) {
			CHECK(v[i].id, "list[%zu]: no id", i);
			CHECK(v[i].status >= CS_UNKNOWN && v[i].status <= CS_DEAD, "status %d",
			      (int)v[i].status);
			check_labels(v[i].labels);
		}
		container_summaries_free(v, n);
	}
	err_free(err);
}

struct reports {
	char *log;
	size_t len;
};

static void progress(void *ud, const char *status, int64_t current, int64_t total)
{
	struct reports *r = ud;
	char line[600];

	CHECK(status, "a progress report without a status");
	int n = snprintf(line, sizeof(line), "%.500s|%lld|%lld\n", status, (long long)current,
	                 (long long)total);
	char *g = realloc(r->log, r->len + (size_t)n + 1);
	if (!g)
		abort();
	memcpy(g + r->len, line, (size_t)n + 1);
	r->log = g;
	r->len += (size_t)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pieces ps;
	const uint8_t *body;
	size_t body_len;

	split_input(data, size, &ps, &body, &body_len);
	char *text = malloc(body_len + 1); /* the engine's body, NUL-terminated as http.c does */
	if (!text)
		abort();
	memcpy(text, body, body_len);
	text[body_len] = '\0';
	check_inspect(text);
	check_list(text);

	const char *one[] = {text};
	size_t one_len[] = {body_len};
	struct reports a = {0}, b = {0};
	char *err_a = NULL, *err_b = NULL;
	int rc_a = compat_fuzz_pull_stream(one, one_len, 1, progress, &a, &err_a);
	int rc_b =
	    compat_fuzz_pull_stream((const char *const *)ps.p, ps.len, ps.n, progress, &b, &err_b);

	CHECK(rc_a == rc_b, "whole %d, in %zu pieces %d", rc_a, ps.n, rc_b);
	CHECK((rc_a != 0) == (err_a != NULL), "rc %d, error %s", rc_a, err_a ? err_a : "(none)");
	CHECK(!err_a || strcmp(err_a, err_b) == 0, "errors differ: %s / %s", err_a, err_b);
	CHECK(a.len == b.len && (a.len == 0 || memcmp(a.log, b.log, a.len) == 0),
	      "progress differs whole (%zu bytes of reports) and in %zu pieces (%zu)", a.len, ps.n,
	      b.len);
	free(a.log);
	free(b.log);
	free(err_a);
	free(err_b);
	free(text);
	pieces_free(&ps);
	return 0;
}
