/* bus_executor.c — org.dms.Executor1, one object per executor: the
 * methods (blocking ones on pool workers), the deferred Wait and Run
 * replies answered from the plugin's completion callback, and the signals
 * made of the plugin's events (bus_internal.h has the threads). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_internal.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

#define IS_INSTALLED_TIMEOUT_MS 30000

/* A deferred reply to Wait or Run, answered from the plugin's callback. */
struct waiter {
	DBusConnection *conn;
	DBusMessage *msg;
	bool is_run; /* Run: a cancelled job is an org.dms.Error.Cancelled reply */
};

/* --- signals (plugin threads) --------------------------------------- */

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
/* One log line per state: ids, the exit code and the result's error
 * message, never the request (it may carry credentials in its env). */
static void log_event(struct bus_executor *e, const char *execution_id, dms_exec_state state,
                      const char *result_json)
{
	struct host_json *doc = NULL;
	const char *why = NULL;

	if (state == DMS_STATE_PENDING || state == DMS_STATE_CREATED) {
		hlog(HLOG_DEBUG, e->id, execution_id, "%s", dms_state_name(state));
		return;
	}
	if (state == DMS_STATE_RUNNING || state == DMS_STATE_PAUSED) {
		hlog(HLOG_INFO, e->id, execution_id, "%s", dms_state_name(state));
		return;
	}
	if (result_json)
		doc = host_json_parse(result_json, strlen(result_json), NULL);
	why = host_json_get_string(doc, "error_msg");
	if (state == DMS_STATE_EXITED)
		hlog(HLOG_INFO, e->id, execution_id, "exited, exit code %g%s%s",
		     host_json_get_number(doc, "exit_code", -1), why ? ": " : "", why ? why : "");
	else
		hlog(state == DMS_STATE_FAILED ? HLOG_WARN : HLOG_INFO, e->id, execution_id,
		     "%s: %s", dms_state_name(state),
		     why                         ? why
		     : state == DMS_STATE_FAILED ? "before its container ran"
		                                 : "cancelled");
	host_json_free(doc);
}

void bus_executor_on_event(void *user_data, const char *execution_id, dms_exec_state state,
                           const char *result_json)
{
	struct bus_executor *e = user_data;
	char *runtime;

	pthread_mutex_lock(&e->lock);
	runtime = host_strdup(e->runtime ? e->runtime : "");
	pthread_mutex_unlock(&e->lock);
	metrics_job_state(e->id, runtime, execution_id, state, result_json);
	free(runtime);
	log_event(e, execution_id, state, result_json);
	emit(e, "ExecutionStateChanged", execution_id, dms_state_name(state));
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
			                dms_state_name(state));
		}
		emit(e, "ExecutionFinished", execution_id, b.data);
		host_buf_free(&b);
	}
}

/* Already rate-limited by the plugin (about 4 a second per image). */
void bus_executor_on_pull_progress(void *user_data, const char *execution_id, const char *image,
                                   uint64_t current_bytes, uint64_t total_bytes, const char *status)
{
	struct bus_executor *e = user_data;
	DBusMessage *m = dbus_message_new_signal(e->path, BUS_EXECUTOR_INTERFACE, "PullProgress");
	char *vid = bus_utf8_copy(execution_id), *vimage = bus_utf8_copy(image),
	     *vstatus = bus_utf8_copy(status);
	dbus_uint64_t cur = current_bytes, tot = total_bytes;

	metrics_pull_progress(e->id, execution_id, image, current_bytes);

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
	metrics_waiters_add(-1);
}

/* wait_async on behalf of msg (a Wait, or the waiting half of a Run);
 * answers msg with an error if it fails. */
static void wait_deferred(struct bus_executor *e, DBusMessage *msg, const char *execution_id,
                          bool is_run)
{
	struct waiter *w = waiter_new(e->host, msg);

	w->is_run = is_run;
	dms_error *err = NULL;
	metrics_waiters_add(1); /* before: the callback may run at once */
	int rc = ops_of(e)->wait_async(e->ex, execution_id, on_wait_done, w, &err);

	if (rc != DMS_OK) {
		/* fn is never called on failure: the waiter is still ours. */
		bus_reply_dms_error(e->host->conn, msg, rc, err);
		ops_of(e)->error_free(err);
		waiter_free(w);
		metrics_waiters_add(-1);
	}
}

/* --- org.dms.Executor1 ---------------------------------------------- */

static void is_installed_common(struct job *j, bool with_info)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	char *info = NULL;
	bool installed = false;
	int rc;

	rc = ops->is_installed(j->exe->ex, bus_job_ctx_begin(j, IS_INSTALLED_TIMEOUT_MS),
	                       &installed, &info, &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	bus_exe_set_runtime(j->exe, info);
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

/* Start replies with the execution id the executor used (the request's or
 * one it generated); a plugin older than start_job leaves it "". */
static void start_worker(struct job *j)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_context *ctx = bus_job_ctx_begin(j, 0);
	dms_error *err = NULL;
	char *id = NULL;
	int rc = DMS_OP_AVAILABLE(ops, start_job)
	             ? ops->start_job(j->exe->ex, ctx, bus_job_string_arg(j), &id, &err)
	             : ops->start(j->exe->ex, ctx, bus_job_string_arg(j), &err);

	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, id ? id : "");
	ops->string_free(id);
}

