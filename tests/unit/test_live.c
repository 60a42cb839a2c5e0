/* test_live.c — the live operations (executor/live.c) on the fake runtime:
 * their errors, the paused state and its moves, Cancel and the deadline of
 * a paused job, the sampler's usage and the stats stream. The real
 * behaviour is proven against dockerd and Podman by the features
 * (Signal, Pause, Stats, Inspect) and tests/integration. */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "context.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor_internal.h"
#include "fake_runtime.h"
#include "labels.h"
#include "test_assert.h"
#include "test_time.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define DEADLINE_MS test_ms(5000)

static struct dms_executor *ex;

/* The states reported, in order (the event hook). */
static pthread_mutex_t states_mu = PTHREAD_MUTEX_INITIALIZER;
static char states[512];

static void on_event(void *ud, const char *id, dms_exec_state state, const char *result)
{
	(void)ud, (void)id, (void)result;
	pthread_mutex_lock(&states_mu);
	size_t n = strlen(states);
	snprintf(states + n, sizeof(states) - n, "%s%s", n ? "," : "", dms_state_name(state));
	pthread_mutex_unlock(&states_mu);
}

static void setup(void)
{
	exec_fixture_setup("live");
	ex = exec_fixture_new("live", NULL, NULL);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
	states[0] = '\0';
	executor_set_event_handler(ex, on_event, NULL);
}

static void teardown(void)
{
	exec_fixture_teardown(&ex);
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 30);

static void start_ok(const char *id, const char *extra_top)
{
	char *r = NULL;
	dms_error *err = NULL;
	cr_assert(asprintf(&r,
	                   "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"%s\"}}%s%s}",
	                   id, IMAGE, extra_top ? "," : "", extra_top ? extra_top : "") > 0);
	cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "start: %s", err ? err->message : "");
	free(r);
}

static char *cname(const char *id)
{
	return labels_container_name("live", id);
}

static char *wait_result(const char *id)
{
	dms_context *ctx = ctx_new(DEADLINE_MS);
	char *json = NULL;
	dms_error *err = NULL;
	int rc = executor_wait(ex, ctx, id, &json, &err);
	ctx_free(ctx);
	cr_assert_eq(rc, 0, "wait %s: %d %s", id, rc, err ? err->message : "");
	return json;
}

static long long json_int(const char *json, const char *a, const char *b)
{
	yajl_val v = yajl_tree_parse(json, NULL, 0);
	const char *path[] = {a, b, NULL};
	yajl_val n = yajl_tree_get(v, path, yajl_t_number);
	cr_assert(n && YAJL_IS_INTEGER(n), "%s.%s in %s", a, b ? b : "", json);
	long long r = YAJL_GET_INTEGER(n);
	yajl_tree_free(v);
	return r;
}

/* The call's status, with its error's category and message checked. */
static void expect_fail(int rc, dms_error **errp, dms_status want, const char *mentions)
{
	dms_error *err = *errp;
	*errp = NULL;
	cr_assert_eq(rc, (int)want, "status %d (%s), want %d", rc, err ? err->message : "-", want);
	cr_assert_not_null(err);
	cr_assert_eq(err->category, want);
	if (mentions)
		cr_assert(strstr(err->message, mentions), "\"%s\" in \"%s\"", mentions,
		          err->message);
	err_free(err);
}

static bool states_are(const char *want)
{
	int64_t until = mono_now_ns() + DEADLINE_MS * 1000000ll;
	for (;;) {
		pthread_mutex_lock(&states_mu);
		bool same = strcmp(states, want) == 0;
		pthread_mutex_unlock(&states_mu);
		if (same || mono_now_ns() > until)
			return same;
		poll(NULL, 0, 5);
	}
}

