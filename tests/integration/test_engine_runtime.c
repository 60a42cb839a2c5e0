/* test_engine_runtime.c — the runtime tables (executor/runtimes/docker.c,
 * podman.c over compat.c) on their own, below the executor, against a real
 * engine: DMS_ENGINE=docker|podman (ctest runs this binary once per engine,
 * tests/CMakeLists.txt) at its socket from scripts/engines.sh, plus a
 * scripted engine for what a healthy one will not do on demand.
 *
 * Exists to prove the engine layer: version negotiation, the create body and
 * its limits, the event stream, framed and followed logs, the error mapping,
 * labelled networks and volumes — the same on both engines — and what the
 * podman table hides of Podman's own ways (its event names and key-only label
 * filters, a follow stream that must be exact although Podman's loses
 * records, import keeping the tag, the fingerprint from /libpod/info, socket
 * discovery and `runtime: auto`). A test about one engine's own behaviour
 * says so first (ONLY_ON) and is skipped on the other. Every test labels what
 * it creates with a value unique to its process and removes it; the fixture
 * sweeps that label afterwards as a safety net. Waits are on engine events
 * with deadlines, never fixed sleeps.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>

#include "context.h"
#include "error.h"
#include "http.h"
#include "itest.h"
#include "runtime.h"
#include "runtimes/compat.h"
#include "test_time.h"
#include "test_assert.h"

#define RUN_LABEL_KEY "org.dms.test.run"
#define EVENT_TIMEOUT_MS test_ms(20000) /* scaled under valgrind: test_time.h */

static const struct runtime_ops *ops; /* the table of the engine under test */
static struct runtime *rt;
static char run_id[64];     /* unique to this test process */
static char run_label[128]; /* RUN_LABEL_KEY=<run_id> */

static bool on_engine(const char *engine)
{
	return strcmp(itest_engine(), engine) == 0;
}

/* A test of one engine's own behaviour (or of its table alone): skipped,
 * saying so, when the binary runs for the other engine. */
#define ONLY_ON(engine)                                                                            \
	do {                                                                                       \
		if (!on_engine(engine))                                                            \
			cr_skip_test("%s only (DMS_ENGINE=%s)", engine, itest_engine());           \
	} while (0)

static const char *engine_host(void)
{
	return itest_engine_host();
}

/* Both engines' sockets, whichever is under test: discovery and
 * `runtime: auto` look at both. */
static const char *docker_host(void)
{
	const char *h = getenv("DMS_DOCKER_HOST");

	return h && *h ? h : "unix:///tmp/dms-run/docker.sock";
}

static const char *podman_host(void)
{
	const char *h = getenv("DMS_PODMAN_HOST");

	return h && *h ? h : "unix:///tmp/dms-run/podman.sock";
}

static void assert_ok(int rc, dms_error *err, const char *what)
{
	char *d = err ? err_describe(err) : NULL;

	cr_assert_eq(rc, 0, "%s: rc=%d (%s): %s", what, rc, dms_status_name(rc),
	             d ? d : "no error object");
	cr_assert_null(err, "%s succeeded but left an error object", what);
	free(d);
}

/* The status and the error object of a failure, with its context. */
static void assert_fails(int rc, dms_error *err, dms_status want, const char *what)
{
	char *d = err ? err_describe(err) : NULL;

	cr_assert_eq(rc, (int)want, "%s: want %s, got rc=%d (%s): %s", what, dms_status_name(want),
	             rc, dms_status_name(rc), d ? d : "no error object");
	cr_assert_not_null(err, "%s failed without an error object", what);
	cr_assert_eq(err->category, want, "%s: error category %s", what,
	             dms_status_name(err->category));
	cr_assert_not_null(err->message, "%s: an error object without a message", what);
	free(d);
}

/* The call runs before err is looked at (argument order is unspecified). */
#define ASSERT_OK(expr, what)                                                                      \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		assert_ok(rc_, err, (what));                                                       \
	} while (0)
#define ASSERT_FAILS(expr, want, what)                                                             \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		assert_fails(rc_, err, (want), (what));                                            \
	} while (0)

/* ---- raw engine access, to look at what the runtime did from outside ---- */

static struct http_response raw_on(const char *url, const char *method, const char *path)
{
	struct http_client *c = NULL;
	struct http_response resp;
	struct http_request req = {.method = method, .path = path, .body_fd = -1};
	dms_error *err = NULL;

	http_response_init(&resp);
	ASSERT_OK(http_client_new(url, &c, &err), "http_client_new");
	ASSERT_OK(http_do(c, NULL, &req, &resp, &err), path);
	http_client_free(c);
	return resp;
}

static struct http_response raw(const char *method, const char *path)
{
	return raw_on(engine_host(), method, path);
}

static yajl_val raw_json(const char *path)
{
	struct http_response resp = raw("GET", path);
	char eb[128];
	yajl_val v;

	cr_assert_eq(resp.status, 200, "GET %s: HTTP %ld %s", path, resp.status,
	             resp.body.data ? resp.body.data : "");
	v = yajl_tree_parse(resp.body.data, eb, sizeof(eb));
	cr_assert_not_null(v, "GET %s: not JSON: %s", path, eb);
	http_response_free(&resp);
	return v;
}

static long long json_int(yajl_val root, const char **path)
{
	yajl_val v = yajl_tree_get(root, path, yajl_t_number);

	cr_assert(v && YAJL_IS_INTEGER(v), "no integer at %s", path[0]);
	return YAJL_GET_INTEGER(v);
}

/* ---- fixture ------------------------------------------------------------- */

static void sweep(void)
{
	static const enum runtime_object kinds[] = {RT_OBJ_CONTAINER, RT_OBJ_NETWORK,
	                                            RT_OBJ_VOLUME};

	for (size_t k = 0; k < 3; k++) {
		strv ids = NULL;

		if (ops->object_list(rt, NULL, kinds[k], run_label, &ids, NULL) != 0)
			continue;
		for (size_t i = 0; ids && ids[i]; i++)
			ops->object_remove(rt, NULL, kinds[k], ids[i], NULL);
		strv_free(ids);
	}
}

static void setup(void)
{
	dms_error *err = NULL;

	ops = on_engine("podman") ? &podman_runtime_ops : &docker_runtime_ops;
	snprintf(run_id, sizeof(run_id), "%d-%lld", (int)getpid(), (long long)wall_now_ns());
	snprintf(run_label, sizeof(run_label), RUN_LABEL_KEY "=%s", run_id);
	ASSERT_OK(ops->open(engine_host(), &rt, &err), "open");
}

static void watcher_abandon(void);

static void teardown(void)
{
	watcher_abandon();
	if (rt) {
		sweep();
		ops->close(rt);
	}
	rt = NULL;
}

TestSuite(runtime, .init = setup, .fini = teardown, .timeout = 120);

/* ---- containers ---------------------------------------------------------- */

static char *name_for(const char *what)
{
	char *s = NULL;

	assert_cmp(asprintf(&s, "dms-rt-test-%s-%s", run_id, what), >, 0);
	return s;
}

/* Creates a labelled container `name` of the test image running
 * `sh -c script`, org.dms.execution=execution; with limits: 0.5 CPU,
 * 64 MiB, 64 pids, SIGTERM and 2 s to stop. */
static char *create_container(const char *name, const char *execution, const char *script,
                              const char *extra_label, bool tty, bool limits)
{
	char exec_label[200];
	char *entry[] = {"/bin/sh", "-c", NULL};
	char *cmd[] = {(char *)script, NULL};
	char *labels[] = {run_label, exec_label, (char *)extra_label, NULL};
	struct exec_request req = {
	    .image = (char *)itest_image(),
	    .entrypoint = entry,
	    .cmd = cmd,
	    .stop_timeout_ms = -1,
	    .tty = tty,
	};
	struct container_spec spec = {.name = name, .req = &req, .labels = labels};
	dms_error *err = NULL;
	char *id = NULL;

	if (limits) {
		req.cpu_cores = 0.5;
		req.memory_bytes = 64 << 20;
		req.pids_limit = 64;
		spec.stop_signal = "SIGTERM";
		spec.stop_timeout_s = 2;
	}
	snprintf(exec_label, sizeof(exec_label), "org.dms.execution=%s", execution);
	ASSERT_OK(ops->container_create(rt, NULL, &spec, &id, &err), "container_create");
	cr_assert(id && strlen(id) >= 12, "container id \"%s\"", id ? id : "(null)");
	return id;
}

/* With limits, named `name`, which is also its execution. */
static char *create(const char *name, const char *script, const char *extra_label)
{
	return create_container(name, name, script, extra_label, false, true);
}

/* Without limits, named after `what`, which is its execution. */
static char *create_job(const char *what, const char *script, const char *extra_label, bool tty)
{
	char name[160];

	snprintf(name, sizeof(name), "dms-rt-test-%s-%s", run_id, what);
	return create_container(name, what, script, extra_label, tty, false);
}

static void remove_container(const char *id)
{
	dms_error *err = NULL;

	ASSERT_OK(ops->container_remove(rt, NULL, id, true, &err), "container_remove");
}

