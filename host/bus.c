/* bus.c — dms-host's D-Bus service (see bus.h and docs/dbus.md).
 *
 * Threads:
 *   - the bus loop (the caller of bus_host_run) reads and dispatches
 *     messages and never calls a blocking plugin operation;
 *   - pool workers run Start, Cancel, Cleanup, IsInstalled, GetLogStream,
 *     List, ImportImage, NewExecutor, RemoveExecutor, Run's start, and
 *     executor destroys, and send their replies themselves;
 *   - plugin threads call on_wait_done (Wait and Run replies) and on_event
 *     (signals); on_pull_progress runs on the worker whose Start pulls.
 * libdbus connections are thread-safe once dbus_threads_init_default()
 * ran; a reply sent from another thread is written at once when the socket
 * takes it, otherwise the wakeup function makes the loop poll for POLLOUT.
 *
 * Executor objects are reference counted: the registry holds one, every
 * queued or running job holds one. The last unref queues the destroy on the
 * pool (never on the bus loop, since destroy joins plugin threads), and a
 * RemoveExecutor call is answered after that destroy. Deferred Wait replies
 * hold no reference: destroy fails pending waiters, which answers them. */
#include "bus.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "bus_table.h"
#include "json.h"
#include "pool.h"
#include "util.h"

#define IS_INSTALLED_TIMEOUT_MS 30000
#define RUNTIME_PROBE_TIMEOUT_MS 5000

struct bus_executor;

struct bus_host {
	const struct bus_host_config *cfg;
	DBusConnection *conn;
	int wake_fd;
	int sig_fd;
	struct host_pool *pool;
	pthread_mutex_t lock; /* executors, stopping */
	struct bus_executor *executors;
	bool stopping;
	pthread_mutex_t create_lock; /* serialises NewExecutor */
};

struct job;

struct bus_executor {
	atomic_int refs;
	struct bus_host *host;
	struct host_plugin *plugin;
	dms_executor *ex;
	char *id;
	char *path;
	char *config;
	pthread_mutex_t lock; /* runtime, active, cancelling, remove_msg */
	char *runtime;
	struct job *active; /* jobs blocked in the plugin with a context */
	bool cancelling;
	DBusMessage *remove_msg; /* answered once destroy has run */
	struct bus_executor *next;
};

/* A method call handed to a pool worker. */
struct job {
	struct bus_host *host;
	DBusMessage *msg;
	struct bus_executor *exe; /* referenced; NULL for manager calls */
	void (*fn)(struct job *j);
	dms_context *ctx;
	struct job *next_active;
};

/* A deferred reply to Wait or Run, answered from the plugin's callback. */
struct waiter {
	DBusConnection *conn;
	DBusMessage *msg;
	bool is_run; /* Run: a cancelled job is an org.dms.Error.Cancelled reply */
};

static const dms_executor_ops *ops_of(const struct bus_executor *e)
{
	return e->plugin->desc->ops;
}

/* --- executor objects ------------------------------------------------ */

static void exe_destroy_task(void *arg)
{
	struct bus_executor *e = arg;
	const dms_executor_ops *ops = ops_of(e);

	ops->set_event_handler(e->ex, NULL, NULL);
	if (DMS_OP_AVAILABLE(ops, set_pull_progress_handler))
		ops->set_pull_progress_handler(e->ex, NULL, NULL);
	ops->destroy(e->ex);
	if (e->remove_msg) {
		bus_reply_empty(e->host->conn, e->remove_msg);
		dbus_message_unref(e->remove_msg);
	}
	pthread_mutex_destroy(&e->lock);
	free(e->runtime);
	free(e->id);
	free(e->path);
	free(e->config);
	free(e);
}

static struct bus_executor *exe_ref(struct bus_executor *e)
{
	atomic_fetch_add(&e->refs, 1);
	return e;
}

static void exe_unref(struct bus_executor *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		host_pool_submit(e->host->pool, exe_destroy_task, e);
}

static struct bus_executor *exe_find_locked(struct bus_host *h, const char *id, const char *path)
{
	for (struct bus_executor *e = h->executors; e; e = e->next)
		if ((id && strcmp(e->id, id) == 0) || (path && strcmp(e->path, path) == 0))
			return e;
	return NULL;
}

static struct bus_executor *exe_lookup(struct bus_host *h, const char *id, const char *path)
{
	struct bus_executor *e;

	pthread_mutex_lock(&h->lock);
	e = exe_find_locked(h, id, path);
	if (e)
		exe_ref(e);
	pthread_mutex_unlock(&h->lock);
	return e;
}

static void exe_set_runtime_from_info(struct bus_executor *e, const char *info_json)
{
	struct host_json *j;
	const char *rt;

	if (!info_json)
		return;
	j = host_json_parse(info_json, strlen(info_json), NULL);
	rt = host_json_get_string(j, "runtime");
	if (rt && *rt) {
		pthread_mutex_lock(&e->lock);
		free(e->runtime);
		e->runtime = bus_utf8_copy(rt);
		pthread_mutex_unlock(&e->lock);
	}
	host_json_free(j);
}

/* --- signals (plugin threads) --------------------------------------- */

