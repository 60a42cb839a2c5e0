/* test_podman_runtime.c — what is Podman's own in the runtime layer
 * (executor/runtimes/podman.c over compat.c), against the real Podman API
 * service at $DMS_PODMAN_HOST (scripts/engines.sh), plus a scripted engine
 * for what Podman will not do on demand.
 *
 * Exists because the shared suites (test_docker_runtime.c, the executor's
 * test_engine_executor.c) prove the common behaviour on both engines, but
 * not the differences the podman runtime hides: its event names and
 * key-only label filters, a follow log stream that must be an exact prefix
 * although Podman's own loses records, image import keeping the tag, the
 * fingerprint from /libpod/info, socket discovery and `runtime: auto`.
 * Everything created carries a label unique to the process; the fixture
 * sweeps it afterwards. Waits are on events or deadlines, never sleeps.
 */
#include <criterion/criterion.h>
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
#include "test_time.h"
#include "runtimes/compat.h"

#define RUN_LABEL_KEY "org.dms.test.run"
#define EVENT_TIMEOUT_MS test_ms(20000) /* scaled under valgrind: test_time.h */

static const struct runtime_ops *ops = &podman_runtime_ops;
static struct runtime *rt;
static char run_id[64];
static char run_label[128];

static const char *podman_host(void)
{
	const char *h = getenv("DMS_PODMAN_HOST");

	return h && *h ? h : "unix:///tmp/dms-run/podman.sock";
}

static const char *docker_host(void)
{
	const char *h = getenv("DMS_DOCKER_HOST");

	return h && *h ? h : "unix:///tmp/dms-run/docker.sock";
}

static void assert_ok(int rc, dms_error *err, const char *what)
{
	char *d = err ? err_describe(err) : NULL;

	cr_assert_eq(rc, 0, "%s: rc=%d (%s): %s", what, rc, dms_status_name(rc),
	             d ? d : "no error object");
	free(d);
}

#define ASSERT_OK(expr, what)                                                                      \
	do {                                                                                       \
		int rc_ = (expr);                                                                  \
		assert_ok(rc_, err, (what));                                                       \
	} while (0)

/* ---- raw engine access ----------------------------------------------------- */

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

static yajl_val raw_json(const char *path)
{
	struct http_response resp = raw_on(podman_host(), "GET", path);
	char eb[128];
	yajl_val v;

	cr_assert_eq(resp.status, 200, "GET %s: HTTP %ld", path, resp.status);
	v = yajl_tree_parse(resp.body.data, eb, sizeof(eb));
	cr_assert_not_null(v, "GET %s: not JSON: %s", path, eb);
	http_response_free(&resp);
	return v;
}

/* ---- fixture --------------------------------------------------------------- */

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

	snprintf(run_id, sizeof(run_id), "%d-%lld", (int)getpid(), (long long)wall_now_ns());
	snprintf(run_label, sizeof(run_label), RUN_LABEL_KEY "=%s", run_id);
	ASSERT_OK(ops->open(podman_host(), &rt, &err), "open");
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

TestSuite(podman_runtime, .init = setup, .fini = teardown, .timeout = 120);

/* A labelled busybox container running `sh -c script`. */
static char *create(const char *what, const char *script, const char *extra_label, bool tty)
{
	char name[160], exec_label[200];
	char *entry[] = {"/bin/sh", "-c", NULL};
	char *cmd[] = {(char *)script, NULL};
	char *labels[] = {run_label, exec_label, (char *)extra_label, NULL};
	struct exec_request req = {.image = (char *)itest_image(),
	                           .entrypoint = entry,
	                           .cmd = cmd,
	                           .stop_timeout_ms = -1,
	                           .tty = tty};
	struct container_spec spec = {.name = name, .req = &req, .labels = labels};
	dms_error *err = NULL;
	char *id = NULL;

	snprintf(name, sizeof(name), "dms-podman-test-%s-%s", run_id, what);
	snprintf(exec_label, sizeof(exec_label), "org.dms.execution=%s", what);
	ASSERT_OK(ops->container_create(rt, NULL, &spec, &id, &err), "container_create");
	return id;
}

/* ---- an event watcher ------------------------------------------------------- */

struct seen_event {
	enum runtime_event_kind kind;
	char id[80];
	int exit_code;
};