static bool strv_has(const strv v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* ---- an event watcher: the events operation on its own thread ------------ */

struct seen_event {
	enum runtime_event_kind kind;
	char id[80];
	char execution[128];
	int exit_code;
	int64_t time_ns;
};

struct watcher {
	pthread_t thread;
	dms_context *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	const char *label;
	int64_t since_ns;
	int ready_calls;
	bool done;
	int rc;
	dms_error *err;
	struct seen_event ev[128];
	size_t n;
	bool running; /* started and not yet joined */
};

/* Static, not on a test's stack: a failed assertion leaves the test early,
 * and teardown must still find the thread to cancel and join. */
static struct watcher the_watcher;

static void watcher_ready(void *ud)
{
	struct watcher *w = ud;

	pthread_mutex_lock(&w->mu);
	w->ready_calls++;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static int watcher_event(void *ud, const struct runtime_event *e)
{
	struct watcher *w = ud;

	pthread_mutex_lock(&w->mu);
	if (w->n < sizeof(w->ev) / sizeof(w->ev[0])) {
		struct seen_event *s = &w->ev[w->n++];

		s->kind = e->kind;
		snprintf(s->id, sizeof(s->id), "%s", e->container_id ? e->container_id : "");
		snprintf(s->execution, sizeof(s->execution), "%s",
		         e->execution_id ? e->execution_id : "");
		s->exit_code = e->exit_code;
		s->time_ns = e->time_ns;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static void *watcher_main(void *p)
{
	struct watcher *w = p;
	dms_error *err = NULL;
	int rc =
	    ops->events(rt, w->ctx, w->label, w->since_ns, watcher_ready, watcher_event, w, &err);

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->err = err;
	w->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Starts watching events filtered by `label` (a key alone or key=value)
 * since `since_ns` (0: from now) under a context of timeout_ms (0: none);
 * returns once the stream is established. */
static struct watcher *watcher_open(const char *label, int64_t since_ns, int64_t timeout_ms)
{
	struct watcher *w = &the_watcher;
	int64_t deadline = mono_now_ns() + test_ms(10000) * 1000000LL;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	ctx_cond_init(&w->cond);
	w->ctx = ctx_new(timeout_ms);
	w->label = label;
	w->since_ns = since_ns;
	cr_assert_eq(pthread_create(&w->thread, NULL, watcher_main, w), 0, "pthread_create failed");
	w->running = true;
	pthread_mutex_lock(&w->mu);
	while (!w->ready_calls && !w->done)
		if (ctx_cond_wait(NULL, &w->cond, &w->mu, deadline) != 0)
			break;
	cr_assert(w->ready_calls == 1 && !w->done,
	          "event stream not ready within 10 s (ready=%d done=%d rc=%d %s)", w->ready_calls,
	          w->done, w->rc, w->err ? w->err->message : "");
	pthread_mutex_unlock(&w->mu);
	return w;
}

/* This run's containers' events from now on. */
static struct watcher *watcher_start(int64_t timeout_ms)
{
	return watcher_open(run_label, 0, timeout_ms);
}

/* Waits for an event of `kind` for container `id`; fills *out. */
static bool watcher_wait(struct watcher *w, enum runtime_event_kind kind, const char *id,
                         struct seen_event *out)
{
	int64_t deadline = mono_now_ns() + EVENT_TIMEOUT_MS * 1000000LL;
	bool found = false;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		for (size_t i = 0; i < w->n && !found; i++) {
			if (w->ev[i].kind == kind && strcmp(w->ev[i].id, id) == 0) {
				*out = w->ev[i];
				found = true;
			}
		}
		if (found || w->done || ctx_cond_wait(NULL, &w->cond, &w->mu, deadline) != 0)
			break;
	}
	pthread_mutex_unlock(&w->mu);
	return found;
}

static void watcher_free(struct watcher *w)
{
	err_free(w->err);
	w->err = NULL;
	ctx_free(w->ctx);
	w->ctx = NULL;
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
}

/* Cancels the stream; it must end promptly with DMS_ERR_CANCELLED. */
static void watcher_stop(struct watcher *w)
{
	int64_t t0 = mono_now_ns(), ms;

	ctx_cancel(w->ctx);
	pthread_join(w->thread, NULL);
	w->running = false;
	ms = (mono_now_ns() - t0) / 1000000;
	cr_assert_eq(w->rc, DMS_ERR_CANCELLED, "events ended with %s: %s", dms_status_name(w->rc),
	             w->err ? w->err->message : "");
	cr_assert_lt(ms, 1000, "events took %lld ms to notice the cancel", (long long)ms);
	watcher_free(w);
}

/* Ends a stream without looking at how: after a failed test (teardown), or
 * where the test is done with it. */
static void watcher_abandon(void)
{
	struct watcher *w = &the_watcher;

	if (!w->running)
		return;
	ctx_cancel(w->ctx);
	pthread_join(w->thread, NULL);
	w->running = false;
	watcher_free(w);
}

/* ---- a log sink: what container_logs writes, kept whole ------------------ */

struct sink {
	char *data; /* NUL-terminated */
	size_t len, cap;
	size_t max; /* more bytes than this fail the test (0: no bound) */
	struct runtime *rt;
	const char *id;
	int status_at_first; /* container status when the first bytes came */
};

static int sink_fn(void *ud, const char *data, size_t len)
{
	struct sink *s = ud;

	if (s->max)
		cr_assert_leq(s->len + len, s->max, "more log bytes than expected: %zu > %zu",
		              s->len + len, s->max);
	if (s->len == 0 && len > 0 && s->id) {
		struct container_state st = {0};

		if (ops->container_inspect(s->rt, NULL, s->id, &st, NULL) == 0)
			s->status_at_first = st.status;
		container_state_free(&st);
	}
	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->data = realloc(s->data, s->cap);
		cr_assert_not_null(s->data, "out of memory for %zu log bytes", s->cap);
	}
	memcpy(s->data + s->len, data, len);
	s->len += len;
	s->data[s->len] = '\0';
	return 0;
}

/* ---- a scripted engine: what a healthy engine will not do on demand ------
 * A unix-socket HTTP server on a thread answering from a script, as dockerd
 * (a newer or older API version than the real engine's, an event stream
 * that drops, a line past the 64 KiB bound, an error inside a pull stream,
 * an oversized body) or as Podman (its headers, libpod's event names, an
 * error written into a 200 log body). Each answer closes its connection. */

struct fake_engine {
	char path[108];
	char url[128];
	int lfd;
	pthread_t thread;
	const char *api_version; /* dockerd's answers */
	bool libpod;             /* Podman's answers instead */
	pthread_mutex_t mu;
	char seen[32][256]; /* request paths, in order */
	size_t n_seen;
};

static void send_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL);

		if (n <= 0)
			return; /* the client gave up: fine */
		data += n;
		len -= (size_t)n;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

static void docker_answer(struct fake_engine *f, int fd, const char *path)
{
	char head[256];

	if (strcmp(path, "/_ping") == 0) {
		snprintf(head, sizeof(head),
		         "HTTP/1.1 200 OK\r\nApi-Version: %s\r\nContent-Length: 2\r\n"
		         "Connection: close\r\n\r\nOK",
		         f->api_version);
		send_str(fd, head);
	} else if (strstr(path, "/events?")) {
		static char longline[70 * 1024];

		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		             "Connection: close\r\n\r\n");
		send_str(fd,
		         "{\"Type\":\"container\",\"Action\":\"start\",\"Actor\":{\"ID\":\"c1\","
		         "\"Attributes\":{\"org.dms.execution\":\"e1\"}},\"timeNano\":5}\n");
		memset(longline, 'x', sizeof(longline) - 1);
		send_str(fd, longline); /* no JSON, past the bound: skipped */
		send_str(fd, "\nnot json either\n");
		/* split across writes: the line reader joins it */
		send_str(fd, "{\"status\":\"die\",\"id\":\"c1\",\"Actor\":{\"Attributes\":");
		send_str(fd, "{\"exitCode\":\"3\"}},\"time\":7}\n");
	} else if (strstr(path, "/images/create?")) {
		send_str(fd, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		             "Connection: close\r\n\r\n"
		             "{\"status\":\"Pulling from x\"}\r\n"
		             "{\"errorDetail\":{\"message\":\"boom: manifest unknown\"},"
		             "\"error\":\"boom: manifest unknown\"}\r\n");
	} else if (strstr(path, "/containers/huge/json")) {
		size_t n = HTTP_MAX_BODY + 1;
		char *body = malloc(n);

		memset(body, ' ', n);
		snprintf(head, sizeof(head),
		         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", n);
		send_str(fd, head);
		send_all(fd, body, n);
		free(body);
	} else {
		send_str(fd,
		         "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
		         "Content-Length: 19\r\nConnection: close\r\n\r\n{\"message\":\"nope\"}\n");
	}
}

#define LIBPOD_HEADERS                                                                             \
	"Api-Version: 1.41\r\nLibpod-Api-Version: 9.8.7\r\nServer: Libpod/9.8.7 (linux)\r\n"       \
	"Connection: close\r\n"

static void libpod_answer(int fd, const char *path)
{
	if (strcmp(path, "/_ping") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\n" LIBPOD_HEADERS "Content-Length: 2\r\n\r\nOK");
	} else if (strstr(path, "/events?")) {
		send_str(fd, "HTTP/1.1 200 OK\r\n" LIBPOD_HEADERS
		             "Content-Type: application/json\r\n\r\n");
		/* libpod's names, the compat one, and one without the key */
		send_str(fd, "{\"Type\":\"container\",\"Action\":\"died\",\"Actor\":{\"ID\":\"c1\","
		             "\"Attributes\":{\"k\":\"v\",\"containerExitCode\":\"4\"}},"
		             "\"timeNano\":5}\n");
		send_str(fd, "{\"Type\":\"container\",\"Action\":\"die\",\"Actor\":{\"ID\":\"c2\","
		             "\"Attributes\":{\"exitCode\":\"6\"}},\"timeNano\":6}\n");
		send_str(fd,
		         "{\"Type\":\"container\",\"Action\":\"remove\",\"Actor\":{\"ID\":\"c1\","
		         "\"Attributes\":{\"k\":\"\"}},\"timeNano\":7}\n");
	} else if (strstr(path, "/containers/gone/logs?")) {
		/* a log, then the failure Podman writes into the 200 body */
		send_str(fd, "HTTP/1.1 200 OK\r\n" LIBPOD_HEADERS
		             "Content-Type: application/octet-stream\r\n\r\n");
		send(fd, "\1\0\0\0\0\0\0\6hello\n", 14, MSG_NOSIGNAL);
		send_str(fd, "{\"cause\":\"no such container\",\"message\":\"failed to obtain "
		             "logs for Container 'gone': no such container\",\"response\":500}\n");
	} else if (strcmp(path, "/v1.41/version") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\n" LIBPOD_HEADERS "Content-Length: 32\r\n\r\n"
		             "{\"Version\":\"9.8.7\",\"Os\":\"linux\"}");
	} else {
		send_str(fd, "HTTP/1.1 404 Not Found\r\n" LIBPOD_HEADERS
		             "Content-Length: 18\r\n\r\n{\"message\":\"nope\"}");
	}
}

static void *fake_main(void *p)
{
	struct fake_engine *f = p;

	for (;;) {
		char req[4096], path[256] = "";
		size_t len = 0;
		int fd = accept(f->lfd, NULL, NULL);

		if (fd < 0)
			return NULL; /* listening socket shut down */
		while (len < sizeof(req) - 1) {
			ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

			if (n <= 0)
				break;
			len += (size_t)n;
			req[len] = '\0';
			if (strstr(req, "\r\n\r\n"))
				break;
		}
		req[len] = '\0';
		sscanf(req, "%*s %255s", path);
		pthread_mutex_lock(&f->mu);
		if (f->n_seen < 32)
			snprintf(f->seen[f->n_seen++], sizeof(f->seen[0]), "%s", path);
		pthread_mutex_unlock(&f->mu);
		if (f->libpod)
			libpod_answer(fd, path);
		else
			docker_answer(f, fd, path);
		close(fd);
	}
}

/* api_version: what a scripted dockerd says; libpod: answer as Podman. */
static void fake_start(struct fake_engine *f, const char *api_version, bool libpod)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->api_version = api_version;
	f->libpod = libpod;
	snprintf(f->path, sizeof(f->path), "/tmp/dms-rt-fake-%d.sock", (int)getpid());
	snprintf(f->url, sizeof(f->url), "unix://%s", f->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	unlink(f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(f->lfd, 0, "socket: %s", strerror(errno));
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s: %s", f->path,
	             strerror(errno));
	cr_assert_eq(listen(f->lfd, 16), 0, "listen %s: %s", f->path, strerror(errno));
	cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0, "pthread_create failed");
}

