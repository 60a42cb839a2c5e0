/* start.c — Start, start_job and Run: a request made into a running
 * container (docs/architecture.md, "Start: what is made, and checked, in
 * order"), and the tree's one execution-id generator for the requests
 * that name no execution. Anything made for a Start that fails is removed
 * again, and its handler leaves the registry so the id may be retried. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "context.h"
#include "error.h"
#include "executor_internal.h"
#include "labels.h"
#include "results_dir.h"
#include "state.h"
#include "verify.h"

char *executor_new_execution_id(void)
{
	uint32_t r = 0;
	char *id = NULL;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)mono_now_ns() ^ (uint32_t)getpid();
	if (asprintf(&id, "run-%lld-%08x", (long long)time(NULL), r) < 0)
		return NULL;
	return id;
}

/* network_mode "isolated": the job gets a network of its own, named like
 * its container and labelled like it, made before the container and
 * removed after it (docs/schema.md). */
bool executor_wants_own_network(const struct exec_request *req)
{
	return req && req->network_mode && strcmp(req->network_mode, "isolated") == 0;
}

/* After the container is gone; gone already is fine. Cleanup sweeps what
 * is left by a crash (the network is labelled). */
void executor_remove_own_network(struct dms_executor *ex, dms_context *ctx, const struct handler *h)
{
	if (h && executor_wants_own_network(h->req) && RT_HAS(ex->rt_ops, object_remove))
		ex->rt_ops->object_remove(ex->rt, ctx, RT_OBJ_NETWORK, h->container_name, NULL);
}