static const char *state_name(dms_exec_state s)
{
	switch (s) {
	case DMS_STATE_PENDING:
		return "pending";
	case DMS_STATE_CREATED:
		return "created";
	case DMS_STATE_RUNNING:
		return "running";
	case DMS_STATE_EXITED:
		return "exited";
	case DMS_STATE_FAILED:
		return "failed";
	case DMS_STATE_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

static void emit(struct bus_executor *e, const char *member, const char *a, const char *b)
{
	DBusMessage *m = dbus_message_new_signal(e->path, BUS_EXECUTOR_INTERFACE, member);
	char *va = bus_utf8_copy(a), *vb = bus_utf8_copy(b);

	if (m && dbus_message_append_args(m, DBUS_TYPE_STRING, &va, DBUS_TYPE_STRING, &vb,
	                                  DBUS_TYPE_INVALID))
		dbus_connection_send(e->host->conn, m, NULL);
	if (m)
		dbus_message_unref(m);
	free(va);
	free(vb);
}

/* Signals go out in the order the plugin reports the states: libdbus
 * queues messages of one connection in send order. */
static void on_event(void *user_data, const char *execution_id, dms_exec_state state,
                     const char *result_json)
{
	struct bus_executor *e = user_data;

	emit(e, "ExecutionStateChanged", execution_id, state_name(state));
	if (state == DMS_STATE_EXITED || state == DMS_STATE_FAILED ||
	    state == DMS_STATE_CANCELLED) {
		struct host_buf b;
		host_buf_init(&b, 0);
		if (result_json) {
			host_buf_puts(&b, result_json);
		} else {
			/* FAILED before the container ran: no result exists. */
			host_buf_printf(&b,
			                "{\"error_msg\":\"execution %s before its container ran\"}",
			                state_name(state));
		}
		emit(e, "ExecutionFinished", execution_id, b.data);
		host_buf_free(&b);
	}
}

/* Already rate-limited by the plugin (about 4 a second per image). */
static void on_pull_progress(void *user_data, const char *execution_id, const char *image,
                             uint64_t current_bytes, uint64_t total_bytes, const char *status)
{
	struct bus_executor *e = user_data;
	DBusMessage *m = dbus_message_new_signal(e->path, BUS_EXECUTOR_INTERFACE, "PullProgress");
	char *vid = bus_utf8_copy(execution_id), *vimage = bus_utf8_copy(image),
	     *vstatus = bus_utf8_copy(status);
	dbus_uint64_t cur = current_bytes, tot = total_bytes;

	if (m && dbus_message_append_args(m, DBUS_TYPE_STRING, &vid, DBUS_TYPE_STRING, &vimage,
	                                  DBUS_TYPE_UINT64, &cur, DBUS_TYPE_UINT64, &tot,
	                                  DBUS_TYPE_STRING, &vstatus, DBUS_TYPE_INVALID))
		dbus_connection_send(e->host->conn, m, NULL);
	if (m)
		dbus_message_unref(m);
	free(vid);
	free(vimage);
	free(vstatus);
}

/* --- deferred replies (plugin threads) ------------------------------ */

static struct waiter *waiter_new(struct bus_host *h, DBusMessage *msg)
{
	struct waiter *w = host_calloc(1, sizeof(*w));

	w->conn = h->conn;
	w->msg = dbus_message_ref(msg);
	return w;
}

static void waiter_free(struct waiter *w)
{
	dbus_message_unref(w->msg);
	free(w);
}

static void on_wait_done(void *user_data, const char *execution_id, const char *result_json,
                         const dms_error *error)
{
	struct waiter *w = user_data;
	struct host_json *doc = NULL;

	/* Run follows the ABI's run(): a job ended by Cancel or by its deadline
	 * fails the call (Wait returns the result with cancelled: true). */
	if (result_json && w->is_run &&
	    (doc = host_json_parse(result_json, strlen(result_json), NULL)) &&
	    host_json_get_bool(doc, "cancelled", false)) {
		const char *why = host_json_get_string(doc, "error_msg");
		bus_reply_error(w->conn, w->msg, bus_error_name(DMS_ERR_CANCELLED),
		                "execution %s was cancelled: %s", execution_id,
		                why ? why : "cancelled");
	} else if (result_json)
		bus_reply_string(w->conn, w->msg, result_json);
	else
		bus_reply_dms_error(w->conn, w->msg,
		                    error ? (int)error->category : DMS_ERR_INTERNAL, error);
	host_json_free(doc);
	waiter_free(w);
}

/* wait_async on behalf of msg (a Wait, or the waiting half of a Run);
 * answers msg with an error if it fails. */
static void wait_deferred(struct bus_executor *e, DBusMessage *msg, const char *execution_id,
                          bool is_run)
{
	struct waiter *w = waiter_new(e->host, msg);

	w->is_run = is_run;
	dms_error *err = NULL;
	int rc = ops_of(e)->wait_async(e->ex, execution_id, on_wait_done, w, &err);

	if (rc != DMS_OK) {
		/* fn is never called on failure: the waiter is still ours. */
		bus_reply_dms_error(e->host->conn, msg, rc, err);
		ops_of(e)->error_free(err);
		waiter_free(w);
	}
}

/* --- jobs (pool workers) -------------------------------------------- */

static void job_task(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	dbus_message_unref(j->msg);
	exe_unref(j->exe);
	free(j);
}

static void job_submit(const struct bus_call *c, struct bus_executor *e, void (*fn)(struct job *))
{
	struct bus_host *h = e ? e->host : c->object;
	struct job *j = host_calloc(1, sizeof(*j));

	j->host = h;
	j->msg = dbus_message_ref(c->msg);
	j->exe = e ? exe_ref(e) : NULL;
	j->fn = fn;
	host_pool_submit(h->pool, job_task, j);
}

/* A context for a blocking plugin call, cancelled on shutdown. */
static dms_context *job_ctx_begin(struct job *j, int64_t timeout_ms)
{
	struct bus_executor *e = j->exe;

	j->ctx = ops_of(e)->context_new(timeout_ms);
	pthread_mutex_lock(&e->lock);
	j->next_active = e->active;
	e->active = j;
	if (e->cancelling && j->ctx)
		ops_of(e)->context_cancel(j->ctx);
	pthread_mutex_unlock(&e->lock);
	return j->ctx;
}

static void job_ctx_end(struct job *j)
{
	struct bus_executor *e = j->exe;

	pthread_mutex_lock(&e->lock);
	for (struct job **p = &e->active; *p; p = &(*p)->next_active) {
		if (*p == j) {
			*p = j->next_active;
			break;
		}
	}
	pthread_mutex_unlock(&e->lock);
	ops_of(e)->context_free(j->ctx);
	j->ctx = NULL;
}

/* The call's string argument (its signature was checked at dispatch). The
 * string lives as long as the message. */
static const char *job_string_arg(struct job *j)
{
	DBusMessageIter it;
	const char *s = NULL;

	if (dbus_message_iter_init(j->msg, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING)
		dbus_message_iter_get_basic(&it, &s);
	return s ? s : "";
}

/* Replies with the plugin error and frees it. */
static void job_fail(struct job *j, int rc, dms_error *err)
{
	bus_reply_dms_error(j->host->conn, j->msg, rc, err);
	if (j->exe)
		ops_of(j->exe)->error_free(err);
}

/* --- org.dms.Executor1 ---------------------------------------------- */

static void is_installed_common(struct job *j, bool with_info)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	char *info = NULL;
	bool installed = false;
	int rc;

	rc = ops->is_installed(j->exe->ex, job_ctx_begin(j, IS_INSTALLED_TIMEOUT_MS), &installed,
	                       &info, &err);
	job_ctx_end(j);
	if (rc != DMS_OK) {
		job_fail(j, rc, err);
		return;
	}
	exe_set_runtime_from_info(j->exe, info);
	DBusMessage *r = dbus_message_new_method_return(j->msg);
	dbus_bool_t b = installed;
	char *vinfo = bus_utf8_copy(info ? info : "{}");
	if (r && dbus_message_append_args(r, DBUS_TYPE_BOOLEAN, &b, DBUS_TYPE_INVALID) &&
	    (!with_info ||
	     dbus_message_append_args(r, DBUS_TYPE_STRING, &vinfo, DBUS_TYPE_INVALID)))
		dbus_connection_send(j->host->conn, r, NULL);
	if (r)
		dbus_message_unref(r);
	free(vinfo);
	ops->string_free(info);
}

static void is_installed_worker(struct job *j)
{
	is_installed_common(j, false);
}

static void engine_info_worker(struct job *j)
{
	is_installed_common(j, true);
}

static void start_worker(struct job *j)
{
	dms_error *err = NULL;
	int rc = ops_of(j->exe)->start(j->exe->ex, job_ctx_begin(j, 0), job_string_arg(j), &err);

	job_ctx_end(j);
	if (rc != DMS_OK)
		job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void cancel_worker(struct job *j)
{
	dms_error *err = NULL;
	int rc = ops_of(j->exe)->cancel(j->exe->ex, job_ctx_begin(j, 0), job_string_arg(j), &err);

	job_ctx_end(j);
	if (rc != DMS_OK)
		job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void cleanup_worker(struct job *j)
{
	dms_error *err = NULL;
	int rc = ops_of(j->exe)->cleanup(j->exe->ex, job_ctx_begin(j, 0), &err);

	job_ctx_end(j);
	if (rc != DMS_OK)
		job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void log_stream_worker(struct job *j)
{
	dms_error *err = NULL;
	int fd = -1;
	int rc = ops_of(j->exe)->get_log_stream(j->exe->ex, job_ctx_begin(j, 0), job_string_arg(j),
	                                        &fd, &err);

	job_ctx_end(j);
	if (rc != DMS_OK) {
		job_fail(j, rc, err);
		return;
	}
	DBusMessage *r = dbus_message_new_method_return(j->msg);
	if (r && dbus_message_append_args(r, DBUS_TYPE_UNIX_FD, &fd, DBUS_TYPE_INVALID))
		dbus_connection_send(j->host->conn, r, NULL);
	else
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_FAILED,
		                "cannot pass the log stream fd over this connection");
	if (r)
		dbus_message_unref(r);
	close(fd); /* the message holds its own duplicate */
}

static void list_worker(struct job *j)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	char *list = NULL;
	int rc;

	if (!DMS_OP_AVAILABLE(ops, list)) {
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_NOT_SUPPORTED,
		                "plugin %s %s does not implement List", j->exe->plugin->desc->name,
		                j->exe->plugin->desc->version);
		return;
	}
	rc = ops->list(j->exe->ex, &list, &err);
	if (rc != DMS_OK) {
		job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, list);
	ops->string_free(list);
}

/* ImportImage(h tarball, s reference): the caller opened the file and
 * passes its fd, so dms-host never opens a path a caller names. */
static void import_image_worker(struct job *j)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	const char *ref = "";
	dms_error *err = NULL;
	char *id = NULL;
	int fd = -1, rc;

	if (!DMS_OP_AVAILABLE(ops, image_import)) {
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_NOT_SUPPORTED,
		                "plugin %s %s does not implement ImportImage",
		                j->exe->plugin->desc->name, j->exe->plugin->desc->version);
		return;
	}
	/* libdbus hands out a duplicate of the fd: ours to close. */
	if (!dbus_message_get_args(j->msg, NULL, DBUS_TYPE_UNIX_FD, &fd, DBUS_TYPE_STRING, &ref,
	                           DBUS_TYPE_INVALID)) {
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_INVALID_ARGS,
		                "ImportImage wants (h tarball, s reference)");
		return;
	}
	rc = ops->image_import(j->exe->ex, job_ctx_begin(j, 0), fd, ref, &id, &err);
	job_ctx_end(j);
	close(fd);
	if (rc != DMS_OK) {
		job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, id);
	ops->string_free(id);
}

