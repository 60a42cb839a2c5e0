/* test_engine_exec.c — exec, exec_resize and exec_wait through the plugin
 * ABI against a real engine (DMS_ENGINE; this binary runs once per
 * engine): output and exit code, stdin, env/user/workdir, a tty and its
 * resize, concurrent execs, the refusals, an exec ended by its job and
 * one ended by its client. */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest.h"
#include "test_assert.h"
#include "test_time.h"

static struct itest_plugin P;
static dms_executor *ex;
static char *ex_id;

static void setup(void)
{
	itest_plugin_load(&P);
	ex_id = itest_unique_id("itexec");
	char *cfg = itest_config(NULL);
	dms_error *err = NULL;
	int rc = P.ops->new_executor(ex_id, cfg, &ex, &err);
	cr_assert_eq(rc, 0, "new_executor: %s", err ? err->message : "?");
	free(cfg);
	cr_assert(DMS_OP_AVAILABLE(P.ops, exec) && DMS_OP_AVAILABLE(P.ops, exec_wait_async));
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

TestSuite(exec, .init = setup, .fini = teardown, .timeout = 120);

/* A running job to exec into. */
static void job(const char *id)
{
	itest_start_ok(&P, ex, id, "sleep 300", NULL, NULL);
}

static int exec_ok(const char *id, const char *request, char **exec_id)
{
	dms_error *err = NULL;
	int fd = -1;
	int rc = P.ops->exec(ex, NULL, id, request, &fd, exec_id, &err);
	cr_assert_eq(rc, 0, "exec %s %s: %d %s", id, request, rc, err ? err->message : "");
	cr_assert_geq(fd, 0);
	return fd;
}

static int wait_code(const char *exec_id)
{
	dms_context *ctx = P.ops->context_new(test_ms(20000));
	dms_error *err = NULL;
	int code = -99;
	int rc = P.ops->exec_wait(ex, ctx, exec_id, &code, &err);
	P.ops->context_free(ctx);
	cr_assert_eq(rc, 0, "exec_wait %s: %d %s", exec_id, rc, err ? err->message : "");
	return code;
}

/* The output to EOF, demultiplexed. */
static void read_framed(int fd, char **out, char **err)
{
	char *all = NULL;
	long n = itest_read_all(fd, &all, test_ms(20000));
	cr_assert_geq(n, 0, "the exec's stream did not end");
	itest_unframe(all, n, out, err);
	free(all);
}

Test(exec, output_and_exit_code)
{
	char *eid = NULL, *out = NULL, *err = NULL;
	job("x-out");
	int fd =
	    exec_ok("x-out", "{\"cmd\":[\"sh\",\"-c\",\"echo in; echo oops >&2; exit 4\"]}", &eid);
	read_framed(fd, &out, &err);
	cr_assert_str_eq(out, "in\n");
	cr_assert_str_eq(err, "oops\n");
	assert_cmp(wait_code(eid), ==, 4);
	/* Waiting again answers the same. */
	assert_cmp(wait_code(eid), ==, 4);
	close(fd);
	free(out);
	free(err);
	P.ops->string_free(eid);
}

Test(exec, stdin_round_trip)
{
	char *eid = NULL, *out = NULL, *err = NULL;
	job("x-in");
	int fd =
	    exec_ok("x-in", "{\"cmd\":[\"sh\",\"-c\",\"cat; echo done\"],\"stdin\":true}", &eid);
	const char msg[] = "hello through stdin\nsecond line\n";
	assert_cmp(write(fd, msg, sizeof(msg) - 1), ==, (long)sizeof(msg) - 1);
	assert_cmp(shutdown(fd, SHUT_WR), ==, 0);
	read_framed(fd, &out, &err);
	cr_assert_str_eq(out, "hello through stdin\nsecond line\ndone\n");
	assert_cmp(wait_code(eid), ==, 0);
	close(fd);
	free(out);
	free(err);
	P.ops->string_free(eid);
}

Test(exec, env_user_and_working_dir)
{
	char *eid = NULL, *out = NULL, *err = NULL;
	job("x-env");
	int fd =
	    exec_ok("x-env",
	            "{\"cmd\":[\"sh\",\"-c\",\"echo $FOO; id -u; pwd\"],\"env\":[\"FOO=bar baz\"],"
	            "\"user\":\"1234\",\"working_dir\":\"/tmp\"}",
	            &eid);
	read_framed(fd, &out, &err);
	cr_assert_str_eq(out, "bar baz\n1234\n/tmp\n", "stderr: %s", err);
	assert_cmp(wait_code(eid), ==, 0);
	close(fd);
	free(out);
	free(err);
	P.ops->string_free(eid);
}

Test(exec, tty_raw_output_and_resize)
{
	char *eid = NULL, *all = NULL;
	job("x-tty");
	int fd = exec_ok(
	    "x-tty",
	    "{\"cmd\":[\"sh\",\"-c\",\"read x; stty size; test -t 1 && echo tty\"],\"tty\":true,"
	    "\"stdin\":true}",
	    &eid);
	dms_error *e = NULL;
	int rc = P.ops->exec_resize(ex, NULL, eid, 33, 111, &e);
	cr_assert_eq(rc, 0, "exec_resize: %s", e ? e->message : "");
	assert_cmp(write(fd, "go\n", 3), ==, 3);
	long n = itest_read_all(fd, &all, test_ms(20000));
	cr_assert_geq(n, 0, "the exec's stream did not end");
	/* Raw: no frame headers, the tty's CRLF, the size set. */
	cr_assert(strstr(all, "33 111\r\n"), "output: %s", all);
	cr_assert(strstr(all, "tty\r\n"), "output: %s", all);
	cr_assert_neq(all[0], 1, "a frame header on a tty stream");
	assert_cmp(wait_code(eid), ==, 0);
	close(fd);
	free(all);
	P.ops->string_free(eid);
}

Test(exec, two_at_once)
{
	char *e1 = NULL, *e2 = NULL, *o1 = NULL, *o2 = NULL, *r1 = NULL, *r2 = NULL;
	job("x-two");
	const char *req =
	    "{\"cmd\":[\"sh\",\"-c\",\"read x; echo got $x; exit 7\"],\"stdin\":true}";
	int f1 = exec_ok("x-two", req, &e1);
	int f2 = exec_ok("x-two", req, &e2);
	cr_assert_str_neq(e1, e2);
	/* Both are running together: the second answers before the first
	 * has its input. */
	assert_cmp(write(f2, "two\n", 4), ==, 4);
	read_framed(f2, &o2, &r2);
	cr_assert_str_eq(o2, "got two\n");
	assert_cmp(write(f1, "one\n", 4), ==, 4);
	read_framed(f1, &o1, &r1);
	cr_assert_str_eq(o1, "got one\n");
	assert_cmp(wait_code(e1), ==, 7);
	assert_cmp(wait_code(e2), ==, 7);
	close(f1);
	close(f2);
	free(o1), free(o2), free(r1), free(r2);
	P.ops->string_free(e1);
	P.ops->string_free(e2);
}

static int exec_fails(const char *id, const char *request, const char *words)
{
	dms_error *err = NULL;
	char *eid = NULL;
	int fd = -1;
	int rc = P.ops->exec(ex, NULL, id, request, &fd, &eid, &err);
	cr_assert_neq(rc, 0, "exec %s %s succeeded", id, request);
	cr_assert_eq(fd, -1);
	cr_assert_null(eid);
	cr_assert(err && strstr(err->message, words), "message: %s", err ? err->message : "(none)");
	P.ops->error_free(err);
	return rc;
}

Test(exec, refusals)
{
	const char *req = "{\"cmd\":[\"true\"]}";
	assert_cmp(exec_fails("x-nosuch", req, "x-nosuch"), ==, DMS_ERR_NOT_FOUND);
	itest_start_ok(&P, ex, "x-done", "true", NULL, NULL);
	P.ops->string_free(itest_wait_ok(&P, ex, "x-done"));
	assert_cmp(exec_fails("x-done", req, "finished"), ==, DMS_ERR_ALREADY_FINISHED);
	job("x-bad");
	assert_cmp(exec_fails("x-bad", "{\"cmd\":[]}", "cmd"), ==, DMS_ERR_INVALID_ARGUMENT);
	assert_cmp(exec_fails("x-bad", "{\"cmd\":[\"true\"],\"env\":[\"=x\"]}", "env[0]"), ==,
	           DMS_ERR_INVALID_ARGUMENT);
	assert_cmp(
	    exec_fails("x-bad", "{\"cmd\":[\"true\"],\"working_dir\":\"tmp\"}", "working_dir"), ==,
	    DMS_ERR_INVALID_ARGUMENT);
	assert_cmp(exec_fails("x-bad", "{\"cmd\":[\"true\"],\"tyy\":true}", "tyy"), ==,
	           DMS_ERR_INVALID_ARGUMENT);
	int code = 0;
	dms_error *err = NULL;
	assert_cmp(P.ops->exec_wait(ex, NULL, "nosuchexec", &code, &err), ==, DMS_ERR_NOT_FOUND);
	cr_assert(strstr(err->message, "nosuchexec"), "%s", err->message);
	P.ops->error_free(err);
	err = NULL;
	assert_cmp(P.ops->exec_resize(ex, NULL, "nosuchexec", 10, 10, &err), ==, DMS_ERR_NOT_FOUND);
	P.ops->error_free(err);
	/* A resize of an exec without a tty names why. */
	char *eid = NULL;
	int fd = exec_ok("x-bad", "{\"cmd\":[\"true\"]}", &eid);
	err = NULL;
	assert_cmp(P.ops->exec_resize(ex, NULL, eid, 10, 10, &err), ==, DMS_ERR_INVALID_ARGUMENT);
	cr_assert(strstr(err->message, "no tty"), "%s", err->message);
	P.ops->error_free(err);
	close(fd);
	P.ops->string_free(eid);
}

/* The exec's process, seen from a second exec: its pid file's process. */
static bool exec_process_alive(const char *job_id)
{
	char *eid = NULL, *out = NULL, *err = NULL;
	int fd =
	    exec_ok(job_id,
	            "{\"cmd\":[\"sh\",\"-c\",\"kill -0 $(cat /tmp/exec.pid) && echo alive || echo "
	            "gone\"]}",
	            &eid);
	read_framed(fd, &out, &err);
	close(fd);
	wait_code(eid);
	bool alive = strcmp(out, "alive\n") == 0;
	cr_assert(alive || strcmp(out, "gone\n") == 0, "out %s err %s", out, err);
	free(out);
	free(err);
	P.ops->string_free(eid);
	return alive;
}

Test(exec, client_close_ends_the_exec)
{
	char *eid = NULL, *out = NULL;
	job("x-close");
	int fd = exec_ok(
	    "x-close",
	    "{\"cmd\":[\"sh\",\"-c\",\"echo $$ > /tmp/exec.pid; echo up; exec sleep 600\"]}", &eid);
	/* Wait for it to be up, then leave. */
	char buf[64];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	assert_cmp(poll(&pfd, 1, (int)test_ms(20000)), ==, 1);
	cr_assert_gt(read(fd, buf, sizeof(buf)), 0);
	cr_assert(exec_process_alive("x-close"));
	close(fd);
	int64_t t0 = itest_now_ms();
	int code = wait_code(eid);
	assert_cmp(code, ==, 137); /* SIGKILL */
	cr_assert_lt(itest_now_ms() - t0, test_ms(5000));
	cr_assert_not(exec_process_alive("x-close"), "the exec's process survived its client");
	free(out);
	P.ops->string_free(eid);
}

/* exec_wait_async: called once, from an executor thread. */
struct async_box {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	int calls, code;
	int category;
};

static void on_exec_done(void *ud, const char *exec_id, int exit_code, const dms_error *error)
{
	struct async_box *b = ud;
	(void)exec_id;
	pthread_mutex_lock(&b->mu);
	b->calls++;
	b->code = exit_code;
	b->category = error ? (int)error->category : 0;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->mu);
}

