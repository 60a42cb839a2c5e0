/* test_logs_follow.c — GetLogStream followers and the harvest's log read on
 * the fake runtime: a follower whose engine read ended cleanly is done
 * without waiting for the harvest (the runtime's follow is the whole log,
 * runtime.h), and the harvest, which stops reading once every sink is full,
 * still keeps exact bytes and truncation flags. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "context.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor.h"
#include "fake_runtime.h"
#include "labels.h"
#include "test_time.h"
#include "test_assert.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define DEADLINE_MS test_ms(5000) /* scaled under valgrind: test_time.h */

static struct dms_executor *ex;

static void open_executor(const char *extra)
{
	ex = exec_fixture_new("unitlogs", NULL, extra);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
}

static void setup(void)
{
	exec_fixture_setup("unit-logs");
}

static void teardown(void)
{
	fake_runtime_fail_next("container_inspect", DMS_OK, 0);
	exec_fixture_teardown(&ex);
}

TestSuite(logs, .init = setup, .fini = teardown, .timeout = 30);

static void start_ok(const char *exec_id)
{
	char *r = NULL;
	assert_cmp(asprintf(&r,
	                    "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                    "\"docker\",\"params\":{\"image\":\"%s\"}}}",
	                    exec_id, IMAGE),
	           >, 0);
	dms_error *err = NULL;
	cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "start: %s", err ? err->message : "");
	free(r);
}

/* Reads fd to EOF within the deadline into buf (NUL-terminated). */
/* A plain follow stream of exec_id, once its thread has read the engine. */
static int open_follower(const char *exec_id)
{
	char req[128];
	int fd = -1;
	dms_error *err = NULL;
	int64_t deadline = mono_now_ns() + DEADLINE_MS * 1000000LL;

	snprintf(req, sizeof(req), "{\"execution_id\":\"%s\",\"follow\":true,\"format\":\"plain\"}",
	         exec_id);
	cr_assert_eq(executor_get_log_stream(ex, NULL, req, &fd, &err), 0, "log stream: %s",
	             err ? err->message : "");
	while (fake_runtime_op_count("container_logs") < 1 && mono_now_ns() < deadline)
		sched_yield();
	cr_assert_geq(fake_runtime_op_count("container_logs"), 1, "the follower never read");
	return fd;
}