/* "run-<unix seconds>-<8 hex digits>", the id generated for requests that
 * do not name their execution. */
static char *new_execution_id(void)
{
	uint32_t r = 0;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)host_now_ns() ^ (uint32_t)getpid();
	return host_asprintf("run-%lld-%08x", (long long)time(NULL), r);
}

/* A request the host cannot read (YAML) runs through the plugin's own
 * blocking run(): correct, but it holds this worker for the job. */
static void run_blocking(struct job *j, const char *request)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	char *result = NULL;
	int rc = ops->run(j->exe->ex, job_ctx_begin(j, 0), request, &result, &err);

	job_ctx_end(j);
	if (rc != DMS_OK) {
		job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, result);
	ops->string_free(result);
}

/* Run = start on this worker, then a deferred wait: no thread is held
 * while the job runs. */
static void run_worker(struct job *j)
{
	const char *request = job_string_arg(j);
	struct host_json *doc = host_json_parse(request, strlen(request), NULL);
	const struct host_json *jid = host_json_get(doc, "execution_id");
	char *owned_request = NULL, *owned_id = NULL;
	const char *execution_id;
	dms_error *err = NULL;
	int rc;

	if (!doc || doc->type != HOST_JSON_OBJECT || (jid && jid->type != HOST_JSON_STRING)) {
		run_blocking(j, request);
		goto out;
	}
	if (jid) {
		execution_id = jid->string;
	} else {
		/* Name the execution so we can wait for it. */
		const char *brace = strchr(request, '{');
		owned_id = new_execution_id();
		owned_request = host_asprintf("{\"execution_id\":\"%s\"%s%s", owned_id,
		                              doc->n_items ? "," : "", brace + 1);
		request = owned_request;
		execution_id = owned_id;
	}
	rc = ops_of(j->exe)->start(j->exe->ex, job_ctx_begin(j, 0), request, &err);
	job_ctx_end(j);
	if (rc != DMS_OK)
		job_fail(j, rc, err);
	else
		wait_deferred(j->exe, j->msg, execution_id, true);
out:
	host_json_free(doc);
	free(owned_request);
	free(owned_id);
}

