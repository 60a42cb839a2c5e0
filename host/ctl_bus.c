/* ctl_bus.c — dmsctl's bus backend (ctl_backend_internal.h): the
 * org.dms.Executor1 object of a running dms-host, created with NewExecutor
 * when dms-host does not have it yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "bus_names.h"
#include "cleanup.h"
#include "ctl_backend_internal.h"
#include "util.h"

#define SHORT_CALL_MS (120 * 1000)

struct ctl_bus {
	struct ctl_backend base;
	DBusConnection *conn;
	char *path;
	bool progress_matched; /* the match rule and filter are installed */
};

static struct ctl_bus *bus_of(struct ctl_backend *b)
{
	return (struct ctl_bus *)b;
}

/* Sends a call and waits for its reply. NULL on failure (err set). */
static DBusMessage *call(struct ctl_bus *c, const char *path, const char *iface, const char *method,
                         int timeout_ms, struct ctl_error *err, int first_type, ...)
{
	DBusMessage *m = dbus_message_new_method_call(BUS_NAME, path, iface, method);
	DBusMessage *reply;
	DBusError de;
	va_list ap;

	if (!m) {
		ctl_set_error(err, DBUS_ERROR_NO_MEMORY, "out of memory");
		return NULL;
	}
	va_start(ap, first_type);
	if (!dbus_message_append_args_valist(m, first_type, ap)) {
		va_end(ap);
		dbus_message_unref(m);
		ctl_set_error(err, DBUS_ERROR_INVALID_ARGS, "arguments are not valid UTF-8");
		return NULL;
	}
	va_end(ap);
	dbus_error_init(&de);
	reply = dbus_connection_send_with_reply_and_block(c->conn, m, timeout_ms, &de);
	dbus_message_unref(m);
	if (!reply) {
		ctl_set_error(err, de.name, de.message);
		dbus_error_free(&de);
	}
	return reply;
}

/* An Executor1 method with one string argument, or none when arg is NULL. */
static DBusMessage *call_executor(struct ctl_bus *c, const char *method, const char *arg,
                                  int timeout_ms, struct ctl_error *err)
{
	if (!arg)
		return call(c, c->path, BUS_EXECUTOR_INTERFACE, method, timeout_ms, err,
		            DBUS_TYPE_INVALID);
	return call(c, c->path, BUS_EXECUTOR_INTERFACE, method, timeout_ms, err, DBUS_TYPE_STRING,
	            &arg, DBUS_TYPE_INVALID);
}

/* The reply's string (caller frees); consumes r. */
static int reply_string(DBusMessage *r, char **out, struct ctl_error *err)
{
	const char *s;
	DBusError de;

	if (!r)
		return -1;
	dbus_error_init(&de);
	if (!dbus_message_get_args(r, &de, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID)) {
		ctl_set_error(err, de.name, de.message);
		dbus_error_free(&de);
		dbus_message_unref(r);
		return -1;
	}
	*out = host_strdup(s);
	dbus_message_unref(r);
	return 0;
}

static int reply_empty(DBusMessage *r)
{
	if (!r)
		return -1;
	dbus_message_unref(r);
	return 0;
}

/* The reply's arguments of basic, non-string types (an fd, an int) into
 * the pointers given, as dbus_message_get_args takes them; consumes r. */
static int reply_args(DBusMessage *r, struct ctl_error *err, int first_type, ...)
{
	DBusError de;
	va_list ap;
	dbus_bool_t ok;

	if (!r)
		return -1;
	dbus_error_init(&de);
	va_start(ap, first_type);
	ok = dbus_message_get_args_valist(r, &de, first_type, ap);
	va_end(ap);
	if (!ok) {
		ctl_set_error(err, de.name, de.message);
		dbus_error_free(&de);
	}
	dbus_message_unref(r);
	return ok ? 0 : -1;
}

