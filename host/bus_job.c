/* bus_job.c — dms-host's executor objects (reference counted, destroyed
 * on the pool) and the jobs that run blocking plugin calls on the pool on
 * behalf of a method call (bus_internal.h). */
#include <stdlib.h>
#include <string.h>

#include "bus_internal.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* --- executor objects ------------------------------------------------ */

static void exe_destroy_task(void *arg)
{
	struct bus_executor *e = arg;
	const dms_executor_ops *ops = ops_of(e);

	ops->set_event_handler(e->ex, NULL, NULL);
	if (DMS_OP_AVAILABLE(ops, set_pull_progress_handler))
		ops->set_pull_progress_handler(e->ex, NULL, NULL);
	ops->destroy(e->ex);
	metrics_executors_add(-1);
	hlog(HLOG_INFO, e->id, NULL, "destroyed");
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

struct bus_executor *bus_exe_ref(struct bus_executor *e)
{
	atomic_fetch_add(&e->refs, 1);
	return e;
}

void bus_exe_unref(struct bus_executor *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		host_pool_submit(e->host->pool, exe_destroy_task, e);
}

struct bus_executor *bus_exe_find_locked(struct bus_host *h, const char *id, const char *path)
{
	for (struct bus_executor *e = h->executors; e; e = e->next)
		if ((id && strcmp(e->id, id) == 0) || (path && strcmp(e->path, path) == 0))
			return e;
	return NULL;
}

struct bus_executor *bus_exe_lookup(struct bus_host *h, const char *id, const char *path)
{
	struct bus_executor *e;

	pthread_mutex_lock(&h->lock);
	e = bus_exe_find_locked(h, id, path);
	if (e)
		bus_exe_ref(e);
	pthread_mutex_unlock(&h->lock);
	return e;
}

void bus_exe_set_runtime(struct bus_executor *e, const char *info_json)
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

/* --- jobs (pool workers) -------------------------------------------- */

static void job_task(void *arg)
{
	struct job *j = arg;

	j->fn(j);
	dbus_message_unref(j->msg);
	bus_exe_unref(j->exe);
	free(j);
}

void bus_job_submit(const struct bus_call *c, struct bus_executor *e, void (*fn)(struct job *))
{
	struct bus_host *h = e ? e->host : c->object;
	struct job *j = host_calloc(1, sizeof(*j));

	j->host = h;
	j->msg = dbus_message_ref(c->msg);
	j->exe = e ? bus_exe_ref(e) : NULL;
	j->fn = fn;
	host_pool_submit(h->pool, job_task, j);
}

dms_context *bus_job_ctx_begin(struct job *j, int64_t timeout_ms)
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

void bus_job_ctx_end(struct job *j)
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

/* Its signature was checked at dispatch. */
const char *bus_job_string_arg(struct job *j)
{
	DBusMessageIter it;
	const char *s = NULL;

	if (dbus_message_iter_init(j->msg, &it) &&
	    dbus_message_iter_get_arg_type(&it) == DBUS_TYPE_STRING)
		dbus_message_iter_get_basic(&it, &s);
	return s ? s : "";
}

void bus_job_fail(struct job *j, int rc, dms_error *err)
{
	int category = err && err->category != DMS_OK ? (int)err->category : rc;

	/* The plugin's message names the field or the engine's text; the
	 * request itself is never logged. */
	hlog(HLOG_WARN, j->exe ? j->exe->id : NULL, NULL, "%s failed: %s: %s",
	     dbus_message_get_member(j->msg), dms_status_name(category),
	     err && err->message ? err->message : dms_status_name(category));
	bus_reply_dms_error(j->host->conn, j->msg, rc, err);
	if (j->exe)
		ops_of(j->exe)->error_free(err);
}