#define WORKER_METHOD(name)                                                                        \
	static void name(const struct bus_call *c)                                                 \
	{                                                                                          \
		job_submit(c, c->object, name##_worker);                                           \
	}

WORKER_METHOD(is_installed)
WORKER_METHOD(engine_info)
WORKER_METHOD(start)
WORKER_METHOD(cancel)
WORKER_METHOD(cleanup)
WORKER_METHOD(log_stream)
WORKER_METHOD(list)
WORKER_METHOD(run)
WORKER_METHOD(import_image)

/* Wait is answered from the plugin's completion callback; the bus loop
 * only registers the waiter (wait_async does not block). */
static void wait_method(const struct bus_call *c)
{
	const char *id = "";

	dbus_message_get_args(c->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID);
	wait_deferred(c->object, c->msg, id, false);
}

static bool get_id(void *object, DBusMessageIter *it)
{
	struct bus_executor *e = object;
	char *v = bus_utf8_copy(e->id);
	bool ok = dbus_message_iter_append_basic(it, DBUS_TYPE_STRING, &v);

	free(v);
	return ok;
}

static bool get_runtime(void *object, DBusMessageIter *it)
{
	struct bus_executor *e = object;
	char *v;
	bool ok;

	pthread_mutex_lock(&e->lock);
	v = host_strdup(e->runtime ? e->runtime : "");
	pthread_mutex_unlock(&e->lock);
	ok = dbus_message_iter_append_basic(it, DBUS_TYPE_STRING, &v);
	free(v);
	return ok;
}

static const struct bus_method executor_methods[] = {
    {"IsInstalled", "", "", "b", "installed", is_installed},
    {"GetEngineInfo", "", "", "bs", "installed info_json", engine_info},
    {"Start", "s", "request_json", "", "", start},
    {"Wait", "s", "execution_id", "s", "result_json", wait_method},
    {"Cancel", "s", "execution_id", "", "", cancel},
    {"GetLogStream", "s", "request_json", "h", "fd", log_stream},
    {"Run", "s", "request_json", "s", "result_json", run},
    {"Cleanup", "", "", "", "", cleanup},
    {"List", "", "", "s", "executions_json", list},
    {"ImportImage", "hs", "tarball reference", "s", "image_id", import_image},
    {.name = NULL},
};

static const struct bus_signal executor_signals[] = {
    {"ExecutionStateChanged", "ss", "execution_id state"},
    {"ExecutionFinished", "ss", "execution_id result_json"},
    {"PullProgress", "sstts", "execution_id image current_bytes total_bytes status"},
    {.name = NULL},
};

static const struct bus_property executor_properties[] = {
    {"Id", "s", get_id, "const"},
    {"Runtime", "s", get_runtime, "false"},
    {.name = NULL},
};

static const struct bus_interface executor_interface = {
    .name = BUS_EXECUTOR_INTERFACE,
    .methods = executor_methods,
    .signals = executor_signals,
    .properties = executor_properties,
};

static const struct bus_interface *const executor_ifaces[] = {
    &executor_interface,
    &bus_introspectable_interface,
    &bus_properties_interface,
    &bus_peer_interface,
    NULL,
};

static const struct bus_object_class executor_class = {.interfaces = executor_ifaces};

/* --- org.dms.ExecutorManager1 --------------------------------------- */

/* A top-level "plugin: NAME" line of the config selects the plugin by
 * descriptor name, file name or path; the line is consumed by the host
 * (the executor's config parser rejects unknown keys). */
static struct host_plugin *select_plugin(struct bus_host *h, const char *config, char **config_out,
                                         char **why)
{
	const char *line = config;
	char *want = NULL;

	*config_out = host_strdup(config);
	while (line && *line) {
		const char *eol = strchr(line, '\n');
		size_t len = eol ? (size_t)(eol - line) : strlen(line);
		if (len > 7 && strncmp(line, "plugin:", 7) == 0) {
			const char *v = line + 7;
			const char *end = line + len;
			while (v < end && (*v == ' ' || *v == '\t' || *v == '"' || *v == '\''))
				v++;
			while (end > v && strchr(" \t\r\"'", end[-1]))
				end--;
			want = host_strndup(v, (size_t)(end - v));
			size_t off = (size_t)(line - config);
			memset(*config_out + off, ' ', len); /* keep line numbers */
			(*config_out)[off] = '#';
			break;
		}
		line = eol ? eol + 1 : NULL;
	}
	if (!want)
		return h->cfg->plugins[0];
	for (size_t i = 0; i < h->cfg->n_plugins; i++) {
		struct host_plugin *p = h->cfg->plugins[i];
		const char *base = strrchr(p->path, '/');
		if (strcmp(want, p->desc->name) == 0 || strcmp(want, p->path) == 0 ||
		    (base && strcmp(want, base + 1) == 0)) {
			free(want);
			return p;
		}
	}
	*why = host_asprintf("plugin: no loaded plugin is named \"%s\"", want);
	free(want);
	free(*config_out);
	*config_out = NULL;
	return NULL;
}

/* The Runtime property: what the engine says it is, asked after NewExecutor
 * replied. The fingerprint costs /version and /info, and Podman's /libpod/info
 * took 3–6 s on a loaded machine here: NewExecutor (and every caller queued
 * behind create_lock) waited for it. Until it answers, Runtime is empty, as
 * for an engine that is down; IsInstalled refreshes it too. */
static void exe_probe_runtime_task(void *arg)
{
	struct bus_executor *e = arg;
	const dms_executor_ops *ops = ops_of(e);
	dms_context *ctx = ops->context_new(RUNTIME_PROBE_TIMEOUT_MS);
	dms_error *err = NULL;
	bool installed = false;
	char *info = NULL;

	if (ops->is_installed(e->ex, ctx, &installed, &info, &err) == DMS_OK) {
		exe_set_runtime_from_info(e, info);
		ops->string_free(info);
	} else {
		ops->error_free(err);
	}
	ops->context_free(ctx);
	exe_unref(e);
}

/* Creates and registers an executor. On failure returns the status and
 * sets *why (caller frees). On success *path_out (caller frees). */
static int create_executor(struct bus_host *h, const char *id, const char *config, char **path_out,
                           char **why)
{
	struct bus_executor *e;
	struct host_plugin *plugin;
	dms_executor *ex = NULL;
	dms_error *err = NULL;
	char *cfg_text = NULL, *el;
	int rc;

	pthread_mutex_lock(&h->create_lock);
	e = exe_lookup(h, id, NULL);
	if (e) {
		/* Idempotent for the same config: racing clients both succeed. */
		rc = strcmp(e->config, config) == 0 ? DMS_OK : DMS_ERR_INVALID_ARGUMENT;
		if (rc == DMS_OK)
			*path_out = host_strdup(e->path);
		else
			*why = host_asprintf("executor \"%s\" already exists (at %s) with another "
			                     "config; RemoveExecutor it first",
			                     id, e->path);
		exe_unref(e);
		goto out;
	}
	plugin = select_plugin(h, config, &cfg_text, why);
	if (!plugin) {
		rc = DMS_ERR_CONFIG;
		goto out;
	}
	const dms_executor_ops *ops = plugin->desc->ops;
	rc = ops->new_executor(id, cfg_text, &ex, &err);
	if (rc != DMS_OK) {
		*why = host_error_text(err);
		rc = err && err->category ? (int)err->category : rc;
		ops->error_free(err);
		goto out;
	}
	e = host_calloc(1, sizeof(*e));
	atomic_init(&e->refs, 1);
	pthread_mutex_init(&e->lock, NULL);
	e->host = h;
	e->plugin = plugin;
	e->ex = ex;
	e->id = host_strdup(id);
	e->config = host_strdup(config);
	el = host_escape_path_element(id);
	e->path = host_asprintf("%s/%s", BUS_MANAGER_PATH, el);
	free(el);
	rc = ops->set_event_handler(ex, on_event, e);
	if (rc != DMS_OK) {
		*why = host_strdup("the plugin refused the event handler");
		goto fail;
	}
	if (DMS_OP_AVAILABLE(ops, set_pull_progress_handler))
		ops->set_pull_progress_handler(ex, on_pull_progress, e);
	pthread_mutex_lock(&h->lock);
	if (h->stopping) {
		pthread_mutex_unlock(&h->lock);
		rc = DMS_ERR_CANCELLED;
		*why = host_strdup("dms-host is shutting down");
		goto fail;
	}
	e->next = h->executors;
	h->executors = e;
	pthread_mutex_unlock(&h->lock);
	host_pool_submit(h->pool, exe_probe_runtime_task, exe_ref(e));
	*path_out = host_strdup(e->path);
	rc = DMS_OK;
	goto out;
fail:
	exe_unref(e);
out:
	free(cfg_text);
	pthread_mutex_unlock(&h->create_lock);
	return rc;
}

static void new_executor_worker(struct job *j)
{
	const char *id = "", *config = "";
	char *path = NULL, *why = NULL;
	int rc;

	dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &config,
	                      DBUS_TYPE_INVALID);
	rc = create_executor(j->host, id, config, &path, &why);
	if (rc != DMS_OK) {
		bus_reply_error(j->host->conn, j->msg, bus_error_name(rc), "%s", why);
	} else {
		DBusMessage *r = dbus_message_new_method_return(j->msg);
		if (r &&
		    dbus_message_append_args(r, DBUS_TYPE_OBJECT_PATH, &path, DBUS_TYPE_INVALID))
			dbus_connection_send(j->host->conn, r, NULL);
		if (r)
			dbus_message_unref(r);
	}
	free(path);
	free(why);
}