/* Uses the executor when dms-host has it, else asks for it. */
static int ensure_executor(struct ctl_bus *c, const struct ctl_options *o, struct ctl_error *err)
{
	_cleanup_free_ char *el = host_escape_path_element(o->executor_id);
	char *path = host_asprintf("%s/%s", BUS_MANAGER_PATH, el);
	DBusMessage *r;
	bool found = false;

	r = call(c, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "ListExecutors", SHORT_CALL_MS, err,
	         DBUS_TYPE_INVALID);
	if (!r) {
		free(path);
		return -1;
	}
	DBusMessageIter it, arr;
	if (dbus_message_iter_init(r, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_ARRAY) {
		dbus_message_iter_recurse(&it, &arr);
		while (dbus_message_iter_get_arg_type(&arr) == DBUS_TYPE_OBJECT_PATH) {
			const char *p;
			dbus_message_iter_get_basic(&arr, &p);
			found = found || strcmp(p, path) == 0;
			dbus_message_iter_next(&arr);
		}
	}
	dbus_message_unref(r);
	/* An explicit config is sent even for an existing executor, so a
	 * mismatch is reported instead of silently ignored. */
	if (!found || o->config) {
		const char *id = o->executor_id, *cfg = o->config ? o->config : "";
		const char *got;
		r = call(c, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "NewExecutor",
		         DBUS_TIMEOUT_INFINITE, err, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &cfg,
		         DBUS_TYPE_INVALID);
		if (!r) {
			free(path);
			return -1;
		}
		if (dbus_message_get_args(r, NULL, DBUS_TYPE_OBJECT_PATH, &got,
		                          DBUS_TYPE_INVALID)) {
			free(path);
			path = host_strdup(got);
		}
		dbus_message_unref(r);
	}
	c->path = path;
	return 0;
}

/* --- pull progress -------------------------------------------------- */

static DBusHandlerResult progress_filter(DBusConnection *conn, DBusMessage *m, void *data)
{
	struct ctl_bus *c = data;
	const char *id, *image, *status;
	dbus_uint64_t cur, tot;

	(void)conn;
	if (!dbus_message_is_signal(m, BUS_EXECUTOR_INTERFACE, "PullProgress") ||
	    !dbus_message_has_path(m, c->path) || !c->base.progress_fn)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &image,
	                          DBUS_TYPE_UINT64, &cur, DBUS_TYPE_UINT64, &tot, DBUS_TYPE_STRING,
	                          &status, DBUS_TYPE_INVALID))
		c->base.progress_fn(c->base.progress_ud, id, image, cur, tot, status);
	return DBUS_HANDLER_RESULT_HANDLED;
}

/* Once installed the rule stays: the filter checks progress_fn. */
static void bus_watch_progress(struct ctl_backend *b, bool on)
{
	struct ctl_bus *c = bus_of(b);

	if (!on || c->progress_matched)
		return;
	_cleanup_free_ char *rule =
	    host_asprintf("type='signal',interface='%s',member='PullProgress',path='%s'",
	                  BUS_EXECUTOR_INTERFACE, c->path);
	dbus_bus_add_match(c->conn, rule, NULL); /* no progress is no failure */
	dbus_connection_add_filter(c->conn, progress_filter, c, NULL);
	c->progress_matched = true;
}

/* A call whose reply is awaited while signals are dispatched (the
 * progress filter runs on this thread). NULL on failure (err set). */
static DBusMessage *call_dispatching(struct ctl_bus *c, const char *method, const char *arg,
                                     struct ctl_error *err)
{
	DBusMessage *m =
	    dbus_message_new_method_call(BUS_NAME, c->path, BUS_EXECUTOR_INTERFACE, method);
	DBusPendingCall *pending = NULL;
	DBusMessage *reply;
	DBusError de;

