/* recovery.c — what makes an executor survive the death of its
 * predecessor and a lost event stream (docs/architecture.md, "Recovery"):
 * the per-execution state records (state.h) written when a job starts and
 * ends, reloaded by a new executor with the same id; and the relist of the
 * labelled containers, run when the executor is made and on every event
 * stream (re)connect, which finds the exits missed meanwhile, adopts the
 * running containers no record names, and removes the leftovers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor_internal.h"
#include "labels.h"
#include "state.h"

const char *executor_label_value(strv labels, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; labels && labels[i]; i++)
		if (strncmp(labels[i], key, klen) == 0 && labels[i][klen] == '=')
			return labels[i] + klen + 1;
	return NULL;
}

void executor_save_state(struct dms_executor *ex, struct handler *h)
{
	pthread_mutex_lock(&h->mu);
	struct state_record r = {
	    .execution_id = h->execution_id,
	    .job_id = h->job_id,
	    .container_name = h->container_name,
	    .container_id = h->container_id,
	    .state = h->state,
	    .result_json = h->result_json,
	    .cancel_reason = h->cancel_requested ? h->cancel_reason : NULL,
	};
	state_save(ex->jobs_dir, &r); /* best effort: recovery also relists */
	pthread_mutex_unlock(&h->mu);
}

/* Rebuilds a handler from a record a dead predecessor left. Finished ones
 * come back with their result; running ones are re-attached, and the
 * resync that follows finds them exited, running, or lost. */
static void restore(void *ud, const struct state_record *r)
{
	struct dms_executor *ex = ud;
	bool final = handler_state_final(r->state) && r->result_json;
	if (!final && (r->state < DMS_STATE_RUNNING || !r->container_id)) {
		/* A Start cut short: the resync removes a never-started container. */
		state_remove(ex->jobs_dir, r->container_name);
		return;
	}
	struct handler *h = handler_new(r->execution_id, r->job_id, r->container_name, NULL, NULL,
	                                executor_on_handler_change, ex),
	               *old = NULL;
	if (!h)
		return;
	if (r->container_id)
		handler_set_container(h, r->container_id, false, NULL);
	if (r->cancel_reason)
		/* A cancel in progress when the predecessor died: finish it. */
		handler_request_cancel(h, r->cancel_reason);
	if (registry_insert(ex->reg, h, &old) != 0) {
		handler_unref(old);
		handler_unref(h);
		return;
	}
	handler_transition(h, DMS_STATE_CREATED, NULL, NULL);
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	if (r->cancel_reason) /* its SIGKILL, after a grace period from now */
		free(handler_arm_kill(h, ex->cfg->stop_timeout_ms * NS_PER_MS));
	if (final) {
		char *spool = executor_spool_path(ex, h);
		if (spool && access(spool, R_OK) != 0) {
			free(spool);
			spool = NULL;
		}
		handler_mark_harvested(h, spool);
		handler_transition(h, r->state, strdup(r->result_json), NULL);
	}
	handler_unref(h);
}

void executor_restore_records(struct dms_executor *ex)
{
	state_load(ex->jobs_dir, restore, ex);
}

/* Adopts a labelled container no handler tracks: the executor that made it
 * died. Running ones are re-attached, exited ones harvested once (never
 * restarted), never-started ones (a Start cut short) removed. */
static void adopt(struct dms_executor *ex, const struct container_summary *c)
{
	const char *exec_id = executor_label_value(c->labels, LABEL_EXECUTION);
	if (!exec_id || !request_valid_id(exec_id, 128))
		return;
	if (c->status == CS_CREATED) {
		ex->rt_ops->container_remove(ex->rt, ex->life, c->id, true, NULL);
		return;
	}
	char *name = labels_container_name(ex->id, exec_id);
	struct handler *h = handler_new(exec_id, executor_label_value(c->labels, LABEL_JOB), name,
	                                NULL, NULL, executor_on_handler_change, ex);
	free(name);
	if (!h)
		return;
	struct handler *existing = NULL;
	if (handler_set_container(h, c->id, false, NULL) != 0 ||
	    registry_insert(ex->reg, h, &existing) != 0) {
		handler_unref(existing);
		handler_unref(h);
		return;
	}
	handler_transition(h, DMS_STATE_CREATED, NULL, NULL);
	handler_transition(h, DMS_STATE_RUNNING, NULL, NULL);
	executor_save_state(ex, h);
	if (c->status == CS_EXITED || c->status == CS_DEAD)
		executor_mark_exited(ex, h, c->id, -1);
	handler_unref(h);
}

struct resync_ctx {
	struct dms_executor *ex;
	struct container_summary *list;
	size_t n;
};

/* For each running handler: its container exited, or vanished, while we
 * were not listening. */
static bool resync_handler(void *ud, struct handler *h)
{
	struct resync_ctx *rc = ud;
	char *cid = handler_live_container(h);
	if (!cid)
		return false;
	const struct container_summary *found = NULL;
	for (size_t i = 0; i < rc->n && !found; i++)
		if (strcmp(rc->list[i].id, cid) == 0)
			found = &rc->list[i];
	/* Gone, stopped, or being removed (its die is past): the harvest
	 * reports it, or defers again until the engine has settled. */
	if (!found || found->status == CS_EXITED || found->status == CS_DEAD ||
	    found->status == CS_REMOVING)
		executor_mark_exited(rc->ex, h, cid, -1);
	free(cid);
	return false;
}

bool executor_resync(struct dms_executor *ex, dms_context *ctx)
{
	struct resync_ctx rc = {.ex = ex};
	if (ex->rt_ops->container_list(ex->rt, ctx, ex->label, &rc.list, &rc.n, NULL) != 0)
		return false;
	for (size_t i = 0; i < rc.n; i++) {
		const char *exec_id = executor_label_value(rc.list[i].labels, LABEL_EXECUTION);
		struct handler *h = exec_id ? registry_get(ex->reg, exec_id) : NULL;
		if (!h) {
			adopt(ex, &rc.list[i]);
		} else {
			/* Finished, but its container outlived a predecessor that
			 * died before removing it (or a removal that could not be
			 * queued). */
			pthread_mutex_lock(&h->mu);
			bool leftover = handler_state_final(h->state) &&
			                h->exit == HANDLER_EXIT_HARVESTED && h->container_id &&
			                strcmp(h->container_id, rc.list[i].id) == 0;
			pthread_mutex_unlock(&h->mu);
			if (leftover)
				executor_queue_removal(ex, NULL, rc.list[i].id);
		}
		handler_unref(h);
	}
	registry_foreach(ex->reg, resync_handler, &rc);
	container_summaries_free(rc.list, rc.n);
	return true;
}
