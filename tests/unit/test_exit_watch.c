/* test_exit_watch.c — the exit watch (executor.c, docs/architecture.md
 * "Exit watch") on the fake runtime, with the fake's container_watch put in
 * a copy of its table and its event streams muted, so that an exit is seen
 * through the watch or not at all: what the watch must do when it works
 * (report the exit without an event), when it lies (a dropped stream is no
 * exit), when it is busy or over (the events report it), and when it fails
 * (the start goes ahead). The real watch runs in every Podman integration
 * and feature test (integration/test_engine_executor on Podman). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "error.h"
#include "exec_fixture.h"
#include "executor_internal.h"
#include "fake_runtime.h"
#include "labels.h"
#include "test_time.h"
#include "test_assert.h"

#define IMAGE EXEC_FIXTURE_IMAGE
#define QUICK "fake/quick:1" /* exits with 3 and "hi\n" right after start */
#define DEADLINE_MS test_ms(5000)
#define NO_EXIT_MS test_ms(300)

static struct runtime_ops watch_ops;
static struct dms_executor *ex;

static struct dms_executor *new_exec(const char *extra)
{
	struct dms_executor *e = exec_fixture_new("unit", &watch_ops, extra);
	cr_assert(fake_runtime_wait_streams(1, DEADLINE_MS), "no event stream");
	return e;
}

static void setup(void)
{
	watch_ops = fake_runtime_ops;
	watch_ops.container_watch = fake_container_watch;
	exec_fixture_setup("unit-watch");
	fake_runtime_add_image_autoexit(QUICK, 3, "hi\n", NULL);
}

static void teardown(void)
{
	exec_fixture_teardown(&ex);
}

TestSuite(exit_watch, .init = setup, .fini = teardown, .timeout = 60);

static char *request(const char *exec_id, const char *image)
{
	char *r = NULL;
	assert_cmp(asprintf(&r,
	                    "{\"job_id\":\"j\",\"execution_id\":\"%s\",\"engine_spec\":{\"type\":"
	                    "\"docker\",\"params\":{\"image\":\"%s\"}}}",
	                    exec_id, image),
	           >, 0);
	return r;
}

static void start_ok(const char *exec_id)
{
	char *r = request(exec_id, IMAGE);
	dms_error *err = NULL;
	cr_assert_eq(executor_start(ex, NULL, r, &err), 0, "start: %s", err ? err->message : "");
	free(r);
}

/* executor_wait within ms; its status, and the result in *json. */
static int wait_for(const char *exec_id, int64_t ms, char **json)
{
	dms_context *ctx = ctx_new(ms);
	dms_error *err = NULL;
	*json = NULL;
	int rc = executor_wait(ex, ctx, exec_id, json, &err);
	ctx_free(ctx);
	err_free(err);
	return rc;
}

static void assert_exit(const char *exec_id, const char *code, const char *out)
{
	char *json;
	int rc = wait_for(exec_id, DEADLINE_MS, &json);
	cr_assert_eq(rc, 0, "wait %s: %d", exec_id, rc);
	cr_assert(strstr(json, code), "%s: want %s in %s", exec_id, code, json);
	if (out)
		cr_assert(strstr(json, out), "%s: want %s in %s", exec_id, out, json);
	free(json);
}

static void assert_no_exit(const char *exec_id)
{
	char *json;
	int rc = wait_for(exec_id, NO_EXIT_MS, &json);
	cr_assert_eq(rc, DMS_ERR_TIMEOUT, "%s finished without an exit: %d %s", exec_id, rc,
	             json ? json : "");
}

static void exit_ctr(const char *exec_id, int code)
{
	char *n = labels_container_name("unit", exec_id);
	assert_cmp(fake_runtime_exit(NULL, n, code, "bye\n", NULL, false), ==, 0);
	free(n);
}

static bool wait_watches(int n)
{
	int64_t until = mono_now_ns() + DEADLINE_MS * 1000000LL;
	while (fake_runtime_watch_count() != n && mono_now_ns() < until)
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL); /* polled: no event */
	return fake_runtime_watch_count() == n;
}

