/* ops.c — the operations on executions that exist: Wait, Cancel,
 * GetLogStream, Cleanup and List, and IsInstalled. Each runs on its
 * caller's thread; Cancel returns once the exit was seen, never sleeping
 * through a grace period (the janitor sends the SIGKILL). */
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "error.h"
#include "executor_internal.h"
#include "jsonw.h"

#define IS_INSTALLED_TIMEOUT_MS 5000
#define CANCEL_EXTRA_WAIT_NS (30 * NS_PER_S)

int executor_is_installed(struct dms_executor *ex, dms_context *ctx, bool *installed,
                          char **info_json, dms_error **err)
{
	dms_context *own = ctx ? NULL : ctx_new(IS_INSTALLED_TIMEOUT_MS);
	struct runtime_info info = {0};
	/* The fingerprint costs /version and /info (tens of ms on dockerd):
	 * only when asked for. */
	int rc = ex->rt_ops->ping(ex->rt, ctx ? ctx : own, info_json ? &info : NULL, NULL);
	ctx_free(own);
	*installed = rc == 0;
	if (info_json) {
		struct jw w;
		char *json = NULL;
		if (jw_init(&w) == 0) {
			jw_map_open(&w);
			jw_key_bool(&w, "installed", rc == 0);
			jw_key_str_or_null(&w, "runtime", info.kind ? info.kind : ex->rt_ops->kind);
			jw_key_str_or_null(&w, "host", ex->cfg->host);
			jw_key_str_or_null(&w, "version", info.version);
			jw_key_str_or_null(&w, "api_version", info.api_version);
			jw_key_str_or_null(&w, "os", info.os);
			jw_key_bool(&w, "rootless", info.rootless);
			jw_key_int(&w, "cgroup_version", info.cgroup_version);
			if (info.swarm_node_id) { /* the swarm runtime's (docs/swarm.md) */
				jw_key(&w, "swarm");
				jw_map_open(&w);
				jw_key_str_or_null(&w, "node_id", info.swarm_node_id);
				jw_key_bool(&w, "manager", info.swarm_manager);
				jw_key_int(&w, "nodes_ready", info.swarm_nodes_ready);
				jw_key_int(&w, "nodes_total", info.swarm_nodes_total);
				jw_map_close(&w);
			}
			jw_map_close(&w);
			json = jw_steal(&w);
		}
		if (!json) {
			runtime_info_free(&info);
			return err_set(err, DMS_ERR_RESOURCE, "out of memory");
		}
		*info_json = json;
	}
	runtime_info_free(&info);
	return 0;
}

int executor_lookup(struct dms_executor *ex, const char *execution_id, struct handler **out,
                    dms_error **err)
{
	*out = NULL; /* callers unref it whatever the outcome */
	if (!execution_id || !*execution_id)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "execution_id: required");
	*out = registry_get(ex->reg, execution_id);
	if (!*out)
		return err_engine(err, DMS_ERR_NOT_FOUND, NULL, execution_id, NULL,
		                  "execution %s not found", execution_id);
	return 0;
}

int executor_wait(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                  char **result_json, dms_error **err)
{
	struct handler *h;
	int rc = executor_lookup(ex, execution_id, &h, err);
	if (rc == 0)
		rc = handler_wait(h, ctx, result_json, err);
	handler_unref(h);
	return rc;
}

int executor_wait_async(struct dms_executor *ex, const char *execution_id, dms_wait_fn fn, void *ud,
                        dms_error **err)
{
	struct handler *h;
	if (!fn)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "wait_async: callback required");
	int rc = executor_lookup(ex, execution_id, &h, err);
	if (rc == 0)
		handler_add_waiter(h, fn, ud);
	handler_unref(h);
	return rc;
}