static void remove_executor_worker(struct job *j)
{
	struct bus_host *h = j->host;
	const char *id = "";
	struct bus_executor *e, **p;

	dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID);
	pthread_mutex_lock(&h->lock);
	for (p = &h->executors; *p && strcmp((*p)->id, id) != 0; p = &(*p)->next)
		;
	e = *p;
	if (e)
		*p = e->next;
	pthread_mutex_unlock(&h->lock);
	if (!e) {
		bus_reply_error(h->conn, j->msg, bus_error_name(DMS_ERR_NOT_FOUND),
		                "no executor with id \"%s\"", id);
		return;
	}
	/* Answered by the destroy, once every job on e finished. */
	pthread_mutex_lock(&e->lock);
	e->remove_msg = dbus_message_ref(j->msg);
	pthread_mutex_unlock(&e->lock);
	exe_unref(e);
}

static void list_executors(const struct bus_call *c)
{
	struct bus_host *h = c->object;
	DBusMessage *r = dbus_message_new_method_return(c->msg);
	DBusMessageIter it, arr;
	bool ok;

	if (!r)
		return;
	dbus_message_iter_init_append(r, &it);
	ok = dbus_message_iter_open_container(&it, DBUS_TYPE_ARRAY, "o", &arr);
	pthread_mutex_lock(&h->lock);
	for (struct bus_executor *e = h->executors; ok && e; e = e->next)
		ok = dbus_message_iter_append_basic(&arr, DBUS_TYPE_OBJECT_PATH, &e->path);
	pthread_mutex_unlock(&h->lock);
	if (ok)
		ok = dbus_message_iter_close_container(&it, &arr);
	else
		dbus_message_iter_abandon_container_if_open(&it, &arr);
	if (ok)
		dbus_connection_send(c->conn, r, NULL);
	dbus_message_unref(r);
}

