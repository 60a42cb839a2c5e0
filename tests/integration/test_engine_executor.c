/* test_engine_executor.c — the eight operations through the plugin ABI,
 * against a real engine. The plugin is dlopen()ed like any third-party host
 * would; the engine is DMS_ENGINE (this binary runs once per engine). The
 * runtime table is used directly only to look at the engine from outside
 * (what is left behind, foreign objects for Cleanup). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "itest.h"
#include "test_time.h"
#include "labels.h"
#include "runtime.h"
#include "test_assert.h"

static struct itest_plugin P;
static dms_executor *ex;
static char *ex_id;
static const struct runtime_ops *rt_ops;
static struct runtime *rt;

static dms_executor *new_executor(const char *id, const char *extra_cfg)
{
	char *cfg = itest_config(extra_cfg);
	dms_executor *e = NULL;
	dms_error *err = NULL;
	int rc = P.ops->new_executor(id, cfg, &e, &err);
	cr_assert_eq(rc, 0, "new_executor: %s", err ? err->message : "?");
	free(cfg);
	return e;
}

static void setup(void)
{
	itest_plugin_load(&P);
	ex_id = itest_unique_id("it");
	ex = new_executor(ex_id, NULL);
	rt_ops = runtime_by_name(itest_engine());
	cr_assert(rt_ops, "no runtime %s", itest_engine());
	assert_cmp(rt_ops->open(itest_engine_host(), &rt, NULL), ==, 0);
}

static void teardown(void)
{
	if (ex) {
		P.ops->cleanup(ex, NULL, NULL);
		P.ops->destroy(ex);
	}
	ex = NULL;
	if (rt)
		rt_ops->close(rt);
	rt = NULL;
	free(ex_id);
	itest_plugin_unload(&P);
}

TestSuite(executor, .init = setup, .fini = teardown, .timeout = 120);

/* Containers on the engine labelled with this executor's id. */
static size_t containers_left(const char *executor_id)
{
	char *label = NULL;
	assert_cmp(asprintf(&label, "%s=%s", LABEL_EXECUTOR, executor_id), >, 0);
	struct container_summary *list = NULL;
	size_t n = 0;
	assert_cmp(rt_ops->container_list(rt, NULL, label, &list, &n, NULL), ==, 0);
	container_summaries_free(list, n);
	free(label);
	return n;
}

static char *run_ok(const char *exec_id, const char *script, const char *params, const char *top)
{
	char *req = itest_request(exec_id, script, params, top), *res = NULL;
	dms_error *err = NULL;
	int rc = P.ops->run(ex, NULL, req, &res, &err);
	cr_assert_eq(rc, 0, "run %s: %d %s", exec_id, rc, err ? err->message : "");
	free(req);
	return res;
}

static void start_ok(const char *exec_id, const char *script, const char *params, const char *top)
{
	itest_start_ok(&P, ex, exec_id, script, params, top);
}

static char *wait_ok(const char *exec_id)
{
	return itest_wait_ok(&P, ex, exec_id);
}

Test(executor, exports_only_the_entry_symbol)
{
	char *cmd = NULL;
	assert_cmp(
	    asprintf(&cmd,
	             "nm -D --defined-only %s | awk '$2 != \"A\" {sub(/@.*/, \"\", $3); print $3}'",
	             DMS_PLUGIN_PATH),
	    >, 0);
	FILE *f = popen(cmd, "r");
	cr_assert(f, "f is false");
	char line[256], all[4096] = "";
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		strncat(all, line, sizeof(all) - strlen(all) - 1);
		n++;
	}
	pclose(f);
	free(cmd);
	cr_assert_eq(n, 1, "exported: %s", all);
	cr_assert_str_eq(all, "dms_executor_plugin_entry\n", "all = \"%s\"", all);
}

Test(executor, refuses_an_unknown_abi_major)
{
	dms_executor_plugin_entry_fn entry =
	    (dms_executor_plugin_entry_fn)dlsym(P.dl, DMS_EXECUTOR_ENTRY_SYMBOL);
	cr_assert_null(entry(DMS_EXECUTOR_ABI_MAJOR + 1));
	cr_assert(DMS_OP_AVAILABLE(P.ops, list));
}