Test(exit_watch, reports_an_exit_the_events_do_not)
{
	ex = new_exec(NULL);
	fake_runtime_set_events_muted(true);
	/* Exits before its start returns: the starter reports it. */
	char *r = request("quick", QUICK), *json = NULL;
	dms_error *err = NULL;
	cr_assert_eq(executor_run(ex, NULL, r, &json, &err), 0, "run: %s", err ? err->message : "");
	cr_assert(strstr(json, "\"exit_code\":3") && strstr(json, "\"stdout\":\"hi\\n\""), "%s",
	          json);
	free(json);
	free(r);
	/* Exits later: the watcher does. */
	start_ok("later");
	cr_assert(wait_watches(1), "no watch held");
	exit_ctr("later", 7);
	assert_exit("later", "\"exit_code\":7", "\"stdout\":\"bye\\n\"");
	cr_assert_eq(fake_runtime_op_count("container_watch"), 2,
	             "fake_runtime_op_count(\"container_watch\") = %lld",
	             (long long)(fake_runtime_op_count("container_watch")));
}

Test(exit_watch, a_dropped_watch_is_no_exit)
{
	ex = new_exec(NULL);
	fake_runtime_set_events_muted(true);
	start_ok("w");
	cr_assert(wait_watches(1), "no watch held");
	int inspects = fake_runtime_op_count("container_inspect");
	fake_runtime_drop_streams(); /* the watch ends as if the job had */
	cr_assert(wait_watches(0));
	assert_no_exit("w");
	cr_assert_gt(fake_runtime_op_count("container_inspect"), inspects,
	             "the hint was not checked");
	/* The real exit still arrives, through the events. */
	fake_runtime_set_events_muted(false);
	exit_ctr("w", 5);
	assert_exit("w", "\"exit_code\":5", NULL);
}

Test(exit_watch, busy_watchers_leave_the_exit_to_the_events)
{
	ex = new_exec(NULL);
	const char *ids[] = {"a", "b", "c"};
	for (int i = 0; i < 3; i++)
		start_ok(ids[i]);
	cr_assert(wait_watches(EXIT_WATCHERS), "want %d watches", EXIT_WATCHERS);
	cr_assert_eq(fake_runtime_op_count("container_watch"), EXIT_WATCHERS,
	             "fake_runtime_op_count(\"container_watch\") = %lld",
	             (long long)(fake_runtime_op_count("container_watch")));
	fake_runtime_set_events_muted(true);
	exit_ctr("a", 1);
	exit_ctr("b", 2);
	assert_exit("a", "\"exit_code\":1", NULL);
	assert_exit("b", "\"exit_code\":2", NULL);
	exit_ctr("c", 4); /* unwatched, and muted: not seen... */
	assert_no_exit("c");
	fake_runtime_drop_streams(); /* ...until the reconnect's relist */
	assert_exit("c", "\"exit_code\":4", NULL);
}

Test(exit_watch, ends_after_exit_watch)
{
	ex = new_exec("exit_watch: 100ms\n");
	start_ok("long");
	cr_assert_eq(fake_runtime_op_count("container_watch"), 1, "not watched");
	cr_assert(wait_watches(0), "the watch outlived exit_watch");
	fake_runtime_set_events_muted(true);
	exit_ctr("long", 9);
	assert_no_exit("long");
	fake_runtime_drop_streams();
	assert_exit("long", "\"exit_code\":9", NULL);
}

Test(exit_watch, a_refused_watch_does_not_stop_the_start)
{
	ex = new_exec(NULL);
	fake_runtime_fail_next("container_watch", DMS_ERR_CONTAINER, 1);
	start_ok("r");
	exit_ctr("r", 0);
	assert_exit("r", "\"exit_code\":0", NULL);
	cr_assert_eq(fake_runtime_op_count("container_watch"), 1,
	             "fake_runtime_op_count(\"container_watch\") = %lld",
	             (long long)(fake_runtime_op_count("container_watch")));
}

Test(exit_watch, off_when_exit_watch_is_0)
{
	ex = new_exec("exit_watch: 0\n");
	start_ok("z");
	exit_ctr("z", 0);
	assert_exit("z", "\"exit_code\":0", NULL);
	cr_assert_eq(fake_runtime_op_count("container_watch"), 0,
	             "fake_runtime_op_count(\"container_watch\") = %lld",
	             (long long)(fake_runtime_op_count("container_watch")));
}

Test(exit_watch, destroy_ends_a_held_watch)
{
	ex = new_exec("exit_watch: 10m\n"); /* the suite's timeout catches a wait */
	start_ok("held");
	cr_assert(wait_watches(1), "no watch held");
	executor_destroy(ex); /* joins the watcher: must not wait out exit_watch */
	ex = NULL;
	assert_cmp(fake_runtime_watch_count(), ==, 0);
}
