/* test_executor.c — the executor's own logic on the fake runtime: what a
 * real engine cannot be made to do on demand (drop its event stream at the
 * wrong moment, fail an operation after a create, go down mid-job) and the
 * bookkeeping around it (retention, recovery, failed starts). The real
 * behaviour is proven by tests/integration against dockerd and Podman. */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
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
#include "test_time.h"
#include "labels.h"
#include "test_assert.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define DEADLINE_MS test_ms(5000) /* scaled under valgrind: test_time.h */

static struct dms_executor *ex;

static struct dms_executor *new_exec(const char *id, const char *extra)
{
	return exec_fixture_new(id, NULL, extra);
}

static void setup(void)
{
	exec_fixture_setup("unit");
	ex = new_exec("unit", NULL);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
}

static void teardown(void)
{
	exec_fixture_teardown(&ex);
}

TestSuite(executor, .init = setup, .fini = teardown, .timeout = 30);

static char *request(const char *exec_id, const char *extra_top)
{
	char *r = NULL;
	cr_assert(asprintf(&r,
	                   "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"%s\"}}%s%s}",
	                   exec_id, IMAGE, extra_top ? "," : "", extra_top ? extra_top : "") > 0);
	return r;
}

static char *cname(const char *exec_id)
{
	return labels_container_name("unit", exec_id);
}

static void start_ok(const char *exec_id)
{
	char *r = request(exec_id, NULL);
	dms_error *err = NULL;
	cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "start: %s", err ? err->message : "");
	free(r);
}

/* Waits with a deadline; returns the result's exit_code (asserts success). */
static long long wait_exit(const char *exec_id, char **json_out)
{
	dms_context *ctx = ctx_new(DEADLINE_MS);
	char *json = NULL;
	dms_error *err = NULL;
	int rc = executor_wait(ex, ctx, exec_id, &json, &err);
	ctx_free(ctx);
	cr_assert_eq(rc, 0, "wait %s: %d %s", exec_id, rc, err ? err->message : "");
	yajl_val v = yajl_tree_parse(json, NULL, 0);
	const char *path[] = {"exit_code", NULL};
	long long code = YAJL_GET_INTEGER(yajl_tree_get(v, path, yajl_t_number));
	yajl_tree_free(v);
	if (json_out)
		*json_out = json;
	else
		free(json);
	return code;
}

Test(executor, exit_reported_from_the_event_stream)
{
	start_ok("e1");
	char *n = cname("e1");
	assert_cmp(fake_runtime_exit(NULL, n, 3, "out\n", "err\n", false), ==, 0);
	char *json;
	assert_cmp(wait_exit("e1", &json), ==, 3);
	cr_assert(strstr(json, "\"stdout\":\"out\\n\""), "%s", json);
	cr_assert(strstr(json, "\"stderr\":\"err\\n\""), "%s", json);
	/* The container is removed after the harvest, off the critical path. */
	cr_assert(fake_runtime_wait_gone(n, DEADLINE_MS), "container not removed");
	free(json);
	free(n);
}

Test(executor, exit_while_the_stream_was_down_is_found_by_the_relist)
{
	start_ok("e2");
	char *n = cname("e2");
	fake_runtime_set_down(true); /* drops the stream: the die is never sent */
	fake_runtime_set_down(false);
	/* The container exits while nobody listens... */
	fake_runtime_drop_streams();
	assert_cmp(fake_runtime_exit(NULL, n, 0, "late\n", NULL, false), ==, 0);
	/* ...and the resync on reconnect finds it. */
	assert_cmp(wait_exit("e2", NULL), ==, 0);
	free(n);
}

Test(executor, oom_event_sets_oom_killed)
{
	start_ok("oom");
	char *n = cname("oom");
	fake_runtime_exit(NULL, n, 137, "partial\n", NULL, true);
	char *json;
	assert_cmp(wait_exit("oom", &json), ==, 137);
	cr_assert(strstr(json, "\"oom_killed\":true"), "%s", json);
	cr_assert(strstr(json, "\"stdout\":\"partial\\n\""), "kept output: %s", json);
	free(json);
	free(n);
}