	if (!m || !dbus_message_append_args(m, DBUS_TYPE_STRING, &arg, DBUS_TYPE_INVALID) ||
	    !dbus_connection_send_with_reply(c->conn, m, &pending, DBUS_TIMEOUT_INFINITE) ||
	    !pending) {
		if (m)
			dbus_message_unref(m);
		ctl_set_error(err, DBUS_ERROR_DISCONNECTED, "cannot send the call to dms-host");
		return NULL;
	}
	dbus_message_unref(m);
	while (!dbus_pending_call_get_completed(pending) &&
	       dbus_connection_read_write_dispatch(c->conn, 100))
		;
	if (!dbus_pending_call_get_completed(pending)) {
		dbus_pending_call_cancel(pending);
		dbus_pending_call_unref(pending);
		ctl_set_error(err, DBUS_ERROR_DISCONNECTED, "lost the connection to dms-host");
		return NULL;
	}
	reply = dbus_pending_call_steal_reply(pending);
	dbus_pending_call_unref(pending);
	dbus_error_init(&de);
	if (reply && dbus_set_error_from_message(&de, reply)) {
		ctl_set_error(err, de.name, de.message);
		dbus_error_free(&de);
		dbus_message_unref(reply);
		return NULL;
	}
	return reply;
}

/* --- the operations ------------------------------------------------- */

static void bus_close(struct ctl_backend *b)
{
	struct ctl_bus *c = bus_of(b);

	if (c->conn) {
		if (c->progress_matched)
			dbus_connection_remove_filter(c->conn, progress_filter, c);
		dbus_connection_flush(c->conn);
		dbus_connection_close(c->conn);
		dbus_connection_unref(c->conn);
	}
	free(c->path);
	free(c);
}

static int bus_is_installed(struct ctl_backend *b, bool *installed, char **info_json,
                            struct ctl_error *err)
{
	DBusMessage *r = call_executor(bus_of(b), "GetEngineInfo", NULL, SHORT_CALL_MS, err);
	dbus_bool_t inst = FALSE;
	const char *info = "{}";

	if (!r)
		return -1;
	dbus_message_get_args(r, NULL, DBUS_TYPE_BOOLEAN, &inst, DBUS_TYPE_STRING, &info,
	                      DBUS_TYPE_INVALID);
	*installed = inst;
	*info_json = host_strdup(info);
	dbus_message_unref(r);
	return 0;
}

/* A dms-host older than Start's execution_id out argument replies with
 * nothing: the id is "" then, as for a plugin without start_job. */
static int bus_start(struct ctl_backend *b, const char *request, char **execution_id,
                     struct ctl_error *err)
{
	struct ctl_bus *c = bus_of(b);
	DBusMessage *r = c->progress_matched
	                     ? call_dispatching(c, "Start", request, err)
	                     : call_executor(c, "Start", request, DBUS_TIMEOUT_INFINITE, err);
	const char *id = "";

	if (!r)
		return -1;
	dbus_message_get_args(r, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_INVALID);
	*execution_id = host_strdup(id);
	dbus_message_unref(r);
	return 0;
}

static int bus_wait(struct ctl_backend *b, const char *execution_id, char **result_json,
                    struct ctl_error *err)
{
	return reply_string(
	    call_executor(bus_of(b), "Wait", execution_id, DBUS_TIMEOUT_INFINITE, err), result_json,
	    err);
}

static int bus_cancel(struct ctl_backend *b, const char *execution_id, struct ctl_error *err)
{
	return reply_empty(
	    call_executor(bus_of(b), "Cancel", execution_id, DBUS_TIMEOUT_INFINITE, err));
}

static int bus_log_stream(struct ctl_backend *b, const char *request, int *fd,
                          struct ctl_error *err)
{
	/* libdbus hands out a new fd that we own. */
	return reply_args(call_executor(bus_of(b), "GetLogStream", request, SHORT_CALL_MS, err),
	                  err, DBUS_TYPE_UNIX_FD, fd, DBUS_TYPE_INVALID);
}

static int bus_cleanup(struct ctl_backend *b, struct ctl_error *err)
{
	return reply_empty(call_executor(bus_of(b), "Cleanup", NULL, DBUS_TIMEOUT_INFINITE, err));
}