struct watcher {
	pthread_t thread;
	dms_context *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	const char *label;
	int64_t since_ns;
	bool ready, done, running;
	int rc;
	struct seen_event ev[128];
	size_t n;
};

static struct watcher the_watcher; /* static: teardown finds it after a failure */

static void watcher_ready(void *ud)
{
	struct watcher *w = ud;

	pthread_mutex_lock(&w->mu);
	w->ready = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
}

static int watcher_event(void *ud, const struct runtime_event *e)
{
	struct watcher *w = ud;

	pthread_mutex_lock(&w->mu);
	if (w->n < sizeof(w->ev) / sizeof(w->ev[0])) {
		w->ev[w->n].kind = e->kind;
		w->ev[w->n].exit_code = e->exit_code;
		snprintf(w->ev[w->n].id, sizeof(w->ev[0].id), "%s", e->container_id);
		w->n++;
	}
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

static void *watcher_main(void *p)
{
	struct watcher *w = p;
	int rc =
	    ops->events(rt, w->ctx, w->label, w->since_ns, watcher_ready, watcher_event, w, NULL);

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

static struct watcher *watcher_start(const char *label, int64_t since_ns)
{
	struct watcher *w = &the_watcher;
	int64_t deadline = mono_now_ns() + test_ms(10000) * 1000000LL;

	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mu, NULL);
	ctx_cond_init(&w->cond);
	w->ctx = ctx_new(0);
	w->label = label;
	w->since_ns = since_ns;
	cr_assert_eq(pthread_create(&w->thread, NULL, watcher_main, w), 0);
	w->running = true;
	pthread_mutex_lock(&w->mu);
	while (!w->ready && !w->done)
		if (ctx_cond_wait(NULL, &w->cond, &w->mu, deadline) != 0)
			break;
	cr_assert(w->ready && !w->done, "event stream not ready within 10 s (rc=%d)", w->rc);
	pthread_mutex_unlock(&w->mu);
	return w;
}

static bool watcher_wait(struct watcher *w, enum runtime_event_kind kind, const char *id,
                         struct seen_event *out)
{
	int64_t deadline = mono_now_ns() + EVENT_TIMEOUT_MS * 1000000LL;
	bool found = false;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		for (size_t i = 0; i < w->n && !found; i++)
			if (w->ev[i].kind == kind && strcmp(w->ev[i].id, id) == 0) {
				*out = w->ev[i];
				found = true;
			}
		if (found || w->done || ctx_cond_wait(NULL, &w->cond, &w->mu, deadline) != 0)
			break;
	}
	pthread_mutex_unlock(&w->mu);
	return found;
}

static void watcher_abandon(void)
{
	struct watcher *w = &the_watcher;

	if (!w->running)
		return;
	ctx_cancel(w->ctx);
	pthread_join(w->thread, NULL);
	w->running = false;
	ctx_free(w->ctx);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
}

/* ---- the fingerprint ---------------------------------------------------------- */

Test(podman_runtime, ping_reports_podmans_own_version_and_the_compat_api_version)
{
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
	cr_assert_str_eq(info.kind, "podman");
	cr_assert_str_eq(info.api_version, ping.api_version, "negotiated %s, compat API says %s",
	                 info.api_version, ping.api_version);
	/* Podman's own version (4.x) is not the compat API's (1.41). */
	cr_assert_str_eq(info.version,
	                 YAJL_GET_STRING(yajl_tree_get(
	                     li, (const char *[]){"version", "Version", NULL}, yajl_t_string)));
	cr_assert_str_neq(info.version, info.api_version);
	cr_assert_str_eq(info.os, "linux");
	cg = YAJL_GET_STRING(
	    yajl_tree_get(li, (const char *[]){"host", "cgroupVersion", NULL}, yajl_t_string));
	cr_assert_eq(info.cgroup_version, atoi(cg + 1), "cgroup %d, libpod says %s",
	             info.cgroup_version, cg);
	cr_assert_eq(info.rootless,
	             yajl_tree_get(li, (const char *[]){"host", "security", "rootless", NULL},
	                           yajl_t_true) != NULL);
	cr_assert_not(info.rootless, "this service runs as root");
	runtime_info_free(&info);
	yajl_tree_free(li);
	http_response_free(&ping);
}

/* ---- events ------------------------------------------------------------------- */