static void cancel_worker(struct job *j)
{
	dms_error *err = NULL;
	int rc = ops_of(j->exe)->cancel(j->exe->ex, bus_job_ctx_begin(j, 0), bus_job_string_arg(j),
	                                &err);

	bus_job_ctx_end(j);
	if (rc != DMS_OK)
		bus_job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void cleanup_worker(struct job *j)
{
	dms_error *err = NULL;
	int rc = ops_of(j->exe)->cleanup(j->exe->ex, bus_job_ctx_begin(j, 0), &err);

	bus_job_ctx_end(j);
	if (rc != DMS_OK)
		bus_job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void log_stream_worker(struct job *j)
{
	dms_error *err = NULL;
	int fd = -1;
	int rc = ops_of(j->exe)->get_log_stream(j->exe->ex, bus_job_ctx_begin(j, 0),
	                                        bus_job_string_arg(j), &fd, &err);

	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	metrics_log_stream_opened(fd);
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
		bus_job_fail(j, rc, err);
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
	rc = ops->image_import(j->exe->ex, bus_job_ctx_begin(j, 0), fd, ref, &id, &err);
	bus_job_ctx_end(j);
	close(fd);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, id);
	ops->string_free(id);
}

/* A plugin without start_job cannot say which execution it started, so
 * Run goes through its blocking run(): correct, but it holds this worker
 * for the job. */
static void run_blocking(struct job *j, const char *request)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	char *result = NULL;
	int rc = ops->run(j->exe->ex, bus_job_ctx_begin(j, 0), request, &result, &err);

	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, result);
	ops->string_free(result);
}

/* Run = start_job on this worker, then a deferred wait for the id it
 * hands out: no thread is held while the job runs, and the request (JSON
 * or YAML) is read by the executor alone. */
static void run_worker(struct job *j)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	const char *request = bus_job_string_arg(j);
	dms_error *err = NULL;
	char *id = NULL;
	int rc;

	if (!DMS_OP_AVAILABLE(ops, start_job)) {
		run_blocking(j, request);
		return;
	}
	rc = ops->start_job(j->exe->ex, bus_job_ctx_begin(j, 0), request, &id, &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK)
		bus_job_fail(j, rc, err);
	else
		wait_deferred(j->exe, j->msg, id, true);
	ops->string_free(id);
}

#define WORKER_METHOD(name)                                                                        \
	static void name(const struct bus_call *c)                                                 \
	{                                                                                          \
		bus_job_submit(c, c->object, name##_worker);                                       \
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

/* --- exec ------------------------------------------------------------ */

static bool exec_available(struct job *j, const char *method)
{
	const dms_executor_ops *ops = ops_of(j->exe);

	if (DMS_OP_AVAILABLE(ops, exec) && DMS_OP_AVAILABLE(ops, exec_resize) &&
	    DMS_OP_AVAILABLE(ops, exec_wait_async))
		return true;
	bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_NOT_SUPPORTED,
	                "plugin %s %s does not implement %s", j->exe->plugin->desc->name,
	                j->exe->plugin->desc->version, method);
	return false;
}

/* Exec(s execution_id, s exec_request_json) -> (h fd, s exec_id). */
static void exec_worker(struct job *j)
{
	const char *id = "", *request = "";
	dms_error *err = NULL;
	char *exec_id = NULL;
	int fd = -1, rc;

	if (!exec_available(j, "Exec"))
		return;
	dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &request,
	                      DBUS_TYPE_INVALID);
	rc = ops_of(j->exe)->exec(j->exe->ex, bus_job_ctx_begin(j, 0), id, request, &fd, &exec_id,
	                          &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	DBusMessage *r = dbus_message_new_method_return(j->msg);
	char *vid = bus_utf8_copy(exec_id);
	if (r && dbus_message_append_args(r, DBUS_TYPE_UNIX_FD, &fd, DBUS_TYPE_STRING, &vid,
	                                  DBUS_TYPE_INVALID))
		dbus_connection_send(j->host->conn, r, NULL);
	else
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_FAILED,
		                "cannot pass the exec's fd over this connection");
	if (r)
		dbus_message_unref(r);
	free(vid);
	close(fd); /* the message holds its own duplicate; closing ours ends nothing */
	ops_of(j->exe)->string_free(exec_id);
}