static int bus_list(struct ctl_backend *b, char **list_json, struct ctl_error *err)
{
	return reply_string(call_executor(bus_of(b), "List", NULL, SHORT_CALL_MS, err), list_json,
	                    err);
}

static int bus_image_import(struct ctl_backend *b, int fd, const char *reference, char **image_id,
                            struct ctl_error *err)
{
	struct ctl_bus *c = bus_of(b);

	return reply_string(call(c, c->path, BUS_EXECUTOR_INTERFACE, "ImportImage",
	                         DBUS_TIMEOUT_INFINITE, err, DBUS_TYPE_UNIX_FD, &fd,
	                         DBUS_TYPE_STRING, &reference, DBUS_TYPE_INVALID),
	                    image_id, err);
}

/* The Executor1 methods of the live operations, by ctl_live_op. */
static const char *const live_methods[] = {
    [CTL_LIVE_SIGNAL] = "Signal", [CTL_LIVE_PAUSE] = "Pause",     [CTL_LIVE_RESUME] = "Resume",
    [CTL_LIVE_STATS] = "Stats",   [CTL_LIVE_INSPECT] = "Inspect",
};

static int bus_live(struct ctl_backend *b, enum ctl_live_op op, const char *execution_id,
                    const char *arg, char **out_json, struct ctl_error *err)
{
	struct ctl_bus *c = bus_of(b);
	DBusMessage *r;

	if (op == CTL_LIVE_SIGNAL)
		r = call(c, c->path, BUS_EXECUTOR_INTERFACE, live_methods[op], SHORT_CALL_MS, err,
		         DBUS_TYPE_STRING, &execution_id, DBUS_TYPE_STRING, &arg,
		         DBUS_TYPE_INVALID);
	else
		r = call_executor(c, live_methods[op], execution_id, SHORT_CALL_MS, err);
	if (op == CTL_LIVE_STATS || op == CTL_LIVE_INSPECT)
		return reply_string(r, out_json, err);
	return reply_empty(r);
}

static int bus_stats_stream(struct ctl_backend *b, const char *execution_id, int *fd,
                            struct ctl_error *err)
{
	return reply_args(call_executor(bus_of(b), "StatsStream", execution_id, SHORT_CALL_MS, err),
	                  err, DBUS_TYPE_UNIX_FD, fd, DBUS_TYPE_INVALID);
}

static int bus_exec(struct ctl_backend *b, const char *execution_id, const char *request, int *fd,
                    char **exec_id, struct ctl_error *err)
{
	struct ctl_bus *c = bus_of(b);
	DBusMessage *r =
	    call(c, c->path, BUS_EXECUTOR_INTERFACE, "Exec", SHORT_CALL_MS, err, DBUS_TYPE_STRING,
	         &execution_id, DBUS_TYPE_STRING, &request, DBUS_TYPE_INVALID);
	const char *id;
	DBusError de;

	if (!r)
		return -1;
	dbus_error_init(&de);
	if (!dbus_message_get_args(r, &de, DBUS_TYPE_UNIX_FD, fd, DBUS_TYPE_STRING, &id,
	                           DBUS_TYPE_INVALID)) {
		ctl_set_error(err, de.name, de.message);
		dbus_error_free(&de);
		dbus_message_unref(r);
		return -1;
	}
	*exec_id = host_strdup(id);
	dbus_message_unref(r);
	return 0;
}

static int bus_exec_resize(struct ctl_backend *b, const char *exec_id, uint32_t rows, uint32_t cols,
                           struct ctl_error *err)
{
	struct ctl_bus *c = bus_of(b);

	return reply_empty(call(c, c->path, BUS_EXECUTOR_INTERFACE, "ExecResize", SHORT_CALL_MS,
	                        err, DBUS_TYPE_STRING, &exec_id, DBUS_TYPE_UINT32, &rows,
	                        DBUS_TYPE_UINT32, &cols, DBUS_TYPE_INVALID));
}