static void fake_stop(struct fake_engine *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	pthread_mutex_destroy(&f->mu);
}

static bool fake_saw_prefix(struct fake_engine *f, const char *prefix)
{
	bool found = false;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n_seen && !found; i++)
		found = strncmp(f->seen[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&f->mu);
	return found;
}

/* Events of a scripted stream, copied (its strings are borrowed). */
struct fake_events {
	int ready;
	int n;
	struct runtime_event ev[4];
	char ids[4][16];
};

static void fake_ready(void *ud)
{
	((struct fake_events *)ud)->ready++;
}

static int fake_event(void *ud, const struct runtime_event *e)
{
	struct fake_events *fe = ud;

	if (fe->n < 4) {
		fe->ev[fe->n] = *e;
		snprintf(fe->ids[fe->n], sizeof(fe->ids[0]), "%s", e->container_id);
		fe->ev[fe->n].container_id = fe->ids[fe->n];
		fe->ev[fe->n].execution_id = NULL; /* borrowed: not kept */
		fe->n++;
	}
	return 0;
}

/* ---- engine and version ---------------------------------------------------- */

Test(runtime, ping_fills_info_and_negotiates_the_engines_version)
{
	struct http_response ping = raw("GET", "/_ping");
	struct runtime_info info = {0};
	dms_error *err = NULL;
	char want[32];
	int major = 0, minor = 0;

	cr_assert_eq(ping.status, 200, "ping.status = %lld", (long long)(ping.status));
	cr_assert_not_null(ping.api_version, "dockerd sent no Api-Version header");
	assert_cmp(sscanf(ping.api_version, "%d.%d", &major, &minor), ==, 2);
	if (major > 1 || minor > 43)
		snprintf(want, sizeof(want), "1.43");
	else
		snprintf(want, sizeof(want), "%d.%d", major, minor);

	ASSERT_OK(ops->ping(rt, NULL, &info, &err), "ping");
	/* The kind is the engine's, not the table's: this suite also runs
	 * against Podman's compat socket, which names itself in its headers. */
	cr_assert_str_eq(
	    info.kind, ping.libpod_api_version ? "podman" : "docker",
	    "info.kind = \"%s\", ping.libpod_api_version ? \"podman\" : \"docker\" = \"%s\"",
	    info.kind, ping.libpod_api_version ? "podman" : "docker");
	cr_assert_str_eq(info.api_version, want, "negotiated %s, engine says %s (cap 1.43)",
	                 info.api_version, ping.api_version);
	cr_assert(info.version && *info.version, "no engine version");
	cr_assert_str_eq(info.os, "linux", "info.os = \"%s\"", info.os);
	cr_assert(info.cgroup_version == 1 || info.cgroup_version == 2, "cgroup version %d",
	          info.cgroup_version);
	cr_assert_not(info.rootless, "this dockerd runs as root");
	runtime_info_free(&info);
	runtime_info_free(&info); /* idempotent: members were reset */
	http_response_free(&ping);
}

Test(runtime, ping_reports_podmans_own_version_and_the_compat_api_version)
{
	ONLY_ON("podman");
	struct http_response ping = raw_on(podman_host(), "GET", "/_ping");
	struct runtime_info info = {0};
	dms_error *err = NULL;
	char path[64];
	yajl_val li;
	const char *cg;

	cr_assert_not_null(ping.libpod_api_version, "no Libpod-Api-Version: not Podman?");
	snprintf(path, sizeof(path), "/v%s/libpod/info", ping.libpod_api_version);
	li = raw_json(path);
	ASSERT_OK(ops->ping(rt, NULL, &info, &err), "ping");
	cr_assert_str_eq(info.kind, "podman", "info.kind = \"%s\"", info.kind);
	cr_assert_str_eq(info.api_version, ping.api_version, "negotiated %s, compat API says %s",
	                 info.api_version, ping.api_version);
	/* Podman's own version (4.x) is not the compat API's (1.41). */
	cr_assert_str_eq(info.version,
	                 YAJL_GET_STRING(yajl_tree_get(
	                     li, (const char *[]){"version", "Version", NULL}, yajl_t_string)));
	cr_assert_str_neq(info.version, info.api_version,
	                  "info.version = \"%s\", info.api_version = \"%s\"", info.version,
	                  info.api_version);
	cr_assert_str_eq(info.os, "linux", "info.os = \"%s\"", info.os);
	cg = YAJL_GET_STRING(
	    yajl_tree_get(li, (const char *[]){"host", "cgroupVersion", NULL}, yajl_t_string));
	cr_assert_eq(info.cgroup_version, atoi(cg + 1), "cgroup %d, libpod says %s",
	             info.cgroup_version, cg);
	assert_cmp(info.rootless, ==,
	           yajl_tree_get(li, (const char *[]){"host", "security", "rootless", NULL},
	                         yajl_t_true) != NULL);
	cr_assert_not(info.rootless, "this service runs as root");
	runtime_info_free(&info);
	yajl_tree_free(li);
	http_response_free(&ping);
}

Test(runtime, first_call_negotiates_lazily_without_ping)
{
	struct runtime *fresh = NULL;
	struct runtime_info info = {0};
	dms_error *err = NULL;
	bool present = false;

	ASSERT_OK(ops->open(engine_host(), &fresh, &err), "open");
	ASSERT_OK(ops->image_present(fresh, NULL, itest_image(), &present, &err),
	          "image_present before any ping");
	cr_assert(present, "present is false");
	ASSERT_OK(ops->ping(fresh, NULL, &info, &err), "ping");
	runtime_info_free(&info);
	ops->close(fresh);
}

Test(runtime, unreachable_socket_is_runtime_unavailable)
{
	struct runtime *dead = NULL;
	dms_error *err = NULL;
	const char *url = "unix:///tmp/dms-run/no-such-engine.sock";
	int rc;

	/* open never contacts the engine */
	ASSERT_OK(ops->open(url, &dead, &err), "open of a dead socket");
	rc = ops->ping(dead, NULL, NULL, &err);
	assert_fails(rc, err, DMS_ERR_RUNTIME_UNAVAILABLE, "ping");
	cr_assert(strstr(err->message, "/tmp/dms-run/no-such-engine.sock"),
	          "message does not name the socket: %s", err->message);
	err_free(err);
	err = NULL;

	rc = ops->container_start(dead, NULL, "abc", &err);
	assert_fails(rc, err, DMS_ERR_RUNTIME_UNAVAILABLE, "container_start");
	cr_assert_str_eq(err->operation, "container start", "err->operation = \"%s\"",
	                 err->operation);
	cr_assert_str_eq(err->resource, "abc", "err->resource = \"%s\"", err->resource);
	err_free(err);
	ops->close(dead);
}

Test(runtime, unreachable_tcp_engine_names_the_url)
{
	struct runtime *dead = NULL;
	dms_error *err = NULL;

	ASSERT_OK(ops->open("tcp://127.0.0.1:1", &dead, &err), "open tcp://");
	ASSERT_FAILS(ops->ping(dead, NULL, NULL, &err), DMS_ERR_RUNTIME_UNAVAILABLE, "ping");
	cr_assert(strstr(err->message, "tcp://127.0.0.1:1"), "message: %s", err->message);
	err_free(err);
	ops->close(dead);
}

Test(runtime, no_host_means_docker_host_from_the_environment)
{
	ONLY_ON("docker");
	struct runtime *r = NULL;
	dms_error *err = NULL;

	assert_cmp(setenv("DOCKER_HOST", docker_host(), 1), ==, 0);
	ASSERT_OK(ops->open(NULL, &r, &err), "open(NULL)");
	ASSERT_OK(ops->ping(r, NULL, NULL, &err), "ping via $DOCKER_HOST");
	ops->close(r);
	assert_cmp(setenv("DOCKER_HOST", "unix:///tmp/dms-run/no-such-engine.sock", 1), ==, 0);
	ASSERT_OK(ops->open("", &r, &err), "open(\"\")");
	ASSERT_FAILS(ops->ping(r, NULL, NULL, &err), DMS_ERR_RUNTIME_UNAVAILABLE,
	             "ping via a dead $DOCKER_HOST");
	cr_assert(strstr(err->message, "no-such-engine.sock"), "message: %s", err->message);
	err_free(err);
	ops->close(r);
}

Test(runtime, unsupported_url_is_a_config_error)
{
	struct runtime *r = NULL;
	dms_error *err = NULL;

	ASSERT_FAILS(ops->open("ftp://x", &r, &err), DMS_ERR_CONFIG, "open ftp://");
	err_free(err);
}

/* ---- images ---------------------------------------------------------------- */

Test(runtime, image_present_true_and_false)
{
	dms_error *err = NULL;
	bool present = false;

	ASSERT_OK(ops->image_present(rt, NULL, itest_image(), &present, &err), "image_present");
	cr_assert(present, "%s should be present", itest_image());
	ASSERT_OK(ops->image_present(rt, NULL, "dms-test/absent-image:nope", &present, &err),
	          "image_present absent");
	cr_assert_not(present, "present is true");
}