Test(executor, start_failing_after_create_leaves_no_container)
{
	fake_runtime_fail_next("container_start", DMS_ERR_CONTAINER, 1);
	char *r = request("bad-start", NULL);
	dms_error *err = NULL;
	assert_cmp(executor_start(ex, NULL, r, &err), ==, DMS_ERR_CONTAINER);
	err_free(err);
	cr_assert_eq(fake_runtime_count("org.dms.execution=bad-start"), 0, "orphan left");
	/* The id is free again. */
	assert_cmp(executor_start(ex, NULL, r, NULL), ==, 0);
	free(r);
}

Test(executor, create_failure_is_reported_with_context)
{
	fake_runtime_fail_next("container_create", DMS_ERR_CONTAINER, 1);
	char *r = request("bad-create", NULL);
	dms_error *err = NULL;
	assert_cmp(executor_start(ex, NULL, r, &err), ==, DMS_ERR_CONTAINER);
	cr_assert(err && err->message, "no error object");
	err_free(err);
	free(r);
	char *json = NULL;
	assert_cmp(executor_wait(ex, NULL, "bad-create", &json, NULL), ==, DMS_ERR_NOT_FOUND);
}

Test(executor, engine_down_at_start_is_runtime_unavailable)
{
	fake_runtime_set_down(true);
	char *r = request("down", NULL);
	dms_error *err = NULL;
	assert_cmp(executor_start(ex, NULL, r, &err), ==, DMS_ERR_RUNTIME_UNAVAILABLE);
	err_free(err);
	fake_runtime_set_down(false);
	free(r);
}

Test(executor, pull_policy)
{
	const char *never =
	    "{\"job_id\":\"j\",\"execution_id\":\"n1\",\"engine_spec\":{\"type\":"
	    "\"docker\",\"params\":{\"image\":\"fake/remote:1\",\"pull_policy\":\"never\"}}}";
	dms_error *err = NULL;
	assert_cmp(executor_start(ex, NULL, never, &err), ==, DMS_ERR_IMAGE);
	cr_assert(strstr(err->message, "fake/remote:1"), "%s", err->message);
	err_free(err);
	cr_assert_eq(fake_runtime_op_count("image_pull"), 0,
	             "fake_runtime_op_count(\"image_pull\") = %lld",
	             (long long)(fake_runtime_op_count("image_pull")));
	fake_runtime_add_registry_image("fake/remote:1");
	const char *pull = "{\"job_id\":\"j\",\"execution_id\":\"n2\",\"engine_spec\":{\"type\":"
	                   "\"docker\",\"params\":{\"image\":\"fake/remote:1\"}}}";
	assert_cmp(executor_start(ex, NULL, pull, NULL), ==, 0);
	cr_assert_eq(fake_runtime_op_count("image_pull"), 1,
	             "fake_runtime_op_count(\"image_pull\") = %lld",
	             (long long)(fake_runtime_op_count("image_pull")));
}

Test(executor, retention_frees_finished_handlers)
{
	executor_destroy(ex);
	ex = new_exec("unit", "retention: 100ms\n");
	start_ok("short");
	char *n = cname("short");
	fake_runtime_exit(NULL, n, 0, NULL, NULL, false);
	assert_cmp(wait_exit("short", NULL), ==, 0);
	/* Poll (deadline) until the janitor retired it. */
	int64_t end = mono_now_ns() + DEADLINE_MS * 1000000LL;
	char *json = NULL;
	int rc;
	do {
		rc = executor_wait(ex, NULL, "short", &json, NULL);
		free(json);
		json = NULL;
	} while (rc == 0 && mono_now_ns() < end);
	cr_assert_eq(rc, DMS_ERR_NOT_FOUND, "still retained after %lld ms", (long long)DEADLINE_MS);
	free(n);
}