Test(podman_runtime, events_map_podmans_names_die_with_exit_code_and_remove_as_destroy)
{
	struct watcher *w = watcher_start(run_label, 0);
	struct seen_event ev;
	dms_error *err = NULL;
	char *id = create("names", "exit 7", NULL, false);

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

Test(podman_runtime, events_filter_a_key_only_label_although_podman_does_not)
{
	char key[128], label[160];
	struct watcher *w;
	struct seen_event ev;
	dms_error *err = NULL;
	char *other, *id;

	snprintf(key, sizeof(key), "org.dms.test.key-%s", run_id);
	snprintf(label, sizeof(label), "%s=any", key);
	w = watcher_start(key, 0);
	other = create("unkeyed", "exit 3", NULL, false);
	id = create("keyed", "exit 5", label, false);
	ASSERT_OK(ops->container_start(rt, NULL, other, &err), "start other");
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start keyed");
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &ev), "no die event through a key-only filter");
	cr_assert_eq(ev.exit_code, 5);
	pthread_mutex_lock(&w->mu);
	for (size_t i = 0; i < w->n; i++)
		cr_assert_str_neq(w->ev[i].id, other, "an event of a container without the key");
	pthread_mutex_unlock(&w->mu);
	watcher_abandon();
	free(other);
	free(id);
}

Test(podman_runtime, events_since_replays_what_happened_before_the_stream)
{
	struct container_state st = {0};
	struct watcher *w;
	struct seen_event ev;
	dms_error *err = NULL;
	int64_t before = wall_now_ns() - 1000000000LL;
	char *id = create("since", "exit 9", NULL, false);

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
	w = watcher_start(run_label, before); /* "<s>.<ns>" is what Podman reads */
	cr_assert(watcher_wait(w, RT_EV_DIE, id, &ev),
	          "the die before the stream was not replayed");
	cr_assert_eq(ev.exit_code, 9);
	watcher_abandon();
	free(id);
}

/* ---- logs ---------------------------------------------------------------------- */

struct sink {
	char *data;
	size_t len, cap;
	struct runtime *rt;
	const char *id;
	int status_at_first; /* container status when the first bytes came */
};

static int sink_fn(void *ud, const char *data, size_t len)
{
	struct sink *s = ud;

	if (s->len == 0 && len > 0 && s->id) {
		struct container_state st = {0};

		if (ops->container_inspect(s->rt, NULL, s->id, &st, NULL) == 0)
			s->status_at_first = st.status;
		container_state_free(&st);
	}
	if (s->len + len + 1 > s->cap) {
		s->cap = (s->len + len + 1) * 2;
		s->data = realloc(s->data, s->cap);
		cr_assert_not_null(s->data);
	}
	memcpy(s->data + s->len, data, len);
	s->len += len;
	s->data[s->len] = '\0';
	return 0;
}

Test(podman_runtime, log_frames_follow_the_containers_tty_setting)
{
	struct log_options lo = {.stdout_ = true, .stderr_ = true, .tail = -1};
	struct container_state st = {0};
	struct watcher *w = watcher_start(run_label, 0);
	struct seen_event ev;
	dms_error *err = NULL;
	struct sink a = {0}, b = {0};
	char *out, *errs;
	char *plain = create("notty", "echo out; echo err >&2", NULL, false);
	char *tty = create("tty", "echo out; echo err >&2", NULL, true);

	ASSERT_OK(ops->container_start(rt, NULL, plain, &err), "start");
	ASSERT_OK(ops->container_start(rt, NULL, tty, &err), "start tty");
	cr_assert(watcher_wait(w, RT_EV_DIE, plain, &ev) && watcher_wait(w, RT_EV_DIE, tty, &ev));
	watcher_abandon();

	/* Framed without a tty (Podman says application/octet-stream)... */
	ASSERT_OK(ops->container_inspect(rt, NULL, plain, &st, &err), "inspect");
	cr_assert_not(st.tty);
	container_state_free(&st);
	ASSERT_OK(ops->container_logs(rt, NULL, plain, &lo, sink_fn, &a, &err), "logs");
	itest_unframe(a.data, (long)a.len, &out, &errs);
	cr_assert_str_eq(out, "out\n");
	cr_assert_str_eq(errs, "err\n");
	free(out);
	free(errs);
	/* ...raw bytes with one (text/plain): the decision is Config.Tty's. */
	ASSERT_OK(ops->container_inspect(rt, NULL, tty, &st, &err), "inspect tty");
	cr_assert(st.tty);
	container_state_free(&st);
	ASSERT_OK(ops->container_logs(rt, NULL, tty, &lo, sink_fn, &b, &err), "logs tty");
	cr_assert_str_eq(b.data, "out\r\nerr\r\n");
	free(a.data);
	free(b.data);
	free(plain);
	free(tty);
}