Test(runtime, pull_of_a_nonexistent_image_is_an_image_error_with_engine_text)
{
	const char *image = "localhost:1/dms-test/does-not-exist:latest";
	dms_error *err = NULL;
	int rc = ops->image_pull(rt, NULL, image, NULL, NULL, NULL, &err);

	assert_fails(rc, err, DMS_ERR_IMAGE, "image_pull");
	cr_assert_str_eq(err->operation, "image pull", "err->operation = \"%s\"", err->operation);
	cr_assert_str_eq(err->resource, image, "err->resource = \"%s\", image = \"%s\"",
	                 err->resource, image);
	cr_assert(err->engine_text && *err->engine_text, "no engine text: %s", err->message);
	cr_assert(strstr(err->message, err->engine_text), "message \"%s\" lacks engine text",
	          err->message);
	err_free(err);
}

Test(runtime, import_streams_a_tarball_from_an_fd)
{
	const char *tar = "/tmp/dms-run/busybox-rootfs.tar";
	char ref[160], path[220];
	struct http_response del;
	dms_error *err = NULL;
	bool present = false;
	int fd = open(tar, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		cr_skip_test("%s not built (scripts/engines.sh start docker builds it)", tar);
	snprintf(ref, sizeof(ref), "dms-test/import-%s:t1", run_id);
	ASSERT_OK(ops->image_import(rt, NULL, fd, ref, &err), "image_import");
	close(fd);
	ASSERT_OK(ops->image_present(rt, NULL, ref, &present, &err), "image_present");
	cr_assert(present, "imported %s is not there", ref);

	snprintf(path, sizeof(path), "/images/%s?force=1", ref);
	del = raw("DELETE", path);
	cr_assert_eq(del.status, 200, "removing %s: HTTP %ld", ref, del.status);
	http_response_free(&del);
}

Test(runtime, import_keeps_the_tag_podmans_compat_import_ignores)
{
	ONLY_ON("podman");
	const char *tar = "/tmp/dms-run/busybox-rootfs.tar";
	char ref[160], ref2[160], path[256];
	struct http_response r;
	dms_error *err = NULL;
	bool present = false;
	int fd;

	if (access(tar, R_OK) != 0)
		cr_skip_test("%s not built (scripts/engines.sh start podman builds it)", tar);
	snprintf(ref, sizeof(ref), "dms-test/pimport-%s:t1", run_id);
	snprintf(ref2, sizeof(ref2), "dms-test/pimport-%s:t2", run_id);
	assert_cmp(fd = open(tar, O_RDONLY | O_CLOEXEC), >=, 0);
	ASSERT_OK(ops->image_import(rt, NULL, fd, ref, &err), "import t1");
	close(fd);
	assert_cmp(fd = open(tar, O_RDONLY | O_CLOEXEC), >=, 0);
	ASSERT_OK(ops->image_import(rt, NULL, fd, ref2, &err), "import t2");
	close(fd);
	ASSERT_OK(ops->image_present(rt, NULL, ref, &present, &err), "present t1");
	cr_assert(present, "%s is not there", ref);
	ASSERT_OK(ops->image_present(rt, NULL, ref2, &present, &err), "present t2");
	cr_assert(present, "%s is not there", ref2);
	/* Stored under the name Docker means, and no stray :latest. */
	snprintf(path, sizeof(path), "/images/docker.io/%s/json", ref);
	r = raw_on(podman_host(), "GET", path);
	cr_assert_eq(r.status, 200, "%s not stored as docker.io/...", ref);
	http_response_free(&r);
	snprintf(path, sizeof(path), "/images/dms-test/pimport-%s:latest/json", run_id);
	r = raw_on(podman_host(), "GET", path);
	cr_assert_eq(r.status, 404, "the import also tagged :latest");
	http_response_free(&r);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/images/%s?force=1", i ? ref2 : ref);
		r = raw_on(podman_host(), "DELETE", path);
		cr_assert_eq(r.status, 200, "removing %s: HTTP %ld", i ? ref2 : ref, r.status);
		http_response_free(&r);
	}
}

Test(runtime, image_references_are_qualified_as_docker_reads_them)
{
	ONLY_ON("podman");
	static const char *cases[][2] = {
	    {"busybox", "docker.io/library/busybox:latest"},
	    {"dms-test/busybox", "docker.io/dms-test/busybox:latest"},
	    {"dms-test/busybox:1.0", "docker.io/dms-test/busybox:1.0"},
	    {"localhost/x/y:2", "localhost/x/y:2"},
	    {"registry.example:5000/x", "registry.example:5000/x:latest"},
	    {"quay.io/a/b@sha256:abc", "quay.io/a/b@sha256:abc"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *q = compat_qualify_image_ref(cases[i][0]);

		cr_assert_str_eq(q, cases[i][1], "%s", cases[i][0]);
		free(q);
	}
}

/* ---- containers ------------------------------------------------------------ */

Test(runtime, create_sets_labels_and_limits)
{
	char *name = name_for("limits"), *id = create(name, "true", "org.dms.test.extra=x=y");
	struct container_state st = {0};
	const char *stop_signal;
	char path[160];
	yajl_val root;
	dms_error *err = NULL;

	ASSERT_OK(ops->container_inspect(rt, NULL, id, &st, &err), "container_inspect");
	cr_assert_str_eq(st.id, id, "st.id = \"%s\", id = \"%s\"", st.id, id);
	cr_assert_str_eq(st.name, name, "st.name = \"%s\", name = \"%s\"", st.name, name);
	cr_assert_eq(st.status, CS_CREATED, "status %d", st.status);
	cr_assert(strv_has(st.labels, run_label), "labels lack %s", run_label);
	cr_assert(strv_has(st.labels, "org.dms.test.extra=x=y"), "a value with '=' was split");
	cr_assert_not(st.tty, "st.tty is true");
	container_state_free(&st);

	snprintf(path, sizeof(path), "/containers/%s/json", id);
	root = raw_json(path);
	cr_assert_eq(json_int(root, (const char *[]){"HostConfig", "Memory", NULL}), 64 << 20,
	             "json_int(root, (const char *[]){\"HostConfig\", \"Memory\", NULL}) = %lld, "
	             "64 << 20 = %lld",
	             (long long)(json_int(root, (const char *[]){"HostConfig", "Memory", NULL})),
	             (long long)(64 << 20));
	cr_assert_eq(json_int(root, (const char *[]){"HostConfig", "MemorySwap", NULL}), 64 << 20,
	             "MemorySwap must equal Memory (no silent swap)");
	cr_assert_eq(json_int(root, (const char *[]){"HostConfig", "NanoCpus", NULL}), 500000000LL,
	             "json_int(root, (const char *[]){\"HostConfig\", \"NanoCpus\", NULL}) = %lld",
	             (long long)(json_int(root, (const char *[]){"HostConfig", "NanoCpus", NULL})));
	cr_assert_eq(
	    json_int(root, (const char *[]){"HostConfig", "PidsLimit", NULL}), 64,
	    "json_int(root, (const char *[]){\"HostConfig\", \"PidsLimit\", NULL}) = %lld",
	    (long long)(json_int(root, (const char *[]){"HostConfig", "PidsLimit", NULL})));
	cr_assert_eq(json_int(root, (const char *[]){"Config", "StopTimeout", NULL}), 2,
	             "json_int(root, (const char *[]){\"Config\", \"StopTimeout\", NULL}) = %lld",
	             (long long)(json_int(root, (const char *[]){"Config", "StopTimeout", NULL})));
	stop_signal = YAJL_GET_STRING(
	    yajl_tree_get(root, (const char *[]){"Config", "StopSignal", NULL}, yajl_t_string));
	/* dockerd echoes the name; Podman stores and reports the number. */
	cr_assert(strcmp(stop_signal, "SIGTERM") == 0 || strcmp(stop_signal, "15") == 0,
	          "StopSignal %s", stop_signal);
	yajl_tree_free(root);

	remove_container(id);
	ASSERT_FAILS(ops->container_inspect(rt, NULL, id, &st, &err), DMS_ERR_NOT_FOUND,
	             "inspect after remove");
	err_free(err);
	free(id);
	free(name);
}

Test(runtime, duplicate_name_is_a_container_conflict)
{
	char *name = name_for("dup"), *id = create(name, "true", NULL);
	char *entry[] = {"/bin/sh", "-c", NULL}, *cmd[] = {"true", NULL};
	char *labels[] = {run_label, NULL};
	struct exec_request req = {.image = (char *)itest_image(), .entrypoint = entry, .cmd = cmd};
	struct container_spec spec = {.name = name, .req = &req, .labels = labels};
	dms_error *err = NULL;
	char *id2 = NULL;

	ASSERT_FAILS(ops->container_create(rt, NULL, &spec, &id2, &err), DMS_ERR_CONTAINER,
	             "second create with the same name");
	cr_assert_null(id2, "id2 = %p", (void *)(id2));
	cr_assert_str_eq(err->operation, "container create", "err->operation = \"%s\"",
	                 err->operation);
	cr_assert_str_eq(err->resource, name, "err->resource = \"%s\", name = \"%s\"",
	                 err->resource, name);
	cr_assert(err->engine_text && strstr(err->engine_text, "already in use"), "engine text: %s",
	          err->engine_text ? err->engine_text : "(none)");
	err_free(err);
	remove_container(id);
	free(id);
	free(name);
}

Test(runtime, create_with_a_missing_image_is_an_image_error)
{
	char *name = name_for("noimg");
	char *cmd[] = {"true", NULL}, *labels[] = {run_label, NULL};
	struct exec_request req = {.image = "dms-test/absent-image:nope", .cmd = cmd};
	struct container_spec spec = {.name = name, .req = &req, .labels = labels};
	dms_error *err = NULL;
	char *id = NULL;

	ASSERT_FAILS(ops->container_create(rt, NULL, &spec, &id, &err), DMS_ERR_IMAGE,
	             "create from a missing image");
	cr_assert_str_eq(err->resource, "dms-test/absent-image:nope", "err->resource = \"%s\"",
	                 err->resource);
	cr_assert_str_eq(err->operation, "container create", "err->operation = \"%s\"",
	                 err->operation);
	cr_assert_not_null(err->engine_text, "err->engine_text = %p", (void *)(err->engine_text));
	err_free(err);
	free(name);
}

Test(runtime, inspect_of_an_unknown_container_is_not_found)
{
	struct container_state st = {0};
	dms_error *err = NULL;

	ASSERT_FAILS(ops->container_inspect(rt, NULL, "dms-no-such-container", &st, &err),
	             DMS_ERR_NOT_FOUND, "inspect");
	cr_assert_str_eq(err->resource, "dms-no-such-container", "err->resource = \"%s\"",
	                 err->resource);
	cr_assert_not_null(err->engine_text, "err->engine_text = %p", (void *)(err->engine_text));
	err_free(err);
}

Test(runtime, list_by_label_finds_only_labelled_containers)
{
	char pick[160], *na = name_for("la"), *nb = name_for("lb"), *a, *b;
	struct container_summary *v = NULL;
	dms_error *err = NULL;
	size_t n = 0;
	strv ids = NULL;

	snprintf(pick, sizeof(pick), "org.dms.test.pick=%s", run_id);
	a = create(na, "true", pick);
	b = create(nb, "true", NULL);

	ASSERT_OK(ops->container_list(rt, NULL, pick, &v, &n, &err), "list by k=v");
	cr_assert_eq(n, 1, "%zu containers carry %s", n, pick);
	cr_assert_str_eq(v[0].id, a, "v[0].id = \"%s\", a = \"%s\"", v[0].id, a);
	cr_assert_str_eq(v[0].name, na, "v[0].name = \"%s\", na = \"%s\"", v[0].name, na);
	cr_assert_eq(v[0].status, CS_CREATED, "v[0].status = %lld", (long long)(v[0].status));
	cr_assert(strv_has(v[0].labels, pick));
	container_summaries_free(v, n);

	ASSERT_OK(ops->container_list(rt, NULL, run_label, &v, &n, &err), "list by run");
	cr_assert_eq(n, 2, "%zu containers carry %s", n, run_label);
	container_summaries_free(v, n);

	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_CONTAINER, pick, &ids, &err),
	          "object_list containers");
	cr_assert(strv_has(ids, a) && !strv_has(ids, b));
	strv_free(ids);

	remove_container(a);
	remove_container(b);
	ASSERT_OK(ops->container_list(rt, NULL, run_label, &v, &n, &err), "list after");
	cr_assert_eq(n, 0, "n = %lld", (long long)(n));
	container_summaries_free(v, n);
	free(a);
	free(b);
	free(na);
	free(nb);
}