Test(exec, job_end_ends_the_exec)
{
	char *eid = NULL, *all = NULL;
	struct async_box b = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0};
	job("x-jobend");
	int fd = exec_ok("x-jobend", "{\"cmd\":[\"sleep\",\"600\"]}", &eid);
	assert_cmp(P.ops->exec_wait_async(ex, eid, on_exec_done, &b, NULL), ==, 0);
	dms_error *err = NULL;
	int rc = P.ops->cancel(ex, NULL, "x-jobend", &err);
	cr_assert_eq(rc, 0, "cancel: %s", err ? err->message : "");
	/* The stream ends, and the waiter is answered. */
	long n = itest_read_all(fd, &all, test_ms(20000));
	cr_assert_geq(n, 0, "the exec's stream outlived its job");
	pthread_mutex_lock(&b.mu);
	int64_t end = itest_now_ms() + test_ms(20000);
	while (b.calls == 0 && itest_now_ms() < end) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&b.cond, &b.mu, &ts);
	}
	assert_cmp(b.calls, ==, 1);
	/* Killed with its container (137, or its exit code gone with it). */
	cr_assert(b.code == 137 || b.category == DMS_ERR_ALREADY_FINISHED, "code %d category %d",
	          b.code, b.category);
	pthread_mutex_unlock(&b.mu);
	/* Exec on it now: AlreadyFinished. */
	assert_cmp(exec_fails("x-jobend", "{\"cmd\":[\"true\"]}", "finished"), ==,
	           DMS_ERR_ALREADY_FINISHED);
	close(fd);
	free(all);
	P.ops->string_free(eid);
}