static int bus_exec_wait(struct ctl_backend *b, const char *exec_id, int *exit_code,
                         struct ctl_error *err)
{
	dbus_int32_t code = -1;
	int rc =
	    reply_args(call_executor(bus_of(b), "ExecWait", exec_id, DBUS_TIMEOUT_INFINITE, err),
	               err, DBUS_TYPE_INT32, &code, DBUS_TYPE_INVALID);

	*exit_code = code;
	return rc;
}

static const struct ctl_backend_ops bus_ops = {
    .embedded = false,
    .close = bus_close,
    .is_installed = bus_is_installed,
    .start = bus_start,
    .wait = bus_wait,
    .cancel = bus_cancel,
    .log_stream = bus_log_stream,
    .cleanup = bus_cleanup,
    .list = bus_list,
    .image_import = bus_image_import,
    .live = bus_live,
    .stats_stream = bus_stats_stream,
    .exec = bus_exec,
    .exec_resize = bus_exec_resize,
    .exec_wait = bus_exec_wait,
    .watch_progress = bus_watch_progress,
};

int ctl_bus_open(const struct ctl_options *o, struct ctl_backend **out, bool *no_host,
                 struct ctl_error *err)
{
	struct ctl_bus *c = host_calloc(1, sizeof(*c));
	DBusError de;

	c->base.ops = &bus_ops;
	*no_host = true;
	dbus_error_init(&de);
	c->conn = dbus_bus_get_private(o->system_bus ? DBUS_BUS_SYSTEM : DBUS_BUS_SESSION, &de);
	if (!c->conn) {
		if (o->verbose)
			fprintf(stderr, "dmsctl: no bus (%s); running embedded\n", de.message);
		dbus_error_free(&de);
		bus_close(&c->base);
		return -1;
	}
	dbus_connection_set_exit_on_disconnect(c->conn, FALSE);
	if (!dbus_bus_name_has_owner(c->conn, BUS_NAME, &de)) {
		dbus_error_free(&de);
		if (o->verbose)
			fprintf(stderr, "dmsctl: %s has no owner; running embedded\n", BUS_NAME);
		bus_close(&c->base);
		return -1;
	}
	*no_host = false;
	if (ensure_executor(c, o, err) < 0) {
		bus_close(&c->base);
		return -1;
	}
	*out = &c->base;
	return 0;
}

/* dms-host's own counters: the manager's Metrics(), no executor needed.
 * There is nothing to run embedded: without a dms-host, an error. */
int ctl_bus_metrics(const struct ctl_options *o, char **text, struct ctl_error *err)
{
	struct ctl_bus c = {.conn = NULL};
	const char *bus = o->system_bus ? "system" : "session";
	DBusError de;
	int rc;

	dbus_error_init(&de);
	c.conn = dbus_bus_get_private(o->system_bus ? DBUS_BUS_SYSTEM : DBUS_BUS_SESSION, &de);
	if (!c.conn) {
		_cleanup_free_ char *msg =
		    host_asprintf("no %s bus: %s; metrics are dms-host's", bus, de.message);
		dbus_error_free(&de);
		return ctl_set_error(err, DBUS_ERROR_NO_SERVER, msg);
	}
	dbus_connection_set_exit_on_disconnect(c.conn, FALSE);
	if (!dbus_bus_name_has_owner(c.conn, BUS_NAME, &de)) {
		_cleanup_free_ char *msg = host_asprintf(
		    "no dms-host owns %s on the %s bus: metrics are dms-host's", BUS_NAME, bus);
		dbus_error_free(&de);
		rc = ctl_set_error(err, DBUS_ERROR_SERVICE_UNKNOWN, msg);
	} else {
		rc = reply_string(call(&c, BUS_MANAGER_PATH, BUS_MANAGER_INTERFACE, "Metrics",
		                       SHORT_CALL_MS, err, DBUS_TYPE_INVALID),
		                  text, err);
	}
	dbus_connection_close(c.conn);
	dbus_connection_unref(c.conn);
	return rc;
}