/* Polls the container's stdout (deadlined) until `line` appeared n times. */
static void wait_for_lines(const char *id, const char *line, int n)
{
	struct log_options opts = {.stdout_ = true, .tail = -1};
	int64_t deadline = mono_now_ns() + EVENT_TIMEOUT_MS * 1000000LL;
	int seen = 0;

	for (;;) {
		struct sink c = {.max = 4096};
		char *out = NULL, *errtext = NULL;
		dms_error *err = NULL;

		ASSERT_OK(ops->container_logs(rt, NULL, id, &opts, sink_fn, &c, &err), "logs");
		itest_unframe(c.data, (long)c.len, &out, &errtext);
		free(c.data);
		seen = 0;
		for (char *p = out; (p = strstr(p, line)); p += strlen(line))
			seen++;
		free(out);
		free(errtext);
		if (seen >= n)
			return;
		cr_assert_lt(mono_now_ns(), deadline, "\"%s\" seen %d times, want %d", line, seen,
		             n);
		usleep(20000); /* between polls of a deadlined wait */
	}
}

Test(runtime, stop_kill_and_remove)
{
	char *name = name_for("stop"), *id;
	struct container_state st = {0};
	struct watcher *w;
	struct seen_event die;
	dms_error *err = NULL;

	w = watcher_start(0);
	id = create(name, "trap 'exit 0' TERM; echo ready; while true; do sleep 1; done", NULL);
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start");
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start again (304)");

	ASSERT_OK(ops->container_kill(rt, NULL, id, "SIGKILL", &err), "kill");
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &die), "no die event after kill");
	cr_assert_eq(die.exit_code, 137, "killed: exitCode %d", die.exit_code);
	ASSERT_OK(ops->container_stop(rt, NULL, id, 1, &err), "stop a stopped one (304)");
	ASSERT_FAILS(ops->container_kill(rt, NULL, id, "SIGKILL", &err), DMS_ERR_CONTAINER,
	             "kill a stopped container (409)");
	cr_assert_str_eq(err->operation, "container kill", "err->operation = \"%s\"",
	                 err->operation);
	cr_assert_str_eq(err->resource, id, "err->resource = \"%s\", id = \"%s\"", err->resource,
	                 id);
	cr_assert_not_null(err->engine_text, "err->engine_text = %p", (void *)(err->engine_text));
	err_free(err);
	err = NULL;

	/* stop returns once the container stopped: SIGTERM is trapped -> exit 0.
	 * Not before the restarted shell set its trap (its second "ready"): an
	 * untrapped SIGTERM is ignored by PID 1 and the stop ends in SIGKILL
	 * (seen on a loaded machine, where Podman starts slowly). */
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "restart");
	wait_for_lines(id, "ready\n", 2);
	ASSERT_OK(ops->container_stop(rt, NULL, id, 10, &err), "stop");
	ASSERT_OK(ops->container_inspect(rt, NULL, id, &st, &err), "inspect");
	cr_assert_eq(st.status, CS_EXITED, "status %d after stop", st.status);
	cr_assert_eq(st.exit_code, 0, "exit code %d after a trapped SIGTERM", st.exit_code);
	container_state_free(&st);
	watcher_stop(w);

	remove_container(id);
	remove_container(id); /* already gone is OK */
	ASSERT_FAILS(ops->container_start(rt, NULL, id, &err), DMS_ERR_NOT_FOUND,
	             "start of a removed container");
	cr_assert_str_eq(err->operation, "container start", "err->operation = \"%s\"",
	                 err->operation);
	err_free(err);
	free(id);
	free(name);
}

/* ---- events ---------------------------------------------------------------- */

Test(runtime, events_see_start_and_die_with_the_exit_code)
{
	char *name = name_for("die"), *id;
	struct watcher *w;
	struct seen_event start, die, destroy;
	struct container_state st = {0};
	dms_error *err = NULL;

	w = watcher_start(0);
	id = create(name, "exit 7", NULL);
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "container_start");
	cr_assert(watcher_wait(w, RT_EV_START, id, &start), "no start event within %lld ms",
	          (long long)EVENT_TIMEOUT_MS);
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &die), "no die event within %lld ms",
	          (long long)EVENT_TIMEOUT_MS);
	cr_assert_eq(die.exit_code, 7, "die exitCode %d", die.exit_code);
	cr_assert_str_eq(die.execution, name, "org.dms.execution attribute");
	cr_assert_gt(die.time_ns, 0, "die.time_ns = %lld", (long long)(die.time_ns));
	cr_assert_geq(die.time_ns, start.time_ns, "die.time_ns = %lld, start.time_ns = %lld",
	              (long long)(die.time_ns), (long long)(start.time_ns));

	ASSERT_OK(ops->container_inspect(rt, NULL, id, &st, &err), "inspect");
	cr_assert_eq(st.status, CS_EXITED, "st.status = %lld", (long long)(st.status));
	cr_assert_eq(st.exit_code, 7, "st.exit_code = %lld", (long long)(st.exit_code));
	cr_assert_not(st.oom_killed, "st.oom_killed is true");
	/* Both set; their order is not: for an instant exit dockerd records
	 * StartedAt a few ms after FinishedAt (seen here). */
	cr_assert_gt(st.started_at_ns, 0, "st.started_at_ns = %lld", (long long)(st.started_at_ns));
	cr_assert_gt(st.finished_at_ns, 0, "st.finished_at_ns = %lld",
	             (long long)(st.finished_at_ns));
	container_state_free(&st);

	remove_container(id);
	cr_assert(watcher_wait(w, RT_EV_DESTROY, id, &destroy), "no destroy event");
	watcher_stop(w);
	free(id);
	free(name);
}

Test(runtime, events_map_podmans_names_die_with_exit_code_and_remove_as_destroy)
{
	struct watcher *w = watcher_open(run_label, 0, 0);
	struct seen_event ev;
	dms_error *err = NULL;
	char *id = create_job("names", "exit 7", NULL, false);

	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start");
	cr_assert(watcher_wait(w, RT_EV_START, id, &ev), "no start event");
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &ev), "no die event");
	cr_assert_eq(ev.exit_code, 7, "die exit code %d", ev.exit_code);
	ASSERT_OK(ops->container_remove(rt, NULL, id, true, &err), "remove");
	/* Podman says "remove" where dockerd says "destroy". */
	cr_assert(watcher_wait(w, RT_EV_DESTROY, id, &ev), "no destroy (remove) event");
	watcher_abandon();
	free(id);
}

Test(runtime, events_filter_a_key_only_label_although_podman_does_not)
{
	char key[128], label[160];
	struct watcher *w;
	struct seen_event ev;
	dms_error *err = NULL;
	char *other, *id;

	snprintf(key, sizeof(key), "org.dms.test.key-%s", run_id);
	snprintf(label, sizeof(label), "%s=any", key);
	w = watcher_open(key, 0, 0);
	other = create_job("unkeyed", "exit 3", NULL, false);
	id = create_job("keyed", "exit 5", label, false);
	ASSERT_OK(ops->container_start(rt, NULL, other, &err), "start other");
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start keyed");
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &ev), "no die event through a key-only filter");
	cr_assert_eq(ev.exit_code, 5, "ev.exit_code = %lld", (long long)(ev.exit_code));
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++)
		cr_assert_str_neq(w->ev[i].id, other, "an event of a container without the key");
	pthread_mutex_unlock(&w->mu);
	watcher_abandon();
	free(other);
	free(id);
}

