/* test_fake_runtime.c — unit tests of the fake runtime (tests/
 * fake_runtime.c): it must behave as fake_runtime.h documents, since every
 * executor unit test builds on it. Event streams run on a thread and are
 * observed through a collector with deadlined waits. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "context.h"
#include "error.h"
#include "fake_runtime.h"
#include "test_time.h"
#include "labels.h"
#include "request.h"
#include "test_assert.h"

#define MS 1000000LL
#define DEADLINE_MS test_ms(5000) /* scaled under valgrind: test_time.h */
#define IMAGE "dms-test/busybox:latest"

static const struct runtime_ops *ops = &fake_runtime_ops;
static struct runtime *rt;

static void setup(void)
{
	dms_error *e = NULL;

	fake_runtime_reset();
	fake_runtime_add_image(IMAGE);
	cr_assert_eq(ops->open("unix:///nowhere", &rt, &e), 0, "open failed");
}

static void teardown(void)
{
	ops->close(rt);
	rt = NULL;
}

TestSuite(fake_runtime, .init = setup, .fini = teardown, .timeout = 30);

/* ---- helpers ------------------------------------------------------------- */

static char *lbl_exec = "org.dms.executor=ex1";

static char *create(const char *name, const char *execution_id, const char *image, int *rc_out,
                    dms_error **err)
{
	static char l_run[64];
	char *labels[] = {lbl_exec, l_run, NULL};
	struct exec_request req = {0};
	struct container_spec spec = {0};
	char *id = NULL;

	snprintf(l_run, sizeof(l_run), LABEL_EXECUTION "=%s", execution_id);
	req.execution_id = (char *)execution_id;
	req.image = (char *)image;
	spec.name = name;
	spec.req = &req;
	spec.labels = labels;
	spec.stop_signal = "SIGTERM";
	spec.stop_timeout_s = 10;
	*rc_out = ops->container_create(rt, NULL, &spec, &id, err);
	return id;
}

static char *create_ok(const char *name, const char *execution_id)
{
	dms_error *e = NULL;
	int rc;
	char *id = create(name, execution_id, IMAGE, &rc, &e);

	cr_assert_eq(rc, 0, "create %s: %d %s", name, rc, e ? e->message : "");
	cr_assert_not_null(id, "id = %p", (void *)(id));
	return id;
}

static char *run_ok(const char *name, const char *execution_id)
{
	char *id = create_ok(name, execution_id);
	int rc = ops->container_start(rt, NULL, id, NULL);

	cr_assert_eq(rc, 0, "start %s: %d", name, rc);
	return id;
}

static enum container_status inspect_status(const char *id, int *exit_code, bool *oom)
{
	struct container_state st;
	enum container_status s;
	int rc = ops->container_inspect(rt, NULL, id, &st, NULL);

	cr_assert_eq(rc, 0, "inspect %s: %d", id, rc);
	s = st.status;
	if (exit_code)
		*exit_code = st.exit_code;
	if (oom)
		*oom = st.oom_killed;
	container_state_free(&st);
	return s;
}

/* An event stream on a thread, collecting what it sees. */
struct seen {
	enum runtime_event_kind kind;
	int exit_code;
	char cid[65];
	char exec_id[64];
};

struct collector {
	pthread_mutex_t mu;
	pthread_cond_t cond;
	struct seen ev[64];
	int n;
	bool ready;
	bool ready_before_event;
	int stop_after; /* fn returns 1 after this many events; 0 never */
	bool done;
	int rc;
	dms_error *err;
	dms_context *ctx;
	char label[64];
	int64_t since_ns;
	pthread_t thread;
};

static void on_ready(void *ud)
{
	struct collector *c = ud;

	pthread_mutex_lock(&c->mu);
	c->ready = true;
	c->ready_before_event = c->n == 0;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
}

static int on_event(void *ud, const struct runtime_event *ev)
{
	struct collector *c = ud;
	int stop;

	pthread_mutex_lock(&c->mu);
	if (c->n < 64) {
		struct seen *s = &c->ev[c->n++];

		s->kind = ev->kind;
		s->exit_code = ev->exit_code;
		snprintf(s->cid, sizeof(s->cid), "%s", ev->container_id);
		snprintf(s->exec_id, sizeof(s->exec_id), "%s",
		         ev->execution_id ? ev->execution_id : "");
	}
	stop = c->stop_after && c->n >= c->stop_after;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	return stop;
}

static void *collector_main(void *arg)
{
	struct collector *c = arg;
	dms_error *e = NULL;
	int rc = ops->events(rt, c->ctx, c->label[0] ? c->label : NULL, c->since_ns, on_ready,
	                     on_event, c, &e);

	pthread_mutex_lock(&c->mu);
	c->rc = rc;
	c->err = e;
	c->done = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

static void collector_start(struct collector *c, const char *label, int64_t since_ns,
                            int stop_after)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	ctx_cond_init(&c->cond);
	c->ctx = ctx_new(0);
	snprintf(c->label, sizeof(c->label), "%s", label ? label : "");
	c->since_ns = since_ns;
	c->stop_after = stop_after;
	pthread_create(&c->thread, NULL, collector_main, c);
}