/* 10 MB of numbered 1 KB lines: Podman's own follow stream loses records
 * here; the runtime's must be the exact log, in order. */
Test(podman_runtime, follow_is_the_exact_log_although_podmans_stream_loses_records)
{
	struct log_options lo = {.follow = true, .stdout_ = true, .stderr_ = true, .tail = -1};
	struct sink s = {0};
	dms_error *err = NULL;
	char *out, *errs, *p;
	long expect = 1;
	char *id = create("burst",
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
	cr_assert_str_eq(errs, "");
	free(out);
	free(errs);
	free(s.data);
	free(id);
}

Test(podman_runtime, follow_is_live_and_ends_when_the_container_stops)
{
	struct log_options lo = {.follow = true, .stdout_ = true, .stderr_ = true, .tail = -1};
	struct sink s = {.rt = NULL};
	dms_error *err = NULL;
	char *out, *errs;
	char *id = create("live", "echo ready; sleep 2; echo done >&2", NULL, false);

	s.rt = rt;
	s.id = id;
	ASSERT_OK(ops->container_start(rt, NULL, id, &err), "start");
	ASSERT_OK(ops->container_logs(rt, NULL, id, &lo, sink_fn, &s, &err), "follow");
	cr_assert_eq(s.status_at_first, CS_RUNNING, "the first bytes came after the exit (%d)",
	             s.status_at_first);
	itest_unframe(s.data, (long)s.len, &out, &errs);
	cr_assert_str_eq(out, "ready\n");
	cr_assert_str_eq(errs, "done\n");
	free(out);
	free(errs);
	free(s.data);
	free(id);
}

/* ---- images ------------------------------------------------------------------ */

Test(podman_runtime, import_keeps_the_tag_podmans_compat_import_ignores)
{
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
	cr_assert_geq(fd = open(tar, O_RDONLY | O_CLOEXEC), 0);
	ASSERT_OK(ops->image_import(rt, NULL, fd, ref, &err), "import t1");
	close(fd);
	cr_assert_geq(fd = open(tar, O_RDONLY | O_CLOEXEC), 0);
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

Test(podman_runtime, image_references_are_qualified_as_docker_reads_them)
{
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

/* ---- networks and volumes by a key-only label ----------------------------------- */

Test(podman_runtime, networks_and_volumes_list_by_a_key_only_label)
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
	cr_assert_eq(strv_len(ids), 1);
	cr_assert_str_eq(ids[0], net_id);
	strv_free(ids);
	ASSERT_OK(ops->object_list(rt, NULL, RT_OBJ_VOLUME, key, &ids, &err), "list volumes");
	cr_assert_eq(strv_len(ids), 1);
	cr_assert_str_eq(ids[0], vol);
	strv_free(ids);
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_NETWORK, net_id, &err), "rm network");
	ASSERT_OK(ops->object_remove(rt, NULL, RT_OBJ_VOLUME, vol, &err), "rm volume");
	free(net_id);
}

/* ---- discovery and selection ------------------------------------------------------ */

static void unset_engine_env(void)
{
	unsetenv("CONTAINER_HOST");
	unsetenv("DOCKER_HOST");
	unsetenv("XDG_RUNTIME_DIR");
	unsetenv("DMS_CONTAINER_RUNTIME");
}

static void assert_endpoint(char *got, const char *want)
{
	cr_assert_not_null(got);
	cr_assert_str_eq(got, want);
	free(got);
}