Test(runtime, events_since_replays_what_happened_before_the_stream)
{
	struct container_state st = {0};
	struct watcher *w;
	struct seen_event ev;
	dms_error *err = NULL;
	int64_t before = wall_now_ns() - 1000000000LL;
	char *id = create_job("since", "exit 9", NULL, false);

	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start");
	/* Exited before anyone listened (polled with a deadline). */
	for (int64_t end = mono_now_ns() + EVENT_TIMEOUT_MS * 1000000LL;;) {
		ASSERT_OK(ops->container_inspect(rt, NULL, id, &st, &err), "inspect");
		bool exited = st.status == CS_EXITED;

		container_state_free(&st);
		if (exited)
			break;
		cr_assert_lt(mono_now_ns(), end, "the container did not exit");
	}
	w = watcher_open(run_label, before, 0); /* "<s>.<ns>" is what Podman reads */
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &ev),
	          "the die before the stream was not replayed");
	cr_assert_eq(ev.exit_code, 9, "ev.exit_code = %lld", (long long)(ev.exit_code));
	watcher_abandon();
	free(id);
}

static int ignore_event(void *ud, const struct runtime_event *e)
{
	(void)ud, (void)e;
	return 0;
}

Test(runtime, events_end_with_the_contexts_deadline)
{
	dms_context *ctx = ctx_new(300);
	dms_error *err = NULL;
	int64_t t0 = mono_now_ns(), ms;
	int rc = ops->events(rt, ctx, run_label, 0, NULL, ignore_event, NULL, &err);

	ms = (mono_now_ns() - t0) / 1000000;
	assert_fails(rc, err, DMS_ERR_TIMEOUT, "events with a 300 ms deadline");
	cr_assert_lt(ms, 1500, "took %lld ms", (long long)ms);
	err_free(err);
	ctx_free(ctx);
}

/* ---- logs ------------------------------------------------------------------ */

Test(runtime, logs_without_follow_return_framed_stdout_and_stderr)
{
	char *name = name_for("logs"), *id, *out = NULL, *errtext = NULL;
	struct log_options opts = {.stdout_ = true, .stderr_ = true, .tail = -1};
	struct sink c = {.max = 4096};
	struct watcher *w;
	struct seen_event die;
	dms_error *err = NULL;

	w = watcher_start(0);
	id = create(name, "echo out; echo err >&2; echo out2", NULL);
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "container_start");
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &die), "no die event");
	watcher_stop(w);

	ASSERT_OK(ops->container_logs(rt, NULL, id, &opts, sink_fn, &c, &err), "logs");
	cr_assert_geq(c.len, 8, "no framed output");
	cr_assert(c.data[0] == 1 || c.data[0] == 2, "first byte %d is no stream id", c.data[0]);
	itest_unframe(c.data, (long)c.len, &out, &errtext);
	cr_assert_str_eq(out, "out\nout2\n", "out = \"%s\"", out);
	cr_assert_str_eq(errtext, "err\n", "errtext = \"%s\"", errtext);
	free(out);
	free(errtext);

	/* tail counts lines across both streams, in the engine's order */
	opts.tail = 1;
	c.len = 0;
	ASSERT_OK(ops->container_logs(rt, NULL, id, &opts, sink_fn, &c, &err), "logs tail");
	itest_unframe(c.data, (long)c.len, &out, &errtext);
	cr_assert_eq(strlen(out) + strlen(errtext), c.len - 8, "tail=1 gave more than one frame");
	cr_assert(strcmp(out, "out2\n") == 0 || strcmp(errtext, "err\n") == 0,
	          "tail=1: stdout \"%s\", stderr \"%s\"", out, errtext);
	free(out);
	free(errtext);

	remove_container(id);
	ASSERT_FAILS(ops->container_logs(rt, NULL, id, &opts, sink_fn, &c, &err), DMS_ERR_NOT_FOUND,
	             "logs of a removed container");
	err_free(err);
	free(c.data);
	free(id);
	free(name);
}

Test(runtime, log_frames_follow_the_containers_tty_setting)
{
	struct log_options lo = {.stdout_ = true, .stderr_ = true, .tail = -1};
	struct container_state st = {0};
	struct watcher *w = watcher_open(run_label, 0, 0);
	struct seen_event ev;
	dms_error *err = NULL;
	struct sink a = {0}, b = {0};
	char *out, *errs;
	char *plain = create_job("notty", "echo out; echo err >&2", NULL, false);
	char *tty = create_job("tty", "echo out; echo err >&2", NULL, true);

	ASSERT_OK(ops->container_start(rt, NULL, plain, &err), "start");
	ASSERT_OK(ops->container_start(rt, NULL, tty, &err), "start tty");
	cr_assert(watcher_wait(w, RT_EV_DIE, plain, &ev) && watcher_wait(w, RT_EV_DIE, tty, &ev));
	watcher_abandon();

	/* Framed without a tty (Podman says application/octet-stream)... */
	ASSERT_OK(ops->container_inspect(rt, NULL, plain, &st, &err), "inspect");
	cr_assert_not(st.tty, "st.tty is true");
	container_state_free(&st);
	ASSERT_OK(ops->container_logs(rt, NULL, plain, &lo, sink_fn, &a, &err), "logs");
	itest_unframe(a.data, (long)a.len, &out, &errs);
	cr_assert_str_eq(out, "out\n", "out = \"%s\"", out);
	cr_assert_str_eq(errs, "err\n", "errs = \"%s\"", errs);
	free(out);
	free(errs);
	/* ...raw bytes with one (text/plain): the decision is Config.Tty's. */
	ASSERT_OK(ops->container_inspect(rt, NULL, tty, &st, &err), "inspect tty");
	cr_assert(st.tty, "st.tty is false");
	container_state_free(&st);
	ASSERT_OK(ops->container_logs(rt, NULL, tty, &lo, sink_fn, &b, &err), "logs tty");
	cr_assert_str_eq(b.data, "out\r\nerr\r\n", "b.data = \"%s\"", b.data);
	free(a.data);
	free(b.data);
	free(plain);
	free(tty);
}

/* 10 MB of numbered 1 KB lines: Podman's own follow stream loses records
 * here; the runtime's must be the exact log, in order. */
Test(runtime, follow_is_the_exact_log_although_podmans_stream_loses_records)
{
	struct log_options lo = {.follow = true, .stdout_ = true, .stderr_ = true, .tail = -1};
	struct sink s = {0};
	dms_error *err = NULL;
	char *out, *errs, *p;
	long expect = 1;
	char *id = create_job("burst",
	                      "awk 'BEGIN { s = sprintf(\"%1000s\", \"\"); "
	                      "for (i = 1; i <= 10000; i++) printf \"%d%s\\n\", i, s }'",
	                      NULL, false);

	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start");
	ASSERT_OK(ops->container_logs(rt, NULL, id, &lo, sink_fn, &s, &err), "follow");
	itest_unframe(s.data, (long)s.len, &out, &errs);
	for (p = out; *p; expect++) {
		char *nl = strchr(p, '\n');

		cr_assert(nl, "unterminated line at byte %ld", (long)(p - out));
		cr_assert_eq(strtol(p, NULL, 10), expect, "line %ld is %.12s", expect, p);
		p = nl + 1;
	}
	cr_assert_eq(expect - 1, 10000, "%ld lines", expect - 1);
	cr_assert_eq(strlen(out), 10000L * 1001 + 38894, "%zu bytes", strlen(out));
	cr_assert_str_eq(errs, "", "errs = \"%s\"", errs);
	free(out);
	free(errs);
	free(s.data);
	free(id);
}

Test(runtime, follow_is_live_and_ends_when_the_container_stops)
{
	struct log_options lo = {.follow = true, .stdout_ = true, .stderr_ = true, .tail = -1};
	struct sink s = {.rt = NULL};
	dms_error *err = NULL;
	char *out, *errs;
	char *id = create_job("live", "echo ready; sleep 2; echo done >&2", NULL, false);

	s.rt = rt;
	s.id = id;
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start");
	ASSERT_OK(ops->container_logs(rt, NULL, id, &lo, sink_fn, &s, &err), "follow");
	cr_assert_eq(s.status_at_first, CS_RUNNING, "the first bytes came after the exit (%d)",
	             s.status_at_first);
	itest_unframe(s.data, (long)s.len, &out, &errs);
	cr_assert_str_eq(out, "ready\n", "out = \"%s\"", out);
	cr_assert_str_eq(errs, "done\n", "errs = \"%s\"", errs);
	free(out);
	free(errs);
	free(s.data);
	free(id);
}

/* ---- networks and volumes -------------------------------------------------- */

Test(runtime, labelled_network_and_volume_lifecycle)
{
	char net[160], vol[160];
	char *labels[] = {run_label, NULL};
	char *net_id = NULL;
	dms_error *err = NULL;
	strv ids = NULL;

	snprintf(net, sizeof(net), "dms-rt-test-net-%s", run_id);
	snprintf(vol, sizeof(vol), "dms-rt-test-vol-%s", run_id);

	ASSERT_OK(ops->network_create(rt, NULL, net, labels, true, &net_id, &err),
	          "network_create");
	cr_assert(net_id && *net_id);
	ASSERT_FAILS(ops->network_create(rt, NULL, net, labels, true, NULL, &err), DMS_ERR_NETWORK,
	             "network_create duplicate");
	err_free(err);
	err = NULL;
	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_NETWORK, run_label, &ids, &err),
	          "list networks");
	cr_assert_eq(strv_len(ids), 1, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	cr_assert_str_eq(ids[0], net_id, "ids[0] = \"%s\", net_id = \"%s\"", ids[0], net_id);
	strv_free(ids);

	ASSERT_OK(ops->volume_create(rt, NULL, vol, labels, &err), "volume_create");
	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_VOLUME, run_label, &ids, &err), "list volumes");
	cr_assert_eq(strv_len(ids), 1, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	cr_assert_str_eq(ids[0], vol, "ids[0] = \"%s\", vol = \"%s\"", ids[0], vol);
	strv_free(ids);

	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_NETWORK, net_id, &err), "rm network");
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_NETWORK, net_id, &err),
	          "rm network again (gone is OK)");
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_VOLUME, vol, &err), "rm volume");
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_VOLUME, vol, &err), "rm volume again");

	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_NETWORK, run_label, &ids, &err), "list");
	cr_assert_eq(strv_len(ids), 0, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	strv_free(ids);
	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_VOLUME, run_label, &ids, &err), "list");
	cr_assert_eq(strv_len(ids), 0, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	strv_free(ids);
	free(net_id);
}