Test(executor, is_installed_true_with_fingerprint)
{
	bool installed = false;
	char *info = NULL;
	assert_cmp(P.ops->is_installed(ex, NULL, &installed, &info, NULL), ==, 0);
	cr_assert(installed, "engine at %s not reported installed: %s", itest_engine_host(), info);
	yajl_val v = itest_json(info);
	cr_assert_str_eq(itest_str(v, "runtime"), itest_engine(), "fingerprint: %s", info);
	cr_assert(itest_str(v, "api_version"), "fingerprint: %s", info);
	yajl_tree_free(v);
	P.ops->string_free(info);
}

Test(executor, is_installed_false_without_engine_and_fast)
{
	char *id = itest_unique_id("noengine");
	char *cfg = NULL;
	assert_cmp(
	    asprintf(&cfg, "runtime: %s\nhost: unix:///nonexistent/dms.sock\n", itest_engine()), >,
	    0);
	dms_executor *e = NULL;
	assert_cmp(P.ops->new_executor(id, cfg, &e, NULL), ==, 0);
	bool installed = true;
	int64_t t0 = itest_now_ms();
	assert_cmp(P.ops->is_installed(e, NULL, &installed, NULL, NULL), ==, 0);
	cr_assert_not(installed, "installed is true");
	cr_assert_lt(itest_now_ms() - t0, test_ms(3000), "took %lld ms",
	             (long long)(itest_now_ms() - t0));
	/* Start fails clearly, naming the engine. */
	char *req = itest_request("x1", "true", NULL, NULL);
	dms_error *err = NULL;
	assert_cmp(P.ops->start(e, NULL, req, &err), ==, DMS_ERR_RUNTIME_UNAVAILABLE);
	cr_assert(strstr(err->message, "/nonexistent/dms.sock"), "message: %s", err->message);
	P.ops->error_free(err);
	free(req);
	P.ops->destroy(e);
	free(cfg);
	free(id);
}