Test(podman_runtime, discovery_is_host_then_container_host_then_rootless_then_rootful)
{
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
	cr_assert_eq(mkdir(sock, 0700), 0);
	snprintf(sock, sizeof(sock), "%s/podman/podman.sock", dir);
	cr_assert_geq(fd = open(sock, O_CREAT | O_WRONLY, 0600), 0);
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

Test(podman_runtime, open_without_a_host_reaches_the_service_named_by_container_host)
{
	struct runtime *r = NULL;
	dms_error *err = NULL;

	unset_engine_env();
	setenv("CONTAINER_HOST", podman_host(), 1);
	ASSERT_OK(ops->open(NULL, &r, &err), "open(NULL)");
	ASSERT_OK(ops->ping(r, NULL, NULL, &err), "ping via $CONTAINER_HOST");
	ops->close(r);
	unset_engine_env();
}

Test(podman_runtime, auto_picks_the_engine_that_answers)
{
	const struct runtime_ops *got = NULL;
	dms_error *err = NULL;

	unset_engine_env();
	/* An explicit host: the engine there says which it is. */
	ASSERT_OK(runtime_select("auto", podman_host(), &got, &err), "auto with podman's host");
	cr_assert_eq(got, &podman_runtime_ops);
	/* No host: docker's endpoint first; a dead one is passed over. */
	setenv("DOCKER_HOST", "unix:///tmp/dms-run/no-such-docker.sock", 1);
	setenv("CONTAINER_HOST", podman_host(), 1);
	ASSERT_OK(runtime_select("auto", NULL, &got, &err), "auto with docker down");
	cr_assert_eq(got, &podman_runtime_ops);
	/* Nothing answers: docker, the default; its IsInstalled then says no. */
	setenv("CONTAINER_HOST", "unix:///tmp/dms-run/no-such-podman.sock", 1);
	ASSERT_OK(runtime_select("auto", NULL, &got, &err), "auto with nothing up");
	cr_assert_eq(got, &docker_runtime_ops);
	/* Names are exact. */
	ASSERT_OK(runtime_select("podman", NULL, &got, &err), "podman by name");
	cr_assert_eq(got, &podman_runtime_ops);
	cr_assert_eq(runtime_select("Podman", NULL, &got, &err), DMS_ERR_CONFIG);
	cr_assert(strstr(err->message, "Podman"), "%s", err->message);
	err_free(err);
	unset_engine_env();
}

Test(podman_runtime, auto_prefers_docker_when_both_answer)
{
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
	cr_assert_eq(got, &docker_runtime_ops);
	ASSERT_OK(runtime_select("auto", docker_host(), &got, &err), "auto with docker's host");
	cr_assert_eq(got, &docker_runtime_ops);
	unset_engine_env();
}

Test(podman_runtime, runtime_by_name_knows_podman)
{
	cr_assert_eq(runtime_by_name("podman"), &podman_runtime_ops);
	cr_assert_eq(podman_runtime_ops.struct_size, sizeof(struct runtime_ops));
	cr_assert(RT_HAS(&podman_runtime_ops, object_remove));
	cr_assert_str_eq(podman_runtime_ops.kind, "podman");
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
	cr_assert_eq(p.ops->is_installed(e, NULL, &installed, &info, NULL), 0);
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

Test(podman_runtime, the_fingerprint_names_the_engine_auto_or_not)
{
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

/* ---- a scripted engine: the flavor comes from the headers ------------------------ */

struct fake {
	char path[108], url[128];
	int lfd;
	pthread_t thread;
	pthread_mutex_t mu;
	char seen[16][256];
	size_t n_seen;
};

static void send_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

#define FAKE_HEADERS                                                                               \
	"Api-Version: 1.41\r\nLibpod-Api-Version: 9.8.7\r\nServer: Libpod/9.8.7 (linux)\r\n"       \
	"Connection: close\r\n"

static void fake_answer(int fd, const char *path)
{
	if (strcmp(path, "/_ping") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\n" FAKE_HEADERS "Content-Length: 2\r\n\r\nOK");
	} else if (strstr(path, "/events?")) {
		send_str(fd, "HTTP/1.1 200 OK\r\n" FAKE_HEADERS
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
		send_str(fd, "HTTP/1.1 200 OK\r\n" FAKE_HEADERS
		             "Content-Type: application/octet-stream\r\n\r\n");
		send(fd, "\1\0\0\0\0\0\0\6hello\n", 14, MSG_NOSIGNAL);
		send_str(fd, "{\"cause\":\"no such container\",\"message\":\"failed to obtain "
		             "logs for Container 'gone': no such container\",\"response\":500}\n");
	} else if (strcmp(path, "/v1.41/version") == 0) {
		send_str(fd, "HTTP/1.1 200 OK\r\n" FAKE_HEADERS "Content-Length: 32\r\n\r\n"
		             "{\"Version\":\"9.8.7\",\"Os\":\"linux\"}");
	} else {
		send_str(fd, "HTTP/1.1 404 Not Found\r\n" FAKE_HEADERS
		             "Content-Length: 18\r\n\r\n{\"message\":\"nope\"}");
	}
}

static void *fake_main(void *p)
{
	struct fake *f = p;

	for (;;) {
		char req[4096], path[256] = "";
		size_t len = 0;
		int fd = accept(f->lfd, NULL, NULL);

		if (fd < 0)
			return NULL;
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
		if (f->n_seen < 16)
			snprintf(f->seen[f->n_seen++], sizeof(f->seen[0]), "%s", path);
		pthread_mutex_unlock(&f->mu);
		fake_answer(fd, path);
		close(fd);
	}
}

static void fake_start(struct fake *f)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	snprintf(f->path, sizeof(f->path), "/tmp/dms-podman-fake-%d.sock", (int)getpid());
	snprintf(f->url, sizeof(f->url), "unix://%s", f->path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f->path);
	unlink(f->path);
	cr_assert_geq(f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), 0);
	cr_assert_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(f->lfd, 16), 0);
	cr_assert_eq(pthread_create(&f->thread, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->path);
	pthread_mutex_destroy(&f->mu);
}

static bool fake_saw(struct fake *f, const char *prefix)
{
	bool found = false;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->n_seen && !found; i++)
		found = strncmp(f->seen[i], prefix, strlen(prefix)) == 0;
	pthread_mutex_unlock(&f->mu);
	return found;
}

struct collected {
	int n;
	struct runtime_event ev[4];
	char ids[4][8];
};

static int collect_event(void *ud, const struct runtime_event *e)
{
	struct collected *c = ud;

	if (c->n < 4) {
		c->ev[c->n] = *e;
		snprintf(c->ids[c->n], sizeof(c->ids[0]), "%s", e->container_id);
		c->ev[c->n].container_id = c->ids[c->n];
		c->ev[c->n].execution_id = NULL;
		c->n++;
	}
	return 0;
}

Test(podman_runtime, a_libpod_engine_behind_the_docker_table_gets_podmans_handling)
{
	struct fake f;
	struct collected c = {0};
	struct runtime *r = NULL;
	struct runtime_info info = {0};
	const struct compat_flavor *engine = NULL;
	dms_error *err = NULL;

	fake_start(&f);
	ASSERT_OK(compat_probe(f.url, 1000, &engine, &err), "probe");
	cr_assert_eq(engine, &compat_podman_flavor, "Libpod headers not recognised");
	ASSERT_OK(docker_runtime_ops.open(f.url, &r, &err), "open");
	/* Key-only label: not sent to the engine, matched here; libpod's
	 * died/containerExitCode and compat's remove are understood. */
	cr_assert_eq(docker_runtime_ops.events(r, NULL, "k", 0, NULL, collect_event, &c, &err),
	             DMS_ERR_RUNTIME_UNAVAILABLE, "the scripted stream ends");
	err_free(err);
	err = NULL;
	cr_assert_eq(c.n, 2, "%d events (c2 lacks the key)", c.n);
	cr_assert_eq(c.ev[0].kind, RT_EV_DIE);
	cr_assert_eq(c.ev[0].exit_code, 4);
	cr_assert_eq(c.ev[1].kind, RT_EV_DESTROY);
	cr_assert(fake_saw(&f, "/v1.41/events?filters=%7B%22type%22%3A%5B%22container%22%5D%7D"),
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
		cr_assert(memcmp(out.data + 8, "hello\n", 6) == 0);
		free(out.data);
		err_free(err);
		err = NULL;
	}
	/* The fingerprint asks libpod at the version the engine named; when
	 * that fails, the engine still answered the ping, and its headers
	 * make the fingerprint. */
	ASSERT_OK(docker_runtime_ops.ping(r, NULL, &info, &err), "ping with info");
	cr_assert(fake_saw(&f, "/v9.8.7/libpod/info"), "libpod not asked at its own version");
	cr_assert_str_eq(info.kind, "podman");
	cr_assert_str_eq(info.version, "9.8.7");
	cr_assert_str_eq(info.api_version, "1.41");
	cr_assert_str_eq(info.os, "linux");
	cr_assert_eq(info.cgroup_version, 0, "unknown, not guessed");
	runtime_info_free(&info);
	docker_runtime_ops.close(r);
	fake_stop(&f);
}