Test(runtime, networks_and_volumes_list_by_a_key_only_label)
{
	char key[128], label[160], net[160], vol[160];
	char *labels[] = {run_label, label, NULL};
	char *net_id = NULL;
	dms_error *err = NULL;
	strv ids = NULL;

	snprintf(key, sizeof(key), "org.dms.test.key-%s", run_id);
	snprintf(label, sizeof(label), "%s=v", key);
	snprintf(net, sizeof(net), "dms-podman-test-net-%s", run_id);
	snprintf(vol, sizeof(vol), "dms-podman-test-vol-%s", run_id);
	ASSERT_OK(ops->network_create(rt, NULL, net, labels, true, &net_id, &err), "network");
	ASSERT_OK(ops->volume_create(rt, NULL, vol, labels, &err), "volume");
	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_NETWORK, key, &ids, &err), "list networks");
	cr_assert_eq(strv_len(ids), 1, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	cr_assert_str_eq(ids[0], net_id, "ids[0] = \"%s\", net_id = \"%s\"", ids[0], net_id);
	strv_free(ids);
	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_VOLUME, key, &ids, &err), "list volumes");
	cr_assert_eq(strv_len(ids), 1, "strv_len(ids) = %lld", (long long)(strv_len(ids)));
	cr_assert_str_eq(ids[0], vol, "ids[0] = \"%s\", vol = \"%s\"", ids[0], vol);
	strv_free(ids);
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_NETWORK, net_id, &err), "rm network");
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_VOLUME, vol, &err), "rm volume");
	free(net_id);
}

/* ---- the tables, discovery and selection ----------------------------------- */

Test(runtime, runtime_by_name_knows_docker_only_by_its_name)
{
	ONLY_ON("docker");
	assert_cmp(runtime_by_name("docker"), ==, &docker_runtime_ops);
	cr_assert_null(runtime_by_name("nonsense"));
	cr_assert_null(runtime_by_name(NULL), "runtime_by_name(NULL) = %p",
	               (void *)(runtime_by_name(NULL)));
	cr_assert_eq(docker_runtime_ops.struct_size, sizeof(struct runtime_ops),
	             "docker_runtime_ops.struct_size = %lld, sizeof(struct runtime_ops) = %lld",
	             (long long)(docker_runtime_ops.struct_size),
	             (long long)(sizeof(struct runtime_ops)));
	cr_assert(RT_HAS(&docker_runtime_ops, object_remove));
}

Test(runtime, runtime_by_name_knows_podman)
{
	ONLY_ON("podman");
	assert_cmp(runtime_by_name("podman"), ==, &podman_runtime_ops);
	cr_assert_eq(podman_runtime_ops.struct_size, sizeof(struct runtime_ops),
	             "podman_runtime_ops.struct_size = %lld, sizeof(struct runtime_ops) = %lld",
	             (long long)(podman_runtime_ops.struct_size),
	             (long long)(sizeof(struct runtime_ops)));
	cr_assert(RT_HAS(&podman_runtime_ops, object_remove));
	cr_assert_str_eq(podman_runtime_ops.kind, "podman", "podman_runtime_ops.kind = \"%s\"",
	                 podman_runtime_ops.kind);
}

static void unset_engine_env(void)
{
	unsetenv("CONTAINER_HOST");
	unsetenv("DOCKER_HOST");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("DMS_CONTAINER_RUNTIME");
}

static void assert_endpoint(char *got, const char *want)
{
	cr_assert_not_null(got, "got = %p", (void *)(got));
	cr_assert_str_eq(got, want, "got = \"%s\", want = \"%s\"", got, want);
	free(got);
}

Test(runtime, discovery_is_host_then_container_host_then_rootless_then_rootful)
{
	ONLY_ON("podman");
	char dir[] = "/tmp/dms-xdg-XXXXXX", sock[128], want[160];
	int fd;

	unset_engine_env();
	cr_assert(mkdtemp(dir));
	/* Nothing set: the rootful system socket. */
	assert_endpoint(podman_endpoint(NULL), "unix:///run/podman/podman.sock");
	/* XDG_RUNTIME_DIR without a service socket in it: still rootful. */
	setenv("XDG_RUNTIME_DIR", dir, 1);
	assert_endpoint(podman_endpoint(""), "unix:///run/podman/podman.sock");
	/* With one: the rootless service. */
	snprintf(sock, sizeof(sock), "%s/podman", dir);
	assert_cmp(mkdir(sock, 0700), ==, 0);
	snprintf(sock, sizeof(sock), "%s/podman/podman.sock", dir);
	assert_cmp(fd = open(sock, O_CREAT | O_WRONLY, 0600), >=, 0);
	close(fd);
	snprintf(want, sizeof(want), "unix://%s", sock);
	assert_endpoint(podman_endpoint(NULL), want);
	/* CONTAINER_HOST beats it; an explicit host beats everything. */
	setenv("CONTAINER_HOST", "unix:///tmp/dms-run/from-env.sock", 1);
	assert_endpoint(podman_endpoint(NULL), "unix:///tmp/dms-run/from-env.sock");
	assert_endpoint(podman_endpoint("tcp://127.0.0.1:8888"), "tcp://127.0.0.1:8888");
	/* Docker's order: host, DOCKER_HOST, the system socket. */
	assert_endpoint(docker_endpoint(NULL), "unix:///var/run/docker.sock");
	setenv("DOCKER_HOST", "unix:///tmp/dms-run/d-env.sock", 1);
	assert_endpoint(docker_endpoint(""), "unix:///tmp/dms-run/d-env.sock");
	assert_endpoint(docker_endpoint("tcp://127.0.0.1:2375"), "tcp://127.0.0.1:2375");
	unset_engine_env();
	unlink(sock);
	snprintf(sock, sizeof(sock), "%s/podman", dir);
	rmdir(sock);
	rmdir(dir);
}

Test(runtime, open_without_a_host_reaches_the_service_named_by_container_host)
{
	ONLY_ON("podman");
	struct runtime *r = NULL;
	dms_error *err = NULL;

	unset_engine_env();
	setenv("CONTAINER_HOST", podman_host(), 1);
	ASSERT_OK(ops->open(NULL, &r, &err), "open(NULL)");
	ASSERT_OK(ops->ping(r, NULL, NULL, &err), "ping via $CONTAINER_HOST");
	ops->close(r);
	unset_engine_env();
}

Test(runtime, auto_picks_the_engine_that_answers)
{
	ONLY_ON("podman");
	const struct runtime_ops *got = NULL;
	dms_error *err = NULL;

	unset_engine_env();
	/* An explicit host: the engine there says which it is. */
	ASSERT_OK(runtime_select("auto", podman_host(), &got, &err), "auto with podman's host");
	cr_assert_eq(got, &podman_runtime_ops, "got = %lld, &podman_runtime_ops = %lld",
	             (long long)(got), (long long)(&podman_runtime_ops));
	/* No host: docker's endpoint first; a dead one is passed over. */
	setenv("DOCKER_HOST", "unix:///tmp/dms-run/no-such-docker.sock", 1);
	setenv("CONTAINER_HOST", podman_host(), 1);
	ASSERT_OK(runtime_select("auto", NULL, &got, &err), "auto with docker down");
	cr_assert_eq(got, &podman_runtime_ops, "got = %lld, &podman_runtime_ops = %lld",
	             (long long)(got), (long long)(&podman_runtime_ops));
	/* Nothing answers: docker, the default; its IsInstalled then says no. */
	setenv("CONTAINER_HOST", "unix:///tmp/dms-run/no-such-podman.sock", 1);
	ASSERT_OK(runtime_select("auto", NULL, &got, &err), "auto with nothing up");
	cr_assert_eq(got, &docker_runtime_ops, "got = %lld, &docker_runtime_ops = %lld",
	             (long long)(got), (long long)(&docker_runtime_ops));
	/* Names are exact. */
	ASSERT_OK(runtime_select("podman", NULL, &got, &err), "podman by name");
	cr_assert_eq(got, &podman_runtime_ops, "got = %lld, &podman_runtime_ops = %lld",
	             (long long)(got), (long long)(&podman_runtime_ops));
	assert_cmp(runtime_select("Podman", NULL, &got, &err), ==, DMS_ERR_CONFIG);
	cr_assert(strstr(err->message, "Podman"), "%s", err->message);
	err_free(err);
	unset_engine_env();
}

Test(runtime, auto_prefers_docker_when_both_answer)
{
	ONLY_ON("podman");
	const struct runtime_ops *got = NULL;
	struct runtime *d = NULL;
	dms_error *err = NULL;

	ASSERT_OK(docker_runtime_ops.open(docker_host(), &d, &err), "open docker");
	if (docker_runtime_ops.ping(d, NULL, NULL, NULL) != 0) {
		docker_runtime_ops.close(d);
		cr_skip_test("no dockerd at %s", docker_host());
	}
	docker_runtime_ops.close(d);
	unset_engine_env();
	setenv("DOCKER_HOST", docker_host(), 1);
	setenv("CONTAINER_HOST", podman_host(), 1);
	ASSERT_OK(runtime_select("auto", NULL, &got, &err), "auto with both up");
	cr_assert_eq(got, &docker_runtime_ops, "got = %lld, &docker_runtime_ops = %lld",
	             (long long)(got), (long long)(&docker_runtime_ops));
	ASSERT_OK(runtime_select("auto", docker_host(), &got, &err), "auto with docker's host");
	cr_assert_eq(got, &docker_runtime_ops, "got = %lld, &docker_runtime_ops = %lld",
	             (long long)(got), (long long)(&docker_runtime_ops));
	unset_engine_env();
}

/* Through the plugin ABI: IsInstalled's fingerprint names the engine that
 * answered, whichever way it was chosen. */
static char *fingerprint(const char *config)
{
	struct itest_plugin p;
	dms_executor *e = NULL;
	dms_error *err = NULL;
	char *id = itest_unique_id("pfp"), *info = NULL, *runtime;
	bool installed = false;
	yajl_val v;

	itest_plugin_load(&p);
	cr_assert_eq(p.ops->new_executor(id, config, &e, &err), 0, "new_executor: %s",
	             err ? err->message : "?");
	assert_cmp(p.ops->is_installed(e, NULL, &installed, &info, NULL), ==, 0);
	cr_assert(installed, "%s", info);
	v = itest_json(info);
	runtime = strdup(itest_str(v, "runtime"));
	yajl_tree_free(v);
	p.ops->string_free(info);
	p.ops->destroy(e);
	itest_plugin_unload(&p);
	free(id);
	return runtime;
}