Test(executor, run_echo_hello)
{
	char *res = run_ok("hello", "echo hello", NULL, NULL);
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 0, "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "hello\n", "%s", res);
	cr_assert_str_eq(itest_str(v, "stderr"), "", "%s", res);
	cr_assert_not(itest_bool(v, "stdout_truncated"));
	cr_assert_not(itest_bool(v, "cancelled"));
	cr_assert_not(itest_bool(v, "oom_killed"));
	cr_assert(itest_str(v, "started_at") && itest_str(v, "finished_at"), "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
}

ParameterizedTestParameters(executor, exit_codes)
{
	static int codes[] = {0, 1, 3, 42, 255};
	return cr_make_param_array(int, codes, sizeof(codes) / sizeof(codes[0]));
}

ParameterizedTest(int *code, executor, exit_codes)
{
	char id[32], script[64];
	snprintf(id, sizeof(id), "exit-%d", *code);
	snprintf(script, sizeof(script), "echo out; echo err >&2; exit %d", *code);
	char *res = run_ok(id, script, NULL, NULL);
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), *code, "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "out\n", "%s", res);
	cr_assert_str_eq(itest_str(v, "stderr"), "err\n", "%s", res);
	cr_assert_eq(itest_int(v, "signal"), 0, "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
}

Test(executor, self_kill_reports_signal_not_oom)
{
	/* The job's shell is PID 1, which its own SIGKILL cannot end; a child
	 * killing itself gives the shell's 128+9 convention the job returns. */
	char *res = run_ok("selfkill", "echo before; sh -c 'kill -9 $$'; exit $?", NULL, NULL);
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 137, "%s", res);
	cr_assert_eq(itest_int(v, "signal"), 9, "%s", res);
	cr_assert_not(itest_bool(v, "oom_killed"), "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "before\n", "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
}

Test(executor, start_twice_then_after_finish)
{
	start_ok("twice", "sleep 1", NULL, NULL);
	char *req = itest_request("twice", "true", NULL, NULL);
	dms_error *err = NULL;
	assert_cmp(P.ops->start(ex, NULL, req, &err), ==, DMS_ERR_ALREADY_STARTED);
	cr_assert(strstr(err->message, "twice"), "%s", err->message);
	P.ops->error_free(err);
	err = NULL;
	char *res = wait_ok("twice");
	assert_cmp(P.ops->start(ex, NULL, req, &err), ==, DMS_ERR_ALREADY_FINISHED);
	P.ops->error_free(err);
	P.ops->string_free(res);
	free(req);
}

Test(executor, missing_image_is_an_image_error_and_leaves_nothing)
{
	const char *req = "{\"job_id\":\"j\",\"execution_id\":\"noimg\",\"engine_spec\":{\"type\":"
	                  "\"docker\",\"params\":{\"image\":\"dms-test/does-not-exist:1\"}}}";
	dms_error *err = NULL;
	int rc = P.ops->start(ex, NULL, req, &err);
	cr_assert_eq(rc, DMS_ERR_IMAGE, "rc %d: %s", rc, err ? err->message : "");
	cr_assert(strstr(err->message, "dms-test/does-not-exist"), "%s", err->message);
	cr_assert(err->engine_text && *err->engine_text, "no engine text: %s", err->message);
	P.ops->error_free(err);
	err = NULL;
	cr_assert_eq(containers_left(ex_id), 0, "containers_left(ex_id) = %lld",
	             (long long)(containers_left(ex_id)));
	/* The failed id is free again, and unknown to Wait. */
	char *res = NULL;
	assert_cmp(P.ops->wait(ex, NULL, "noimg", &res, NULL), ==, DMS_ERR_NOT_FOUND);
}

Test(executor, invalid_request_names_the_field)
{
	dms_error *err = NULL;
	const char *req = "{\"job_id\":\"j\",\"execution_id\":\"bad\",\"engine_spec\":{\"type\":"
	                  "\"docker\",\"params\":{\"image\":\"x\",\"imagee\":1}}}";
	assert_cmp(P.ops->start(ex, NULL, req, &err), ==, DMS_ERR_INVALID_ARGUMENT);
	cr_assert(strstr(err->message, "imagee"), "%s", err->message);
	P.ops->error_free(err);
	cr_assert_eq(containers_left(ex_id), 0, "containers_left(ex_id) = %lld",
	             (long long)(containers_left(ex_id)));
}

Test(executor, wait_unknown_is_not_found_at_once)
{
	char *res = NULL;
	dms_error *err = NULL;
	int64_t t0 = itest_now_ms();
	assert_cmp(P.ops->wait(ex, NULL, "nope", &res, &err), ==, DMS_ERR_NOT_FOUND);
	assert_cmp(itest_now_ms() - t0, <, test_ms(100));
	cr_assert_str_eq(err->resource, "nope", "err->resource = \"%s\"", err->resource);
	P.ops->error_free(err);
}

Test(executor, wait_after_completion_returns_cached_result)
{
	char *a = run_ok("cached", "echo once", NULL, NULL);
	char *b = wait_ok("cached");
	cr_assert_str_eq(a, b, "a = \"%s\", b = \"%s\"", a, b);
	P.ops->string_free(a);
	P.ops->string_free(b);
}

struct waiter {
	const char *id;
	char *result;
	int rc;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;
	w->rc = P.ops->wait(ex, NULL, w->id, &w->result, NULL);
	return NULL;
}

struct async_slot {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int calls;
	char *result;
};

static void async_done(void *ud, const char *id, const char *result, const dms_error *err)
{
	(void)id;
	(void)err;
	struct async_slot *s = ud;
	pthread_mutex_lock(&s->mu);
	s->calls++;
	free(s->result);
	s->result = result ? strdup(result) : NULL;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->mu);
}

Test(executor, concurrent_waiters_get_the_same_result)
{
	start_ok("many", "sleep 0.5; echo done", NULL, NULL);
	struct waiter w[3] = {{.id = "many"}, {.id = "many"}, {.id = "many"}};
	pthread_t t[3];
	for (int i = 0; i < 3; i++)
		pthread_create(&t[i], NULL, wait_thread, &w[i]);
	struct async_slot s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, NULL};
	assert_cmp(P.ops->wait_async(ex, "many", async_done, &s, NULL), ==, 0);
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(w[i].rc, 0, "w[i].rc = %lld", (long long)(w[i].rc));
		cr_assert_str_eq(w[i].result, w[0].result,
		                 "w[i].result = \"%s\", w[0].result = \"%s\"", w[i].result,
		                 w[0].result);
	}
	pthread_mutex_lock(&s.mu);
	while (s.calls == 0)
		pthread_cond_wait(&s.cond, &s.mu); /* the waits above prove it ended */
	pthread_mutex_unlock(&s.mu);
	cr_assert_eq(s.calls, 1, "s.calls = %lld", (long long)(s.calls));
	cr_assert_str_eq(s.result, w[0].result, "s.result = \"%s\", w[0].result = \"%s\"", s.result,
	                 w[0].result);
	/* A late async waiter is called at once, exactly once. */
	assert_cmp(P.ops->wait_async(ex, "many", async_done, &s, NULL), ==, 0);
	cr_assert_eq(s.calls, 2, "s.calls = %lld", (long long)(s.calls));
	free(s.result);
	for (int i = 0; i < 3; i++)
		P.ops->string_free(w[i].result);
}