static char **manager_children(void *object)
{
	struct bus_host *h = object;
	size_t n = 0, i = 0;
	char **v;

	pthread_mutex_lock(&h->lock);
	for (struct bus_executor *e = h->executors; e; e = e->next)
		n++;
	v = host_calloc(n + 1, sizeof(*v));
	for (struct bus_executor *e = h->executors; e; e = e->next)
		v[i++] = host_strdup(e->path + strlen(BUS_MANAGER_PATH) + 1);
	pthread_mutex_unlock(&h->lock);
	return v;
}

static void new_executor_bus(const struct bus_call *c)
{
	job_submit(c, NULL, new_executor_worker);
}

static void remove_executor_bus(const struct bus_call *c)
{
	job_submit(c, NULL, remove_executor_worker);
}

static const struct bus_method manager_methods[] = {
    {"NewExecutor", "ss", "id config_yaml", "o", "executor", new_executor_bus},
    {"ListExecutors", "", "", "ao", "executors", list_executors},
    {"RemoveExecutor", "s", "id", "", "", remove_executor_bus},
    {.name = NULL},
};

static const struct bus_interface manager_interface = {
    .name = BUS_MANAGER_INTERFACE,
    .methods = manager_methods,
};

static const struct bus_interface *const manager_ifaces[] = {
    &manager_interface,
    &bus_introspectable_interface,
    &bus_properties_interface,
    &bus_peer_interface,
    NULL,
};