int executor_cancel(struct dms_executor *ex, dms_context *ctx, const char *execution_id,
                    dms_error **err)
{
	struct handler *h;
	int rc = executor_lookup(ex, execution_id, &h, err);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&h->mu);
	dms_exec_state state = h->state;
	pthread_mutex_unlock(&h->mu);
	if (handler_state_final(state)) {
		handler_unref(h);
		return 0; /* harmless; the result stays as it was */
	}
	if (state < DMS_STATE_RUNNING) {
		/* The starter sees the flag and aborts; wait for it to decide. */
		handler_request_cancel(h, "cancelled");
		pthread_mutex_lock(&h->mu);
		while (h->state < DMS_STATE_RUNNING && rc == 0)
			rc = ctx_cond_wait(ctx, &h->cond, &h->mu, INT64_MAX);
		state = h->state;
		pthread_mutex_unlock(&h->mu);
	}
	if (rc == 0 && state == DMS_STATE_RUNNING) {
		executor_begin_stop(ex, h, "cancelled");
		/* Return once the container stopped: its exit was seen. */
		int64_t until =
		    mono_now_ns() + executor_stop_timeout_ns(ex, h) + CANCEL_EXTRA_WAIT_NS;
		pthread_mutex_lock(&h->mu);
		while (h->exit == HANDLER_EXIT_UNSEEN && !handler_state_final(h->state) && rc == 0)
			rc = ctx_cond_wait(ctx, &h->cond, &h->mu, until);
		pthread_mutex_unlock(&h->mu);
	}
	if (rc != 0)
		rc = err_set(err, rc, "cancel %s: %s", execution_id,
		             rc == DMS_ERR_TIMEOUT ? "the container did not stop in time"
		                                   : "interrupted");
	handler_unref(h);
	return rc;
}

int executor_get_log_stream(struct dms_executor *ex, dms_context *ctx, const char *request,
                            int *fd_out, dms_error **err)
{
	(void)ctx;
	struct log_request *lr = NULL;
	if (!request)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "request: required");
	int rc = log_request_parse(request, strlen(request), &lr, err);
	if (rc != 0)
		return rc;
	struct handler *h;
	rc = executor_lookup(ex, lr->execution_id, &h, err);
	if (rc == 0)
		rc = logs_open_stream(ex, h, lr, fd_out, err);
	handler_unref(h);
	log_request_free(lr);
	return rc;
}

/* Marks live executions as cancelled by Cleanup so their results say so. */
static bool cleanup_mark(void *ud, struct handler *h)
{
	(void)ud;
	handler_request_cancel(h, "removed by Cleanup");
	return false;
}

int executor_cleanup(struct dms_executor *ex, dms_context *ctx, dms_error **err)
{
	static const enum runtime_object order[] = {RT_OBJ_CONTAINER, RT_OBJ_NETWORK,
	                                            RT_OBJ_VOLUME};
	registry_foreach(ex->reg, cleanup_mark, NULL);
	int first_rc = 0;
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++) {
		strv ids = NULL;
		dms_error *e = NULL;
		int rc = ex->rt_ops->object_list(ex->rt, ctx, order[k], ex->label, &ids, &e);
		for (size_t i = 0; rc == 0 && ids && ids[i]; i++) {
			if (order[k] == RT_OBJ_CONTAINER)
				rc = ex->rt_ops->container_remove(ex->rt, ctx, ids[i], true, &e);
			else
				rc = ex->rt_ops->object_remove(ex->rt, ctx, order[k], ids[i], &e);
		}
		strv_free(ids);
		if (rc != 0 && first_rc == 0) {
			first_rc = rc;
			if (err)
				*err = e;
			e = NULL;
		}
		err_free(e);
	}
	/* The removed containers' die events (or the next resync) finish
	 * their handlers; waiters get results marked cancelled. */
	return first_rc ? err_wrap(err, first_rc, "cleanup of executor %s", ex->id) : 0;
}

static bool list_one(void *ud, struct handler *h)
{
	struct jw *w = ud;
	pthread_mutex_lock(&h->mu);
	jw_map_open(w);
	jw_key_str_or_null(w, "execution_id", h->execution_id);
	jw_key_str_or_null(w, "job_id", h->job_id);
	jw_key_str_or_null(w, "state", dms_state_name(h->state));
	jw_key_str_or_null(w, "container_id", h->container_id);
	jw_map_close(w);
	pthread_mutex_unlock(&h->mu);
	return false;
}

int executor_list(struct dms_executor *ex, char **list_json, dms_error **err)
{
	struct jw w;
	if (jw_init(&w) != 0)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	jw_array_open(&w);
	registry_foreach(ex->reg, list_one, &w);
	jw_array_close(&w);
	if (!(*list_json = jw_steal(&w)))
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	return 0;
}