static size_t read_to_eof(int fd, char *buf, size_t cap)
{
	int64_t deadline = mono_now_ns() + DEADLINE_MS * 1000000LL;
	size_t got = 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((deadline - mono_now_ns()) / 1000000);
		cr_assert_gt(left, 0, "no EOF in time; got \"%.*s\"", (int)got, buf);
		if (poll(&p, 1, left) <= 0)
			continue;
		ssize_t r = read(fd, buf + got, cap - 1 - got);
		cr_assert_geq(r, 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return got;
}

/* The engine's follow does not end at the exit (Podman's notices it late):
 * once the harvest has the whole log in the spool, the follower sends the
 * rest from there and ends. Before, it waited for the engine — here for
 * ever, since the container is not removed while a follower reads it. */
Test(logs, a_late_engine_follow_is_ended_by_the_harvest)
{
	open_executor(NULL);
	fake_runtime_set_follow_sticky(true);
	start_ok("late");
	char *n = labels_container_name("unitlogs", "late");
	assert_cmp(fake_runtime_write(NULL, n, "one\n", NULL), ==, 0);
	int fd = open_follower("late");
	assert_cmp(fake_runtime_exit(NULL, n, 0, "two\n", NULL, false), ==, 0);
	char buf[64];
	read_to_eof(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "one\ntwo\n", "buf = \"%s\"", buf);
	close(fd);
	free(n);
}

/* ...but not when the spool was cut at log_spool_limit: the engine's
 * stream is then the only whole copy, and the follower stays on it. */
Test(logs, a_cut_spool_leaves_the_follower_on_the_engine)
{
	open_executor("log_spool_limit: 4\n");
	fake_runtime_set_follow_sticky(true);
	start_ok("cut");
	char *n = labels_container_name("unitlogs", "cut");
	int fd = open_follower("cut");
	assert_cmp(fake_runtime_exit(NULL, n, 0, "0123456789\n", NULL, false), ==, 0);
	char *json = NULL;
	dms_context *ctx = ctx_new(DEADLINE_MS);
	assert_cmp(executor_wait(ex, ctx, "cut", &json, NULL), ==, 0);
	ctx_free(ctx);
	free(json);
	fake_runtime_set_follow_sticky(false); /* the engine's follow ends now */
	char buf[64];
	read_to_eof(fd, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0123456789\n", "buf = \"%s\"", buf);
	close(fd);
	free(n);
}

/* The harvest cannot finish (every inspect fails: the engine "cannot say"
 * the container stopped), yet the follower, whose engine read ended with
 * the whole log, reaches EOF: it no longer waits for the harvest's re-read. */
Test(logs, follower_ends_with_the_engine_stream_not_with_the_harvest)
{
	open_executor(NULL);
	start_ok("fast");
	int fd = open_follower("fast");
	fake_runtime_fail_next("container_inspect", DMS_ERR_RUNTIME_UNAVAILABLE, 1000000);
	char *n = labels_container_name("unitlogs", "fast");
	fake_runtime_exit(NULL, n, 0, "all of it\n", NULL, false);
	free(n);
	char buf[256];
	read_to_eof(fd, buf, sizeof(buf));
	close(fd);
	cr_assert_str_eq(buf, "all of it\n", "buf = \"%s\"", buf);

	/* And the job is indeed not harvested: no result yet. */
	dms_context *ctx = ctx_new(test_ms(50));
	char *json = NULL;
	int rc = executor_wait(ex, ctx, "fast", &json, NULL);
	ctx_free(ctx);
	cr_assert_neq(rc, 0, "the harvest finished after all: %s", json ? json : "");
	free(json);
}

/* ------------------------------------------- the harvest's early stop */

struct harvest_case {
	char name[16];
	int out_len, err_len; /* bytes the job writes, stdout first */
	int limit;            /* output_limit, and the spool's is 2 × it */
};

static struct harvest_case harvest_cases[] = {
    {"both_past", 100, 9, 8},     /* both refuse a byte: stop at stderr's 9th */
    {"err_at_limit", 100, 8, 8},  /* stderr exactly fits: not truncated */
    {"err_empty", 100, 0, 8},     /* never stops early: read to the end */
    {"out_at_limit", 8, 100, 8},  /* the same the other way round */
    {"big_both", 5000, 5000, 64}, /* many frames after the stop point */
};

ParameterizedTestParameters(logs, harvest_keeps_exact_bytes_and_flags)
{
	return cr_make_param_array(struct harvest_case, harvest_cases,
	                           sizeof(harvest_cases) / sizeof(harvest_cases[0]));
}

static const char *jstr(yajl_val v, const char *key)
{
	const char *path[] = {key, NULL};
	return YAJL_GET_STRING(yajl_tree_get(v, path, yajl_t_string));
}

static bool jbool(yajl_val v, const char *key)
{
	const char *path[] = {key, NULL};
	return YAJL_IS_TRUE(yajl_tree_get(v, path, yajl_t_any));
}

/* Lines of 4 bytes ("a00\n"...), so the fake stores many frames. */
static char *lines(char c, int len)
{
	char *s = malloc((size_t)len + 1);
	cr_assert(s, "s is false");
	for (int i = 0; i < len; i++)
		s[i] = i % 4 == 3 ? '\n' : (i % 4 == 0 ? c : (char)('0' + (i / 4) % 10));
	s[len] = '\0';
	return s;
}

ParameterizedTest(struct harvest_case *hc, logs, harvest_keeps_exact_bytes_and_flags)
{
	char extra[96];
	snprintf(extra, sizeof(extra), "output_limit: %d\nlog_spool_limit: %d\n", hc->limit,
	         2 * hc->limit);
	open_executor(extra);
	start_ok(hc->name);
	char *out = lines('o', hc->out_len), *errs = lines('e', hc->err_len);
	char *n = labels_container_name("unitlogs", hc->name);
	assert_cmp(fake_runtime_exit(NULL, n, 0, out, errs, false), ==, 0);
	free(n);

	dms_context *ctx = ctx_new(DEADLINE_MS);
	char *json = NULL;
	dms_error *err = NULL;
	int rc = executor_wait(ex, ctx, hc->name, &json, &err);
	ctx_free(ctx);
	cr_assert_eq(rc, 0, "wait: %d %s", rc, err ? err->message : "");
	yajl_val v = yajl_tree_parse(json, NULL, 0);
	cr_assert(v, "bad result %s", json);
	int keep_out = hc->out_len < hc->limit ? hc->out_len : hc->limit;
	int keep_err = hc->err_len < hc->limit ? hc->err_len : hc->limit;
	cr_assert_eq(jbool(v, "stdout_truncated"), hc->out_len > hc->limit, "%s: %s", hc->name,
	             json);
	cr_assert_eq(jbool(v, "stderr_truncated"), hc->err_len > hc->limit, "%s: %s", hc->name,
	             json);
	const char *rout = jstr(v, "stdout"), *rerr = jstr(v, "stderr");
	cr_assert(rout && strlen(rout) == (size_t)keep_out &&
	              strncmp(rout, out, (size_t)keep_out) == 0,
	          "%s: stdout %s", hc->name, json);
	cr_assert(rerr && strlen(rerr) == (size_t)keep_err &&
	              strncmp(rerr, errs, (size_t)keep_err) == 0,
	          "%s: stderr %s", hc->name, json);

	/* The spool kept its limit's worth, in order: stdout first. */
	int fd = -1;
	char req[96];
	snprintf(req, sizeof(req), "{\"execution_id\":\"%s\",\"format\":\"plain\"}", hc->name);
	assert_cmp(executor_get_log_stream(ex, NULL, req, &fd, NULL), ==, 0);
	char *buf = malloc(20000);
	cr_assert(buf, "buf is false");
	size_t got = read_to_eof(fd, buf, 20000);
	close(fd);
	size_t total = (size_t)hc->out_len + (size_t)hc->err_len;
	size_t want = total < (size_t)(2 * hc->limit) ? total : (size_t)(2 * hc->limit);
	cr_assert_eq(got, want, "%s: the spool replayed %zu bytes, want %zu", hc->name, got, want);
	size_t from_out = want < (size_t)hc->out_len ? want : (size_t)hc->out_len;
	cr_assert(memcmp(buf, out, from_out) == 0 &&
	              memcmp(buf + from_out, errs, want - from_out) == 0,
	          "%s: the spool holds other bytes", hc->name);
	free(buf);
	yajl_tree_free(v);
	free(json);
	free(out);
	free(errs);
}

/* A follower still reading the container when the harvest finishes (its
 * reader is slow) keeps the container: the removal waits for it, so its
 * engine read is not cut short, and comes once it is done. */
Test(logs, removal_waits_for_a_slow_follower)
{
	open_executor(NULL);
	start_ok("slow");
	int fd = open_follower("slow");
	/* 400 KB in 1000-byte lines: more than the socket holds, so the
	 * follower blocks writing while the harvest runs. */
	size_t len = 400 * 1000;
	char *out = malloc(len + 1);
	cr_assert(out, "out is false");
	for (size_t i = 0; i < len; i++)
		out[i] = i % 1000 == 999 ? '\n' : (char)('a' + (i / 1000) % 26);
	out[len] = '\0';
	char *n = labels_container_name("unitlogs", "slow");
	assert_cmp(fake_runtime_exit(NULL, n, 0, out, NULL, false), ==, 0);
	free(n);

	dms_context *ctx = ctx_new(DEADLINE_MS);
	char *json = NULL;
	dms_error *err = NULL;
	int rc = executor_wait(ex, ctx, "slow", &json, &err);
	ctx_free(ctx);
	cr_assert_eq(rc, 0, "wait: %d %s", rc, err ? err->message : "");
	free(json);
	/* Harvested; a removal now would cut the follower's read short. Give
	 * a worker the time to (wrongly) do it. */
	int64_t until = mono_now_ns() + test_ms(300) * 1000000LL;
	while (fake_runtime_op_count("container_remove") == 0 && mono_now_ns() < until)
		sched_yield();
	cr_assert_eq(fake_runtime_op_count("container_remove"), 0,
	             "the container was removed under a follower");

	char *buf = malloc(len + 64);
	cr_assert(buf, "buf is false");
	size_t got = read_to_eof(fd, buf, len + 64);
	close(fd);
	cr_assert(got == len && memcmp(buf, out, len) == 0, "the follower got %zu bytes of %zu",
	          got, len);
	int64_t deadline = mono_now_ns() + DEADLINE_MS * 1000000LL;
	while (fake_runtime_op_count("container_remove") == 0 && mono_now_ns() < deadline)
		sched_yield();
	cr_assert_geq(fake_runtime_op_count("container_remove"), 1,
	              "the deferred removal never came");
	free(buf);
	free(out);
}