/* The labels every object of this execution carries, then the request's. */
static strv build_labels(struct dms_executor *ex, const struct exec_request *req)
{
	size_t n = strv_len(req->labels);
	strv v = calloc(n + 4, sizeof(*v));
	if (!v)
		return NULL;
	if (asprintf(&v[0], "%s=%s", LABEL_EXECUTOR, ex->id) < 0 ||
	    asprintf(&v[1], "%s=%s", LABEL_JOB, req->job_id) < 0 ||
	    asprintf(&v[2], "%s=%s", LABEL_EXECUTION, req->execution_id) < 0) {
		strv_free(v);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (!(v[3 + i] = strdup(req->labels[i]))) {
			strv_free(v);
			return NULL;
		}
	return v;
}

/* Ends a Start that did not get the job running: the container (if any)
 * is removed, the handler fails (waiters learn why) and leaves the
 * registry, so the same execution id may be started again. */
static int fail_start(struct dms_executor *ex, struct handler *h, int rc, dms_error **err)
{
	pthread_mutex_lock(&h->mu);
	char *cid = h->container_id ? strdup(h->container_id) : NULL;
	bool cancelled = h->cancel_requested;
	pthread_mutex_unlock(&h->mu);
	if (cid)
		ex->rt_ops->container_remove(ex->rt, NULL, cid, true, NULL);
	free(cid);
	executor_remove_own_network(ex, NULL, h);
	if (cancelled && (!err || !*err))
		rc = err_set(err, DMS_ERR_CANCELLED, "execution %s was cancelled before it started",
		             h->execution_id);
	dms_error *copy = err && *err ? err_dup(*err) : NULL;
	if (!copy)
		err_set(&copy, rc, "execution %s failed to start", h->execution_id);
	handler_transition(h, cancelled ? DMS_STATE_CANCELLED : DMS_STATE_FAILED, NULL, copy);
	state_remove(ex->jobs_dir, h->container_name);
	registry_remove(ex->reg, h);
	return rc;
}

/* After a create that failed: the engine may have created the container
 * and failed after (or its reply was lost), leaving one that no handler
 * tracks and that blocks the name — the idempotency key — for a retry.
 * The name is ours; remove what it names if it is this execution's and
 * never ran (best effort: when the engine is gone, the resync on
 * reconnect removes it). */
static void remove_created_by_name(struct dms_executor *ex, const struct handler *h)
{
	struct container_state st = {0};
	if (ex->rt_ops->container_inspect(ex->rt, NULL, h->container_name, &st, NULL) != 0)
		return;
	const char *owner = executor_label_value(st.labels, LABEL_EXECUTOR);
	const char *exec_id = executor_label_value(st.labels, LABEL_EXECUTION);
	if (st.id && st.status == CS_CREATED && owner && strcmp(owner, ex->id) == 0 && exec_id &&
	    strcmp(exec_id, h->execution_id) == 0)
		ex->rt_ops->container_remove(ex->rt, NULL, st.id, true, NULL);
	container_state_free(&st);
}

/* Start, handing out the handler (ref'd) for Run and start_job. flags:
 * request_parse_ex's; with REQUEST_EXECUTION_ID_OPTIONAL a request that
 * names no execution gets a new id. */
static int start_handler(struct dms_executor *ex, dms_context *ctx, const char *text,
                         unsigned flags, struct handler **out, dms_error **err)
{
	struct exec_request *req = NULL;
	int rc;
	if (!text)
		return err_set(err, DMS_ERR_INVALID_ARGUMENT, "request: required");
	if ((rc = request_parse_ex(text, strlen(text), flags, &req, err)) != 0)
		return rc;
	if ((rc = request_check_runtime(req, ex->rt_ops->kind, err)) != 0) {
		request_free(req);
		return rc;
	}
	if (!req->execution_id && !(req->execution_id = executor_new_execution_id())) {
		request_free(req);
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	char *name = labels_container_name(ex->id, req->execution_id);
	struct handler *h = name ? handler_new(req->execution_id, req->job_id, name, req,
	                                       request_free, executor_on_handler_change, ex)
	                         : NULL;
	free(name);
	if (!h) {
		request_free(req);
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	}
	struct handler *old = NULL;
	if (registry_insert(ex->reg, h, &old) != 0) {
		pthread_mutex_lock(&old->mu);
		bool final = handler_state_final(old->state);
		pthread_mutex_unlock(&old->mu);
		rc = err_engine(err, final ? DMS_ERR_ALREADY_FINISHED : DMS_ERR_ALREADY_STARTED,
		                NULL, old->execution_id, NULL, "execution %s %s", old->execution_id,
		                final ? "already finished" : "is already started");
		handler_unref(old);
		handler_unref(h);
		return rc;
	}
	strv labels = NULL;
	char *cid = NULL;
	if ((rc = results_dir_prepare(req, err)) != 0 ||
	    (rc = executor_ensure_image(ex, ctx, req, err)) != 0)
		goto fail;
	if (!(labels = build_labels(ex, req))) {
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	int64_t stop_ms =
	    req->stop_timeout_ms >= 0 ? req->stop_timeout_ms : ex->cfg->stop_timeout_ms;
	struct container_spec spec = {
	    .name = h->container_name,
	    .req = req,
	    .labels = labels,
	    .stop_signal = executor_stop_signal(ex, h),
	    .stop_timeout_s = (int)((stop_ms + 999) / 1000),
	    .network = executor_wants_own_network(req) ? h->container_name : NULL,
	};
	if (spec.network && (rc = ex->rt_ops->network_create(ex->rt, ctx, spec.network, labels,
	                                                     false, NULL, err)) != 0)
		goto fail;
	if ((rc = ex->rt_ops->container_create(ex->rt, ctx, &spec, &cid, err)) != 0) {
		if (rc != DMS_ERR_INVALID_ARGUMENT && rc != DMS_ERR_IMAGE)
			remove_created_by_name(ex, h);
		goto fail;
	}
	bool cancelled = false;
	if (handler_set_container(h, cid, req->tty, &cancelled) != 0) {
		ex->rt_ops->container_remove(ex->rt, NULL, cid, true, NULL);
		rc = err_set(err, DMS_ERR_RESOURCE, "out of memory");
		goto fail;
	}
	/* One inspect: the engine's account of what it applied (verify.h). */
	struct container_state applied = {0};
	if ((rc = ex->rt_ops->container_inspect(ex->rt, ctx, cid, &applied, err)) == 0)
		rc = verify_settings(&spec, &applied.settings, err);
	container_state_free(&applied);
	if (rc != 0)
		goto fail;
	handler_transition(h, DMS_STATE_CREATED, NULL, NULL);
	if (!cancelled && ex->n_watchers > 0 && executor_watch_begin(ex, ctx, h)) {
		pthread_mutex_lock(&h->mu);
		cancelled = h->cancel_requested;
		pthread_mutex_unlock(&h->mu);
	}
	if (cancelled) {
		rc = DMS_ERR_CANCELLED;
		goto fail;
	}
	if ((rc = ex->rt_ops->container_start(ex->rt, ctx, cid, err)) != 0)
		goto fail;
	/* A watch that already ended is the exit now. */
	if (handler_note_started(h, req->timeout_ms > 0 ? req->timeout_ms * NS_PER_MS : 0))
		executor_mark_exited(ex, h, NULL, -1);
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	/* A host crash before this line leaves a labelled container the
	 * resync adopts (or removes, if it never started): no record needed. */
	executor_save_state(ex, h);
	if (req->timeout_ms > 0) /* the janitor plans the new deadline */
		executor_poke_janitor(ex);
	/* A Cancel that arrived while we were starting finds RUNNING now and
	 * stops it itself; nothing more to do here. */
	strv_free(labels);
	free(cid);
	*out = h;
	return 0;
fail:
	strv_free(labels);
	free(cid);
	rc = fail_start(ex, h, rc, err);
	handler_unref(h);
	return rc;
}

int executor_start(struct dms_executor *ex, dms_context *ctx, const char *request, dms_error **err)
{
	struct handler *h = NULL;
	int rc = start_handler(ex, ctx, request, 0, &h, err);
	handler_unref(h);
	return rc;
}

int executor_start_job(struct dms_executor *ex, dms_context *ctx, const char *request,
                       char **execution_id, dms_error **err)
{
	struct handler *h = NULL;
	int rc = start_handler(ex, ctx, request, REQUEST_EXECUTION_ID_OPTIONAL, &h, err);
	if (rc != 0)
		return rc;
	/* The job runs: only the copy of its id can fail now. */
	char *id = strdup(h->execution_id);
	handler_unref(h);
	if (!id)
		return err_set(err, DMS_ERR_RESOURCE, "out of memory");
	*execution_id = id;
	return 0;
}

int executor_run(struct dms_executor *ex, dms_context *ctx, const char *request, char **result_json,
                 dms_error **err)
{
	struct handler *h = NULL;
	int rc = start_handler(ex, ctx, request, REQUEST_EXECUTION_ID_OPTIONAL, &h, err);
	if (rc != 0)
		return rc;
	char *json = NULL;
	rc = handler_wait(h, ctx, &json, err);
	if (rc == DMS_ERR_CANCELLED || rc == DMS_ERR_TIMEOUT) {
		/* The caller gave up on Run: the job is Run's, so it ends too. */
		executor_cancel(ex, NULL, h->execution_id, NULL);
	} else if (rc == 0) {
		pthread_mutex_lock(&h->mu);
		bool cancelled = h->state == DMS_STATE_CANCELLED;
		char *reason = h->cancel_reason ? strdup(h->cancel_reason) : NULL;
		pthread_mutex_unlock(&h->mu);
		if (cancelled) {
			rc = err_engine(err, DMS_ERR_CANCELLED, NULL, h->execution_id, NULL,
			                "execution %s was cancelled: %s", h->execution_id,
			                reason ? reason : "cancelled");
			free(json);
			json = NULL;
		}
		free(reason);
	}
	if (rc == 0)
		*result_json = json;
	handler_unref(h);
	return rc;
}