static const struct bus_object_class manager_class = {
    .interfaces = manager_ifaces,
    .children = manager_children,
};

/* "/", "/org" and "/org/dms" exist only to lead introspection down. */
static char **node_children(void *object)
{
	char **v = host_calloc(2, sizeof(*v));

	v[0] = host_strdup(object);
	return v;
}

static const struct bus_interface *const node_ifaces[] = {
    &bus_introspectable_interface,
    &bus_peer_interface,
    NULL,
};

static const struct bus_object_class node_class = {
    .interfaces = node_ifaces,
    .children = node_children,
};

char *bus_interfaces_xml(void)
{
	static const struct bus_interface *const ifaces[] = {
	    &manager_interface,
	    &executor_interface,
	    NULL,
	};

	static const char note[] =
	    "<!-- org.dms.Executor.xml: the D-Bus interfaces of dms-host (docs/dbus.md).\n"
	    "     Generated (dms-host option print-introspection) from the method tables in\n"
	    "     host/bus.c; tests/dbus/test_introspection.py checks it is current. -->\n";
	char *xml = bus_introspect_xml(ifaces, NULL);
	char *node = strstr(xml, "<node>");
	char *out = host_asprintf("%.*s%s%s", (int)(node - xml), xml, note, node);

	free(xml);
	return out;
}

/* --- the object tree ------------------------------------------------ */

static DBusHandlerResult on_message(DBusConnection *conn, DBusMessage *msg, void *data)
{
	static const struct {
		const char *path;
		const char *child;
	} nodes[] = {{"/", "org"}, {"/org", "dms"}, {"/org/dms", "Executor"}};
	struct bus_host *h = data;
	const char *path = dbus_message_get_path(msg);
	size_t mlen = strlen(BUS_MANAGER_PATH);

	if (dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_METHOD_CALL || !path)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (strcmp(path, BUS_MANAGER_PATH) == 0)
		return bus_dispatch(conn, msg, &manager_class, h);
	if (strncmp(path, BUS_MANAGER_PATH "/", mlen + 1) == 0) {
		struct bus_executor *e = exe_lookup(h, NULL, path);
		if (e) {
			DBusHandlerResult r = bus_dispatch(conn, msg, &executor_class, e);
			exe_unref(e);
			return r;
		}
	}
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++)
		if (strcmp(path, nodes[i].path) == 0)
			return bus_dispatch(conn, msg, &node_class, (void *)nodes[i].child);
	bus_reply_error(conn, msg, DBUS_ERROR_UNKNOWN_OBJECT, "No object at path %s", path);
	return DBUS_HANDLER_RESULT_HANDLED;
}

/* --- the loop ------------------------------------------------------- */

