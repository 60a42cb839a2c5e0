/* test_start_job.c — executor/start.c's ABI 1.2 start_job and the one
 * execution-id generator, and work_queue.c's answer to a harvest that
 * cannot be queued (an injected allocation failure: the job must still
 * finish, its waiters must not hang). */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "context.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor_internal.h"
#include "fake_runtime.h"
#include "labels.h"
#include "test_time.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define QUICK "fake/quick:1" /* exits 5 right after start */
#define DEADLINE_MS test_ms(5000)

static struct dms_executor *ex;

/* (Re)makes ex with extra config lines. */
static void open_executor(const char *extra)
{
	executor_destroy(ex);
	ex = exec_fixture_new("unit", NULL, extra);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
}

static void setup(void)
{
	exec_fixture_setup("unit");
	fake_runtime_add_image_autoexit(QUICK, 5, "quick\n", NULL);
	ex = NULL;
	open_executor(NULL);
}

static void teardown(void)
{
	executor_test_failing_work_allocs = 0;
	exec_fixture_teardown(&ex);
}

TestSuite(start_job, .init = setup, .fini = teardown, .timeout = 30);
TestSuite(work_queue, .init = setup, .fini = teardown, .timeout = 30);

/* A request for image, with `"execution_id":"<id>",` when id is given. */
static char *request(const char *id, const char *image)
{
	char *r = NULL;
	cr_assert(asprintf(&r,
	                   "{\"job_id\":\"j\",%s%s%s\"engine_spec\":{\"type\":\"docker\","
	                   "\"params\":{\"image\":\"%s\"}}}",
	                   id ? "\"execution_id\":\"" : "", id ? id : "", id ? "\"," : "",
	                   image) > 0);
	return r;
}