Test(executor, giving_up_a_wait_does_not_cancel)
{
	start_ok("giveup", "sleep 1; echo finished", NULL, NULL);
	dms_context *ctx = P.ops->context_new(100);
	char *res = NULL;
	dms_error *err = NULL;
	assert_cmp(P.ops->wait(ex, ctx, "giveup", &res, &err), ==, DMS_ERR_TIMEOUT);
	P.ops->error_free(err);
	P.ops->context_free(ctx);
	res = wait_ok("giveup");
	yajl_val v = itest_json(res);
	cr_assert_not(itest_bool(v, "cancelled"), "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "finished\n", "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
}

Test(executor, cancel_running_job)
{
	start_ok("cancel", "echo started; sleep 60", NULL, NULL);
	int64_t t0 = itest_now_ms();
	dms_error *err = NULL;
	cr_assert_eq(P.ops->cancel(ex, NULL, "cancel", &err), 0, "%s", err ? err->message : "");
	char *res = wait_ok("cancel");
	int64_t took = itest_now_ms() - t0;
	yajl_val v = itest_json(res);
	cr_assert(itest_bool(v, "cancelled"), "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "started\n", "%s", res);
	/* sh as PID 1 ignores SIGTERM's default action: killed after the 2 s grace. */
	cr_assert_lt(took, test_ms(2000 + 3000), "cancel took %lld ms", (long long)took);
	yajl_tree_free(v);
	/* Twice is harmless, and the result stays. */
	assert_cmp(P.ops->cancel(ex, NULL, "cancel", NULL), ==, 0);
	char *again = wait_ok("cancel");
	cr_assert_str_eq(res, again, "res = \"%s\", again = \"%s\"", res, again);
	P.ops->string_free(res);
	P.ops->string_free(again);
}

Test(executor, cancel_honours_sigterm_quickly)
{
	start_ok("term",
	         "trap 'echo term; exit 7' TERM; echo ready; while true; do sleep 0.05; done", NULL,
	         NULL);
	/* Wait until the trap is installed: the log shows "ready". */
	const char *lr = "{\"execution_id\":\"term\",\"follow\":true,\"format\":\"plain\"}";
	int fd = -1;
	assert_cmp(P.ops->get_log_stream(ex, NULL, lr, &fd, NULL), ==, 0);
	char buf[64] = "";
	size_t got = 0;
	int64_t end = itest_now_ms() + test_ms(10000);
	while (!strstr(buf, "ready") && itest_now_ms() < end && got < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
		cr_assert_gt(n, 0, "n = %lld", (long long)(n));
		got += (size_t)n;
		buf[got] = '\0';
	}
	int64_t t0 = itest_now_ms();
	dms_error *err = NULL;
	int rc = P.ops->cancel(ex, NULL, "term", &err);
	cr_assert_eq(rc, 0, "cancel: %d %s", rc, err ? err->message : "");
	char *res = wait_ok("term");
	/* A swarm stops a task through its node's agent: the update reaches
	 * it, it stops the container and reports back (≈ 1.2 s here). */
	assert_cmp(itest_now_ms() - t0, <, test_ms(itest_swarm() ? 3000 : 1500));
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 7, "%s", res);
	cr_assert(itest_bool(v, "cancelled"), "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "ready\nterm\n", "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
	char *rest = NULL;
	cr_assert_geq(itest_read_all(fd, &rest, test_ms(10000)), 0, "follow did not end with EOF");
	free(rest);
	close(fd);
}

Test(executor, cancel_ignoring_sigterm_is_killed_after_grace)
{
	start_ok("stubborn", "trap '' TERM; echo ready; while true; do sleep 0.05; done", NULL,
	         NULL);
	int64_t t0 = itest_now_ms();
	assert_cmp(P.ops->cancel(ex, NULL, "stubborn", NULL), ==, 0);
	char *res = wait_ok("stubborn");
	int64_t took = itest_now_ms() - t0;
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 137, "%s", res);
	cr_assert(itest_bool(v, "cancelled"), "%s", res);
	cr_assert_geq(took, 1900, "killed before the 2 s grace: %lld ms", (long long)took);
	cr_assert_lt(took, test_ms(6000), "took %lld ms", (long long)took);
	yajl_tree_free(v);
	P.ops->string_free(res);
}

Test(executor, cancel_unknown_and_finished)
{
	dms_error *err = NULL;
	assert_cmp(P.ops->cancel(ex, NULL, "ghost", &err), ==, DMS_ERR_NOT_FOUND);
	P.ops->error_free(err);
	char *res = run_ok("fin", "echo kept", NULL, NULL);
	assert_cmp(P.ops->cancel(ex, NULL, "fin", NULL), ==, 0);
	char *again = wait_ok("fin");
	cr_assert_str_eq(res, again, "res = \"%s\", again = \"%s\"", res, again);
	yajl_val v = itest_json(again);
	cr_assert_not(itest_bool(v, "cancelled"));
	yajl_tree_free(v);
	P.ops->string_free(res);
	P.ops->string_free(again);
}

Test(executor, job_deadline_cancels_and_run_says_cancelled)
{
	char *req = itest_request("deadline", "sleep 30", NULL, "\"timeout\":1");
	char *res = NULL;
	dms_error *err = NULL;
	int64_t t0 = itest_now_ms();
	assert_cmp(P.ops->run(ex, NULL, req, &res, &err), ==, DMS_ERR_CANCELLED);
	cr_assert(strstr(err->message, "deadline"), "%s", err->message);
	assert_cmp(itest_now_ms() - t0, <, test_ms(1000 + 2000 + 3000));
	P.ops->error_free(err);
	res = wait_ok("deadline");
	yajl_val v = itest_json(res);
	cr_assert(itest_bool(v, "cancelled"), "%s", res);
	cr_assert(strstr(itest_str(v, "error_msg"), "deadline"), "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
	free(req);
}

Test(executor, output_limit_flags_are_exact)
{
	P.ops->destroy(ex);
	ex = new_executor(ex_id, "output_limit: 16\n");
	/* 16 bytes exactly: not truncated; 17: truncated, first 16 kept. */
	char *a = run_ok("at", "printf 0123456789abcdef", NULL, NULL);
	char *b =
	    run_ok("over", "printf 0123456789abcdefX; printf 0123456789abcdefY >&2", NULL, NULL);
	yajl_val va = itest_json(a), vb = itest_json(b);
	cr_assert_str_eq(itest_str(va, "stdout"), "0123456789abcdef",
	                 "itest_str(va, \"stdout\") = \"%s\"", itest_str(va, "stdout"));
	cr_assert_not(itest_bool(va, "stdout_truncated"), "%s", a);
	cr_assert_str_eq(itest_str(vb, "stdout"), "0123456789abcdef",
	                 "itest_str(vb, \"stdout\") = \"%s\"", itest_str(vb, "stdout"));
	cr_assert(itest_bool(vb, "stdout_truncated"), "%s", b);
	cr_assert(itest_bool(vb, "stderr_truncated"), "%s", b);
	yajl_tree_free(va);
	yajl_tree_free(vb);
	P.ops->string_free(a);
	P.ops->string_free(b);
}

Test(executor, log_stream_after_exit_framed_and_plain)
{
	char *res = run_ok("logs", "echo one; echo two >&2; echo three", NULL, NULL);
	P.ops->string_free(res);
	int fd = -1;
	assert_cmp(P.ops->get_log_stream(ex, NULL, "{\"execution_id\":\"logs\"}", &fd, NULL), ==,
	           0);
	char *data = NULL, *out, *err;
	long n = itest_read_all(fd, &data, test_ms(10000));
	close(fd);
	itest_unframe(data, n, &out, &err);
	cr_assert_str_eq(out, "one\nthree\n", "out = \"%s\"", out);
	cr_assert_str_eq(err, "two\n", "err = \"%s\"", err);
	free(data);
	free(out);
	free(err);
	/* lines: one stream only, since engines copy stdout and stderr
	 * separately and do not order lines across them. */
	res = run_ok("lines", "echo a; echo b; echo c", NULL, NULL);
	P.ops->string_free(res);
	assert_cmp(P.ops->get_log_stream(
	               ex, NULL, "{\"execution_id\":\"lines\",\"format\":\"plain\",\"lines\":2}",
	               &fd, NULL),
	           ==, 0);
	n = itest_read_all(fd, &data, test_ms(10000));
	close(fd);
	cr_assert_str_eq(data, "b\nc\n", "data = \"%s\"", data);
	free(data);
	dms_error *e = NULL;
	assert_cmp(P.ops->get_log_stream(ex, NULL, "{\"execution_id\":\"zzz\"}", &fd, &e), ==,
	           DMS_ERR_NOT_FOUND);
	P.ops->error_free(e);
}

Test(executor, log_stream_follow_and_tail_while_running)
{
	char dir[] = "/tmp/dms-itest-XXXXXX";
	cr_assert(mkdtemp(dir));
	chmod(dir, 0777);
	char params[256];
	snprintf(params, sizeof(params), "\"entrypoint\":[\"/bin/sh\",\"-c\"]");
	char top[300];
	snprintf(top, sizeof(top),
	         "\"inputs\":[{\"type\":\"bind\",\"source\":\"%s\",\"target\":\"/in\"}]", dir);
	start_ok("follow",
	         "echo before; while [ ! -e /in/go ]; do sleep 0.05; done; echo after; "
	         "echo late >&2",
	         NULL, top);
	(void)params;
	/* Poll (with a deadline) until "before" is in the log. */
	int64_t end = itest_now_ms() + test_ms(10000);
	for (;;) {
		int fd;
		char *data = NULL;
		assert_cmp(
		    P.ops->get_log_stream(
		        ex, NULL, "{\"execution_id\":\"follow\",\"format\":\"plain\"}", &fd, NULL),
		    ==, 0);
		itest_read_all(fd, &data, test_ms(5000));
		close(fd);
		bool seen = data && strstr(data, "before");
		free(data);
		if (seen)
			break;
		cr_assert_lt(itest_now_ms(), end, "\"before\" never appeared");
	}
	int all_fd, tail_fd;
	assert_cmp(P.ops->get_log_stream(ex, NULL, "{\"execution_id\":\"follow\",\"follow\":true}",
	                                 &all_fd, NULL),
	           ==, 0);
	assert_cmp(P.ops->get_log_stream(
	               ex, NULL, "{\"execution_id\":\"follow\",\"follow\":true,\"tail\":true}",
	               &tail_fd, NULL),
	           ==, 0);
	char go[300];
	snprintf(go, sizeof(go), "%s/go", dir);
	FILE *f = fopen(go, "w");
	cr_assert(f, "f is false");
	fclose(f);
	char *all = NULL, *tail = NULL, *out, *err;
	long na = itest_read_all(all_fd, &all, test_ms(20000));
	long nt = itest_read_all(tail_fd, &tail, test_ms(20000));
	cr_assert_geq(na, 0, "follow stream did not end");
	cr_assert_geq(nt, 0, "tail stream did not end");
	itest_unframe(all, na, &out, &err);
	cr_assert_str_eq(out, "before\nafter\n", "out = \"%s\"", out);
	cr_assert_str_eq(err, "late\n", "err = \"%s\"", err);
	free(out);
	free(err);
	itest_unframe(tail, nt, &out, &err);
	cr_assert_str_eq(out, "after\n", "out = \"%s\"", out);
	cr_assert_str_eq(err, "late\n", "err = \"%s\"", err);
	free(out);
	free(err);
	free(all);
	free(tail);
	close(all_fd);
	close(tail_fd);
	unlink(go);
	rmdir(dir);
	P.ops->string_free(wait_ok("follow"));
}

Test(executor, big_output_arrives_complete_in_order)
{
	/* 10 MB of numbered 1 KB lines through a follow stream, checked in
	 * order. (Engines spend ~15 us per log line, so many short lines
	 * would measure the engine's log driver, not us.) */
	start_ok("burst",
	         "awk 'BEGIN { s = sprintf(\"%1000s\", \"\"); "
	         "for (i = 1; i <= 10000; i++) printf \"%d%s\\n\", i, s }'",
	         NULL, NULL);
	int fd;
	assert_cmp(P.ops->get_log_stream(
	               ex, NULL,
	               "{\"execution_id\":\"burst\",\"follow\":true,\"format\":\"plain\"}", &fd,
	               NULL),
	           ==, 0);
	char *data = NULL;
	long n = itest_read_all(fd, &data, test_ms(60000));
	close(fd);
	cr_assert_gt(n, 0, "follow did not end");
	long expect = 1;
	for (char *p = data; *p; expect++) {
		char *nl = strchr(p, '\n');
		cr_assert(nl, "unterminated line at byte %ld", (long)(p - data));
		cr_assert_eq(strtol(p, NULL, 10), expect, "line %ld is %.20s", expect, p);
		p = nl + 1;
	}
	cr_assert_eq(expect - 1, 10000, "got %ld lines", expect - 1);
	cr_assert_eq(n, 10000L * 1001 + 38894, "got %ld bytes", n); /* digits: 9+180+2700+36000+5 */
	free(data);
	P.ops->string_free(wait_ok("burst"));
}

Test(executor, cleanup_removes_ours_and_nothing_else)
{
	char *foreign_id = itest_unique_id("foreign");
	char *flabel = NULL, *mylabel = NULL;
	assert_cmp(asprintf(&flabel, "%s=%s", LABEL_EXECUTOR, foreign_id), >, 0);
	assert_cmp(asprintf(&mylabel, "%s=%s", LABEL_EXECUTOR, ex_id), >, 0);
	/* A foreign executor's job, still running, and an unlabelled container. */
	dms_executor *other = new_executor(foreign_id, NULL);
	char *req = itest_request("foreign-job", "sleep 60", NULL, NULL);
	assert_cmp(P.ops->start(other, NULL, req, NULL), ==, 0);
	free(req);
	struct exec_request r = {.image = (char *)itest_image(),
	                         .cmd = (char *[]){"sleep", "60", NULL}};
	char *plain_name = itest_unique_id("unlabelled");
	struct container_spec spec = {
	    .name = plain_name, .req = &r, .labels = (char *[]){"purpose=test", NULL}};
	char *plain_id = NULL;
	assert_cmp(rt_ops->container_create(rt, NULL, &spec, &plain_id, NULL), ==, 0);
	/* Our own: a running job, a named volume and a network; foreign ones too. */
	start_ok("mine", "sleep 60", NULL, NULL);
	char *vol_mine = itest_unique_id("vol-mine"), *vol_theirs = itest_unique_id("vol-theirs");
	char *net_mine = itest_unique_id("net-mine"), *net_theirs = itest_unique_id("net-theirs");
	char *net_id = NULL;
	assert_cmp(rt_ops->volume_create(rt, NULL, vol_mine, (char *[]){mylabel, NULL}, NULL), ==,
	           0);
	assert_cmp(rt_ops->volume_create(rt, NULL, vol_theirs, (char *[]){flabel, NULL}, NULL), ==,
	           0);
	assert_cmp(rt_ops->network_create(rt, NULL, net_mine, (char *[]){mylabel, NULL}, true,
	                                  &net_id, NULL),
	           ==, 0);
	free(net_id);
	assert_cmp(rt_ops->network_create(rt, NULL, net_theirs, (char *[]){flabel, NULL}, true,
	                                  &net_id, NULL),
	           ==, 0);
	free(net_id);

	dms_error *err = NULL;
	cr_assert_eq(P.ops->cleanup(ex, NULL, &err), 0, "%s", err ? err->message : "");
	cr_assert_eq(P.ops->cleanup(ex, NULL, NULL), 0, "cleanup twice");
	cr_assert_eq(containers_left(ex_id), 0, "containers_left(ex_id) = %lld",
	             (long long)(containers_left(ex_id)));
	cr_assert_eq(containers_left(foreign_id), 1, "the foreign job did not survive");
	strv ids = NULL;
	assert_cmp(rt_ops->object_list(rt, NULL, RT_OBJ_VOLUME, mylabel, &ids, NULL), ==, 0);
	cr_assert_eq(strv_len(ids), 0, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	strv_free(ids);
	assert_cmp(rt_ops->object_list(rt, NULL, RT_OBJ_NETWORK, mylabel, &ids, NULL), ==, 0);
	cr_assert_eq(strv_len(ids), 0, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	strv_free(ids);
	assert_cmp(rt_ops->object_list(rt, NULL, RT_OBJ_VOLUME, flabel, &ids, NULL), ==, 0);
	cr_assert_eq(strv_len(ids), 1, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	strv_free(ids);
	assert_cmp(rt_ops->object_list(rt, NULL, RT_OBJ_NETWORK, flabel, &ids, NULL), ==, 0);
	cr_assert_eq(strv_len(ids), 1, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	strv_free(ids);
	struct container_state st = {0};
	cr_assert_eq(rt_ops->container_inspect(rt, NULL, plain_id, &st, NULL), 0,
	             "the unlabelled container did not survive");
	container_state_free(&st);
	/* Our job's waiter learns it was removed. */
	char *res = wait_ok("mine");
	yajl_val v = itest_json(res);
	cr_assert(itest_bool(v, "cancelled"), "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);

	assert_cmp(P.ops->cleanup(other, NULL, NULL), ==, 0);
	cr_assert_eq(containers_left(foreign_id), 0, "containers_left(foreign_id) = %lld",
	             (long long)(containers_left(foreign_id)));
	P.ops->destroy(other);
	rt_ops->container_remove(rt, NULL, plain_id, true, NULL);
	free(plain_id);
	free(plain_name);
	free(foreign_id);
	free(flabel);
	free(mylabel);
	free(vol_mine);
	free(vol_theirs);
	free(net_mine);
	free(net_theirs);
}

Test(executor, recovery_reattaches_running_keeps_results_reports_lost)
{
	start_ok("rec-running", "echo a; while [ ! -e /tmp/never ]; do sleep 0.05; done", NULL,
	         NULL);
	start_ok("rec-exited", "echo gone; exit 5", NULL, NULL);
	P.ops->string_free(wait_ok("rec-exited"));
	start_ok("rec-exits-later", "sleep 1; echo late; exit 4", NULL, NULL);
	start_ok("rec-lost", "sleep 60", NULL, NULL);
	/* The executor "dies" (destroy leaves containers running), and one
	 * container disappears while nobody watches. */
	P.ops->destroy(ex);
	char *lost = labels_container_name(ex_id, "rec-lost");
	assert_cmp(rt_ops->container_remove(rt, NULL, lost, true, NULL), ==, 0);
	free(lost);
	ex = new_executor(ex_id, NULL);

	char *res = wait_ok("rec-exits-later");
	yajl_val v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 4, "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "late\n", "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);

	assert_cmp(P.ops->cancel(ex, NULL, "rec-running", NULL), ==, 0);
	res = wait_ok("rec-running");
	v = itest_json(res);
	cr_assert(itest_bool(v, "cancelled"), "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "a\n", "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);

	/* Harvested before the restart: the result survived it, not re-run. */
	res = wait_ok("rec-exited");
	v = itest_json(res);
	cr_assert_eq(itest_int(v, "exit_code"), 5, "%s", res);
	cr_assert_str_eq(itest_str(v, "stdout"), "gone\n", "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);

	res = wait_ok("rec-lost");
	v = itest_json(res);
	cr_assert(strstr(itest_str(v, "error_msg"), "vanished"), "%s", res);
	cr_assert_eq(itest_int(v, "exit_code"), -1, "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
}

Test(executor, results_dir_gets_capped_files_and_exit_code)
{
	P.ops->destroy(ex);
	ex = new_executor(ex_id, "results_file_limit: 8\noutput_limit: 4\n");
	char base[] = "/tmp/dms-results-XXXXXX", dir[600], top[700];
	cr_assert(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/e1/results", base); /* made by Start */
	snprintf(top, sizeof(top), "\"results_dir\":\"%s\"", dir);
	char *res = run_ok("resdir", "printf 12345678; printf abcdefghijk >&2; exit 6", NULL, top);
	yajl_val v = itest_json(res);
	cr_assert_str_eq(itest_str(v, "stdout"), "1234", "%s", res);
	cr_assert(itest_bool(v, "stdout_truncated"), "%s", res);
	yajl_tree_free(v);
	P.ops->string_free(res);
	char *out = itest_slurp(dir, "stdout"), *err = itest_slurp(dir, "stderr");
	char *code = itest_slurp(dir, "exitCode");
	cr_assert_str_eq(out, "12345678", "exactly at the file limit");
	cr_assert_str_eq(err, "abcdefgh", "capped at the file limit");
	cr_assert_str_eq(code, "6\n", "code = \"%s\"", code);
	free(out);
	free(err);
	free(code);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	cr_assert_eq(system(cmd), 0, "system(cmd) = %lld", (long long)(system(cmd)));
}