Test(executor, recovery_adopts_running_harvests_exited_removes_created)
{
	const char *const run_labels[] = {"org.dms.executor=unit", "org.dms.job=j",
	                                  "org.dms.execution=r-run", NULL};
	const char *const exit_labels[] = {"org.dms.executor=unit", "org.dms.job=j",
	                                   "org.dms.execution=r-exit", NULL};
	const char *const new_labels[] = {"org.dms.executor=unit", "org.dms.job=j",
	                                  "org.dms.execution=r-new", NULL};
	const char *const foreign[] = {"org.dms.executor=other", "org.dms.job=j",
	                               "org.dms.execution=r-foreign", NULL};
	executor_destroy(ex);
	char *n_run = cname("r-run"), *n_exit = cname("r-exit"), *n_new = cname("r-new");
	free(fake_runtime_add_container(n_run, IMAGE, run_labels, CS_RUNNING, 0));
	free(fake_runtime_add_container(n_exit, IMAGE, exit_labels, CS_EXITED, 9));
	free(fake_runtime_add_container(n_new, IMAGE, new_labels, CS_CREATED, 0));
	free(fake_runtime_add_container("foreign", IMAGE, foreign, CS_EXITED, 1));
	ex = new_exec("unit", NULL);
	/* Known at once (NewExecutor resyncs before returning). */
	assert_cmp(wait_exit("r-exit", NULL), ==, 9);
	cr_assert(fake_runtime_wait_gone(n_new, DEADLINE_MS), "never-started container kept");
	fake_runtime_exit(NULL, n_run, 4, "x\n", NULL, false);
	assert_cmp(wait_exit("r-run", NULL), ==, 4);
	cr_assert(fake_runtime_exists("foreign"), "touched a foreign container");
	char *json = NULL;
	assert_cmp(executor_wait(ex, NULL, "r-foreign", &json, NULL), ==, DMS_ERR_NOT_FOUND);
	free(n_run);
	free(n_exit);
	free(n_new);
}

Test(executor, cancel_ignoring_sigterm_is_killed_by_the_janitor)
{
	start_ok("stubborn");
	char *n = cname("stubborn");
	fake_runtime_set_ignores_sigterm(n, true);
	int64_t t0 = mono_now_ns();
	assert_cmp(executor_cancel(ex, NULL, "stubborn", NULL), ==, 0);
	char *json;
	assert_cmp(wait_exit("stubborn", &json), ==, 137);
	int64_t ms = (mono_now_ns() - t0) / 1000000;
	cr_assert(ms >= 900, "SIGKILL before the 1 s grace: %lld ms", (long long)ms);
	cr_assert(strstr(json, "\"cancelled\":true"), "%s", json);
	free(json);
	free(n);
}

Test(executor, many_jobs_constant_threads)
{
	char id[32];
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "m-%d", i);
		start_ok(id);
	}
	cr_assert_eq(fake_runtime_stream_count(), 1, "one event stream per executor");
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "m-%d", i);
		char *n = cname(id);
		fake_runtime_exit(NULL, n, i % 7, NULL, NULL, false);
		free(n);
	}
	for (int i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "m-%d", i);
		assert_cmp(wait_exit(id, NULL), ==, i % 7);
	}
}

struct slot {
	int calls;
	int category;
};

static void count_call(void *ud, const char *id, const char *res, const dms_error *err)
{
	(void)id;
	(void)res;
	struct slot *s = ud;
	s->calls++;
	s->category = err ? (int)err->category : 0;
}

Test(executor, destroy_fails_pending_waiters)
{
	start_ok("pending");
	struct dms_executor *e = ex;
	ex = NULL;
	struct slot slot = {0, 0};
	assert_cmp(executor_wait_async(e, "pending", count_call, &slot, NULL), ==, 0);
	executor_destroy(e);
	cr_assert_eq(slot.calls, 1, "slot.calls = %lld", (long long)(slot.calls));
	cr_assert_eq(slot.category, DMS_ERR_CANCELLED, "slot.category = %lld",
	             (long long)(slot.category));
}

Test(executor, cancel_survives_an_executor_restart)
{
	start_ok("persist");
	char *n = cname("persist");
	fake_runtime_set_ignores_sigterm(n, true);
	/* Cancel returns only once the container stopped; do it with a context
	 * that ends first, as if the host died during the grace period. */
	dms_context *ctx = ctx_new(100);
	assert_cmp(executor_cancel(ex, ctx, "persist", NULL), ==, DMS_ERR_TIMEOUT);
	ctx_free(ctx);
	executor_destroy(ex);
	cr_assert_eq(fake_runtime_status(n), CS_RUNNING, "the stubborn job should still run");
	ex = new_exec("unit", NULL);
	char *json;
	cr_assert_eq(wait_exit("persist", &json), 137, "the successor did not finish the cancel");
	cr_assert(strstr(json, "\"cancelled\":true"), "%s", json);
	free(json);
	free(n);
}

struct bg_start {
	const char *exec_id;
	int rc;
	pthread_t t;
};