/* Waits until the collector is ready and has seen n events (or is done). */
static bool collector_wait(struct collector *c, int n, bool want_done)
{
	int64_t deadline = mono_now_ns() + DEADLINE_MS * MS;
	bool ok;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		ok = want_done ? c->done : (c->ready && c->n >= n);
		if (ok || ctx_cond_wait(NULL, &c->cond, &c->mu, deadline) == DMS_ERR_TIMEOUT)
			break;
	}
	ok = want_done ? c->done : (c->ready && c->n >= n);
	pthread_mutex_unlock(&c->mu);
	return ok;
}

static void collector_stop(struct collector *c)
{
	ctx_cancel(c->ctx);
	pthread_join(c->thread, NULL);
	ctx_free(c->ctx);
	err_free(c->err);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->mu);
}

struct logbuf {
	char data[4096];
	size_t len;
};

static int collect_log(void *ud, const char *data, size_t len)
{
	struct logbuf *b = ud;

	cr_assert_leq(b->len + len, sizeof(b->data), "log overflow");
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

static const struct log_options all_logs = {
    .follow = false, .stdout_ = true, .stderr_ = true, .tail = -1, .since_ns = 0};

/* ---- lifecycle ------------------------------------------------------------- */

Test(fake_runtime, open_close_and_ping)
{
	struct runtime *second;
	struct runtime_info info;

	cr_assert_eq(fake_runtime_open_count(), 1, "open count = %d", fake_runtime_open_count());
	assert_cmp(ops->open(NULL, &second, NULL), ==, 0);
	cr_assert_eq(fake_runtime_open_count(), 2, "open count = %d", fake_runtime_open_count());
	ops->close(second);
	ops->close(NULL);
	cr_assert_eq(fake_runtime_open_count(), 1, "open count = %d", fake_runtime_open_count());
	cr_assert_str_eq(ops->kind, "fake", "ops->kind = \"%s\"", ops->kind);
	cr_assert_eq(ops->struct_size, sizeof(struct runtime_ops),
	             "ops->struct_size = %lld, sizeof(struct runtime_ops) = %lld",
	             (long long)(ops->struct_size), (long long)(sizeof(struct runtime_ops)));
	cr_assert(RT_HAS(ops, object_remove), "table too short");

	assert_cmp(ops->ping(rt, NULL, &info, NULL), ==, 0);
	cr_assert_str_eq(info.kind, "fake", "kind = %s", info.kind);
	cr_assert_not_null(info.api_version, "info.api_version = %p", (void *)(info.api_version));
	runtime_info_free(&info);
	cr_assert_eq(ops->ping(rt, NULL, NULL, NULL), 0, "ping without info");
}

Test(fake_runtime, create_unknown_image_is_image_error)
{
	dms_error *e = NULL;
	int rc;
	char *id = create("dms-ex1-e1", "e1", "nope:latest", &rc, &e);

	cr_assert_eq(rc, DMS_ERR_IMAGE, "rc = %d", rc);
	cr_assert_null(id, "id = %p", (void *)(id));
	cr_assert_not_null(e, "e = %p", (void *)(e));
	cr_assert_str_eq(e->resource, "nope:latest", "resource = %s", e->resource);
	cr_assert_eq(fake_runtime_count(NULL), 0, "a container was created");
	err_free(e);
}

Test(fake_runtime, create_name_conflict)
{
	dms_error *e = NULL;
	char *id = create_ok("dms-ex1-e1", "e1"), *id2;
	int rc;

	id2 = create("dms-ex1-e1", "e1", IMAGE, &rc, &e);
	cr_assert_eq(rc, DMS_ERR_CONTAINER, "rc = %d", rc);
	cr_assert_null(id2, "id2 = %p", (void *)(id2));
	cr_assert(strstr(e->engine_text, "Conflict") && strstr(e->engine_text, id),
	          "engine_text = %s", e->engine_text);
	cr_assert_eq(fake_runtime_count(NULL), 1, "count = %zu", fake_runtime_count(NULL));
	err_free(e);
	free(id);
}

Test(fake_runtime, create_records_spec)
{
	char *labels[] = {"org.dms.executor=ex1", "team=a", NULL};
	char *cmd[] = {"echo hello", NULL}, *env[] = {"A=1", NULL};
	struct exec_request req = {.image = IMAGE,
	                           .cmd = cmd,
	                           .environment = env,
	                           .memory_bytes = 64 << 20,
	                           .cpu_cores = 0.5,
	                           .tty = true};
	struct container_spec spec = {.name = "c1",
	                              .req = &req,
	                              .labels = labels,
	                              .stop_signal = "SIGINT",
	                              .stop_timeout_s = 3};
	struct fake_container_info info;
	char *id = NULL;

	assert_cmp(ops->container_create(rt, NULL, &spec, &id, NULL), ==, 0);
	cr_assert(fake_runtime_get("c1", &info), "not found by name");
	cr_assert_str_eq(info.id, id, "info.id = \"%s\", id = \"%s\"", info.id, id);
	cr_assert_str_eq(info.image, IMAGE, "info.image = \"%s\", IMAGE = \"%s\"", info.image,
	                 IMAGE);
	cr_assert_str_eq(info.cmd[0], "echo hello", "info.cmd[0] = \"%s\"", info.cmd[0]);
	cr_assert_str_eq(info.environment[0], "A=1");
	cr_assert_str_eq(info.labels[1], "team=a");
	cr_assert_str_eq(info.stop_signal, "SIGINT", "info.stop_signal = \"%s\"", info.stop_signal);
	cr_assert_eq(info.stop_timeout_s, 3, "info.stop_timeout_s = %lld",
	             (long long)(info.stop_timeout_s));
	cr_assert_eq(info.memory_bytes, 64 << 20, "info.memory_bytes = %lld, 64 << 20 = %lld",
	             (long long)(info.memory_bytes), (long long)(64 << 20));
	cr_assert(info.tty, "info.tty is false");
	cr_assert_eq(info.status, CS_CREATED, "status = %d", info.status);
	fake_container_info_free(&info);
	fake_container_info_free(NULL);
	cr_assert(!fake_runtime_get("nope", &info));
	free(id);
}

Test(fake_runtime, ids_are_unique_and_resolve_by_prefix)
{
	char *a = create_ok("a", "e1"), *b = create_ok("b", "e2");
	char prefix[13];

	cr_assert_eq(strlen(a), 64, "id length %zu", strlen(a));
	cr_assert_neq(strncmp(a, b, 12), 0, "short ids collide: %s %s", a, b);
	snprintf(prefix, sizeof(prefix), "%s", a);
	assert_cmp(inspect_status(prefix, NULL, NULL), ==, CS_CREATED);
	cr_assert_eq(inspect_status("/a", NULL, NULL), CS_CREATED, "docker-style /name");
	free(a);
	free(b);
}

Test(fake_runtime, start_exit_inspect_logs)
{
	char *id = run_ok("c1", "e1");
	int code;
	bool oom;
	struct logbuf lb = {.len = 0};
	const char want[] = "\x01\0\0\0\0\0\0\x06hello\n"
	                    "\x01\0\0\0\0\0\0\x03"
	                    "bye"
	                    "\x02\0\0\0\0\0\0\x04oops";

	assert_cmp(inspect_status(id, NULL, NULL), ==, CS_RUNNING);
	assert_cmp(fake_runtime_exit(rt, "c1", 3, "hello\nbye", "oops", false), ==, 0);
	assert_cmp(inspect_status(id, &code, &oom), ==, CS_EXITED);
	cr_assert_eq(code, 3, "exit code = %d", code);
	cr_assert(!oom, "oom is true");
	assert_cmp(ops->container_logs(rt, NULL, id, &all_logs, collect_log, &lb, NULL), ==, 0);
	cr_assert_eq(lb.len, sizeof(want) - 1, "log length %zu, want %zu", lb.len,
	             sizeof(want) - 1);
	cr_assert_eq(memcmp(lb.data, want, lb.len), 0, "framed logs differ");
	cr_assert_eq(fake_runtime_exit(rt, "c1", 0, NULL, NULL, false), DMS_ERR_CONTAINER,
	             "second exit accepted");
	assert_cmp(fake_runtime_exit(NULL, "nope", 0, NULL, NULL, false), ==, DMS_ERR_NOT_FOUND);
	free(id);
}

Test(fake_runtime, logs_filter_streams_and_tail)
{
	char *id = run_ok("c1", "e1");
	struct log_options o = all_logs;
	struct logbuf lb = {.len = 0};

	fake_runtime_exit(NULL, id, 0, "1\n2\n3\n", "E\n", false);
	o.stderr_ = false;
	o.tail = 2;
	ops->container_logs(rt, NULL, id, &o, collect_log, &lb, NULL);
	cr_assert_eq(lb.len, 2 * (8 + 2), "len = %zu", lb.len);
	cr_assert_eq(memcmp(lb.data + 8, "2\n", 2), 0, "first tail frame is not line 2");
	free(id);
}

Test(fake_runtime, tty_logs_are_raw)
{
	char *labels[] = {NULL};
	struct exec_request req = {.image = IMAGE, .tty = true};
	struct container_spec spec = {.name = "t", .req = &req, .labels = labels};
	struct logbuf lb = {.len = 0};
	char *id = NULL;

	ops->container_create(rt, NULL, &spec, &id, NULL);
	ops->container_start(rt, NULL, id, NULL);
	fake_runtime_exit(NULL, "t", 0, "raw\nbytes", NULL, false);
	ops->container_logs(rt, NULL, id, &all_logs, collect_log, &lb, NULL);
	cr_assert_eq(lb.len, 9, "len = %zu", lb.len);
	assert_cmp(memcmp(lb.data, "raw\nbytes", 9), ==, 0);
	free(id);
}

struct follower {
	const char *id;
	struct logbuf lb;
	int rc;
	bool done;
	pthread_mutex_t mu;
	pthread_cond_t cond;
};

static void *follow_main(void *arg)
{
	struct follower *f = arg;
	struct log_options o = all_logs;
	int rc;

	o.follow = true;
	rc = ops->container_logs(rt, NULL, f->id, &o, collect_log, &f->lb, NULL);
	pthread_mutex_lock(&f->mu);
	f->rc = rc;
	f->done = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

Test(fake_runtime, logs_follow_until_exit)
{
	char *id = run_ok("c1", "e1");
	struct follower f = {.id = id};
	int64_t deadline = mono_now_ns() + DEADLINE_MS * MS;
	pthread_t t;

	pthread_mutex_init(&f.mu, NULL);
	ctx_cond_init(&f.cond);
	fake_runtime_write(NULL, id, "early\n", NULL);
	pthread_create(&t, NULL, follow_main, &f);
	fake_runtime_write(NULL, id, "middle\n", NULL);
	fake_runtime_exit(NULL, id, 0, "late\n", NULL, false);
	pthread_mutex_lock(&f.mu);
	while (!f.done && ctx_cond_wait(NULL, &f.cond, &f.mu, deadline) != DMS_ERR_TIMEOUT)
		;
	pthread_mutex_unlock(&f.mu);
	cr_assert(f.done, "follower did not end after the exit");
	pthread_join(t, NULL);
	cr_assert_eq(f.rc, 0, "rc = %d", f.rc);
	cr_assert_eq(f.lb.len, 3 * 8 + 6 + 7 + 5, "len = %zu", f.lb.len);
	free(id);
}

Test(fake_runtime, logs_follow_observes_cancel)
{
	char *id = run_ok("c1", "e1");
	dms_context *ctx = ctx_new(150);
	struct log_options o = all_logs;
	struct logbuf lb = {.len = 0};
	int rc;

	o.follow = true;
	rc = ops->container_logs(rt, ctx, id, &o, collect_log, &lb, NULL);
	cr_assert_eq(rc, DMS_ERR_TIMEOUT, "rc = %d", rc);
	ctx_free(ctx);
	free(id);
}

Test(fake_runtime, binary_output)
{
	char *id = run_ok("c1", "e1");
	struct logbuf lb = {.len = 0};

	fake_runtime_exit_bytes(NULL, id, 0, "a\0b\xff", 4, NULL, 0, false);
	ops->container_logs(rt, NULL, id, &all_logs, collect_log, &lb, NULL);
	cr_assert_eq(lb.len, 12, "len = %zu", lb.len);
	assert_cmp(memcmp(lb.data + 8, "a\0b\xff", 4), ==, 0);
	free(id);
}

/* ---- events -------------------------------------------------------------- */

Test(fake_runtime, events_deliver_start_oom_die)
{
	struct collector c;
	char *id;

	collector_start(&c, "org.dms.executor=ex1", 0, 0);
	cr_assert(collector_wait(&c, 0, false), "stream never became ready");
	cr_assert(c.ready_before_event, "ready() was not called first");
	cr_assert_eq(fake_runtime_stream_count(), 1, "streams = %d", fake_runtime_stream_count());
	id = run_ok("c1", "e1");
	fake_runtime_exit(NULL, "c1", 137, NULL, NULL, true);
	cr_assert(collector_wait(&c, 3, false), "saw %d events", c.n);
	cr_assert_eq(c.ev[0].kind, RT_EV_START, "ev0 = %d", c.ev[0].kind);
	cr_assert_eq(c.ev[1].kind, RT_EV_OOM, "ev1 = %d", c.ev[1].kind);
	cr_assert_eq(c.ev[2].kind, RT_EV_DIE, "ev2 = %d", c.ev[2].kind);
	cr_assert_eq(c.ev[2].exit_code, 137, "exit = %d", c.ev[2].exit_code);
	cr_assert_str_eq(c.ev[2].cid, id, "c.ev[2].cid = \"%s\", id = \"%s\"", c.ev[2].cid, id);
	cr_assert_str_eq(c.ev[2].exec_id, "e1", "c.ev[2].exec_id = \"%s\"", c.ev[2].exec_id);
	collector_stop(&c);
	cr_assert_eq(c.rc, DMS_ERR_CANCELLED, "rc after cancel = %d", c.rc);
	cr_assert_eq(fake_runtime_stream_count(), 0, "stream not unregistered");
	free(id);
}

Test(fake_runtime, events_every_stream_gets_them)
{
	struct collector a, b;
	char *id;

	collector_start(&a, NULL, 0, 0);
	collector_start(&b, "org.dms.executor", 0, 0);
	cr_assert(fake_runtime_wait_streams(2, DEADLINE_MS), "streams = %d",
	          fake_runtime_stream_count());
	cr_assert(collector_wait(&a, 0, false) && collector_wait(&b, 0, false));
	id = run_ok("c1", "e1");
	fake_runtime_exit(NULL, id, 0, NULL, NULL, false);
	cr_assert(collector_wait(&a, 2, false), "a saw %d", a.n);
	cr_assert(collector_wait(&b, 2, false), "b saw %d", b.n);
	collector_stop(&a);
	collector_stop(&b);
	free(id);
}

Test(fake_runtime, events_filter_by_label)
{
	struct collector c;
	char *mine, *other;

	collector_start(&c, "org.dms.executor=ex1", 0, 0);
	cr_assert(collector_wait(&c, 0, false));
	lbl_exec = "org.dms.executor=ex2";
	other = run_ok("other", "e9");
	lbl_exec = "org.dms.executor=ex1";
	mine = run_ok("mine", "e1");
	fake_runtime_exit(NULL, "other", 1, NULL, NULL, false);
	fake_runtime_exit(NULL, "mine", 0, NULL, NULL, false);
	cr_assert(collector_wait(&c, 2, false), "saw %d", c.n);
	for (int i = 0; i < c.n; i++)
		cr_assert_str_eq(c.ev[i].cid, mine, "event %d for a foreign container", i);
	collector_stop(&c);
	free(mine);
	free(other);
}

Test(fake_runtime, events_fn_nonzero_ends_stream)
{
	struct collector c;
	char *id;

	collector_start(&c, NULL, 0, 1);
	cr_assert(collector_wait(&c, 0, false));
	id = run_ok("c1", "e1");
	cr_assert(collector_wait(&c, 0, true), "stream did not end");
	cr_assert_eq(c.rc, 0, "rc = %d", c.rc);
	cr_assert_eq(c.n, 1, "n = %d", c.n);
	collector_stop(&c);
	free(id);
}

Test(fake_runtime, events_since_replays)
{
	struct collector c;
	int64_t t0 = wall_now_ns();
	char *id = run_ok("c1", "e1");

	fake_runtime_exit(NULL, id, 5, NULL, NULL, false);
	collector_start(&c, "org.dms.executor=ex1", t0, 0);
	cr_assert(collector_wait(&c, 2, false), "replayed %d", c.n);
	cr_assert_eq(c.ev[1].kind, RT_EV_DIE, "c.ev[1].kind = %lld", (long long)(c.ev[1].kind));
	cr_assert_eq(c.ev[1].exit_code, 5, "c.ev[1].exit_code = %lld",
	             (long long)(c.ev[1].exit_code));
	collector_stop(&c);
	free(id);
}

Test(fake_runtime, down_drops_streams_and_fails_ops)
{
	struct collector c;
	dms_error *e = NULL;
	bool present;
	int rc;

	collector_start(&c, NULL, 0, 0);
	cr_assert(collector_wait(&c, 0, false));
	fake_runtime_set_down(true);
	cr_assert(collector_wait(&c, 0, true), "stream survived the engine going down");
	cr_assert_eq(c.rc, DMS_ERR_RUNTIME_UNAVAILABLE, "rc = %d", c.rc);
	collector_stop(&c);

	rc = ops->ping(rt, NULL, NULL, &e);
	cr_assert_eq(rc, DMS_ERR_RUNTIME_UNAVAILABLE, "ping rc = %d", rc);
	cr_assert_not_null(e, "e = %p", (void *)(e));
	err_free(e);
	assert_cmp(ops->image_present(rt, NULL, IMAGE, &present, NULL), ==,
	           DMS_ERR_RUNTIME_UNAVAILABLE);
	assert_cmp(ops->container_inspect(rt, NULL, "x", &(struct container_state){0}, NULL), ==,
	           DMS_ERR_RUNTIME_UNAVAILABLE);
	cr_assert_eq(ops->events(rt, NULL, NULL, 0, NULL, on_event, NULL, NULL),
	             DMS_ERR_RUNTIME_UNAVAILABLE, "events while down");

	fake_runtime_set_down(false);
	cr_assert_eq(ops->ping(rt, NULL, NULL, NULL), 0, "ping after coming back");
}

Test(fake_runtime, drop_streams_without_down)
{
	struct collector c;

	collector_start(&c, NULL, 0, 0);
	cr_assert(collector_wait(&c, 0, false));
	fake_runtime_drop_streams();
	cr_assert(collector_wait(&c, 0, true));
	cr_assert_eq(c.rc, DMS_ERR_RUNTIME_UNAVAILABLE, "rc = %d", c.rc);
	collector_stop(&c);
	cr_assert_eq(ops->ping(rt, NULL, NULL, NULL), 0, "engine should be up");
}

/* ---- stop, kill, remove ------------------------------------------------------ */

Test(fake_runtime, stop_exits_143)
{
	char *id = run_ok("c1", "e1");
	int code;

	assert_cmp(ops->container_stop(rt, NULL, id, 10, NULL), ==, 0);
	assert_cmp(inspect_status(id, &code, NULL), ==, CS_EXITED);
	cr_assert_eq(code, 143, "exit code = %d", code);
	cr_assert_eq(ops->container_stop(rt, NULL, id, 10, NULL), 0, "stopping a stopped one");
	free(id);
}

Test(fake_runtime, stop_ignoring_sigterm_exits_137)
{
	char *id = run_ok("c1", "e1");
	int code;

	fake_runtime_set_ignores_sigterm("c1", true);
	assert_cmp(ops->container_kill(rt, NULL, id, "SIGTERM", NULL), ==, 0);
	cr_assert_eq(inspect_status(id, NULL, NULL), CS_RUNNING, "SIGTERM was not ignored");
	assert_cmp(ops->container_stop(rt, NULL, id, 1, NULL), ==, 0);
	assert_cmp(inspect_status(id, &code, NULL), ==, CS_EXITED);
	cr_assert_eq(code, 137, "exit code = %d", code);
	free(id);
}

Test(fake_runtime, ignores_sigterm_default_for_new_containers)
{
	char *id;
	int code;

	fake_runtime_set_ignores_sigterm(NULL, true);
	id = run_ok("c1", "e1");
	ops->container_stop(rt, NULL, id, 1, NULL);
	inspect_status(id, &code, NULL);
	cr_assert_eq(code, 137, "exit code = %d", code);
	free(id);
}

struct kill_case {
	char signal[16];
	int want_exit; /* -1: keeps running */
};

Test(fake_runtime, kill_signals)
{
	static const struct kill_case cases[] = {
	    {"SIGKILL", 137}, {"KILL", 137},    {"9", 137},      {"SIGINT", 130},
	    {"SIGTERM", 143}, {"SIGWINCH", -1}, {"SIGCHLD", -1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[16];
		char *id;
		int code;
		enum container_status s;

		snprintf(name, sizeof(name), "k%zu", i);
		id = run_ok(name, name);
		cr_assert_eq(ops->container_kill(rt, NULL, id, cases[i].signal, NULL), 0, "kill %s",
		             cases[i].signal);
		s = inspect_status(id, &code, NULL);
		if (cases[i].want_exit < 0) {
			cr_assert_eq(s, CS_RUNNING, "%s stopped it", cases[i].signal);
		} else {
			cr_assert_eq(s, CS_EXITED, "%s: status %d", cases[i].signal, s);
			cr_assert_eq(code, cases[i].want_exit, "%s: exit %d, want %d",
			             cases[i].signal, code, cases[i].want_exit);
		}
		free(id);
	}
}

Test(fake_runtime, kill_not_running_is_conflict)
{
	char *id = create_ok("c1", "e1");
	dms_error *e = NULL;
	int rc = ops->container_kill(rt, NULL, id, "SIGKILL", &e);

	cr_assert_eq(rc, DMS_ERR_CONTAINER, "rc = %d", rc);
	cr_assert(strstr(e->engine_text, "is not running"), "engine_text = %s", e->engine_text);
	err_free(e);
	rc = ops->container_kill(rt, NULL, "nope", "SIGKILL", NULL);
	cr_assert_eq(rc, DMS_ERR_NOT_FOUND, "rc = %d", rc);
	free(id);
}

Test(fake_runtime, remove_rules)
{
	char *id = run_ok("c1", "e1");
	struct collector c;
	int rc;

	collector_start(&c, NULL, 0, 0);
	cr_assert(collector_wait(&c, 0, false));
	rc = ops->container_remove(rt, NULL, id, false, NULL);
	cr_assert_eq(rc, DMS_ERR_CONTAINER, "removing a running container without force: %d", rc);
	cr_assert(fake_runtime_exists(id));
	assert_cmp(ops->container_remove(rt, NULL, id, true, NULL), ==, 0);
	cr_assert(!fake_runtime_exists(id));
	cr_assert(collector_wait(&c, 2, false), "saw %d", c.n);
	cr_assert_eq(c.ev[0].kind, RT_EV_DIE, "c.ev[0].kind = %lld", (long long)(c.ev[0].kind));
	cr_assert_eq(c.ev[0].exit_code, 137, "c.ev[0].exit_code = %lld",
	             (long long)(c.ev[0].exit_code));
	cr_assert_eq(c.ev[1].kind, RT_EV_DESTROY, "c.ev[1].kind = %lld", (long long)(c.ev[1].kind));
	cr_assert_eq(ops->container_remove(rt, NULL, id, false, NULL), 0, "gone is OK");
	rc = ops->container_inspect(rt, NULL, id, &(struct container_state){0}, NULL);
	cr_assert_eq(rc, DMS_ERR_NOT_FOUND, "inspect after remove: %d", rc);
	collector_stop(&c);
	free(id);
}

/* ---- lists, images, objects ------------------------------------------------- */

Test(fake_runtime, list_by_label)
{
	struct container_summary *v = NULL;
	size_t n = 0;
	char *a = create_ok("a", "e1"), *b = create_ok("b", "e2"), *f;
	const char *foreign[] = {"org.dms.executor=someone-else", NULL};

	f = fake_runtime_add_container("f", IMAGE, foreign, CS_RUNNING, 0);
	cr_assert_not_null(f, "f = %p", (void *)(f));
	cr_assert_null(fake_runtime_add_container("f", IMAGE, foreign, CS_RUNNING, 0),
	               "duplicate name accepted");
	assert_cmp(ops->container_list(rt, NULL, "org.dms.executor=ex1", &v, &n, NULL), ==, 0);
	cr_assert_eq(n, 2, "n = %zu", n);
	cr_assert_str_eq(v[0].id, a, "v[0].id = \"%s\", a = \"%s\"", v[0].id, a);
	cr_assert_str_eq(v[1].name, "b", "v[1].name = \"%s\"", v[1].name);
	container_summaries_free(v, n);
	assert_cmp(ops->container_list(rt, NULL, "org.dms.execution=e2", &v, &n, NULL), ==, 0);
	cr_assert_eq(n, 1, "n = %zu", n);
	container_summaries_free(v, n);
	assert_cmp(ops->container_list(rt, NULL, "org.dms.executor", &v, &n, NULL), ==, 0);
	cr_assert_eq(n, 3, "key-only filter: n = %zu", n);
	container_summaries_free(v, n);
	assert_cmp(fake_runtime_status("f"), ==, CS_RUNNING);
	free(a);
	free(b);
	free(f);
}

Test(fake_runtime, images_pull_and_import)
{
	bool present = true;
	dms_error *e = NULL;
	int fds[2], rc;

	assert_cmp(ops->image_present(rt, NULL, "x:1", &present, NULL), ==, 0);
	cr_assert(!present, "present is true");
	rc = ops->image_pull(rt, NULL, "x:1", NULL, NULL, NULL, &e);
	cr_assert_eq(rc, DMS_ERR_IMAGE, "pull of an unknown image: %d", rc);
	err_free(e);
	fake_runtime_add_registry_image("x:1");
	cr_assert(!fake_runtime_has_image("x:1"), "registry image is local before pull");
	assert_cmp(ops->image_pull(rt, NULL, "x:1", NULL, NULL, NULL, NULL), ==, 0);
	cr_assert(fake_runtime_has_image("x:1"));

	cr_assert_eq(pipe(fds), 0, "pipe(fds) = %lld", (long long)(pipe(fds)));
	assert_cmp(write(fds[1], "tarball", 7), ==, 7);
	close(fds[1]);
	assert_cmp(ops->image_import(rt, NULL, fds[0], "imported:1", NULL), ==, 0);
	close(fds[0]);
	cr_assert(fake_runtime_has_image("imported:1"));
}

Test(fake_runtime, autoexit_image)
{
	struct logbuf lb = {.len = 0};
	int code, rc;
	char *id;

	fake_runtime_add_image_autoexit("auto:1", 7, "out\n", "err\n");
	id = create("c1", "e1", "auto:1", &rc, NULL);
	assert_cmp(ops->container_start(rt, NULL, id, NULL), ==, 0);
	assert_cmp(inspect_status(id, &code, NULL), ==, CS_EXITED);
	cr_assert_eq(code, 7, "exit = %d", code);
	ops->container_logs(rt, NULL, id, &all_logs, collect_log, &lb, NULL);
	cr_assert_eq(lb.len, 2 * (8 + 4), "len = %zu", lb.len);
	free(id);
}

Test(fake_runtime, networks_and_volumes)
{
	char *labels[] = {"org.dms.executor=ex1", NULL};
	char *nid = NULL;
	strv list = NULL;
	int rc;

	assert_cmp(ops->network_create(rt, NULL, "n1", labels, true, &nid, NULL), ==, 0);
	rc = ops->network_create(rt, NULL, "n1", labels, true, NULL, NULL);
	cr_assert_eq(rc, DMS_ERR_NETWORK, "duplicate network: %d", rc);
	assert_cmp(ops->volume_create(rt, NULL, "v1", labels, NULL), ==, 0);
	cr_assert_eq(ops->volume_create(rt, NULL, "v1", labels, NULL), 0, "volume idempotent");
	assert_cmp(fake_runtime_network_count("org.dms.executor=ex1"), ==, 1);
	assert_cmp(fake_runtime_volume_count("org.dms.executor=ex1"), ==, 1);

	assert_cmp(ops->object_list(rt, NULL, RT_OBJ_NETWORK, "org.dms.executor=ex1", &list, NULL),
	           ==, 0);
	cr_assert_eq(strv_len(list), 1, "strv_len(list) = %lld", (long long)(strv_len(list)));
	cr_assert_str_eq(list[0], nid, "list[0] = \"%s\", nid = \"%s\"", list[0], nid);
	strv_free(list);
	assert_cmp(ops->object_list(rt, NULL, RT_OBJ_VOLUME, "org.dms.executor=ex1", &list, NULL),
	           ==, 0);
	cr_assert_str_eq(list[0], "v1", "list[0] = \"%s\"", list[0]);
	strv_free(list);

	assert_cmp(ops->object_remove(rt, NULL, RT_OBJ_NETWORK, nid, NULL), ==, 0);
	cr_assert_eq(ops->object_remove(rt, NULL, RT_OBJ_NETWORK, nid, NULL), 0, "gone is OK");
	assert_cmp(ops->object_remove(rt, NULL, RT_OBJ_VOLUME, "v1", NULL), ==, 0);
	cr_assert_eq(fake_runtime_network_count(NULL), 0, "fake_runtime_network_count(NULL) = %lld",
	             (long long)(fake_runtime_network_count(NULL)));
	cr_assert_eq(fake_runtime_volume_count(NULL), 0, "fake_runtime_volume_count(NULL) = %lld",
	             (long long)(fake_runtime_volume_count(NULL)));
	free(nid);
}

Test(fake_runtime, object_list_and_remove_containers)
{
	char *id = run_ok("c1", "e1");
	strv list = NULL;

	assert_cmp(
	    ops->object_list(rt, NULL, RT_OBJ_CONTAINER, "org.dms.executor=ex1", &list, NULL), ==,
	    0);
	cr_assert_eq(strv_len(list), 1, "strv_len(list) = %lld", (long long)(strv_len(list)));
	assert_cmp(ops->object_remove(rt, NULL, RT_OBJ_CONTAINER, list[0], NULL), ==, 0);
	cr_assert(!fake_runtime_exists(id), "running container survived object_remove");
	strv_free(list);
	free(id);
}

Test(fake_runtime, injected_failures_and_counts)
{
	dms_error *e = NULL;
	int rc;

	fake_runtime_fail_next("container_start", DMS_ERR_RESOURCE, 1);
	char *id = create_ok("c1", "e1");
	rc = ops->container_start(rt, NULL, id, &e);
	cr_assert_eq(rc, DMS_ERR_RESOURCE, "rc = %d", rc);
	cr_assert_str_eq(e->operation, "container_start", "e->operation = \"%s\"", e->operation);
	err_free(e);
	cr_assert_eq(ops->container_start(rt, NULL, id, NULL), 0, "failure not one-shot");
	cr_assert_eq(fake_runtime_op_count("container_start"), 2,
	             "fake_runtime_op_count(\"container_start\") = %lld",
	             (long long)(fake_runtime_op_count("container_start")));
	cr_assert_eq(fake_runtime_op_count("container_create"), 1,
	             "fake_runtime_op_count(\"container_create\") = %lld",
	             (long long)(fake_runtime_op_count("container_create")));
	cr_assert_eq(fake_runtime_op_count("image_pull"), 0,
	             "fake_runtime_op_count(\"image_pull\") = %lld",
	             (long long)(fake_runtime_op_count("image_pull")));
	free(id);
}

Test(fake_runtime, cancelled_ctx_fails_ops)
{
	dms_context *ctx = ctx_new(0);

	ctx_cancel(ctx);
	assert_cmp(ops->ping(rt, ctx, NULL, NULL), ==, DMS_ERR_CANCELLED);
	ctx_free(ctx);
}

struct exiter {
	const char *name;
};

static void *exit_later(void *arg)
{
	struct exiter *x = arg;

	fake_runtime_wait_status(x->name, CS_RUNNING, DEADLINE_MS);
	fake_runtime_exit(NULL, x->name, 0, NULL, NULL, false);
	return NULL;
}

Test(fake_runtime, wait_helpers)
{
	struct exiter x = {"c1"};
	pthread_t t;
	char *id;

	cr_assert(!fake_runtime_wait_status("c1", CS_RUNNING, 50), "nonexistent became running");
	pthread_create(&t, NULL, exit_later, &x);
	id = run_ok("c1", "e1");
	cr_assert(fake_runtime_wait_status("c1", CS_EXITED, DEADLINE_MS), "never exited");
	pthread_join(t, NULL);
	ops->container_remove(rt, NULL, id, true, NULL);
	cr_assert(fake_runtime_wait_gone("c1", DEADLINE_MS));
	free(id);
}

Test(fake_runtime, reset_forgets_everything)
{
	char *id = run_ok("c1", "e1");

	fake_runtime_set_down(true);
	fake_runtime_reset();
	cr_assert_eq(fake_runtime_count(NULL), 0, "fake_runtime_count(NULL) = %lld",
	             (long long)(fake_runtime_count(NULL)));
	cr_assert(!fake_runtime_has_image(IMAGE));
	cr_assert_eq(ops->ping(rt, NULL, NULL, NULL), 0, "still down after reset");
	cr_assert_eq(fake_runtime_op_count("ping"), 1, "fake_runtime_op_count(\"ping\") = %lld",
	             (long long)(fake_runtime_op_count("ping")));
	free(id);
}