Test(live, unknown_ids_are_not_found)
{
	dms_error *err = NULL;
	char *json = NULL;
	int fd = -1;
	expect_fail(executor_signal(ex, NULL, "nope", "USR1", &err), &err, DMS_ERR_NOT_FOUND,
	            "nope");
	err = NULL;
	expect_fail(executor_pause(ex, NULL, "nope", &err), &err, DMS_ERR_NOT_FOUND, "nope");
	err = NULL;
	expect_fail(executor_resume(ex, NULL, "nope", &err), &err, DMS_ERR_NOT_FOUND, "nope");
	err = NULL;
	expect_fail(executor_stats(ex, NULL, "nope", &json, &err), &err, DMS_ERR_NOT_FOUND, "nope");
	err = NULL;
	expect_fail(executor_stats_stream(ex, NULL, "nope", &fd, &err), &err, DMS_ERR_NOT_FOUND,
	            "nope");
	err = NULL;
	expect_fail(executor_inspect(ex, NULL, "nope", &json, &err), &err, DMS_ERR_NOT_FOUND,
	            "nope");
	cr_assert_null(json);
	cr_assert_eq(fd, -1);
}

Test(live, signal_by_name_or_number_reaches_the_container)
{
	start_ok("s1", NULL);
	dms_error *err = NULL;
	cr_assert_eq(executor_signal(ex, NULL, "s1", "USR1", &err), 0, "%s",
	             err ? err->message : "");
	char *json = wait_result("s1");
	assert_cmp(json_int(json, "exit_code", NULL), ==, 128 + 10);
	free(json);
	start_ok("s2", NULL);
	cr_assert_eq(executor_signal(ex, NULL, "s2", "15", &err), 0);
	json = wait_result("s2");
	assert_cmp(json_int(json, "exit_code", NULL), ==, 128 + 15);
	free(json);
	assert_cmp(fake_runtime_op_count("container_kill"), ==, 2);
}

Test(live, a_bad_signal_is_refused_before_the_engine)
{
	start_ok("s3", NULL);
	dms_error *err = NULL;
	expect_fail(executor_signal(ex, NULL, "s3", "SIGNOPE", &err), &err,
	            DMS_ERR_INVALID_ARGUMENT, "signal: must be a signal name");
	err = NULL;
	expect_fail(executor_signal(ex, NULL, "s3", "65", &err), &err, DMS_ERR_INVALID_ARGUMENT,
	            "got '65'");
	err = NULL;
	expect_fail(executor_signal(ex, NULL, "s3", "", &err), &err, DMS_ERR_INVALID_ARGUMENT,
	            "signal: required");
	assert_cmp(fake_runtime_op_count("container_kill"), ==, 0);
}

Test(live, a_finished_job_is_already_finished)
{
	start_ok("f1", NULL);
	char *n = cname("f1");
	assert_cmp(fake_runtime_exit(NULL, n, 0, "x\n", NULL, false), ==, 0);
	free(wait_result("f1"));
	dms_error *err = NULL;
	char *json = NULL;
	expect_fail(executor_signal(ex, NULL, "f1", "USR1", &err), &err, DMS_ERR_ALREADY_FINISHED,
	            "finished");
	err = NULL;
	expect_fail(executor_pause(ex, NULL, "f1", &err), &err, DMS_ERR_ALREADY_FINISHED, NULL);
	err = NULL;
	expect_fail(executor_stats(ex, NULL, "f1", &json, &err), &err, DMS_ERR_ALREADY_FINISHED,
	            NULL);
	/* Inspect answers for a finished job, with its exit code. */
	cr_assert_eq(executor_inspect(ex, NULL, "f1", &json, &err), 0);
	cr_assert(strstr(json, "\"state\":\"exited\""), "%s", json);
	assert_cmp(json_int(json, "exit_code", NULL), ==, 0);
	free(json);
	free(n);
}