static void wake_loop(void *data)
{
	struct bus_host *h = data;
	uint64_t one = 1;

	if (write(h->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		host_log("wakeup write failed: %s", strerror(errno));
}

static void on_dispatch_status(DBusConnection *conn, DBusDispatchStatus s, void *data)
{
	(void)conn;
	if (s == DBUS_DISPATCH_DATA_REMAINS)
		wake_loop(data);
}

/* Returns 0 after a stop signal, 1 when the bus connection was lost. */
static int serve(struct bus_host *h)
{
	int bus_fd = -1;

	if (!dbus_connection_get_unix_fd(h->conn, &bus_fd)) {
		host_log("the bus connection has no file descriptor");
		return 1;
	}
	for (;;) {
		struct pollfd pfd[3] = {
		    {.fd = bus_fd, .events = POLLIN},
		    {.fd = h->wake_fd, .events = POLLIN},
		    {.fd = h->sig_fd, .events = POLLIN},
		};
		int timeout = -1;

		if (dbus_connection_has_messages_to_send(h->conn))
			pfd[0].events |= POLLOUT;
		if (dbus_connection_get_dispatch_status(h->conn) == DBUS_DISPATCH_DATA_REMAINS)
			timeout = 0;
		if (poll(pfd, 3, timeout) < 0 && errno != EINTR) {
			host_log("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[2].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(h->sig_fd, &si, sizeof(si)) == sizeof(si))
				host_log("%s received, shutting down",
				         strsignal((int)si.ssi_signo));
			return 0;
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t n;
			if (read(h->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
				host_log("wakeup read failed: %s", strerror(errno));
		}
		dbus_connection_read_write(h->conn, 0);
		while (dbus_connection_dispatch(h->conn) == DBUS_DISPATCH_DATA_REMAINS)
			;
		if (!dbus_connection_get_is_connected(h->conn)) {
			host_log("lost the connection to the bus");
			return 1;
		}
	}
}

static void shutdown_executors(struct bus_host *h)
{
	struct bus_executor *list;

	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	list = h->executors;
	h->executors = NULL;
	pthread_mutex_unlock(&h->lock);
	while (list) {
		struct bus_executor *e = list;
		list = e->next;
		pthread_mutex_lock(&e->lock);
		e->cancelling = true;
		for (struct job *j = e->active; j; j = j->next_active)
			if (j->ctx)
				ops_of(e)->context_cancel(j->ctx);
		pthread_mutex_unlock(&e->lock);
		exe_unref(e);
	}
}

static int own_name(struct bus_host *h, const char *bus)
{
	DBusError err;
	int r;

	dbus_error_init(&err);
	r = dbus_bus_request_name(h->conn, BUS_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE, &err);
	if (dbus_error_is_set(&err)) {
		host_log("cannot own %s on the %s bus: %s: %s", BUS_NAME, bus, err.name,
		         err.message);
		dbus_error_free(&err);
		return -1;
	}
	if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER &&
	    r != DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) {
		host_log("the name %s is already owned on the %s bus (is another dms-host "
		         "running?)",
		         BUS_NAME, bus);
		return -1;
	}
	return 0;
}

int bus_host_run(const struct bus_host_config *cfg)
{
	static const DBusObjectPathVTable vtable = {.message_function = on_message};
	const char *bus = cfg->bus_type == DBUS_BUS_SYSTEM ? "system" : "session";
	struct bus_host h = {.cfg = cfg, .wake_fd = -1, .sig_fd = -1};
	DBusError err;
	sigset_t mask;
	int status = 1;

	/* Block the stop signals before any thread exists (pool workers and
	 * plugin threads inherit the mask); the loop reads them from a
	 * signalfd. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	h.wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h.sig_fd < 0 || h.wake_fd < 0) {
		host_log("signalfd/eventfd: %s", strerror(errno));
		goto out_fds;
	}
	pthread_mutex_init(&h.lock, NULL);
	pthread_mutex_init(&h.create_lock, NULL);
	h.pool = host_pool_new(cfg->max_workers ? cfg->max_workers : 64);

	dbus_error_init(&err);
	h.conn = dbus_bus_get_private(cfg->bus_type, &err);
	if (!h.conn) {
		host_log("cannot connect to the %s bus: %s", bus, err.message);
		dbus_error_free(&err);
		goto out_pool;
	}
	dbus_connection_set_exit_on_disconnect(h.conn, FALSE);
	dbus_connection_set_wakeup_main_function(h.conn, wake_loop, &h, NULL);
	dbus_connection_set_dispatch_status_function(h.conn, on_dispatch_status, &h, NULL);
	if (!dbus_connection_register_fallback(h.conn, "/", &vtable, &h)) {
		host_log("cannot register the object tree");
		goto out_conn;
	}
	if (cfg->initial_id) {
		char *path = NULL, *why = NULL;
		int rc =
		    create_executor(&h, cfg->initial_id,
		                    cfg->initial_config ? cfg->initial_config : "", &path, &why);
		if (rc != DMS_OK) {
			host_log("cannot create executor \"%s\": %s: %s", cfg->initial_id,
			         bus_error_name(rc), why);
			free(why);
			goto out_executors;
		}
		host_log("executor \"%s\" at %s", cfg->initial_id, path);
		free(path);
	}
	if (own_name(&h, bus) < 0)
		goto out_executors;
	host_log("serving %s on the %s bus (plugin %s %s)", BUS_NAME, bus,
	         cfg->plugins[0]->desc->name, cfg->plugins[0]->desc->version);
	status = serve(&h);

out_executors:
	shutdown_executors(&h);
	/* Runs every queued job and destroy; replies still go out. */
	host_pool_drain_and_free(h.pool);
	h.pool = NULL;
	if (dbus_connection_get_is_connected(h.conn))
		dbus_connection_flush(h.conn);
out_conn:
	dbus_connection_close(h.conn);
	dbus_connection_unref(h.conn);
out_pool:
	host_pool_drain_and_free(h.pool);
	pthread_mutex_destroy(&h.lock);
	pthread_mutex_destroy(&h.create_lock);
out_fds:
	if (h.sig_fd >= 0)
		close(h.sig_fd);
	if (h.wake_fd >= 0)
		close(h.wake_fd);
	return status;
}
