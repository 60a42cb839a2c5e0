/* ctl_backend.c — dmsctl's two ways to reach an executor (see ctl.h): the
 * org.dms.Executor1 object of a running dms-host, or the plugin loaded
 * in-process when nobody owns org.dms.Executor. */
#include "ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dbus/dbus.h>

#include "plugin.h"
#include "util.h"

#define BUS_NAME "org.dms.Executor"
#define MANAGER_PATH "/org/dms/Executor"
#define MANAGER_IFACE "org.dms.ExecutorManager1"
#define EXECUTOR_IFACE "org.dms.Executor1"
#define ERROR_PREFIX "org.dms.Error."
#define SHORT_CALL_MS (120 * 1000)

struct ctl_backend {
	/* bus mode */
	DBusConnection *conn;
	char *path;
	/* embedded mode */
	struct host_plugin *plugin;
	dms_executor *ex;
	/* pull progress, either mode */
	ctl_progress_fn progress_fn;
	void *progress_ud;
	bool progress_matched; /* bus mode: the match rule is installed */
};

void ctl_error_clear(struct ctl_error *e)
{
	free(e->name);
	free(e->message);
	e->name = NULL;
	e->message = NULL;
}

bool ctl_error_is(const struct ctl_error *e, const char *category)
{
	size_t n = strlen(ERROR_PREFIX);

	return e->name && strncmp(e->name, ERROR_PREFIX, n) == 0 &&
	       strcmp(e->name + n, category) == 0;
}

static int set_error(struct ctl_error *e, const char *name, const char *message)
{
	ctl_error_clear(e);
	e->name = host_strdup(name);
	e->message = host_strdup(message);
	return -1;
}

/* Embedded mode: the same names dms-host would send. */
static int plugin_error(struct ctl_backend *b, int rc, dms_error *de, struct ctl_error *e)
{
	int category = de && de->category != DMS_OK ? (int)de->category : rc;
	char *text = de ? host_error_text(de) : host_strdup(dms_status_name(category));

	ctl_error_clear(e);
	e->name = host_asprintf(ERROR_PREFIX "%s", dms_status_name(category));
	e->message = text;
	b->plugin->desc->ops->error_free(de);
	return -1;
}

static DBusHandlerResult progress_filter(DBusConnection *conn, DBusMessage *m, void *data);

/* --- bus mode ------------------------------------------------------- */

/* Sends a call and waits for its reply. NULL on failure (err set). */
static DBusMessage *call(struct ctl_backend *b, const char *path, const char *iface,
                         const char *method, int timeout_ms, struct ctl_error *err, int first_type,
                         ...)
{
	DBusMessage *m = dbus_message_new_method_call(BUS_NAME, path, iface, method);
	DBusMessage *reply;
	DBusError de;
	va_list ap;

	if (!m) {
		set_error(err, DBUS_ERROR_NO_MEMORY, "out of memory");
		return NULL;
	}
	va_start(ap, first_type);
	if (!dbus_message_append_args_valist(m, first_type, ap)) {
		va_end(ap);
		dbus_message_unref(m);
		set_error(err, DBUS_ERROR_INVALID_ARGS, "arguments are not valid UTF-8");
		return NULL;
	}
	va_end(ap);
	dbus_error_init(&de);
	reply = dbus_connection_send_with_reply_and_block(b->conn, m, timeout_ms, &de);
	dbus_message_unref(m);
	if (!reply) {
		set_error(err, de.name, de.message);
		dbus_error_free(&de);
	}
	return reply;
}