static void *start_thread(void *arg)
{
	struct bg_start *b = arg;
	char *r = NULL;
	assert_cmp(asprintf(&r,
	                    "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                    "\"docker\",\"params\":{\"image\":\"fake/shared:1\"}}}",
	                    b->exec_id),
	           >, 0);
	b->rc = executor_start(ex, NULL, r, NULL);
	free(r);
	return NULL;
}

Test(executor, concurrent_starts_share_one_pull)
{
	fake_runtime_add_registry_image("fake/shared:1");
	fake_runtime_set_pull_gate(true, false);
	struct bg_start b[4] = {
	    {.exec_id = "s0"}, {.exec_id = "s1"}, {.exec_id = "s2"}, {.exec_id = "s3"}};
	for (int i = 0; i < 4; i++)
		pthread_create(&b[i].t, NULL, start_thread, &b[i]);
	/* Wait (deadline) until the first pull is in, then let it finish. */
	int64_t end = mono_now_ns() + DEADLINE_MS * 1000000LL;
	while (fake_runtime_op_count("image_pull") == 0 && mono_now_ns() < end)
		sched_yield();
	fake_runtime_set_pull_gate(false, false);
	for (int i = 0; i < 4; i++) {
		pthread_join(b[i].t, NULL);
		cr_assert_eq(b[i].rc, 0, "start %s: %d", b[i].exec_id, b[i].rc);
	}
	/* Starts that came after the pull finished find the image present. */
	cr_assert_eq(fake_runtime_op_count("image_pull"), 1, "pulls: %d",
	             fake_runtime_op_count("image_pull"));
}

Test(executor, pull_without_progress_times_out_with_progress_does_not)
{
	executor_destroy(ex);
	ex = new_exec("unit", "pull_progress_timeout: 200ms\npull_timeout: 2s\n");
	fake_runtime_add_registry_image("fake/slow:1");
	fake_runtime_set_pull_gate(true, false);
	const char *req = "{\"job_id\":\"j\",\"execution_id\":\"slow\",\"engine_spec\":{\"type\":"
	                  "\"docker\",\"params\":{\"image\":\"fake/slow:1\"}}}";
	dms_error *err = NULL;
	int64_t t0 = mono_now_ns();
	assert_cmp(executor_start(ex, NULL, req, &err), ==, DMS_ERR_TIMEOUT);
	int64_t ms = (mono_now_ns() - t0) / 1000000;
	cr_assert(ms >= 150 && ms < 1500, "gave up after %lld ms", (long long)ms);
	cr_assert(strstr(err->message, "no progress"), "%s", err->message);
	err_free(err);
	err = NULL;
	/* Progress keeps it alive until the total limit. */
	fake_runtime_set_pull_gate(true, true);
	t0 = mono_now_ns();
	assert_cmp(executor_start(ex, NULL, req, &err), ==, DMS_ERR_TIMEOUT);
	ms = (mono_now_ns() - t0) / 1000000;
	cr_assert(ms >= 1800, "a progressing pull was cut after %lld ms", (long long)ms);
	cr_assert(strstr(err->message, "pull_timeout"), "%s", err->message);
	err_free(err);
	fake_runtime_set_pull_gate(false, false);
}

/* A follower of a job that prints nothing holds a thread until its reader
 * leaves — not until the job ends. */
Test(executor, idle_follower_ends_when_its_reader_closes)
{
	dms_error *err = NULL;
	int fd = -1;
	int64_t deadline;

	start_ok("idle");
	cr_assert_eq(executor_get_log_stream(
	                 ex, NULL, "{\"execution_id\":\"idle\",\"follow\":true}", &fd, &err),
	             0, "log stream: %s", err ? err->message : "");
	pthread_mutex_lock(&ex->mu);
	cr_assert_eq(ex->log_threads, 1, "log threads %d", ex->log_threads);
	pthread_mutex_unlock(&ex->mu);
	close(fd);
	deadline = mono_now_ns() + DEADLINE_MS * 1000000LL;
	pthread_mutex_lock(&ex->mu);
	while (ex->log_threads > 0 && mono_now_ns() < deadline)
		ctx_cond_wait(NULL, &ex->cond, &ex->mu, mono_now_ns() + 100 * 1000000LL);
	cr_assert_eq(ex->log_threads, 0, "a follower outlived its reader: %d threads",
	             ex->log_threads);
	pthread_mutex_unlock(&ex->mu);
}