/* ExecResize(s exec_id, u rows, u cols). */
static void exec_resize_worker(struct job *j)
{
	const char *id = "";
	dbus_uint32_t rows = 0, cols = 0;
	dms_error *err = NULL;
	int rc;

	if (!exec_available(j, "ExecResize"))
		return;
	dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_UINT32, &rows,
	                      DBUS_TYPE_UINT32, &cols, DBUS_TYPE_INVALID);
	rc = ops_of(j->exe)->exec_resize(j->exe->ex, bus_job_ctx_begin(j, 0), id, rows, cols, &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK)
		bus_job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void on_exec_done(void *user_data, const char *exec_id, int exit_code,
                         const dms_error *error)
{
	struct waiter *w = user_data;

	(void)exec_id;
	if (error) {
		bus_reply_dms_error(w->conn, w->msg, (int)error->category, error);
	} else {
		DBusMessage *r = dbus_message_new_method_return(w->msg);
		dbus_int32_t code = exit_code;
		if (r && dbus_message_append_args(r, DBUS_TYPE_INT32, &code, DBUS_TYPE_INVALID))
			dbus_connection_send(w->conn, r, NULL);
		if (r)
			dbus_message_unref(r);
	}
	waiter_free(w);
}

/* ExecWait(s exec_id) -> i exit_code, answered from the plugin's callback
 * like Wait: no thread is held while the exec runs. */
static void exec_wait_method(const struct bus_call *c)
{
	struct bus_executor *e = c->object;
	const dms_executor_ops *ops = ops_of(e);
	const char *id = "";
	dms_error *err = NULL;

	if (!DMS_OP_AVAILABLE(ops, exec_wait_async)) {
		bus_reply_error(c->conn, c->msg, DBUS_ERROR_NOT_SUPPORTED,
		                "this plugin does not implement ExecWait");
		return;
	}
	dbus_message_get_args(c->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID);
	struct waiter *w = waiter_new(e->host, c->msg);
	int rc = ops->exec_wait_async(e->ex, id, on_exec_done, w, &err);
	if (rc != DMS_OK) {
		bus_reply_dms_error(c->conn, c->msg, rc, err);
		ops->error_free(err);
		waiter_free(w);
	}
}

WORKER_METHOD(exec)
WORKER_METHOD(exec_resize)

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

/* BUS_ACCESS_OWNER: only the uid that created the executor and root may
 * call it (docs/dbus.md, "Who may touch whose jobs"). */
static const struct bus_method executor_methods[] = {
    {"IsInstalled", "", "", "b", "installed", is_installed, BUS_ACCESS_ANY},
    {"GetEngineInfo", "", "", "bs", "installed info_json", engine_info, BUS_ACCESS_ANY},
    {"Start", "s", "request_json", "s", "execution_id", start, BUS_ACCESS_OWNER},
    {"Wait", "s", "execution_id", "s", "result_json", wait_method, BUS_ACCESS_OWNER},
    {"Cancel", "s", "execution_id", "", "", cancel, BUS_ACCESS_OWNER},
    {"GetLogStream", "s", "request_json", "h", "fd", log_stream, BUS_ACCESS_OWNER},
    {"Run", "s", "request_json", "s", "result_json", run, BUS_ACCESS_OWNER},
    {"Cleanup", "", "", "", "", cleanup, BUS_ACCESS_OWNER},
    {"List", "", "", "s", "executions_json", list, BUS_ACCESS_OWNER},
    {"ImportImage", "hs", "tarball reference", "s", "image_id", import_image, BUS_ACCESS_OWNER},
    /* exec */
    {"Exec", "ss", "execution_id exec_request_json", "hs", "fd exec_id", exec, BUS_ACCESS_OWNER},
    {"ExecResize", "suu", "exec_id rows cols", "", "", exec_resize, BUS_ACCESS_OWNER},
    {"ExecWait", "s", "exec_id", "i", "exit_code", exec_wait_method, BUS_ACCESS_OWNER},
    /* live operations (bus_live.c) */
    {"Signal", "ss", "execution_id signal", "", "", bus_live_signal, BUS_ACCESS_OWNER},
    {"Pause", "s", "execution_id", "", "", bus_live_pause, BUS_ACCESS_OWNER},
    {"Resume", "s", "execution_id", "", "", bus_live_resume, BUS_ACCESS_OWNER},
    {"Stats", "s", "execution_id", "s", "stats_json", bus_live_stats, BUS_ACCESS_OWNER},
    {"StatsStream", "s", "execution_id", "h", "fd", bus_live_stats_stream, BUS_ACCESS_OWNER},
    {"Inspect", "s", "execution_id", "s", "inspect_json", bus_live_inspect, BUS_ACCESS_OWNER},
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

const struct bus_interface bus_executor_interface = {
    .name = BUS_EXECUTOR_INTERFACE,
    .methods = executor_methods,
    .signals = executor_signals,
    .properties = executor_properties,
};

static const struct bus_interface *const executor_ifaces[] = {
    &bus_executor_interface,
    &bus_introspectable_interface,
    &bus_properties_interface,
    &bus_peer_interface,
    NULL,
};

static bool executor_owner_of(const struct bus_call *c, uint32_t *owner_uid, char **what)
{
	const struct bus_executor *e = c->object;

	*owner_uid = e->owner_uid;
	*what = host_asprintf("executor \"%s\"", e->id);
	return true;
}

const struct bus_object_class bus_executor_class = {
    .interfaces = executor_ifaces,
    .owner_of = executor_owner_of,
};