static int reply_string(DBusMessage *r, char **out, struct ctl_error *err)
{
	const char *s;
	DBusError de;

	if (!r)
		return -1;
	dbus_error_init(&de);
	if (!dbus_message_get_args(r, &de, DBUS_TYPE_STRING, &s, DBUS_TYPE_INVALID)) {
		set_error(err, de.name, de.message);
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

/* Uses the executor when dms-host has it, else asks for it. */
static int bus_ensure_executor(struct ctl_backend *b, const struct ctl_options *o,
                               struct ctl_error *err)
{
	char *el = host_escape_path_element(o->executor_id);
	char *path = host_asprintf("%s/%s", MANAGER_PATH, el);
	DBusMessage *r;
	bool found = false;

	free(el);
	r = call(b, MANAGER_PATH, MANAGER_IFACE, "ListExecutors", SHORT_CALL_MS, err,
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
		r = call(b, MANAGER_PATH, MANAGER_IFACE, "NewExecutor", DBUS_TIMEOUT_INFINITE, err,
		         DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &cfg, DBUS_TYPE_INVALID);
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
	b->path = path;
	return 0;
}

static int open_bus(struct ctl_backend *b, const struct ctl_options *o, bool *no_host,
                    struct ctl_error *err)
{
	DBusError de;

	*no_host = true;
	dbus_error_init(&de);
	b->conn = dbus_bus_get_private(o->system_bus ? DBUS_BUS_SYSTEM : DBUS_BUS_SESSION, &de);
	if (!b->conn) {
		if (o->verbose)
			fprintf(stderr, "dmsctl: no bus (%s); running embedded\n", de.message);
		dbus_error_free(&de);
		return -1;
	}
	dbus_connection_set_exit_on_disconnect(b->conn, FALSE);
	if (!dbus_bus_name_has_owner(b->conn, BUS_NAME, &de)) {
		dbus_error_free(&de);
		dbus_connection_close(b->conn);
		dbus_connection_unref(b->conn);
		b->conn = NULL;
		if (o->verbose)
			fprintf(stderr, "dmsctl: %s has no owner; running embedded\n", BUS_NAME);
		return -1;
	}
	*no_host = false;
	return bus_ensure_executor(b, o, err);
}

/* --- embedded mode -------------------------------------------------- */

static int open_embedded(struct ctl_backend *b, const struct ctl_options *o, struct ctl_error *err)
{
	char *path = o->plugin_path ? host_strdup(o->plugin_path) : host_default_plugin_path();
	char *why = NULL;
	dms_error *de = NULL;
	int rc;

	if (host_plugin_load(path, &b->plugin, &why) < 0) {
		set_error(err, ERROR_PREFIX "RuntimeUnavailable", why);
		free(why);
		free(path);
		return -1;
	}
	free(path);
	rc = b->plugin->desc->ops->new_executor(o->executor_id, o->config, &b->ex, &de);
	if (rc != DMS_OK)
		return plugin_error(b, rc, de, err);
	return 0;
}

/* --- the interface -------------------------------------------------- */

int ctl_backend_open(const struct ctl_options *o, struct ctl_backend **out, struct ctl_error *err)
{
	struct ctl_backend *b = host_calloc(1, sizeof(*b));
	bool no_host = true;

	dbus_threads_init_default();
	if (!o->embedded_only && open_bus(b, o, &no_host, err) == 0) {
		*out = b;
		return 0;
	}
	if (no_host && open_embedded(b, o, err) == 0) {
		*out = b;
		return 0;
	}
	ctl_backend_close(b);
	return -1;
}

void ctl_backend_close(struct ctl_backend *b)
{
	if (!b)
		return;
	if (b->conn) {
		if (b->progress_matched)
			dbus_connection_remove_filter(b->conn, progress_filter, b);
		dbus_connection_flush(b->conn);
		dbus_connection_close(b->conn);
		dbus_connection_unref(b->conn);
	}
	if (b->plugin) {
		b->plugin->desc->ops->destroy(b->ex);
		host_plugin_unload(b->plugin);
	}
	free(b->path);
	free(b);
}

bool ctl_backend_embedded(const struct ctl_backend *b)
{
	return b->plugin != NULL;
}

#define OPS(b) ((b)->plugin->desc->ops)

int ctl_is_installed(struct ctl_backend *b, bool *installed, char **info_json,
                     struct ctl_error *err)
{
	if (b->conn) {
		DBusMessage *r = call(b, b->path, EXECUTOR_IFACE, "GetEngineInfo", SHORT_CALL_MS,
		                      err, DBUS_TYPE_INVALID);
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
	dms_error *de = NULL;
	char *info = NULL;
	dms_context *ctx = OPS(b)->context_new(SHORT_CALL_MS);
	int rc = OPS(b)->is_installed(b->ex, ctx, installed, &info, &de);
	OPS(b)->context_free(ctx);
	if (rc != DMS_OK)
		return plugin_error(b, rc, de, err);
	*info_json = host_strdup(info ? info : "{}");
	OPS(b)->string_free(info);
	return 0;
}

/* --- pull progress -------------------------------------------------- */

static DBusHandlerResult progress_filter(DBusConnection *conn, DBusMessage *m, void *data)
{
	struct ctl_backend *b = data;
	const char *id, *image, *status;
	dbus_uint64_t cur, tot;

	(void)conn;
	if (!dbus_message_is_signal(m, EXECUTOR_IFACE, "PullProgress") ||
	    !dbus_message_has_path(m, b->path) || !b->progress_fn)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (dbus_message_get_args(m, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &image,
	                          DBUS_TYPE_UINT64, &cur, DBUS_TYPE_UINT64, &tot, DBUS_TYPE_STRING,
	                          &status, DBUS_TYPE_INVALID))
		b->progress_fn(b->progress_ud, id, image, cur, tot, status);
	return DBUS_HANDLER_RESULT_HANDLED;
}

static void embedded_progress(void *ud, const char *execution_id, const char *image,
                              uint64_t current_bytes, uint64_t total_bytes, const char *status)
{
	struct ctl_backend *b = ud;

	if (b->progress_fn)
		b->progress_fn(b->progress_ud, execution_id, image, current_bytes, total_bytes,
		               status);
}

void ctl_set_progress_handler(struct ctl_backend *b, ctl_progress_fn fn, void *ud)
{
	b->progress_fn = fn;
	b->progress_ud = ud;
	if (b->plugin && DMS_OP_AVAILABLE(b->plugin->desc->ops, set_pull_progress_handler)) {
		b->plugin->desc->ops->set_pull_progress_handler(b->ex, fn ? embedded_progress : NULL,
		                                                b);
		return;
	}
	if (b->conn && fn && !b->progress_matched) {
		char *rule = host_asprintf("type='signal',interface='%s',member='PullProgress',"
		                           "path='%s'",
		                           EXECUTOR_IFACE, b->path);
		dbus_bus_add_match(b->conn, rule, NULL); /* no progress is no failure */
		dbus_connection_add_filter(b->conn, progress_filter, b, NULL);
		b->progress_matched = true;
		free(rule);
	}
}

/* A call whose reply is awaited while signals are dispatched (the
 * progress filter runs on this thread). NULL on failure (err set). */
static DBusMessage *call_dispatching(struct ctl_backend *b, const char *method, const char *arg,
                                     struct ctl_error *err)
{
	DBusMessage *m = dbus_message_new_method_call(BUS_NAME, b->path, EXECUTOR_IFACE, method);
	DBusPendingCall *pending = NULL;
	DBusMessage *reply;
	DBusError de;

	if (!m || !dbus_message_append_args(m, DBUS_TYPE_STRING, &arg, DBUS_TYPE_INVALID) ||
	    !dbus_connection_send_with_reply(b->conn, m, &pending, DBUS_TIMEOUT_INFINITE) ||
	    !pending) {
		if (m)
			dbus_message_unref(m);
		set_error(err, DBUS_ERROR_DISCONNECTED, "cannot send the call to dms-host");
		return NULL;
	}
	dbus_message_unref(m);
	while (!dbus_pending_call_get_completed(pending) &&
	       dbus_connection_read_write_dispatch(b->conn, 100))
		;
	if (!dbus_pending_call_get_completed(pending)) {
		dbus_pending_call_cancel(pending);
		dbus_pending_call_unref(pending);
		set_error(err, DBUS_ERROR_DISCONNECTED, "lost the connection to dms-host");
		return NULL;
	}
	reply = dbus_pending_call_steal_reply(pending);
	dbus_pending_call_unref(pending);
	dbus_error_init(&de);
	if (reply && dbus_set_error_from_message(&de, reply)) {
		set_error(err, de.name, de.message);
		dbus_error_free(&de);
		dbus_message_unref(reply);
		return NULL;
	}
	return reply;
}

int ctl_start(struct ctl_backend *b, const char *request, struct ctl_error *err)
{
	if (b->conn && b->progress_matched)
		return reply_empty(call_dispatching(b, "Start", request, err));
	if (b->conn)
		return reply_empty(call(b, b->path, EXECUTOR_IFACE, "Start", DBUS_TIMEOUT_INFINITE,
		                        err, DBUS_TYPE_STRING, &request, DBUS_TYPE_INVALID));
	dms_error *de = NULL;
	int rc = OPS(b)->start(b->ex, NULL, request, &de);
	return rc == DMS_OK ? 0 : plugin_error(b, rc, de, err);
}

int ctl_wait(struct ctl_backend *b, const char *execution_id, char **result_json,
             struct ctl_error *err)
{
	if (b->conn)
		return reply_string(call(b, b->path, EXECUTOR_IFACE, "Wait", DBUS_TIMEOUT_INFINITE,
		                         err, DBUS_TYPE_STRING, &execution_id, DBUS_TYPE_INVALID),
		                    result_json, err);
	dms_error *de = NULL;
	char *res = NULL;
	int rc = OPS(b)->wait(b->ex, NULL, execution_id, &res, &de);
	if (rc != DMS_OK)
		return plugin_error(b, rc, de, err);
	*result_json = host_strdup(res);
	OPS(b)->string_free(res);
	return 0;
}

int ctl_cancel(struct ctl_backend *b, const char *execution_id, struct ctl_error *err)
{
	if (b->conn)
		return reply_empty(call(b, b->path, EXECUTOR_IFACE, "Cancel", DBUS_TIMEOUT_INFINITE,
		                        err, DBUS_TYPE_STRING, &execution_id, DBUS_TYPE_INVALID));
	dms_error *de = NULL;
	int rc = OPS(b)->cancel(b->ex, NULL, execution_id, &de);
	return rc == DMS_OK ? 0 : plugin_error(b, rc, de, err);
}

int ctl_log_stream(struct ctl_backend *b, const char *request, int *fd, struct ctl_error *err)
{
	if (b->conn) {
		DBusMessage *r = call(b, b->path, EXECUTOR_IFACE, "GetLogStream", SHORT_CALL_MS,
		                      err, DBUS_TYPE_STRING, &request, DBUS_TYPE_INVALID);
		DBusError de;
		if (!r)
			return -1;
		dbus_error_init(&de);
		/* libdbus hands out a new fd that we own. */
		if (!dbus_message_get_args(r, &de, DBUS_TYPE_UNIX_FD, fd, DBUS_TYPE_INVALID)) {
			set_error(err, de.name, de.message);
			dbus_error_free(&de);
			dbus_message_unref(r);
			return -1;
		}
		dbus_message_unref(r);
		return 0;
	}
	dms_error *de = NULL;
	int rc = OPS(b)->get_log_stream(b->ex, NULL, request, fd, &de);
	return rc == DMS_OK ? 0 : plugin_error(b, rc, de, err);
}

int ctl_run(struct ctl_backend *b, const char *request, char **result_json, struct ctl_error *err)
{
	if (b->conn)
		return reply_string(call(b, b->path, EXECUTOR_IFACE, "Run", DBUS_TIMEOUT_INFINITE,
		                         err, DBUS_TYPE_STRING, &request, DBUS_TYPE_INVALID),
		                    result_json, err);
	dms_error *de = NULL;
	char *res = NULL;
	int rc = OPS(b)->run(b->ex, NULL, request, &res, &de);
	if (rc != DMS_OK)
		return plugin_error(b, rc, de, err);
	*result_json = host_strdup(res);
	OPS(b)->string_free(res);
	return 0;
}

int ctl_cleanup(struct ctl_backend *b, struct ctl_error *err)
{
	if (b->conn)
		return reply_empty(call(b, b->path, EXECUTOR_IFACE, "Cleanup",
		                        DBUS_TIMEOUT_INFINITE, err, DBUS_TYPE_INVALID));
	dms_error *de = NULL;
	int rc = OPS(b)->cleanup(b->ex, NULL, &de);
	return rc == DMS_OK ? 0 : plugin_error(b, rc, de, err);
}

int ctl_list(struct ctl_backend *b, char **list_json, struct ctl_error *err)
{
	if (b->conn)
		return reply_string(
		    call(b, b->path, EXECUTOR_IFACE, "List", SHORT_CALL_MS, err, DBUS_TYPE_INVALID),
		    list_json, err);
	if (!DMS_OP_AVAILABLE(OPS(b), list))
		return set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                 "the plugin does not implement List");
	dms_error *de = NULL;
	char *res = NULL;
	int rc = OPS(b)->list(b->ex, &res, &de);
	if (rc != DMS_OK)
		return plugin_error(b, rc, de, err);
	*list_json = host_strdup(res);
	OPS(b)->string_free(res);
	return 0;
}

int ctl_image_import(struct ctl_backend *b, int fd, const char *reference, char **image_id,
                     struct ctl_error *err)
{
	if (b->conn)
		return reply_string(call(b, b->path, EXECUTOR_IFACE, "ImportImage",
		                         DBUS_TIMEOUT_INFINITE, err, DBUS_TYPE_UNIX_FD, &fd,
		                         DBUS_TYPE_STRING, &reference, DBUS_TYPE_INVALID),
		                    image_id, err);
	if (!DMS_OP_AVAILABLE(OPS(b), image_import))
		return set_error(err, DBUS_ERROR_NOT_SUPPORTED,
		                 "the plugin does not implement image import");
	dms_error *de = NULL;
	char *id = NULL;
	int rc = OPS(b)->image_import(b->ex, NULL, fd, reference, &id, &de);
	if (rc != DMS_OK)
		return plugin_error(b, rc, de, err);
	*image_id = host_strdup(id);
	OPS(b)->string_free(id);
	return 0;
}