/* A follow whose engine read fails with 404 (the container was harvested
 * and removed under it) completes from the spool: NOT_FOUND is category 1,
 * which once read as "the reader left" and ended the stream empty. */
Test(executor, follow_failing_with_not_found_completes_from_the_spool)
{
	dms_error *err = NULL;
	char buf[256], *n;
	size_t got = 0;
	int fd = -1;
	int64_t deadline = mono_now_ns() + DEADLINE_MS * 1000000LL;

	start_ok("nf");
	fake_runtime_fail_next("container_logs", DMS_ERR_NOT_FOUND, 1);
	cr_assert_eq(executor_get_log_stream(
	                 ex, NULL, "{\"execution_id\":\"nf\",\"follow\":true,\"format\":\"plain\"}",
	                 &fd, &err),
	             0, "log stream: %s", err ? err->message : "");
	while (fake_runtime_op_count("container_logs") < 1 && mono_now_ns() < deadline)
		sched_yield();
	cr_assert_geq(fake_runtime_op_count("container_logs"), 1, "the follower never read");
	n = cname("nf");
	fake_runtime_exit(NULL, n, 0, "complete\n", NULL, false);
	free(n);
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)((deadline - mono_now_ns()) / 1000000);
		ssize_t r;

		cr_assert_gt(left, 0, "no EOF in time; got \"%.*s\"", (int)got, buf);
		if (poll(&p, 1, left) <= 0)
			continue;
		r = read(fd, buf + got, sizeof(buf) - 1 - got);
		cr_assert_geq(r, 0, "read: %s", strerror(errno));
		if (r == 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = '\0';
	cr_assert_str_eq(buf, "complete\n", "buf = \"%s\"", buf);
}

/* A harvest whose log read fails while a forced removal is under way
 * (Cleanup, `docker rm -f`) is deferred to the next resync; if that finds
 * nothing to go on (here it keeps failing; on dockerd the container was
 * still listed as "removing"), the destroy event must finish the job: no
 * die comes again, and a waiter hung forever (seen on dockerd, 2 runs in
 * 4 of integration cleanup_removes_ours_and_nothing_else). */
Test(executor, destroy_event_finishes_a_deferred_harvest)
{
	int64_t deadline = mono_now_ns() + DEADLINE_MS * 1000000LL;
	char *n = cname("dd"), *json = NULL;
	dms_error *err = NULL;

	start_ok("dd");
	fake_runtime_fail_next("container_logs", DMS_ERR_CONTAINER, 1);
	fake_runtime_fail_next("container_list", DMS_ERR_RUNTIME_UNAVAILABLE, 1000000);
	int lists = fake_runtime_op_count("container_list");
	assert_cmp(fake_runtime_exit(NULL, n, 5, "x\n", NULL, false), ==, 0);
	/* The harvest read the log and failed; the resync it asked for ran
	 * (so the exit is forgotten again) and failed too. */
	while ((fake_runtime_op_count("container_logs") < 1 ||
	        fake_runtime_op_count("container_list") <= lists) &&
	       mono_now_ns() < deadline)
		sched_yield();
	cr_assert_geq(fake_runtime_op_count("container_logs"), 1, "no harvest");
	cr_assert_gt(fake_runtime_op_count("container_list"), lists, "no resync");
	assert_cmp(ex->rt_ops->container_remove(ex->rt, NULL, n, true, NULL), ==, 0);

	dms_context *ctx = ctx_new(DEADLINE_MS);
	int rc = executor_wait(ex, ctx, "dd", &json, &err);
	ctx_free(ctx);
	cr_assert_eq(rc, 0, "wait: %d %s", rc, err ? err->message : "");
	cr_assert(strstr(json, "vanished"), "%s", json);
	/* A failing resync is retried once per janitor tick (1 s), not in a
	 * loop: it once spun on an engine that was down. */
	cr_assert_leq(fake_runtime_op_count("container_list") - lists, 8, "%d lists",
	              fake_runtime_op_count("container_list") - lists);
	fake_runtime_fail_next("container_list", DMS_ERR_RUNTIME_UNAVAILABLE, 0);
	free(json);
	free(n);
}
