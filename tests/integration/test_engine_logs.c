/* test_engine_logs.c — GetLogStream(follow) of a job whose output outgrows
 * everything the executor keeps, against a real engine (DMS_ENGINE: this
 * binary runs once per engine). dockerd's follow stream drops a final
 * partial line and Podman's loses records (docs/engine-api.md); the executor's
 * stream must still be every byte the job wrote, once, in order — for any
 * size, not only what fits the spool (log_spool_limit, here 1 MiB) — and
 * the harvest, which stops reading once its sinks are full, must still
 * report exact truncation flags. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "test_assert.h"

static struct itest_plugin P;
static dms_executor *ex;
static char *ex_id;

static void setup(void)
{
	itest_plugin_load(&P);
	ex_id = itest_unique_id("itlog");
	char *cfg = itest_config("log_spool_limit: 1MiB\noutput_limit: 64KiB\n");
	dms_error *err = NULL;
	int rc = P.ops->new_executor(ex_id, cfg, &ex, &err);
	cr_assert_eq(rc, 0, "new_executor: %s", err ? err->message : "?");
	free(cfg);
}

static void teardown(void)
{
	if (ex) {
		P.ops->cleanup(ex, NULL, NULL);
		P.ops->destroy(ex);
	}
	ex = NULL;
	free(ex_id);
	itest_plugin_unload(&P);
}

TestSuite(logs, .init = setup, .fini = teardown, .timeout = 240);

static void start_ok(const char *exec_id, const char *script)
{
	itest_start_ok(&P, ex, exec_id, script, NULL, NULL);
}

static char *wait_ok(const char *exec_id)
{
	return itest_wait_ok(&P, ex, exec_id);
}

/* Lines 1..n of "<i><pad spaces>\n" on stdout, "e<i><err_pad spaces>\n" on
 * stderr every `every` lines, then `last` with no newline on stdout: built
 * here exactly as the job's awk program writes them. */
#define SCRIPT_FMT                                                                                 \
	"awk 'BEGIN { s = sprintf(\"%%%ds\", \"\"); t = sprintf(\"%%%ds\", \"\");"                 \
	" for (i = 1; i <= %d; i++) { printf \"%%d%%s\\n\", i, s;"                                 \
	" if (i %% %d == 0) printf \"e%%d%%s\\n\", i, t > \"/dev/stderr\" }"                       \
	" printf \"%s\" }'"

static char *expected(int n, int pad, int err_pad, int every, const char *last, bool err_stream,
                      size_t *len)
{
	size_t cap = (size_t)n * ((size_t)pad + (size_t)err_pad + 32) + strlen(last) + 1, at = 0;
	char *buf = malloc(cap);
	cr_assert(buf, "buf is false");
	for (int i = 1; i <= n; i++) {
		if (!err_stream)
			at += (size_t)snprintf(buf + at, cap - at, "%d%*s\n", i, pad, "");
		else if (i % every == 0)
			at += (size_t)snprintf(buf + at, cap - at, "e%d%*s\n", i, err_pad, "");
	}
	if (!err_stream)
		at += (size_t)snprintf(buf + at, cap - at, "%s", last);
	buf[at] = '\0';
	*len = at;
	return buf;
}

/* The first byte where a and b differ, for messages. */
static size_t first_diff(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0;
	while (i < alen && i < blen && a[i] == b[i])
		i++;
	return i;
}

static const char last[] = "the-last-line-has-no-newline";

