/* fuzz_request.c — libFuzzer harness for the request decoders
 * (executor/decode/request.c, log_request.c and the document tree and
 * field setters under them): request_parse and log_request_parse on the same
 * bytes, JSON or YAML (the first non-blank byte decides, as in production).
 *
 * Besides crashes, leaks and UB (ASan+UBSan), it checks the contract of
 * docs/schema.md and docs/errors.md on every input and aborts when it is
 * broken: a failure is DMS_ERR_INVALID_ARGUMENT with an error object whose
 * category matches and whose message is non-empty; a success hands out a
 * struct whose every field obeys the schema's rules. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "request.h"

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_request: contract broken: %s: ", #cond);             \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void check_failure(const char *what, int rc, const dms_error *err)
{
	CHECK(rc == DMS_ERR_INVALID_ARGUMENT, "%s returned %d (%s)", what, rc,
	      err && err->message ? err->message : "no error object");
	CHECK(err != NULL, "%s failed without an error object", what);
	CHECK(err->category == (dms_status)rc, "%s: category %d, returned %d", what,
	      (int)err->category, rc);
	CHECK(err->message && err->message[0], "%s: empty message", what);
}

static void check_request(const struct exec_request *r)
{
	CHECK(request_valid_id(r->job_id, 128), "job_id %s", r->job_id ? r->job_id : "(null)");
	CHECK(request_valid_id(r->execution_id, 128), "execution_id %s",
	      r->execution_id ? r->execution_id : "(null)");
	CHECK(r->engine_type &&
	          (!strcmp(r->engine_type, "docker") || !strcmp(r->engine_type, "podman")),
	      "engine_type %s", r->engine_type ? r->engine_type : "(null)");
	CHECK(r->image && r->image[0], "image");
	for (const char *p = r->image; *p; p++)
		CHECK((unsigned char)*p >= 0x20 && *p != 0x7f, "image has a control character");
	for (size_t i = 0; r->environment && r->environment[i]; i++)
		CHECK(r->environment[i][0] != '=' && strchr(r->environment[i], '='),
		      "environment[%zu] = %s", i, r->environment[i]);
	if (r->working_directory)
		CHECK(r->working_directory[0] == '/', "working_directory %s", r->working_directory);
	for (size_t i = 0; r->labels && r->labels[i]; i++)
		CHECK(strncmp(r->labels[i], "org.dms.", 8) != 0 && r->labels[i][0] != '=',
		      "labels[%zu] = %s", i, r->labels[i]);
	CHECK(r->stop_timeout_ms >= -1, "stop_timeout_ms %lld", (long long)r->stop_timeout_ms);
	CHECK(r->timeout_ms >= 0, "timeout_ms %lld", (long long)r->timeout_ms);
	CHECK(isfinite(r->cpu_cores) && r->cpu_cores >= 0 && r->cpu_cores <= 1e6, "cpu_cores %g",
	      r->cpu_cores);
	CHECK(r->memory_bytes == 0 || r->memory_bytes >= 6291456, "memory_bytes %lld",
	      (long long)r->memory_bytes);
	CHECK(r->pids_limit >= 0, "pids_limit %lld", (long long)r->pids_limit);
	CHECK(r->n_inputs == 0 || r->inputs, "inputs");
	CHECK(r->n_outputs == 0 || r->outputs, "outputs");
	CHECK(r->n_outputs == 0 || r->results_dir, "outputs without results_dir");
	for (size_t i = 0; i < r->n_inputs; i++)
		CHECK(r->inputs[i].source && r->inputs[i].source[0] == '/' && r->inputs[i].target &&
		          r->inputs[i].target[0] == '/' && strcmp(r->inputs[i].target, "/"),
		      "inputs[%zu]", i);
	for (size_t i = 0; i < r->n_outputs; i++)
		CHECK(r->outputs[i].source && r->outputs[i].source[0] != '/' &&
		          r->outputs[i].target && r->outputs[i].target[0] == '/',
		      "outputs[%zu]", i);
	if (r->results_dir)
		CHECK(r->results_dir[0] == '/', "results_dir %s", r->results_dir);
}

static void parse_request(const char *text, size_t len)
{
	struct exec_request *r = NULL;
	dms_error *err = NULL;
	int rc = request_parse(text, len, &r, &err);

	if (rc == 0) {
		CHECK(r != NULL && err == NULL, "request_parse succeeded without a request");
		check_request(r);
	} else {
		CHECK(r == NULL, "request_parse failed but handed out a request");
		check_failure("request_parse", rc, err);
	}
	request_free(r);
	err_free(err);
}

static void parse_log_request(const char *text, size_t len)
{
	struct log_request *r = NULL;
	dms_error *err = NULL;
	int rc = log_request_parse(text, len, &r, &err);

	if (rc == 0) {
		CHECK(r != NULL && err == NULL, "log_request_parse succeeded without a request");
		CHECK(request_valid_id(r->execution_id, 128), "execution_id");
		CHECK(r->lines >= -1, "lines %lld", (long long)r->lines);
		CHECK(r->format == LOG_FORMAT_FRAMED || r->format == LOG_FORMAT_PLAIN, "format %d",
		      (int)r->format);
	} else {
		CHECK(r == NULL, "log_request_parse failed but handed out a request");
		check_failure("log_request_parse", rc, err);
	}
	log_request_free(r);
	err_free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer's buffer is exactly `size` bytes (no NUL after it): an
	 * over-read is an ASan report. */
	parse_request((const char *)data, size);
	parse_log_request((const char *)data, size);
	return 0;
}
