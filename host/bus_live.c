/* bus_live.c — the live operations of org.dms.Executor1 (ABI 1.2):
 * Signal, Pause, Resume, Stats, StatsStream and Inspect, each on a pool
 * worker (they call the engine). A plugin without the operation is
 * answered org.freedesktop.DBus.Error.NotSupported naming the plugin; a
 * runtime that cannot is the plugin's own org.dms.Error.NotSupported. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus_internal.h"

/* true when the plugin has the operation; else the call is answered. */
static bool has_op(struct job *j, bool available, const char *method)
{
	if (!available)
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_NOT_SUPPORTED,
		                "plugin %s %s does not implement %s", j->exe->plugin->desc->name,
		                j->exe->plugin->desc->version, method);
	return available;
}

static void signal_worker(struct job *j)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	const char *id = "", *sig = "";
	dms_error *err = NULL;

	if (!has_op(j, DMS_OP_AVAILABLE(ops, signal), "Signal"))
		return;
	if (!dbus_message_get_args(j->msg, NULL, DBUS_TYPE_STRING, &id, DBUS_TYPE_STRING, &sig,
	                           DBUS_TYPE_INVALID)) {
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_INVALID_ARGS,
		                "Signal wants (s execution_id, s signal)");
		return;
	}
	int rc = ops->signal(j->exe->ex, bus_job_ctx_begin(j, 0), id, sig, &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK)
		bus_job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void pause_common(struct job *j, bool pause)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	int rc;

	if (!has_op(j, pause ? DMS_OP_AVAILABLE(ops, pause) : DMS_OP_AVAILABLE(ops, resume),
	            pause ? "Pause" : "Resume"))
		return;
	rc = (pause ? ops->pause : ops->resume)(j->exe->ex, bus_job_ctx_begin(j, 0),
	                                        bus_job_string_arg(j), &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK)
		bus_job_fail(j, rc, err);
	else
		bus_reply_empty(j->host->conn, j->msg);
}

static void pause_worker(struct job *j)
{
	pause_common(j, true);
}

static void resume_worker(struct job *j)
{
	pause_common(j, false);
}

/* Stats and Inspect: one JSON document. */
static void json_common(struct job *j, bool stats)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	char *json = NULL;
	int rc;

	if (!has_op(j, stats ? DMS_OP_AVAILABLE(ops, stats) : DMS_OP_AVAILABLE(ops, inspect),
	            stats ? "Stats" : "Inspect"))
		return;
	rc = (stats ? ops->stats : ops->inspect)(j->exe->ex, bus_job_ctx_begin(j, 0),
	                                         bus_job_string_arg(j), &json, &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	bus_reply_string(j->host->conn, j->msg, json);
	ops->string_free(json);
}

static void stats_worker(struct job *j)
{
	json_common(j, true);
}

static void inspect_worker(struct job *j)
{
	json_common(j, false);
}

static void stats_stream_worker(struct job *j)
{
	const dms_executor_ops *ops = ops_of(j->exe);
	dms_error *err = NULL;
	int fd = -1, rc;

	if (!has_op(j, DMS_OP_AVAILABLE(ops, stats_stream), "StatsStream"))
		return;
	rc = ops->stats_stream(j->exe->ex, bus_job_ctx_begin(j, 0), bus_job_string_arg(j), &fd,
	                       &err);
	bus_job_ctx_end(j);
	if (rc != DMS_OK) {
		bus_job_fail(j, rc, err);
		return;
	}
	DBusMessage *r = dbus_message_new_method_return(j->msg);
	if (r && dbus_message_append_args(r, DBUS_TYPE_UNIX_FD, &fd, DBUS_TYPE_INVALID))
		dbus_connection_send(j->host->conn, r, NULL);
	else
		bus_reply_error(j->host->conn, j->msg, DBUS_ERROR_FAILED,
		                "cannot pass the stats stream fd over this connection");
	if (r)
		dbus_message_unref(r);
	close(fd); /* the message holds its own duplicate */
}

#define LIVE_METHOD(name)                                                                          \
	void bus_live_##name(const struct bus_call *c)                                             \
	{                                                                                          \
		bus_job_submit(c, c->object, name##_worker);                                       \
	}

LIVE_METHOD(signal)
LIVE_METHOD(pause)
LIVE_METHOD(resume)
LIVE_METHOD(stats)
LIVE_METHOD(stats_stream)
LIVE_METHOD(inspect)