Test(live, pause_and_resume_move_the_state_both_ways)
{
	start_ok("p1", NULL);
	char *n = cname("p1");
	dms_error *err = NULL;
	expect_fail(executor_resume(ex, NULL, "p1", &err), &err, DMS_ERR_CONTAINER, "not paused");
	err = NULL;
	cr_assert_eq(executor_pause(ex, NULL, "p1", &err), 0, "%s", err ? err->message : "");
	cr_assert(fake_runtime_wait_status(n, CS_PAUSED, DEADLINE_MS));
	expect_fail(executor_pause(ex, NULL, "p1", &err), &err, DMS_ERR_CONTAINER,
	            "already paused");
	err = NULL;
	char *list = NULL;
	cr_assert_eq(executor_list(ex, &list, NULL), 0);
	cr_assert(strstr(list, "\"state\":\"paused\""), "%s", list);
	free(list);
	cr_assert_eq(executor_resume(ex, NULL, "p1", &err), 0);
	cr_assert(fake_runtime_wait_status(n, CS_RUNNING, DEADLINE_MS));
	cr_assert(states_are("created,running,paused,running"), "states %s", states);
	/* Waiters keep waiting through it all; the exit ends it as usual. */
	assert_cmp(fake_runtime_exit(NULL, n, 2, NULL, NULL, false), ==, 0);
	char *json = wait_result("p1");
	assert_cmp(json_int(json, "exit_code", NULL), ==, 2);
	free(json);
	cr_assert(states_are("created,running,paused,running,exited"), "states %s", states);
	free(n);
}

Test(live, wait_keeps_waiting_while_paused)
{
	start_ok("p2", NULL);
	cr_assert_eq(executor_pause(ex, NULL, "p2", NULL), 0);
	dms_context *ctx = ctx_new(300);
	char *json = NULL;
	dms_error *err = NULL;
	expect_fail(executor_wait(ex, ctx, "p2", &json, &err), &err, DMS_ERR_TIMEOUT, NULL);
	ctx_free(ctx);
	cr_assert_null(json);
}

Test(live, cancel_of_a_paused_job_thaws_it_then_stops_it)
{
	start_ok("c1", NULL);
	cr_assert_eq(executor_pause(ex, NULL, "c1", NULL), 0);
	dms_error *err = NULL;
	dms_context *ctx = ctx_new(DEADLINE_MS);
	/* The fake refuses to stop or kill a paused container, as dockerd
	 * does: only a thaw first lets this succeed. */
	cr_assert_eq(executor_cancel(ex, ctx, "c1", &err), 0, "%s", err ? err->message : "");
	ctx_free(ctx);
	char *json = wait_result("c1");
	cr_assert(strstr(json, "\"cancelled\":true"), "%s", json);
	free(json);
	assert_cmp(fake_runtime_op_count("container_unpause"), ==, 1);
	cr_assert(states_are("created,running,paused,running,cancelled"), "states %s", states);
}

Test(live, the_deadline_keeps_running_while_paused)
{
	start_ok("d1", "\"timeout\":1");
	cr_assert_eq(executor_pause(ex, NULL, "d1", NULL), 0);
	char *json = wait_result("d1");
	cr_assert(strstr(json, "\"cancelled\":true"), "%s", json);
	cr_assert(strstr(json, "deadline exceeded"), "%s", json);
	free(json);
}

Test(live, not_supported_where_the_runtime_cannot)
{
	exec_fixture_teardown(&ex);
	static struct runtime_ops ops;
	ops = fake_runtime_ops;
	ops.container_pause = NULL;
	ops.container_unpause = NULL;
	ops.container_stats = NULL;
	exec_fixture_setup("live");
	ex = exec_fixture_new("live", &ops, NULL);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS));
	start_ok("n1", NULL);
	dms_error *err = NULL;
	char *json = NULL;
	expect_fail(executor_pause(ex, NULL, "n1", &err), &err, DMS_ERR_NOT_SUPPORTED,
	            "runtime fake cannot freeze a container");
	err = NULL;
	expect_fail(executor_stats(ex, NULL, "n1", &json, &err), &err, DMS_ERR_NOT_SUPPORTED,
	            "cannot sample");
	/* No sampler without samples: the result still has its usage. */
	char *n = cname("n1");
	assert_cmp(fake_runtime_exit(NULL, n, 0, NULL, NULL, false), ==, 0);
	json = wait_result("n1");
	assert_cmp(json_int(json, "usage", "samples"), ==, 0);
	free(json);
	free(n);
}