Test(runtime, the_fingerprint_names_the_engine_auto_or_not)
{
	ONLY_ON("podman");
	char cfg[512];
	const char *state = getenv("DMS_STATE_DIR");
	char *kind;

	unset_engine_env();
	snprintf(cfg, sizeof(cfg), "runtime: auto\nhost: %s\nstate_dir: %s\n", podman_host(),
	         state && *state ? state : "/tmp/dms-itest-state");
	cr_assert_str_eq(kind = fingerprint(cfg), "podman");
	free(kind);
	/* DMS_CONTAINER_RUNTIME overrides the config's runtime. */
	setenv("DMS_CONTAINER_RUNTIME", "podman", 1);
	snprintf(cfg, sizeof(cfg), "runtime: docker\nhost: %s\nstate_dir: %s\n", podman_host(),
	         state && *state ? state : "/tmp/dms-itest-state");
	cr_assert_str_eq(kind = fingerprint(cfg), "podman");
	free(kind);
	/* A docker table on Podman's socket (podman-docker) still says podman. */
	unsetenv("DMS_CONTAINER_RUNTIME");
	cr_assert_str_eq(kind = fingerprint(cfg), "podman");
	free(kind);
	unset_engine_env();
}

/* ---- the scripted engine --------------------------------------------------- */

Test(runtime, a_newer_engine_is_spoken_to_at_the_highest_known_version)
{
	ONLY_ON("docker");
	struct fake_engine f;
	struct runtime *r = NULL;
	dms_error *err = NULL;
	bool present = true;

	fake_start(&f, "1.99", false);
	ASSERT_OK(ops->open(f.url, &r, &err), "open");
	ASSERT_OK(ops->image_present(r, NULL, "some/image:1", &present, &err), "image_present");
	cr_assert_not(present, "404 means absent");
	cr_assert(fake_saw_prefix(&f, "/_ping"), "no lazy ping");
	cr_assert(fake_saw_prefix(&f, "/v1.43/images/some/image:1/json"),
	          "inspect was not sent on /v1.43 (capped)");
	ops->close(r);
	fake_stop(&f);
}

Test(runtime, an_engine_older_than_api_1_25_is_refused)
{
	ONLY_ON("docker");
	struct fake_engine f;
	struct runtime *r = NULL;
	dms_error *err = NULL;

	fake_start(&f, "1.24", false);
	ASSERT_OK(ops->open(f.url, &r, &err), "open");
	ASSERT_FAILS(ops->ping(r, NULL, NULL, &err), DMS_ERR_RUNTIME_UNAVAILABLE, "ping");
	cr_assert(strstr(err->message, "1.24") && strstr(err->message, "1.25"), "message: %s",
	          err->message);
	err_free(err);
	ops->close(r);
	fake_stop(&f);
}

Test(runtime, a_dropped_event_stream_is_runtime_unavailable_and_long_lines_are_skipped)
{
	ONLY_ON("docker");
	struct fake_engine f;
	struct fake_events fe = {0};
	struct runtime *r = NULL;
	dms_error *err = NULL;

	fake_start(&f, "1.41", false);
	ASSERT_OK(ops->open(f.url, &r, &err), "open");
	ASSERT_FAILS(ops->events(r, NULL, "k=v", 0, fake_ready, fake_event, &fe, &err),
	             DMS_ERR_RUNTIME_UNAVAILABLE, "events on a stream that ends");
	cr_assert_eq(fe.ready, 1, "ready called %d times", fe.ready);
	cr_assert_eq(fe.n, 2, "%d events (the long and the non-JSON line must be skipped)", fe.n);
	cr_assert_eq(fe.ev[0].kind, RT_EV_START, "fe.ev[0].kind = %lld",
	             (long long)(fe.ev[0].kind));
	cr_assert_str_eq(fe.ev[0].container_id, "c1", "fe.ev[0].container_id = \"%s\"",
	                 fe.ev[0].container_id);
	cr_assert_eq(fe.ev[0].time_ns, 5, "fe.ev[0].time_ns = %lld", (long long)(fe.ev[0].time_ns));
	cr_assert_eq(fe.ev[1].kind, RT_EV_DIE, "fe.ev[1].kind = %lld", (long long)(fe.ev[1].kind));
	cr_assert_eq(fe.ev[1].exit_code, 3, "fe.ev[1].exit_code = %lld",
	             (long long)(fe.ev[1].exit_code));
	cr_assert_eq(fe.ev[1].time_ns, 7000000000LL, "time (s) scaled to ns");
	cr_assert(fake_saw_prefix(&f, "/v1.41/events?filters="));
	err_free(err);
	ops->close(r);
	fake_stop(&f);
}

static void pull_progress(void *ud, const char *status, int64_t current, int64_t total)
{
	(void)current, (void)total;
	snprintf(ud, 64, "%s", status);
}

Test(runtime, an_error_inside_a_pull_stream_is_an_image_error)
{
	ONLY_ON("docker");
	char progress[64] = "";
	struct fake_engine f;
	struct runtime *r = NULL;
	dms_error *err = NULL;

	fake_start(&f, "1.41", false);
	ASSERT_OK(ops->open(f.url, &r, &err), "open");
	ASSERT_FAILS(ops->image_pull(r, NULL, "x/y", "e30=", pull_progress, &progress, &err),
	             DMS_ERR_IMAGE, "pull");
	cr_assert_str_eq(progress, "Pulling from x", "progress callback saw \"%s\"", progress);
	cr_assert_str_eq(err->engine_text, "boom: manifest unknown", "err->engine_text = \"%s\"",
	                 err->engine_text);
	cr_assert_str_eq(err->resource, "x/y", "err->resource = \"%s\"", err->resource);
	cr_assert(fake_saw_prefix(&f, "/v1.41/images/create?fromImage=x%2Fy&tag=latest"),
	          "a missing tag must pull :latest only");
	err_free(err);
	ops->close(r);
	fake_stop(&f);
}

Test(runtime, a_body_past_the_limit_is_an_error_naming_the_limit)
{
	ONLY_ON("docker");
	struct fake_engine f;
	struct runtime *r = NULL;
	struct container_state st = {0};
	dms_error *err = NULL;

	fake_start(&f, "1.41", false);
	ASSERT_OK(ops->open(f.url, &r, &err), "open");
	ASSERT_FAILS(ops->container_inspect(r, NULL, "huge", &st, &err), DMS_ERR_RESOURCE,
	             "inspect with a 32 MiB + 1 answer");
	cr_assert(strstr(err->message, "HTTP_MAX_BODY") && strstr(err->message, "32 MiB"),
	          "message: %s", err->message);
	cr_assert_str_eq(err->operation, "container inspect", "err->operation = \"%s\"",
	                 err->operation);
	err_free(err);
	ops->close(r);
	fake_stop(&f);
}

Test(runtime, a_libpod_engine_behind_the_docker_table_gets_podmans_handling)
{
	ONLY_ON("podman");
	struct fake_engine f;
	struct fake_events c = {0};
	struct runtime *r = NULL;
	struct runtime_info info = {0};
	const struct compat_flavor *engine = NULL;
	dms_error *err = NULL;

	fake_start(&f, NULL, true);
	ASSERT_OK(compat_probe(f.url, 1000, &engine, &err), "probe");
	cr_assert_eq(engine, &compat_podman_flavor, "Libpod headers not recognised");
	ASSERT_OK(docker_runtime_ops.open(f.url, &r, &err), "open");
	/* Key-only label: not sent to the engine, matched here; libpod's
	 * died/containerExitCode and compat's remove are understood. */
	cr_assert_eq(docker_runtime_ops.events(r, NULL, "k", 0, NULL, fake_event, &c, &err),
	             DMS_ERR_RUNTIME_UNAVAILABLE, "the scripted stream ends");
	err_free(err);
	err = NULL;
	cr_assert_eq(c.n, 2, "%d events (c2 lacks the key)", c.n);
	cr_assert_eq(c.ev[0].kind, RT_EV_DIE, "c.ev[0].kind = %lld", (long long)(c.ev[0].kind));
	cr_assert_eq(c.ev[0].exit_code, 4, "c.ev[0].exit_code = %lld",
	             (long long)(c.ev[0].exit_code));
	cr_assert_eq(c.ev[1].kind, RT_EV_DESTROY, "c.ev[1].kind = %lld", (long long)(c.ev[1].kind));
	cr_assert(
	    fake_saw_prefix(&f, "/v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"),
	    "the key-only label was sent to the engine");
	/* An error written into a 200 log body is an error, not output. */
	{
		struct log_options lo = {.stdout_ = true, .stderr_ = true, .tail = -1};
		struct sink out = {0};
		int rc =
		    docker_runtime_ops.container_logs(r, NULL, "gone", &lo, sink_fn, &out, &err);

		cr_assert_eq(rc, DMS_ERR_NOT_FOUND, "rc %d", rc);
		cr_assert(err && strstr(err->engine_text, "no such container"));
		cr_assert_eq(out.len, 14, "%zu bytes passed on", out.len);
		assert_cmp(memcmp(out.data + 8, "hello\n", 6), ==, 0);
		free(out.data);
		err_free(err);
		err = NULL;
	}
	/* The fingerprint asks libpod at the version the engine named; when
	 * that fails, the engine still answered the ping, and its headers
	 * make the fingerprint. */
	ASSERT_OK(docker_runtime_ops.ping(r, NULL, &info, &err), "ping with info");
	cr_assert(fake_saw_prefix(&f, "/v9.8.7/libpod/info"),
	          "libpod not asked at its own version");
	cr_assert_str_eq(info.kind, "podman", "info.kind = \"%s\"", info.kind);
	cr_assert_str_eq(info.version, "9.8.7", "info.version = \"%s\"", info.version);
	cr_assert_str_eq(info.api_version, "1.41", "info.api_version = \"%s\"", info.api_version);
	cr_assert_str_eq(info.os, "linux", "info.os = \"%s\"", info.os);
	cr_assert_eq(info.cgroup_version, 0, "unknown, not guessed");
	runtime_info_free(&info);
	docker_runtime_ops.close(r);
	fake_stop(&f);
}