/* script: NULL for SCRIPT_FMT, else one that writes the same stdout. */
static void check_follow(const char *exec_id, const char *script_or_null, int n, int pad,
                         int err_pad, int every)
{
	char *script = NULL;
	if (script_or_null)
		script = strdup(script_or_null);
	else
		assert_cmp(asprintf(&script, SCRIPT_FMT, pad, err_pad, n, every, last), >, 0);
	start_ok(exec_id, script);
	free(script);

	char *lr = NULL;
	assert_cmp(asprintf(&lr, "{\"execution_id\":\"%s\",\"follow\":true}", exec_id), >, 0);
	int fd = -1;
	dms_error *err = NULL;
	cr_assert_eq(P.ops->get_log_stream(ex, NULL, lr, &fd, &err), 0, "get_log_stream: %s",
	             err ? err->message : "?");
	free(lr);
	char *data = NULL;
	long got = itest_read_all(fd, &data, 180000);
	close(fd);
	cr_assert_geq(got, 0, "the follow stream did not end within 180 s");

	char *out = NULL, *errs = NULL;
	itest_unframe(data, got, &out, &errs);
	size_t want_out_len, want_err_len;
	char *want_out = expected(n, pad, err_pad, every, last, false, &want_out_len);
	char *want_err = expected(n, pad, err_pad, every, last, true, &want_err_len);
	size_t out_len = strlen(out), err_len = strlen(errs);
	size_t d = first_diff(out, out_len, want_out, want_out_len);
	cr_assert(out_len == want_out_len && d == out_len,
	          "stdout: %zu bytes, want %zu; first difference at byte %zu: got \"%.40s\", "
	          "want \"%.40s\"",
	          out_len, want_out_len, d, out + (d < out_len ? d : out_len),
	          want_out + (d < want_out_len ? d : want_out_len));
	d = first_diff(errs, err_len, want_err, want_err_len);
	cr_assert(err_len == want_err_len && d == err_len,
	          "stderr: %zu bytes, want %zu; first difference at byte %zu", err_len,
	          want_err_len, d);

	/* The harvest kept 64 KiB of stdout (truncated) and all of stderr. */
	char *res = wait_ok(exec_id);
	yajl_val root = itest_json(res);
	cr_assert_eq(itest_int(root, "exit_code"), 0, "%s", res);
	cr_assert(itest_bool(root, "stdout_truncated"), "%s", res);
	cr_assert_eq(itest_bool(root, "stderr_truncated"), want_err_len > 64 * 1024, "%.300s", res);
	const char *rout = itest_str(root, "stdout");
	cr_assert(rout && strlen(rout) == 64 * 1024 && memcmp(rout, want_out, 64 * 1024) == 0,
	          "the result's stdout is not the first 64 KiB");
	const char *rerr = itest_str(root, "stderr");
	size_t keep = want_err_len < 64 * 1024 ? want_err_len : 64 * 1024;
	cr_assert(rerr && strlen(rerr) == keep && memcmp(rerr, want_err, keep) == 0,
	          "the result's stderr is not the first %zu bytes", keep);
	yajl_tree_free(root);
	P.ops->string_free(res);
	free(want_out);
	free(want_err);
	free(out);
	free(errs);
	free(data);
}

/* 5 MB on stdout (5 × the spool), 500 short lines on stderr between them,
 * a last line without newline. stderr stays under output_limit, so the
 * harvest reads the whole log. */
Test(logs, follow_of_a_log_five_times_the_spool_is_complete_and_exact)
{
	check_follow("big", NULL, 5000, 1000, 0, 10);
}

/* Both streams past output_limit and the spool: the harvest stops reading
 * early, and the flags and kept bytes are still exact. */
Test(logs, follow_with_both_streams_past_every_limit)
{
	check_follow("both", NULL, 3000, 1000, 500, 2);
}

/* 20 MB written over 5 s or more, in 40 bursts: the follow runs for many
 * seconds (on Podman, many polls reading from a moving base) and must still
 * be every byte once. */
Test(logs, follow_of_a_job_writing_for_seconds_is_complete)
{
	char *script = NULL;
	cr_assert(asprintf(&script,
	                   "i=0; while [ $i -lt 40 ]; do awk -v b=$((i*500)) 'BEGIN { s = "
	                   "sprintf(\"%%1000s\", \"\"); for (j = 1; j <= 500; j++) printf "
	                   "\"%%d%%s\\n\", b + j, s }'; i=$((i+1)); sleep 0.125; done; printf %s",
	                   last) > 0);
	check_follow("slow", script, 20000, 1000, 0, 1 << 30);
	free(script);
}

/* A tty job: no frames, so no stamps to complete by — the runtime
 * completes a tty follow by a whole read that skips what it sent. */
Test(logs, follow_of_a_tty_job_is_complete)
{
	char *req = itest_request("tty",
	                          "awk 'BEGIN { for (i = 1; i <= 3000; i++) printf \"%d\\n\", i; "
	                          "printf \"end\" }'",
	                          "\"tty\":true", NULL);
	dms_error *err = NULL;
	cr_assert_eq(P.ops->start(ex, NULL, req, &err), 0, "start: %s", err ? err->message : "");
	free(req);
	int fd = -1;
	cr_assert_eq(
	    P.ops->get_log_stream(ex, NULL,
	                          "{\"execution_id\":\"tty\",\"follow\":true,\"format\":\"plain\"}",
	                          &fd, &err),
	    0, "get_log_stream: %s", err ? err->message : "?");
	char *data = NULL;
	long got = itest_read_all(fd, &data, 120000);
	close(fd);
	cr_assert_geq(got, 0, "the follow stream did not end");
	/* The terminal turns "\n" into "\r\n". */
	char *want = malloc(3000 * 8 + 8);
	size_t at = 0;
	for (int i = 1; i <= 3000; i++)
		at += (size_t)sprintf(want + at, "%d\r\n", i);
	at += (size_t)sprintf(want + at, "end");
	size_t d = first_diff(data, (size_t)got, want, at);
	cr_assert((size_t)got == at && d == at, "%ld bytes, want %zu; first difference at %zu", got,
	          at, d);
	free(want);
	free(data);
	P.ops->string_free(wait_ok("tty"));
}