static bool is_generated_id(const char *id)
{
	regex_t re;
	cr_assert_eq(regcomp(&re, "^run-[0-9]+-[0-9a-f]{8}$", REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&re, id, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

/* Waits with a deadline; returns the result's exit_code (asserts success). */
static long long wait_exit(const char *id)
{
	dms_context *ctx = ctx_new(DEADLINE_MS);
	char *json = NULL;
	dms_error *err = NULL;
	int rc = executor_wait(ex, ctx, id, &json, &err);
	ctx_free(ctx);
	cr_assert_eq(rc, 0, "wait %s: %d %s", id, rc, err ? err->message : "");
	yajl_val v = yajl_tree_parse(json, NULL, 0);
	const char *path[] = {"exit_code", NULL};
	long long code = YAJL_GET_INTEGER(yajl_tree_get(v, path, yajl_t_number));
	yajl_tree_free(v);
	free(json);
	return code;
}

Test(start_job, generated_ids_have_the_documented_form)
{
	long long before = (long long)time(NULL);
	char *a = executor_new_execution_id(), *b = executor_new_execution_id();
	cr_assert(a && b);
	cr_assert(is_generated_id(a), "id \"%s\"", a);
	cr_assert(is_generated_id(b), "id \"%s\"", b);
	long long secs = strtoll(a + 4, NULL, 10);
	cr_assert(secs >= before && secs <= (long long)time(NULL), "seconds %lld, now %lld", secs,
	          (long long)time(NULL));
	cr_assert_str_neq(a, b, "two ids alike: %s", a);
	free(a);
	free(b);
}

Test(start_job, a_request_without_id_gets_one_and_can_be_waited_for)
{
	char *r = request(NULL, IMAGE), *id = NULL;
	dms_error *err = NULL;
	cr_assert_eq(executor_start_job(ex, NULL, r, &id, &err), 0, "start_job: %s",
	             err ? err->message : "");
	cr_assert(id && is_generated_id(id), "id \"%s\"", id ? id : "(null)");
	char *n = labels_container_name("unit", id);
	cr_assert(fake_runtime_exists(n), "no container %s for %s", n, id);
	cr_assert_eq(fake_runtime_exit(NULL, n, 4, "out\n", NULL, false), 0);
	cr_assert_eq(wait_exit(id), 4);
	free(n);
	free(id);
	free(r);
}

/* Each request without an id is a new execution: two start_jobs of the
 * same request run two jobs under two ids, never "already started". */
Test(start_job, two_requests_without_id_are_two_executions)
{
	char *r = request(NULL, QUICK), *a = NULL, *b = NULL;
	dms_error *err = NULL;
	int rc = executor_start_job(ex, NULL, r, &a, &err);
	cr_assert_eq(rc, 0, "first start_job: rc %d (%s)", rc, err ? err->message : "");
	rc = executor_start_job(ex, NULL, r, &b, &err);
	cr_assert_eq(rc, 0, "second start_job: rc %d (%s)", rc, err ? err->message : "");
	cr_assert_str_neq(a, b, "both executions got the id %s", a);
	cr_assert_eq(wait_exit(a), 5, "exit of %s", a);
	cr_assert_eq(wait_exit(b), 5, "exit of %s", b);
	free(a);
	free(b);
	free(r);
}

Test(start_job, the_requests_own_id_is_kept)
{
	char *r = request("mine-1", QUICK), *id = NULL;
	dms_error *err = NULL;
	cr_assert_eq(executor_start_job(ex, NULL, r, &id, &err), 0, "start_job: %s",
	             err ? err->message : "");
	cr_assert_str_eq(id, "mine-1");
	cr_assert_eq(wait_exit("mine-1"), 5);
	/* Started again: the same errors as start. */
	char *again = NULL;
	cr_assert_eq(executor_start_job(ex, NULL, r, &again, NULL), DMS_ERR_ALREADY_FINISHED);
	cr_assert_null(again, "an id handed out on failure: %s", again);
	free(id);
	free(r);
}

Test(start_job, bad_requests_are_refused_and_hand_out_nothing)
{
	static const struct {
		const char *request, *message;
	} cases[] = {
	    {NULL, "request: required"},
	    {"{", NULL},
	    {"{\"execution_id\":\"x\"}", "job_id"},
	    {"{\"job_id\":\"j\",\"execution_id\":\"bad id\",\"engine_spec\":{\"type\":\"docker\","
	     "\"params\":{\"image\":\"fake/busybox:1\"}}}",
	     "execution_id"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *id = NULL;
		dms_error *err = NULL;
		int rc = executor_start_job(ex, NULL, cases[i].request, &id, &err);
		cr_assert_eq(rc, DMS_ERR_INVALID_ARGUMENT, "case %zu: rc %d (%s)", i, rc,
		             err ? err->message : "");
		cr_assert_null(id, "case %zu: id %s", i, id);
		cr_assert(err && err->message, "case %zu: no error", i);
		if (cases[i].message)
			cr_assert(strstr(err->message, cases[i].message),
			          "case %zu: \"%s\" lacks \"%s\"", i, err->message,
			          cases[i].message);
		err_free(err);
	}
	cr_assert_eq(registry_count(ex->reg), 0, "%zu executions left", registry_count(ex->reg));
}

Test(start_job, start_still_requires_an_id_and_run_does_not)
{
	char *r = request(NULL, QUICK);
	dms_error *err = NULL;
	cr_assert_eq(executor_start(ex, NULL, r, &err), DMS_ERR_INVALID_ARGUMENT);
	cr_assert(err && strstr(err->message, "execution_id: required"), "start: %s",
	          err ? err->message : "(no error)");
	err_free(err);
	err = NULL;
	char *json = NULL;
	dms_context *ctx = ctx_new(DEADLINE_MS);
	cr_assert_eq(executor_run(ex, ctx, r, &json, &err), 0, "run: %s", err ? err->message : "");
	ctx_free(ctx);
	cr_assert(strstr(json, "\"exit_code\":5"), "%s", json);
	free(json);
	free(r);
}

/* The harvest of an exit seen while no work item could be allocated: the
 * exit is unseen again and the janitor's next relist finds it. Before,
 * the item was dropped with the exit marked seen, which the relist and
 * the janitor skip: the job stayed RUNNING and this wait timed out. */
Test(work_queue, a_harvest_that_cannot_be_queued_is_found_again)
{
	char *r = request("oom-1", IMAGE);
	cr_assert_eq(executor_start(ex, NULL, r, NULL), 0);
	char *n = labels_container_name("unit", "oom-1");
	executor_test_failing_work_allocs = 1;
	cr_assert_eq(fake_runtime_exit(NULL, n, 9, "late\n", NULL, false), 0);
	cr_assert_eq(wait_exit("oom-1"), 9);
	cr_assert_eq(executor_test_failing_work_allocs, 0, "the failure was never injected");
	cr_assert(fake_runtime_wait_gone(n, DEADLINE_MS), "container not removed");
	free(n);
	free(r);
}

/* Again and again: every relist that cannot queue it tries at the next tick. */
Test(work_queue, a_harvest_is_retried_until_it_can_be_queued)
{
	char *r = request("oom-2", IMAGE);
	cr_assert_eq(executor_start(ex, NULL, r, NULL), 0);
	char *n = labels_container_name("unit", "oom-2");
	executor_test_failing_work_allocs = 2;
	cr_assert_eq(fake_runtime_exit(NULL, n, 0, NULL, NULL, false), 0);
	cr_assert_eq(wait_exit("oom-2"), 0);
	cr_assert_eq(executor_test_failing_work_allocs, 0);
	free(n);
	free(r);
}

/* A removal that cannot be queued (here the one a follower still reading
 * the engine was handed): the finished job's container is a leftover that
 * the next tick's relist queues again. */
Test(work_queue, a_removal_that_cannot_be_queued_is_queued_again)
{
	/* A cut spool keeps the follower on the engine after the harvest, so
	 * the removal is deferred to it. */
	open_executor("log_spool_limit: 4\n");
	fake_runtime_set_follow_sticky(true);
	char *r = request("oom-3", IMAGE);
	char *n = labels_container_name("unit", "oom-3");
	cr_assert_eq(executor_start(ex, NULL, r, NULL), 0);
	int fd = -1;
	cr_assert_eq(executor_get_log_stream(
	                 ex, NULL, "{\"execution_id\":\"oom-3\",\"follow\":true}", &fd, NULL),
	             0);
	int64_t until = mono_now_ns() + DEADLINE_MS * 1000000LL;
	while (fake_runtime_op_count("container_logs") < 1 && mono_now_ns() < until)
		sched_yield();
	cr_assert_eq(fake_runtime_exit(NULL, n, 0, "0123456789\n", NULL, false), 0);
	cr_assert_eq(wait_exit("oom-3"), 0);
	executor_test_failing_work_allocs = 1;
	fake_runtime_set_follow_sticky(false); /* the follower leaves: the removal is due */
	char buf[256];
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	cr_assert(fake_runtime_wait_gone(n, DEADLINE_MS), "container left behind");
	cr_assert_eq(executor_test_failing_work_allocs, 0, "the failure was never injected");
	free(n);
	free(r);
}