Test(live, the_sampler_keeps_the_largest_figures_for_the_result)
{
	start_ok("u1", NULL);
	char *n = cname("u1");
	struct container_stats s = {.cpu_ns = 1800000000ull,
	                            .mem_usage = 10 << 20,
	                            .mem_limit = 1ull << 30,
	                            .mem_peak = 70 << 20,
	                            .blk_write = 4096,
	                            .net_rx = 100,
	                            .pids = 3};
	cr_assert_eq(fake_runtime_set_stats(n, &s), 0);
	int64_t until = mono_now_ns() + DEADLINE_MS * 1000000ll;
	int before = fake_runtime_op_count("container_stats");
	while (fake_runtime_op_count("container_stats") < before + 2 && mono_now_ns() < until)
		poll(NULL, 0, 10);
	cr_assert(fake_runtime_op_count("container_stats") >= before + 2,
	          "the sampler did not run");
	/* A later, smaller sample (a cgroup being torn down) changes nothing. */
	struct container_stats low = {.mem_usage = 1 << 20};
	cr_assert_eq(fake_runtime_set_stats(n, &low), 0);
	char *sample = NULL;
	cr_assert_eq(executor_stats(ex, NULL, "u1", &sample, NULL), 0);
	assert_cmp(json_int(sample, "memory_usage_bytes", NULL), ==, 1 << 20);
	assert_cmp(json_int(sample, "memory_peak_bytes", NULL), ==, 70 << 20);
	free(sample);
	assert_cmp(fake_runtime_exit(NULL, n, 0, NULL, NULL, false), ==, 0);
	char *json = wait_result("u1");
	assert_cmp(json_int(json, "usage", "cpu_time_ns"), ==, 1800000000ll);
	assert_cmp(json_int(json, "usage", "memory_peak_bytes"), ==, 70 << 20);
	assert_cmp(json_int(json, "usage", "block_write_bytes"), ==, 4096);
	assert_cmp(json_int(json, "usage", "net_rx_bytes"), ==, 100);
	cr_assert(json_int(json, "usage", "samples") >= 3, "%s", json);
	free(json);
	free(n);
}

Test(live, a_stats_stream_gives_lines_until_the_job_ends)
{
	start_ok("t1", NULL);
	int fd = -1;
	dms_error *err = NULL;
	cr_assert_eq(executor_stats_stream(ex, NULL, "t1", &fd, &err), 0, "%s",
	             err ? err->message : "");
	char buf[8192];
	size_t len = 0;
	int lines = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (lines < 2 && poll(&p, 1, (int)DEADLINE_MS) == 1) {
		ssize_t got = read(fd, buf + len, sizeof(buf) - len - 1);
		cr_assert(got > 0, "stream ended early");
		for (ssize_t i = 0; i < got; i++)
			lines += buf[len + (size_t)i] == '\n';
		len += (size_t)got;
	}
	buf[len] = '\0';
	cr_assert_geq(lines, 2, "%s", buf);
	cr_assert(strstr(buf, "\"execution_id\":\"t1\""), "%s", buf);
	char *n = cname("t1");
	assert_cmp(fake_runtime_exit(NULL, n, 0, NULL, NULL, false), ==, 0);
	free(wait_result("t1"));
	/* EOF once the job ended. */
	ssize_t got = 1;
	while (got > 0 && poll(&p, 1, (int)DEADLINE_MS) == 1)
		got = read(fd, buf, sizeof(buf));
	assert_cmp(got, ==, 0);
	close(fd);
	free(n);
}

Test(live, inspect_of_a_running_job)
{
	start_ok("i1", NULL);
	char *json = NULL;
	dms_error *err = NULL;
	cr_assert_eq(executor_inspect(ex, NULL, "i1", &json, &err), 0, "%s",
	             err ? err->message : "");
	cr_assert(strstr(json, "\"state\":\"running\""), "%s", json);
	cr_assert(strstr(json, "\"image_id\":\"sha256:fake\""), "%s", json);
	cr_assert(strstr(json, "\"exit_code\":null"), "%s", json);
	cr_assert(strstr(json, "\"finished_at\":null"), "%s", json);
	free(json);
}
